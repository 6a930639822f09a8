//! One job's output held back while jobs run in parallel, so that lines of
//! two builds never interleave; the coordinator replays it in a fixed order.

use super::{Say, Stream, Style};

/// Text written by one job, in order, with its stream.
#[derive(Debug, Clone)]
pub struct Buffer {
    style: Style,
    items: Vec<(Stream, String)>,
}

impl Buffer {
    /// An empty buffer for output of `style`.
    pub fn new(style: Style) -> Buffer {
        Buffer {
            style,
            items: Vec::new(),
        }
    }

    /// What was written, in order.
    pub fn items(&self) -> &[(Stream, String)] {
        &self.items
    }

    /// Write everything held to `to`, in order, and empty the buffer.
    pub fn replay(&mut self, to: &mut dyn Say) {
        for (s, t) in self.items.drain(..) {
            to.emit(s, &t);
        }
    }
}

impl Say for Buffer {
    fn emit(&mut self, stream: Stream, text: &str) {
        match self.items.last_mut() {
            Some((s, t)) if *s == stream => t.push_str(text),
            _ => self.items.push((stream, text.to_string())),
        }
    }

    fn style(&self) -> Style {
        self.style
    }

    fn live(&self) -> bool {
        false
    }
}
