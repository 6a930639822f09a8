//! The user-visible strings, one file per subject. Upstream's are interface
//! facts (scripts and upstream's own test suite compare them byte for byte)
//! and are spelled here exactly as upstream's `dkms` prints them; ours (the
//! hooks', and the refusals upstream does not have) say so in their docs.
//!
//! Every item is re-exported here, so a call site names `text::already_built`
//! whichever file holds it:
//!
//! - [`upstream_usage`]: `dkms --help` and the usage lines of errors;
//! - [`upstream_options`]: the command line's options and actions;
//! - [`upstream_checks`]: the argument, name, root and tree checks;
//! - [`upstream_conf`]: reading and checking a dkms.conf;
//! - [`upstream_build`]: `dkms build` (headers, "already built", patches,
//!   make, BUILD_DEPENDS, BUILD_EXCLUSIVE, make.log's header);
//! - [`upstream_steps`]: how a step shows (`Building module(s)... done.`)
//!   and what it writes to make.log;
//! - [`upstream_scripts`]: the dkms.conf scripts;
//! - [`upstream_signing`]: module signing and `generate_mok`;
//! - [`upstream_add`]: `dkms add` and source trees;
//! - [`upstream_install`]: `dkms install`; [`install_claims`]: ours, a
//!   file another module installed;
//! - [`upstream_uninstall`]: `dkms uninstall`, `unbuild`, `remove`;
//!   [`kept_originals`]: ours, originals that could not be put back;
//! - [`upstream_autoinstall`]: `dkms autoinstall`, dependent rebuilds,
//!   kernel_preinst/prerm failures;
//! - [`upstream_match`]: `dkms match`;
//! - [`upstream_tarball`]: `dkms mktarball` and `ldtarball`;
//!   [`tarball_safety`]: ours, why an archive is refused;
//! - [`hook`]: the hooks' own lines; [`doctor`]: `dkms-hook doctor`, with
//!   [`doctor_broken`] (broken modules) and [`doctor_orphans`] (module
//!   files no record claims);
//! - [`lock`]: ours, the writers' lock;
//! - [`framework`]: ours, framework.conf files that are skipped;
//! - [`package`]: ours, binary module packages and their repositories;
//! - [`build_confinement`]: ours, the build user and the source checks;
//! - [`io`]: ours, failed file operations;
//! - [`internal`]: ours, what only a bug of this tool shows;
//! - [`why`]: ours, `dkms-hook why`; [`signing`]: ours, `dkms-hook sign`
//!   and half a key pair.

pub mod upstream_add;
pub mod upstream_autoinstall;
pub mod upstream_build;
pub mod upstream_checks;
pub mod upstream_conf;
pub mod upstream_install;
pub mod upstream_match;
pub mod upstream_options;
pub mod upstream_scripts;
pub mod upstream_signing;
pub mod upstream_steps;
pub mod upstream_tarball;
pub mod upstream_uninstall;
pub mod upstream_usage;

pub use upstream_add::*;
pub use upstream_autoinstall::*;
pub use upstream_build::*;
pub use upstream_checks::*;
pub use upstream_conf::*;
pub use upstream_install::*;
pub use upstream_match::*;
pub use upstream_options::*;
pub use upstream_scripts::*;
pub use upstream_signing::*;
pub use upstream_steps::*;
pub use upstream_tarball::*;
pub use upstream_uninstall::*;
pub use upstream_usage::*;

/// What `dkms --version` prints and make.log headers carry: the upstream
/// release this tool is a drop-in for (scripts compare it).
pub const RELEASE: &str = "dkms-3.4.3";

/// Upstream's way of listing names after a colon: each after a space
/// (`...BUILD_DEPENDS: a b.`).
fn each_after_space<S: AsRef<str>>(items: &[S]) -> String {
    items.iter().map(|s| format!(" {}", s.as_ref())).collect()
}
