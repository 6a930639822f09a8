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
//! Layers, bottom to top; each imports only from the ones below it
//! (`tests/it/fake/source_rules.rs` checks this on every run):
//!
//! - [`text`]: upstream's catalogue, the strings `dkms` must print byte for
//!   byte, and nothing else;
//! - [`error`]: the one error type (a kind that is the exit code, the
//!   message, the source chain `--debug` prints); [`fault`]: crash points
//!   for tests; [`layout`]: every on-disk name;
//! - [`fs`]: every file operation, confined beneath its tree;
//! - [`child`]: the one way to run a child process;
//! - [`observe`]: host facts, tree, kernels, dkms.conf, queue, history,
//!   answered through [`observe::Facts`];
//! - [`report`]: the output sink, status, summary, progress, `why`;
//! - [`plan`]: the typed request (`plan::request::Action`, one variant per upstream
//!   action, parsed once in `cli`) and the planning of every action and event;
//! - [`exec`]: executor, scheduler, build, install, depmod, signing,
//!   tarballs, packages, doctor; [`cli`]: the command lines;
//!   [`engine`]: observe → lock → plan → execute, the exit status.
//!
//! Rules the code keeps, and what keeps them:
//!
//! - **The plan is pure.** The planner sees only `Facts`, which observes
//!   on demand and keeps every answer in the `World`; the executor gets
//!   that World and cannot look again.
//! - **Writing needs the lock.** Every write and delete under a tree is a
//!   method of [`fs::Locked`]; only `exec::run_write` holds one, read-only
//!   requests go through `exec::run_read`, which has none. `clippy.toml`
//!   forbids `std::fs` writes and reads everywhere outside `fs`; the few
//!   places that are not a tree (a temporary or user-named directory) say
//!   so with an `allow` and the reason.
//! - **One way to run a child** ([`child`]): registered for teardown on a
//!   signal, retried on ETXTBSY, stderr's tail kept in the error.
//! - **Strings.** Upstream's wording is in [`text`]; our own wording sits in
//!   a `msg` module next to the code that reports it, in the lowest layer
//!   that does (`fs::msg`, `observe::msg`, `plan::msg`, `exec::msg`, and the
//!   doctor's, tarballs', packages' and `why`'s own), each re-exporting the
//!   layers below, so a file names any of ours as `msg::…`.
//! - **No import cycles** between files.
//!
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
