//! Named fault-injection points for the crash tests. Compiled in only with
//! the `fault-injection` cargo feature; then the point named by the
//! environment variable `DKMS_HOOK_FAULT` kills the process with SIGKILL,
//! exactly as a power cut or `kill -9` would. Without the feature every
//! point is an empty inline function.

/// Every point, so tests can iterate over them.
pub const POINTS: &[&str] = &[
    "build:after-copy",
    "build:after-make",
    "build:before-rename",
    "build:after-rename",
    "install:after-archive",
    "install:before-rename",
    "install:after-place",
    "install:before-link",
    "install:before-depmod",
    "uninstall:after-delete",
    "uninstall:before-unlink",
    "remove:after-hide",
    "remove:before-delete",
    "prune:before-remove",
    "pending:before-persist",
];

/// A fault-injection point named `name`.
#[cfg(feature = "fault-injection")]
pub fn point(name: &str) {
    if std::env::var("DKMS_HOOK_FAULT").is_ok_and(|v| v == name) {
        // SIGKILL to ourselves cannot fail; should it, the run goes on
        // and the test that asked for the crash sees that it did not.
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}

/// A fault-injection point (compiled out).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}
