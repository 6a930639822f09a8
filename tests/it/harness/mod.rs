//! The one harness of the integration tests (in the manner of ripgrep's
//! `tests/util.rs`): a throwaway root directory, [`TestRoot`], and a way to
//! run the real `dkms` and `dkms-hook` binaries against it with `--root`,
//! plus what the tiers need around it. Every tier uses the same root type,
//! the same [`Output`] and the same [`run_command`].
//!
//! Tests do `use crate::harness::*;` and take the part they need.

mod ci;
mod debian_chroot;
mod debian_source;
mod files;
mod fixtures;
mod modinfo;
mod output;
mod packages;
mod real_kernel;
mod repo_copy;
mod root;
mod snapshot;
mod tier_clock;
mod tmpfs;

pub use ci::*;
pub use debian_chroot::*;
pub use debian_source::*;
pub use files::*;
pub use fixtures::*;
pub use modinfo::*;
pub use output::*;
pub use packages::*;
pub use real_kernel::*;
pub use repo_copy::*;
pub use root::*;
pub use snapshot::*;
pub use tier_clock::*;
pub use tmpfs::*;
