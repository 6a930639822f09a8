//! The unit tests' rule for a missing prerequisite, the same as the
//! integration harness's (`tests/it/harness/ci.rs`), which unit tests cannot
//! import: outside CI the test prints `SKIPPED` and passes; under CI
//! ([`crate::ci::under_ci`]) `.ci/run` has installed every prerequisite, so
//! a missing one fails the test.

/// `test` cannot run here because `why`. Under CI this panics; otherwise it
/// prints why the test is skipped, and the caller returns.
#[track_caller]
pub(crate) fn skip_unless_ci(test: &str, why: &str) {
    if crate::ci::under_ci() {
        panic!("{test}: {why}, but CI is set (.ci/run provides it)");
    }
    eprintln!("SKIPPED {test}: {why} (set CI to make this a failure)");
}

/// Whether `tool` is an executable file in a directory of PATH.
pub(crate) fn have(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(tool))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// `true` when every tool is on PATH. Otherwise print why `test` is skipped
/// and return `false`, or panic under CI.
#[track_caller]
pub(crate) fn require_tools(test: &str, tools: &[&str], hint: &str) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    skip_unless_ci(test, &format!("{} not found ({hint})", missing.join(", ")));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tools_on_path() {
        assert!(have("sh"));
        assert!(!have("dkms-hook-no-such-tool"));
    }

    #[test]
    fn a_present_tool_is_no_skip() {
        assert!(require_tools(
            "a_present_tool_is_no_skip",
            &["sh"],
            "always there"
        ));
    }

    #[test]
    fn a_missing_tool_skips_outside_ci_and_fails_under_ci() {
        let run = || {
            require_tools(
                "a_missing_tool_skips_outside_ci_and_fails_under_ci",
                &["dkms-hook-no-such-tool"],
                "never installed",
            )
        };
        if crate::ci::under_ci() {
            let err = std::panic::catch_unwind(run).expect_err("a missing tool under CI must fail");
            let msg = err
                .downcast_ref::<String>()
                .map(String::as_str)
                .unwrap_or_default();
            assert!(msg.contains("dkms-hook-no-such-tool not found"), "{msg}");
        } else {
            assert!(!run());
        }
    }
}
