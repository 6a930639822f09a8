//! Running a child to its end in one call, as `Command` extensions: the
//! output captured or discarded, and a failure that says which command
//! failed, how, and the last lines it wrote on stderr.

use std::fmt;
use std::io;
use std::process::{Command, ExitStatus, Stdio};

/// How many lines of a failed child's stderr its error carries.
const TAIL_LINES: usize = 10;

/// A child that could not start or did not succeed.
#[derive(Debug)]
pub struct ChildError {
    /// The command line.
    pub command: String,
    /// How it ended (`None`: it never started).
    pub status: Option<ExitStatus>,
    /// The last lines of its stderr.
    pub stderr_tail: String,
    /// Why it could not start.
    pub start: Option<io::Error>,
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.start, &self.status) {
            (Some(e), _) => write!(f, "cannot run {}: {e}", self.command)?,
            (None, Some(st)) => write!(f, "{} failed ({st})", self.command)?,
            (None, None) => write!(f, "{} failed", self.command)?,
        }
        if !self.stderr_tail.is_empty() {
            write!(f, ":\n{}", self.stderr_tail)?;
        }
        Ok(())
    }
}

impl std::error::Error for ChildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.start
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ChildError {
    /// The exit code, when it ran and exited.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// The last `TAIL_LINES` lines of `bytes`.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// One-call runs of a child through [`super::spawn`].
pub trait Run {
    /// Run it to the end with stdin empty and its output collected and
    /// dropped; Ok when it exits 0.
    fn run_ok(&mut self) -> Result<(), ChildError>;

    /// Run it to the end with stdin empty; its stdout when it exits 0.
    fn run_stdout(&mut self) -> Result<Vec<u8>, ChildError>;

    /// Run it to the end with the streams as configured; how it ended.
    fn run_status(&mut self) -> io::Result<ExitStatus>;
}

impl Run for Command {
    fn run_ok(&mut self) -> Result<(), ChildError> {
        self.run_stdout().map(|_| ())
    }

    fn run_stdout(&mut self) -> Result<Vec<u8>, ChildError> {
        let command = super::command_line(self);
        self.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.get_program().is_empty() {
            return Err(ChildError {
                command,
                status: None,
                stderr_tail: String::new(),
                start: Some(io::Error::from(io::ErrorKind::NotFound)),
            });
        }
        let out = super::spawn(self)
            .and_then(|c| c.wait_with_output())
            .map_err(|e| ChildError {
                command: command.clone(),
                status: None,
                stderr_tail: String::new(),
                start: Some(e),
            })?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        Err(ChildError {
            command,
            status: Some(out.status),
            stderr_tail: tail(&out.stderr),
            start: None,
        })
    }

    fn run_status(&mut self) -> io::Result<ExitStatus> {
        super::spawn(self)?.wait()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_carries_the_command_and_the_tail_of_its_stderr() {
        let e = Command::new("bash")
            .args([
                "-c",
                "for i in $(seq 1 15); do echo line$i >&2; done; exit 3",
            ])
            .run_ok()
            .unwrap_err();
        assert_eq!(e.code(), Some(3));
        assert!(e.to_string().starts_with("bash -c "), "{e}");
        assert!(e.stderr_tail.starts_with("line6\n"), "{}", e.stderr_tail);
        assert!(e.stderr_tail.ends_with("line15"), "{}", e.stderr_tail);
    }

    #[test]
    fn output_is_returned_and_a_missing_program_says_so() {
        let out = Command::new("echo").arg("hi").run_stdout().unwrap();
        assert_eq!(out, b"hi\n");
        let e = Command::new("/nonexistent/x").run_ok().unwrap_err();
        assert!(e.start.is_some());
        assert!(
            e.to_string().starts_with("cannot run /nonexistent/x: "),
            "{e}"
        );
    }
}
