//! Executing plans: autoinstall for a kernel (dependency order, one depmod
//! per kernel), removal for a kernel going away, `match`, and the hook
//! summary.

pub mod autoinstall;
pub mod matching;
pub mod removal;
pub mod scheduler;
pub mod summary;
