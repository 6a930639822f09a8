//! Live progress of the hooks' parallel builds: a line when a build
//! starts, a line when it ends (built or failed, with the time taken), and
//! while builds run a heartbeat naming what is still building, so apt is
//! never silent for long. Plain lines, whole lines only: they go out
//! between the buffered blocks of the builds and never split one.

use std::time::Duration;

use crate::error::Error;
use crate::observe::Mvka;
use crate::report::{Say, Stream};

/// Something that happened to a build.
pub enum Event<'a> {
    /// The build started.
    Started(&'a Mvka),
    /// The build ended after this long, with this error if it failed.
    Finished(&'a Mvka, Duration, Option<&'a Error>),
    /// These builds are still running.
    Heartbeat(&'a [&'a Mvka]),
}

/// Writes progress lines (on stderr, so stdout keeps upstream's text).
#[derive(Debug, Default)]
pub struct Progress {
    started: std::collections::BTreeMap<Mvka, std::time::Instant>,
}

impl Progress {
    /// A progress writer.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Say what happened.
    pub fn emit(&mut self, say: &mut dyn Say, e: Event) {
        let line = match e {
            Event::Started(at) => {
                self.started.insert(at.clone(), std::time::Instant::now());
                format!(
                    "dkms-hook: building {}/{} for {} ({})",
                    at.m, at.v, at.k, at.a
                )
            }
            Event::Finished(at, took, err) => {
                self.started.remove(at);
                match err {
                    None => format!(
                        "dkms-hook: built {}/{} for {} in {}",
                        at.m,
                        at.v,
                        at.k,
                        secs(took)
                    ),
                    Some(e) if e.is_skip() => format!(
                        "dkms-hook: skipped {}/{} for {} (BUILD_EXCLUSIVE) after {}",
                        at.m,
                        at.v,
                        at.k,
                        secs(took)
                    ),
                    Some(e) => format!(
                        "dkms-hook: failed {}/{} for {} (exit {}) after {}",
                        at.m,
                        at.v,
                        at.k,
                        e.code(),
                        secs(took)
                    ),
                }
            }
            Event::Heartbeat(running) => {
                if running.is_empty() {
                    return;
                }
                let names: Vec<String> = running
                    .iter()
                    .map(|at| {
                        let t = self
                            .started
                            .get(*at)
                            .map(|s| secs(s.elapsed()))
                            .unwrap_or_default();
                        format!("{}/{} for {} ({t})", at.m, at.v, at.k)
                    })
                    .collect();
                format!("dkms-hook: still building: {}", names.join(", "))
            }
        };
        say.emit(Stream::Err, &format!("{line}\n"));
    }
}

/// `8.0 s`, `2 min 5 s`.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Buffer, Style};

    #[test]
    fn lines_are_whole_and_name_the_module() {
        let mut b = Buffer::new(Style::Hook);
        let mut p = Progress::new();
        let at = Mvka::new("hello", "1.0", "6.1.0-1-amd64", "x86_64");
        p.emit(&mut b, Event::Started(&at));
        p.emit(&mut b, Event::Heartbeat(&[&at]));
        p.emit(
            &mut b,
            Event::Finished(&at, Duration::from_millis(8000), None),
        );
        let text: String = b.items().iter().map(|(_, t)| t.clone()).collect();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "dkms-hook: building hello/1.0 for 6.1.0-1-amd64 (x86_64)"
        );
        assert!(lines[1].starts_with("dkms-hook: still building: hello/1.0 for 6.1.0-1-amd64 ("));
        assert_eq!(
            lines[2],
            "dkms-hook: built hello/1.0 for 6.1.0-1-amd64 in 8.0 s"
        );
        assert!(text.ends_with('\n'));
    }
}
