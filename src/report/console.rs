//! The terminal (or pipe, or log) the user reads: text goes out at once.
//! A closed pipe or a dead logger never stops the work: write errors are
//! remembered, not raised, and the run finishes and exits with its own
//! status.

use std::io::Write;
use std::os::fd::AsRawFd;

use super::{Say, Stream, Style};

/// Writes straight to stdout and stderr.
#[derive(Debug)]
pub struct Console {
    style: Style,
    broken: bool,
}

impl Console {
    /// A console for output of `style`.
    pub fn new(style: Style) -> Console {
        Console {
            style,
            broken: false,
        }
    }

    /// True once a write failed (e.g. the reader of a pipe went away).
    pub fn broken(&self) -> bool {
        self.broken
    }

    /// Upstream's `-q`: stdout and stderr of this process and everything it
    /// starts go to /dev/null.
    pub fn quiet(&mut self) {
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            let fd = null.as_raw_fd();
            let _ = nix::unistd::dup2(fd, 1);
            let _ = nix::unistd::dup2(fd, 2);
        }
    }
}

impl Say for Console {
    fn emit(&mut self, stream: Stream, text: &str) {
        let res = match stream {
            Stream::Out => {
                let mut o = std::io::stdout().lock();
                o.write_all(text.as_bytes()).and_then(|()| o.flush())
            }
            Stream::Err => {
                let mut e = std::io::stderr().lock();
                e.write_all(text.as_bytes()).and_then(|()| e.flush())
            }
        };
        if res.is_err() {
            self.broken = true;
        }
    }

    fn style(&self) -> Style {
        self.style
    }

    fn live(&self) -> bool {
        true
    }
}
