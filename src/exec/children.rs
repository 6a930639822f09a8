//! The processes we start (make, scripts, depmod), so that a SIGINT,
//! SIGTERM or SIGHUP to us takes them down too: each runs in its own
//! process group, and on such a signal every group gets SIGTERM (SIGKILL
//! after 5 s); we exit only when they are gone, so the tree lock is never
//! released while a build still writes.

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

static RUNNING: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Set once a signal asked us to stop: the exit status is then the
/// signal's, whatever the work in progress makes of its killed children.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Spawn `cmd` (already in its own process group) and remember it.
///
/// A script copied into a build tree by one worker can be executed while
/// another worker's fork still holds the copy's write descriptor, so the
/// spawn goes through [`retry_text_busy`].
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    retry_text_busy(|| {
        // Hold the registry while spawning so a signal handled meanwhile
        // sees the child once it exists.
        let mut set = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        set.insert(child.id());
        Ok(child)
    })
}

/// Run `attempt` (a spawn) again while it fails with ETXTBSY. In a
/// multi-threaded process a file just written can be exec'd while another
/// thread's fork still holds its write descriptor (until that child's
/// exec closes it); that lasts microseconds, so up to 8 retries with
/// backoff (1.275 s in all) come before the error counts. Public for the
/// integration tests' harness, which writes and runs scripts in parallel
/// threads too.
pub fn retry_text_busy<T>(mut attempt: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    let mut delay = Duration::from_millis(5);
    for _ in 0..8 {
        match attempt() {
            Err(e) if is_text_busy(&e) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            other => return other,
        }
    }
    attempt()
}

/// The error a program gets from exec while someone holds it open for
/// writing.
fn is_text_busy(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32)
}

/// A child was waited for. When a signal is taking us down, the caller
/// never returns: the signal handler's exit (128 + signal) is the one
/// that counts, not a "build failed" from a child it killed.
pub fn reaped(pid: u32) {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&pid);
    hold_if_stopping();
}

/// Park the calling thread for good when a signal is taking us down, so
/// that the work after a killed child (and the normal exit) never runs.
pub fn hold_if_stopping() {
    while STOPPING.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

fn running() -> Vec<u32> {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .copied()
        .collect()
}

/// Take every process group we started down: SIGTERM, then SIGKILL to the
/// ones still there after `grace`.
pub fn terminate_all(grace: Duration) {
    for pid in running() {
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    let start = Instant::now();
    while !running().is_empty() && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in running() {
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    let start = Instant::now();
    while !running().is_empty() && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Install the handlers: on SIGINT, SIGTERM or SIGHUP, take the children
/// down and exit with 128 + the signal number.
pub fn handle_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            STOPPING.store(true, Ordering::SeqCst);
            terminate_all(Duration::from_secs(5));
            std::process::exit(128 + sig);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    /// A script still open for writing (as it is in a forked child for a
    /// moment) can't be exec'd; once the writer lets go, the spawn that
    /// was refused meanwhile goes through.
    #[test]
    fn spawn_waits_out_a_writer_holding_the_script() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script.sh");
        let mut f = std::fs::File::create(&script).unwrap();
        f.write_all(b"#!/bin/sh\nexit 7\n").unwrap();
        f.sync_all().unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let busy = Command::new(&script).spawn().unwrap_err();
        assert!(is_text_busy(&busy), "{busy}");

        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(40));
            drop(f);
        });
        let mut child = spawn(&mut Command::new(&script)).unwrap();
        let status = child.wait().unwrap();
        reaped(child.id());
        writer.join().unwrap();
        assert_eq!(status.code(), Some(7));
    }

    /// Any other spawn error is returned at once, not retried.
    #[test]
    fn spawn_reports_a_missing_program_at_once() {
        let started = Instant::now();
        let err = spawn(&mut Command::new("/nonexistent/program")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        // Eight retries would sleep 1.275 s in all.
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
