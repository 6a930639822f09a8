//! Output that could not be written: which stream, the OS error, the line
//! that says so on the other stream, and what it does to the exit status.
//! A report the user never got (a truncated `status --output json`, a
//! build error lost to a full disk) must not look like success.

use std::io;

use super::{Stream, Style};

/// The exit status a run whose output was lost ends with, when it would
/// otherwise have succeeded: 1, upstream's status for a general failure.
pub const LOST_OUTPUT_STATUS: i32 = 1;

/// A write to stdout or stderr that failed for another reason than a
/// closed pipe (ENOSPC, EIO...).
#[derive(Debug)]
pub struct LostOutput {
    /// The stream that could not be written.
    pub stream: Stream,
    /// Why.
    pub error: io::Error,
}

impl LostOutput {
    /// The stream the report of the loss goes to.
    pub fn other_stream(&self) -> Stream {
        match self.stream {
            Stream::Out => Stream::Err,
            Stream::Err => Stream::Out,
        }
    }

    /// `dkms: cannot write to standard output: No space left on device (os
    /// error 28)`, with a newline; the program is named after `style`.
    pub fn line(&self, style: Style) -> String {
        let program = match style {
            Style::Upstream => "dkms",
            Style::Hook => "dkms-hook",
        };
        let stream = match self.stream {
            Stream::Out => "standard output",
            Stream::Err => "standard error",
        };
        format!("{program}: cannot write to {stream}: {}\n", self.error)
    }
}

/// The exit status of a run that would have ended with `code` but whose
/// output was lost: a failure stays the failure it was (its status says
/// more), a success becomes [`LOST_OUTPUT_STATUS`].
pub fn failed_status(code: i32) -> i32 {
    if code == 0 {
        LOST_OUTPUT_STATUS
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_program_the_stream_and_the_os_error() {
        let lost = LostOutput {
            stream: Stream::Out,
            error: io::Error::from(rustix::io::Errno::NOSPC),
        };
        assert_eq!(lost.other_stream(), Stream::Err);
        assert_eq!(
            lost.line(Style::Upstream),
            "dkms: cannot write to standard output: No space left on device (os error 28)\n"
        );
        let lost = LostOutput {
            stream: Stream::Err,
            error: io::Error::from(rustix::io::Errno::IO),
        };
        assert_eq!(lost.other_stream(), Stream::Out);
        assert_eq!(
            lost.line(Style::Hook),
            "dkms-hook: cannot write to standard error: Input/output error (os error 5)\n"
        );
    }

    #[test]
    fn a_success_whose_output_was_lost_fails_and_a_failure_keeps_its_status() {
        assert_eq!(failed_status(0), 1);
        assert_eq!(failed_status(10), 10);
        assert_eq!(failed_status(11), 11);
    }
}
