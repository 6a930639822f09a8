//! Our own wording for what observing reports: module files that can't be
//! read, framework.conf files that are skipped. Re-exports the fs layer's,
//! so a file of this layer names every message it may print as `msg::…`.

pub mod elf;
pub mod framework;

pub use crate::fs::msg::*;
pub use elf::*;
pub use framework::*;
