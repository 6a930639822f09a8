//! [`Output`], what a finished program left behind, and [`run_command`], the
//! one way the tests run a program to completion and collect its output.

use std::borrow::BorrowMut;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long one run of a binary may take before the harness kills it (a
/// hang must fail the test, not stall the whole suite).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a package build, an `apt-get` inside a Debian root or another
/// tool with no useful bound may run before the harness kills it: only a
/// guard against hangs.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(3600);

/// The result of running a program: exit code (128+N when killed by signal
/// N) and its output as text. Every tier reports runs with this type so a
/// failure always shows the command, the code, stdout and stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// What was run, for failure messages.
    pub command: String,
    /// Exit code; 128+signal if the process was killed by a signal.
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "exit code: {}", self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

impl Output {
    /// Panics (showing stdout and stderr) unless the exit code is 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    /// Panics (showing stdout and stderr) unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    /// Panics unless the exit code is not 0.
    #[track_caller]
    pub fn assert_failed(&self) -> &Self {
        assert_ne!(self.code, 0, "expected a failure\n{self}");
        self
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    /// Panics if stderr is not empty.
    #[track_caller]
    pub fn assert_stderr_empty(&self) -> &Self {
        assert!(self.stderr.is_empty(), "stderr not empty\n{self}");
        self
    }

    /// stdout as lines.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs `cmd` (owned or `&mut`) with stdin closed, collecting its output;
/// kills its whole process group and panics if it runs longer than
/// `timeout`.
pub fn run_command(mut cmd: impl BorrowMut<Command>, timeout: Duration) -> Output {
    run(cmd.borrow_mut(), None, timeout)
}

/// [`run_command`] with `input` written to the program's stdin (then
/// closed), for scripts that read a file list from stdin.
pub fn run_command_with_stdin(
    mut cmd: impl BorrowMut<Command>,
    input: &[u8],
    timeout: Duration,
) -> Output {
    run(cmd.borrow_mut(), Some(input.to_vec()), timeout)
}

/// [`run_command`] with [`BUILD_TIMEOUT`], panicking with the output unless
/// the program succeeds. For the tools around the packages.
#[track_caller]
pub fn run_ok(cmd: impl BorrowMut<Command>) -> Output {
    let out = run_command(cmd, BUILD_TIMEOUT);
    out.assert_ok();
    out
}

/// The stdout of a successful `cmd` (see [`run_ok`]).
#[track_caller]
pub fn stdout_of(cmd: impl BorrowMut<Command>) -> String {
    run_ok(cmd).stdout
}

fn run(cmd: &mut Command, input: Option<Vec<u8>>, timeout: Duration) -> Output {
    let command = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut child = dkms_hook::child::retry_text_busy(|| cmd.spawn())
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    let pgid = rustix::process::Pid::from_child(&child);
    let writer = input.map(|data| {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Dropping stdin at the end of the thread closes it.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(());
        status
    });
    if rx.recv_timeout(timeout).is_err() {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        let _ = waiter.join();
        panic!("{command} timed out after {timeout:?}");
    }
    let status = waiter
        .join()
        .expect("waiter thread")
        .expect("wait for child");
    // Grandchildren left in the background could hold the pipes open.
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = String::from_utf8_lossy(&out_thread.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_thread.join().expect("stderr reader")).into_owned();
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Output {
        command,
        code,
        stdout,
        stderr,
    }
}
