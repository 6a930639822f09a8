//! Whether the tests run under CI, the one definition, which the
//! integration harness (`tests/it/harness/ci.rs`) asks. Under CI `.ci/run` has installed every
//! prerequisite of every test, so a test that finds one missing fails
//! instead of skipping: no test passes by skipping there.

use std::ffi::OsStr;

/// Whether `CI` in this process's environment says CI ([`means_ci`]).
#[doc(hidden)]
pub fn under_ci() -> bool {
    means_ci(std::env::var_os("CI").as_deref())
}

/// The rule on a value of `CI` (`None`: unset): set and non-empty.
#[doc(hidden)]
pub fn means_ci(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}
