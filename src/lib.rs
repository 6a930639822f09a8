//! dkms-hook: a drop-in DKMS and the package-manager hooks around it.
//!
//! Every entry point (a `dkms` action, a kernel hook, apt, dpkg, boot) goes
//! the same way, through [`engine::run`]:
//!
//! 1. **Observe** ([`observe`]) the machine, the dkms tree, the kernels, the
//!    dkms.conf files and the pending queue into a `World`, once.
//! 2. **Plan** ([`plan`]): one pure function from the request and the World
//!    to jobs with their dependencies.
//! 3. **Execute** ([`exec`]): run the jobs with the tree lock held, builds
//!    of the hooks in parallel under one make jobserver; everything the
//!    user sees goes through [`report`].
//!
//! Layers (each imports only from the ones below it):
//!
//! - [`engine`]: observe → lock → plan → execute, the exit status.
//! - [`cli`]: upstream's `dkms` argument forms; clap for `dkms-hook`.
//! - [`exec`]: executor, scheduler, build, install, uninstall, depmod,
//!   signing, tarballs, binary packages and their repository, doctor, the
//!   lock ([`exec::Locked`]).
//! - [`plan`]: requests, jobs, planning of every action and event.
//! - [`report`]: the output sink, status and summary rendering, live
//!   progress.
//! - [`observe`]: host facts, tree, kernels, dkms.conf, queue, history.
//! - [`fs`]: tree-confined file operations; [`layout`]: every on-disk name;
//!   [`error`]: the one error type; [`fault`]: crash points for tests.
//! - [`text`]: every user-visible string, at the bottom so that every layer
//!   can word what it reports.
//!
//! Beside the layers, for the tests only: `ci` (whether the tests run under
//! CI, where a missing prerequisite fails a test instead of skipping it) and
//! the unit tests' `test_support` (the skip rule built on it).

// Every system call goes through the safe wrappers of rustix.
#![forbid(unsafe_code)]
// Unit tests read the files they made (clippy.toml's rule is for the code).
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod child;
#[doc(hidden)]
pub mod ci;
pub mod cli;
pub mod engine;
pub mod error;
pub mod exec;
pub mod fault;
pub mod fs;
pub mod layout;
pub mod observe;
pub mod plan;
pub mod report;
pub mod text;

#[cfg(test)]
mod test_support;

pub use error::{Error, Result};
