//! Whether the tests run under CI: the one definition, which the unit tests
//! (`test_support`) and the integration harness (`tests/it/harness/ci.rs`)
//! ask. Under CI `.ci/run` has installed every prerequisite of every test,
//! so a test that finds one missing fails instead of skipping: no test
//! passes by skipping there.

use std::ffi::OsStr;

/// Whether `CI` in this process's environment says CI ([`means_ci`]).
#[doc(hidden)]
pub fn under_ci() -> bool {
    means_ci(std::env::var_os("CI").as_deref())
}

/// The rule on a value of `CI` (`None`: unset): set, non-empty, and not
/// `false` or `0` (CI services set `CI=true`; `CI=false` is how a user says
/// "not CI" explicitly).
#[doc(hidden)]
pub fn means_ci(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::unset(None, false)]
    #[case::empty(Some(""), false)]
    #[case::false_(Some("false"), false)]
    #[case::false_upper(Some("FALSE"), false)]
    #[case::zero(Some("0"), false)]
    #[case::true_(Some("true"), true)]
    #[case::one(Some("1"), true)]
    #[case::yes(Some("yes"), true)]
    #[case::named(Some("github-actions"), true)]
    fn the_rule(#[case] value: Option<&str>, #[case] ci: bool) {
        assert_eq!(means_ci(value.map(OsStr::new)), ci, "CI={value:?}");
    }
}
