//! Live progress of the hooks' parallel builds: a line when a build
//! starts, while builds run a heartbeat naming what is still building (and
//! what finished and waits for its turn to be shown), so apt is never
//! silent for long; and after each module's block (shown in plan order),
//! how its build ended (built or failed, with the time taken). Plain
//! lines, whole lines only: they go out between the blocks of the builds
//! and never split one.

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
    /// These builds are still running; these others finished and wait for
    /// their turn to be shown.
    Heartbeat(&'a [&'a Mvka], &'a [&'a Mvka]),
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
            Event::Heartbeat(running, done) => {
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
                let mut line = format!("dkms-hook: still building: {}", names.join(", "));
                if !done.is_empty() {
                    let done: Vec<String> = done
                        .iter()
                        .map(|at| format!("{}/{} for {}", at.m, at.v, at.k))
                        .collect();
                    line.push_str(&format!("; finished, shown in turn: {}", done.join(", ")));
                }
                line
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
        p.emit(&mut b, Event::Heartbeat(&[&at], &[]));
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
