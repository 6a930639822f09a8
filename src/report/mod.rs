//! Everything a user sees, stdout and stderr, goes through a [`Say`]: the
//! [`Console`] that writes to the terminal or pipe at once, or a [`Buffer`]
//! that holds one parallel job's text until it is its turn. The strings are
//! in [`crate::text`]; status and summaries are rendered by [`status`] and
//! [`summary`]; live progress of the hooks by [`progress`].
//!
//! The [`Style`] says whose output it is: `dkms` prints upstream's text
//! exactly; `dkms-hook` adds its own (live progress, the make.log tail,
//! summaries).
//!
//! Output that cannot be written is itself reported: [`Console::finish`]
//! says what was lost and [`lost`] words it and sets the exit status.

mod buffer;
mod console;
pub mod lost;
pub mod progress;
pub mod status;
pub mod summary;
pub mod time;
pub mod why;
pub mod yaml;

pub use buffer::Buffer;
pub use console::Console;

use crate::error::Error;

/// Whose output this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `dkms`: upstream DKMS's text and order, exactly.
    Upstream,
    /// `dkms-hook`: ours (progress, make.log tails, summaries).
    Hook,
}

/// Which stream a piece of text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Out,
    /// Standard error.
    Err,
}

/// A sink for user-visible text.
pub trait Say {
    /// Write `text` (no newline added) to `stream`.
    fn emit(&mut self, stream: Stream, text: &str);

    /// Whose output this is.
    fn style(&self) -> Style;

    /// True when text reaches the user as it is written (progress dots only
    /// make sense then).
    fn live(&self) -> bool;

    /// `text` on stdout, no newline.
    fn out(&mut self, text: &str) {
        self.emit(Stream::Out, text);
    }

    /// `text` and a newline on stdout.
    fn line(&mut self, text: &str) {
        self.emit(Stream::Out, &format!("{text}\n"));
    }

    /// `text` and a newline on stderr.
    fn eline(&mut self, text: &str) {
        self.emit(Stream::Err, &format!("{text}\n"));
    }

    /// An empty line on stdout.
    fn blank(&mut self) {
        self.emit(Stream::Out, "\n");
    }

    /// An error the way upstream prints it (nothing when already shown).
    fn error(&mut self, e: &Error) {
        if !e.is_shown() && !e.lines().is_empty() {
            self.emit(Stream::Err, &e.to_string());
        }
        // `--debug` (or DKMS_LOG=debug): what the error came from.
        for cause in e.causes() {
            log::debug!("caused by: {cause}");
        }
    }

    /// `Warning: ` and the lines, on stderr (upstream's `warn`).
    fn warning(&mut self, lines: &[String]) {
        let mut s = String::from("Warning: ");
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        self.emit(Stream::Err, &s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_warnings_render_like_upstream() {
        let mut b = Buffer::new(Style::Upstream);
        b.line("a");
        b.error(&Error::state(["x", "y"]));
        b.error(&Error::state(["hidden"]).shown());
        b.warning(&["w".to_string()]);
        assert_eq!(
            b.items(),
            &[
                (Stream::Out, "a\n".to_string()),
                (Stream::Err, "\nError! x\ny\nWarning: w\n".to_string()),
            ]
        );
    }
}
