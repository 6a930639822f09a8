//! Our own wording for what the hooks plan and report: deferrals, pruning,
//! BUILD_DEPENDS waits, internal errors, signing. Re-exports the layers
//! below, so a file of this layer names every message as `msg::…`.

pub mod hook;
pub mod internal;
pub mod signing;

pub use crate::observe::msg::*;
pub use hook::*;
pub use internal::*;
pub use signing::*;
