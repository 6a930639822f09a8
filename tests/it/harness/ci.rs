//! Whether a test may skip. Outside CI a test whose prerequisite is missing
//! (a tool, root, user namespaces, real kernel headers) prints `SKIPPED` and
//! passes; under CI (`CI` set and not `false` or `0`, as `.ci/run` does:
//! `CI=true` unless told otherwise) every prerequisite is
//! installed, so a missing one is a failure: no test passes by skipping.
//! What counts as CI is defined once, in the library (`src/ci.rs`); the unit
//! tests in `src/` follow the same rule (`src/test_support.rs`).

use std::process::Command;

/// Whether the tests run under CI, where a missing prerequisite is a failure.
pub fn in_ci() -> bool {
    dkms_hook::ci::under_ci()
}

/// `test` cannot run here because `why`. Under CI this panics; otherwise it
/// prints why the test is skipped, and the caller returns.
#[track_caller]
pub fn skip_unless_ci(test: &str, why: &str) {
    if in_ci() {
        panic!("{test}: {why}, but CI is set (.ci/run provides it)");
    }
    eprintln!("SKIPPED {test}: {why} (set CI to make this a failure)");
}

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg("command -v \"$1\" >/dev/null 2>&1")
        .arg("sh")
        .arg(tool)
        .status()
        .is_ok_and(|s| s.success())
}

/// `true` when every tool is present. Otherwise print why `test` is skipped
/// and return `false`, or panic under CI.
#[track_caller]
pub fn require_tools(test: &str, tools: &[&str], hint: &str) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    skip_unless_ci(test, &format!("{} not found ({hint})", missing.join(", ")));
    false
}
