//! The processes we started and have not reaped yet: each runs in its own
//! process group; on SIGINT, SIGTERM or SIGHUP every group gets SIGTERM
//! (SIGKILL after 5 s) and we exit only when they are gone, so the tree
//! lock is never released while a build still writes. The watchdog learns
//! each group too, for the deaths we cannot act on.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

use super::watchdog;

static RUNNING: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Set once a signal asked us to stop: the exit status is then the
/// signal's, whatever the work in progress makes of its killed children.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// A child we started, until it is reaped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    reaped: bool,
}

/// Start `cmd` in its own process group and remember it.
///
/// A script copied into a build tree by one worker can be executed while
/// another worker's fork still holds the copy's write descriptor, so the
/// spawn goes through [`retry_text_busy`].
pub fn spawn(cmd: &mut Command) -> io::Result<Running> {
    cmd.process_group(0)
        .env(watchdog::MARK_VAR, watchdog::mark());
    log::debug!("running {}", super::command_line(cmd));
    watchdog::ensure();
    let child = retry_text_busy(|| {
        // Hold the registry while spawning so a signal handled meanwhile
        // sees the child once it exists.
        let mut set = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        set.insert(child.id());
        watchdog::started(child.id());
        Ok(child)
    })?;
    Ok(Running {
        child,
        reaped: false,
    })
}

impl Running {
    /// Its process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its standard output, when piped (taken once).
    pub fn stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Its standard error, when piped (taken once).
    pub fn stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Wait for it to end.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        let st = self.child.wait();
        self.reap();
        st
    }

    /// Whether it ended (without waiting).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let st = self.child.try_wait();
        if let Ok(Some(_)) = st {
            self.reap();
        }
        st
    }

    /// Wait for it to end, collecting what it wrote to piped streams (both
    /// read at once, so a full pipe never blocks it).
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        fn drain<R: Read + Send + 'static>(r: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
            r.map(|mut r| {
                std::thread::spawn(move || {
                    let mut b = Vec::new();
                    // What could be read is what the child wrote.
                    let _ = r.read_to_end(&mut b);
                    b
                })
            })
        }
        let out = drain(self.child.stdout.take());
        let err = drain(self.child.stderr.take());
        let status = self.wait()?;
        let join =
            |t: Option<JoinHandle<Vec<u8>>>| t.and_then(|t| t.join().ok()).unwrap_or_default();
        Ok(Output {
            status,
            stdout: join(out),
            stderr: join(err),
        })
    }

    /// SIGKILL its whole process group (a time limit ran out).
    pub fn kill_group(&self) {
        kill_group(self.child.id(), Signal::KILL);
    }

    fn reap(&mut self) {
        if !self.reaped {
            self.reaped = true;
            reaped(self.child.id());
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            // Never left running unwatched: a child dropped without a wait
            // (an error path) is killed and reaped here.
            kill_group(self.child.id(), Signal::KILL);
            // Reaping a killed child only fails when it was reaped already: nothing is left to do.
            let _ = self.child.wait();
            self.reap();
        }
    }
}

fn kill_group(pid: u32, sig: Signal) {
    if let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        // The group may be gone already: nothing to do then.
        let _ = kill_process_group(p, sig);
    }
}

/// Run `attempt` (a spawn) again while it fails with ETXTBSY. In a
/// multi-threaded process a file just written can be exec'd while another
/// thread's fork still holds its write descriptor (until that child's
/// exec closes it); that lasts microseconds, so up to 8 retries with
/// backoff (1.275 s in all) come before the error counts. Public for the
/// integration tests' harness, which writes and runs scripts in parallel
/// threads too.
pub fn retry_text_busy<T>(mut attempt: impl FnMut() -> io::Result<T>) -> io::Result<T> {
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
fn is_text_busy(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::TXTBSY.raw_os_error())
}

/// A child was waited for. Whatever it left running in its process group
/// (a script's background job) goes with it: no child outlives the step
/// that started it, let alone the run. (The group's number cannot be
/// reused while a member lives, so the kill reaches only those.) When a
/// signal is taking us down, the caller never returns: the signal
/// handler's exit (128 + signal) is the one that counts, not a "build
/// failed" from a child it killed.
fn reaped(pid: u32) {
    let mut set = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    kill_group(pid, Signal::KILL);
    set.remove(&pid);
    watchdog::reaped(pid);
    drop(set);
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
        kill_group(pid, Signal::TERM);
    }
    let start = Instant::now();
    while !running().is_empty() && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in running() {
        kill_group(pid, Signal::KILL);
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
            watchdog::stop();
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
        writer.join().unwrap();
        assert_eq!(status.code(), Some(7));
    }

    /// Any other spawn error is returned at once, not retried.
    #[test]
    fn spawn_reports_a_missing_program_at_once() {
        let started = Instant::now();
        let err = spawn(&mut Command::new("/nonexistent/program")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // Eight retries would sleep 1.275 s in all.
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// What a child leaves running in its group goes when it is reaped.
    #[test]
    fn a_background_job_does_not_outlive_its_step() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}", pidfile.display());
        let mut c = spawn(Command::new("bash").args(["-c", &script])).unwrap();
        assert!(c.wait().unwrap().success());
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let proc = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
        let t = Instant::now();
        // Killed at once; a zombie until init reaps it (its parent exited).
        while proc.join("status").exists()
            && !std::fs::read_to_string(proc.join("status"))
                .unwrap_or_default()
                .contains("State:\tZ")
        {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "the background job lives on"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A child dropped without a wait is killed with its group, not left.
    #[test]
    fn a_dropped_child_is_killed() {
        let c = spawn(Command::new("sleep").arg("30")).unwrap();
        let pid = c.id();
        let t = Instant::now();
        drop(c);
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
