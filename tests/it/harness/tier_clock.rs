//! How long each slow test took, printed where the CI log shows it even
//! when the test passes: libtest keeps a passing test's `println!` and
//! `eprintln!` output to itself, so the line is written to the process's
//! standard error directly. One `TIME` line per slow test gives the time of
//! each tier (bookworm, trixie, booted) in every CI run.

use std::io::Write;
use std::time::Instant;

/// Prints `TIME <test>: S s (passed|failed)` on standard error when dropped.
pub struct TierClock {
    test: String,
    start: Instant,
}

/// Starts timing slow test `test`; keep the value for the test's whole body
/// (`let _clock = tier_clock(...)`), so that it is dropped at the end, or
/// while unwinding from a failed assertion.
pub fn tier_clock(test: impl Into<String>) -> TierClock {
    TierClock {
        test: test.into(),
        start: Instant::now(),
    }
}

impl Drop for TierClock {
    fn drop(&mut self) {
        let how = if std::thread::panicking() {
            "failed"
        } else {
            "passed"
        };
        let line = format!(
            "TIME {}: {:.1} s ({how})\n",
            self.test,
            self.start.elapsed().as_secs_f64()
        );
        // A report line only: a closed stderr must not turn into a second
        // panic while unwinding.
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}
