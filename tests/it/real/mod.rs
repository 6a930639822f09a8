//! The real-kernel tier: real modules built against the Debian kernel headers
//! `.ci/run` installs (`linux-headers-6.1.0-<N>-amd64`, the two newest), in
//! throwaway roots whose `lib/modules/<kver>/build` leads to them.
//!
//! Without headers these tests print "skipped: no real kernel headers",
//! except under CI (`CI` set), where that is a failure; so is having only
//! one kernel's headers for the tests about two kernels.

mod hooks_real;
mod privilege_real;
mod real_kernel;
mod real_pwd;
mod resign_real;
mod signing_real;
mod why_real;
