//! Stands in for `crash.rs` when the `fault-injection` feature is off (a
//! plain `cargo test`): the crash tests need the fault points compiled in,
//! so without the feature they do not exist, and this test says so instead
//! of letting the run look complete. Under CI, which must run them
//! (`.ci/run` tests with `--all-features`), it fails.

use std::io::Write;

use crate::harness::in_ci;

#[test]
fn crash_tests_need_the_fault_injection_feature() {
    let why = "the crash tests (tests/it/fake/crash.rs) are not compiled in: \
               run with --all-features or --features fault-injection";
    assert!(!in_ci(), "{why}, but CI is set (.ci/run runs them)");
    // Straight to stderr, past the test runner's capture of eprintln!, so a
    // plain `cargo test` shows it (a closed stderr is no reason to fail).
    let _ = writeln!(std::io::stderr(), "NOT COMPILED {why}");
}
