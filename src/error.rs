//! One error type for the whole tool. Each variant carries the exact lines
//! upstream DKMS prints after `Error! ` and knows the exit code upstream uses,
//! so `main` only has to print and exit.

use std::fmt;
use std::io;
use std::path::Path;

/// The tool's error: the message lines upstream prints (the first follows
/// `Error! `), the exit status, and whether it is a warning (`Warning: `,
/// used for the BUILD_EXCLUSIVE skip, exit 77).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Exit status upstream DKMS uses for this failure.
    pub code: i32,
    /// Message lines; printed one per line.
    pub lines: Vec<String>,
    /// Printed as `Warning: ` instead of a blank line and `Error! `.
    pub warning: bool,
    /// Already reported to the user (e.g. `dkms.conf: Error!` lines); print only `lines`.
    pub silent: bool,
}

/// Shorthand for results throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with upstream's exit `code` and message lines.
    pub fn new<S: Into<String>>(code: i32, lines: impl IntoIterator<Item = S>) -> Self {
        Error {
            code,
            lines: lines.into_iter().map(Into::into).collect(),
            warning: false,
            silent: false,
        }
    }

    /// A one-line error.
    pub fn msg(code: i32, line: impl Into<String>) -> Self {
        Error::new(code, [line.into()])
    }

    /// A warning-style failure (BUILD_EXCLUSIVE, exit 77).
    pub fn warn<S: Into<String>>(code: i32, lines: impl IntoIterator<Item = S>) -> Self {
        let mut e = Error::new(code, lines);
        e.warning = true;
        e
    }

    /// An I/O failure on `path`, mapped to a clear message. Exit code 1 unless
    /// the caller picks another via [`Error::with_code`].
    pub fn io(what: &str, path: &Path, err: io::Error) -> Self {
        let detail = match err.raw_os_error() {
            Some(28) => "No space left on device".to_string(),
            _ => err.to_string(),
        };
        Error::msg(1, format!("{what} {}: {detail}", path.display()))
    }

    /// The same error with another exit code.
    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    /// True for the BUILD_EXCLUSIVE skip (77), which callers count as skipped.
    pub fn is_skip(&self) -> bool {
        self.code == 77
    }

    /// Write the error the way upstream does: blank line, `Error! ` + lines on stderr.
    pub fn report(&self) {
        if self.silent || self.lines.is_empty() {
            return;
        }
        eprint!("{self}");
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.warning {
            write!(f, "Warning: ")?;
        } else {
            write!(f, "\nError! ")?;
        }
        for l in &self.lines {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
