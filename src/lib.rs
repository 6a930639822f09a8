//! dkms-hook: a drop-in DKMS and the package-manager hooks around it.
//!
//! Every entry point (a `dkms` action, a kernel hook, apt, dpkg, boot) does
//! three things:
//!
//! 1. **Observe** the world into plain values: registered modules
//!    ([`tree`]), what each dkms.conf says for a kernel ([`conf`]), which
//!    kernels and headers exist ([`kernel`]), what is pending ([`pending`]).
//! 2. **Plan**: a pure function from those values and the event to jobs
//!    ([`plan`]).
//! 3. **Execute**: take the lock ([`lock`]), run the jobs ([`exec`], which
//!    calls [`build`] and [`install`]), print upstream's messages
//!    ([`output`]) and a summary.
//!
//! Module map:
//! - [`error`]: the one error type; each error knows upstream's exit code.
//! - [`paths`]: `--root` re-basing and safe path components.
//! - [`config`]: framework.conf (+ `.d`), trees, parallel_jobs, signing settings.
//! - [`distro`]: os-release, the distribution's module location rule.
//! - [`conf`]: dkms.conf static reader, bash evaluator, resolution and validation.
//! - [`context`]: one run's observed settings, distribution and options.
//! - [`version`]: upstream's `VER` ordering and `sort -V`.
//! - [`modinfo`]: `.modinfo` of a `.ko` read in Rust.
//! - [`kernel`]: installed kernels, headers, kernel config, module compression.
//! - [`tree`]: the on-disk state under the dkms tree (added/built/installed/broken).
//! - [`lock`]: the one flock that serialises writers.
//! - [`runner`]: running shell commands with make.log framing and progress dots.
//! - [`build`]: per-kernel build directory, patches, scripts, make, make.log.
//! - [`copytree`]: `cp -a` of a source tree without a process.
//! - [`install`]: version check, original-module backup, atomic placement, depmod.
//! - [`sign`]: MOK key generation and `sign-file`.
//! - [`forced`]: `modules_to_force_install` lists and the `build_environment` file.
//! - [`source_check`]: keeps a build from writing through links that lead outside it.
//! - [`privilege`]: `build_user=`: build steps as an unprivileged user without network.
//! - [`tarball`]: `mktarball` / `ldtarball`.
//! - [`status`]: status entries and their text/JSON/YAML renderings.
//! - [`output`]: upstream's user-visible strings.
//! - [`actions`]: the `dkms` actions (add, build, install, ...).
//! - [`cli`]: upstream-compatible argument normalisation for `dkms`.
//! - [`pending`]: the deferred-work queue under the dkms tree.
//! - [`plan`]: hook events -> jobs (pure).
//! - [`exec`]: executes plans: autoinstall scheduling and summaries.
//! - [`fault`]: named crash points for the fault-injection tests (feature `fault-injection`).
//! - [`hook`]: `dkms-hook` events.
//! - [`doctor`]: finds and repairs what interrupted runs leave behind.

pub mod actions;
pub mod build;
pub mod cli;
pub mod conf;
pub mod config;
pub mod context;
pub mod copytree;
pub mod distro;
pub mod doctor;
pub mod error;
pub mod exec;
pub mod fault;
pub mod forced;
pub mod hook;
pub mod install;
pub mod kernel;
pub mod lock;
pub mod modinfo;
pub mod output;
pub mod paths;
pub mod pending;
pub mod plan;
pub mod privilege;
pub mod runner;
pub mod sign;
pub mod source_check;
pub mod status;
pub mod tarball;
pub mod tree;
pub mod version;

pub use error::{Error, Result};
