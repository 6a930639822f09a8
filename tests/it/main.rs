//! The integration tests, one binary: it links once, and its tests run in
//! parallel threads across the tiers.
//!
//! * [`fake`]: the fake-kernel tier, a stand-in kernel build tree compiling
//!   modules with the host gcc (fast, runs everywhere);
//! * [`real`]: the real-kernel tier, real modules against the Debian kernel
//!   headers `.ci/run` installs;
//! * [`packaging`]: the `.deb` and the RPM;
//! * [`slow`]: a Debian root driven by apt, and a boot in qemu.
//!
//! All of them use the one harness in [`harness`]. Outside CI a test whose
//! prerequisites are missing prints `SKIPPED` and passes; under CI (`CI`
//! set and not `false` or `0`) it fails.

// The tests read what they planted and what the run wrote, FIFOs included
// only where a test makes them on purpose (clippy.toml's rule is for src/).
#![allow(clippy::disallowed_methods)]

mod campaign;
mod fake;
mod harness;
mod packaging;
mod real;
mod slow;
