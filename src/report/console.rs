//! The terminal (or pipe, or log) the user reads: text goes out at once.
//! A write that fails never stops the work: the run finishes, then
//! [`Console::finish`] says whether text was lost. A closed pipe (EPIPE,
//! `dkms status | head -1`) is the reader's choice and stays quiet; any
//! other error (a full disk under a log, an I/O error) is a lost report,
//! which the caller turns into an exit status and a line on the other
//! stream (see [`super::lost`]).

use std::io::{self, Write};

use super::lost::LostOutput;
use super::{Say, Stream, Style};

/// Writes straight to stdout and stderr.
#[derive(Debug)]
pub struct Console {
    style: Style,
    /// The first write that failed for a reason other than a closed pipe.
    lost: Option<LostOutput>,
}

impl Console {
    /// A console for output of `style`.
    pub fn new(style: Style) -> Console {
        Console { style, lost: None }
    }

    /// Upstream's `-q`: stdout and stderr of this process and everything it
    /// starts go to /dev/null.
    // File operation outside crate::fs: /dev/null for upstream's -q, a device by design.
    #[allow(clippy::disallowed_methods)]
    pub fn quiet(&mut self) {
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            // Best effort, as upstream's `exec >/dev/null 2>&1`: when
            // dup2 fails the text still goes where it went before.
            let _ = rustix::stdio::dup2_stdout(&null);
            // Likewise: a failed dup2 leaves stderr where it was.
            let _ = rustix::stdio::dup2_stderr(&null);
        }
    }

    /// Take note of the result of a write to `stream` made by someone else
    /// (clap prints its help and its errors itself).
    pub fn record(&mut self, stream: Stream, res: io::Result<()>) {
        if let Err(error) = res {
            // A reader that went away took only what it wanted.
            if error.kind() != io::ErrorKind::BrokenPipe && self.lost.is_none() {
                self.lost = Some(LostOutput { stream, error });
            }
        }
    }

    /// Flush both streams; returns the first write that failed for another
    /// reason than a closed pipe, if any. Call it once, at the end of the
    /// run, before choosing the exit status.
    pub fn finish(&mut self) -> Option<LostOutput> {
        let out = io::stdout().lock().flush();
        self.record(Stream::Out, out);
        let err = io::stderr().lock().flush();
        self.record(Stream::Err, err);
        self.lost.take()
    }

    /// Say on the other stream that `lost`'s stream could not be written
    /// (one line; when that stream fails too, nothing more can be done).
    pub fn tell(&mut self, lost: &LostOutput) {
        let line = lost.line(self.style);
        let other = lost.other_stream();
        let mut w: Box<dyn Write> = match other {
            Stream::Out => Box::new(io::stdout().lock()),
            Stream::Err => Box::new(io::stderr().lock()),
        };
        // Ignored: this is already the report of a failed write, and the
        // exit status carries it whether or not this line gets out.
        let _ = w.write_all(line.as_bytes()).and_then(|()| w.flush());
    }
}

impl Say for Console {
    fn emit(&mut self, stream: Stream, text: &str) {
        let res = match stream {
            Stream::Out => {
                let mut o = io::stdout().lock();
                o.write_all(text.as_bytes()).and_then(|()| o.flush())
            }
            Stream::Err => {
                let mut e = io::stderr().lock();
                e.write_all(text.as_bytes()).and_then(|()| e.flush())
            }
        };
        self.record(stream, res);
    }

    fn style(&self) -> Style {
        self.style
    }

    fn live(&self) -> bool {
        true
    }
}
