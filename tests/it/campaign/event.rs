//! The events of a sequence: what a package manager, the boot or an
//! administrator does ([`Step`]), how it may be disturbed ([`Fault`]), and
//! their one-line text form, which [`Event::parse`] reads back so that a
//! shrunk sequence can be replayed and kept as a regression test.

use std::fmt;

use super::universe::Mv;

/// One thing that happens to the machine. Kernels are named by their
/// index in the universe's list (`k0`, `k1`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The kernel image package arrives (with its headers or without),
    /// then `dkms-hook kernel-postinst K IMAGE`.
    InstallKernel { k: usize, headers: bool },
    /// The headers of an installed kernel arrive, then
    /// `dkms-hook header-postinst K`.
    InstallHeaders { k: usize },
    /// `dkms-hook kernel-prerm K IMAGE`, then the image and headers go.
    RemoveKernel { k: usize },
    /// The image and headers go without any hook (removed by hand).
    RemoveKernelFiles { k: usize },
    /// A `*-dkms` package arrives: sources in /usr/src, `dkms add m/v`.
    AddModule(Mv),
    /// The package is purged: `dkms remove m/v --all`, sources deleted.
    RemoveModule(Mv),
    /// `dkms-hook autoinstall -k K`, or `--all-kernels`.
    Autoinstall(Option<usize>),
    /// `dkms-hook apt-post-invoke`.
    AptPostInvoke,
    /// `dkms-hook boot`.
    Boot,
    /// `dkms install m/v -k K` by hand.
    DkmsInstall(Mv, usize),
    /// `dkms uninstall m/v -k K` by hand.
    DkmsUninstall(Mv, usize),
    /// `dkms remove m/v --all` by hand (the sources stay).
    DkmsRemove(Mv),
}

/// What an administrator does after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Runs the interrupted command again.
    Rerun,
    /// `dkms-hook doctor --repair`, then runs the command again.
    DoctorRerun,
    /// Does nothing; the next trigger (`dkms-hook apt-post-invoke`) must
    /// finish the deferred work.
    NextTrigger,
}

/// When a kill -9 hits, besides the named fault points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// While a `make` of the event runs.
    Make,
    /// While a `depmod` of the event runs.
    Depmod,
    /// After a random delay of this many milliseconds.
    Delay(u64),
}

/// How an event is disturbed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Not at all.
    None,
    /// Killed at the named fault point (`DKMS_HOOK_FAULT`).
    Point(&'static str, Recovery),
    /// Killed (SIGKILL) during a phase.
    Kill(Phase, Recovery),
    /// The install tree of kernel `k` is full during the event.
    FullDisk(usize),
}

/// One event of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// One step, perhaps disturbed.
    Single(Step, Fault),
    /// Two steps whose commands start at the same moment.
    Pair(Step, Step),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::InstallKernel { k, headers } => write!(
                f,
                "install-kernel k{k} {}",
                if *headers {
                    "with-headers"
                } else {
                    "without-headers"
                }
            ),
            Step::InstallHeaders { k } => write!(f, "install-headers k{k}"),
            Step::RemoveKernel { k } => write!(f, "remove-kernel k{k}"),
            Step::RemoveKernelFiles { k } => write!(f, "remove-kernel-files k{k}"),
            Step::AddModule(mv) => write!(f, "add-module {mv}"),
            Step::RemoveModule(mv) => write!(f, "remove-module {mv}"),
            Step::Autoinstall(Some(k)) => write!(f, "autoinstall k{k}"),
            Step::Autoinstall(None) => write!(f, "autoinstall all"),
            Step::AptPostInvoke => write!(f, "apt-post-invoke"),
            Step::Boot => write!(f, "boot"),
            Step::DkmsInstall(mv, k) => write!(f, "dkms-install {mv} k{k}"),
            Step::DkmsUninstall(mv, k) => write!(f, "dkms-uninstall {mv} k{k}"),
            Step::DkmsRemove(mv) => write!(f, "dkms-remove {mv}"),
        }
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recovery::Rerun => "rerun",
            Recovery::DoctorRerun => "doctor+rerun",
            Recovery::NextTrigger => "next-trigger",
        })
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Single(s, Fault::None) => write!(f, "{s}"),
            Event::Single(s, Fault::Point(p, r)) => write!(f, "{s} !kill@{p} {r}"),
            Event::Single(s, Fault::Kill(Phase::Make, r)) => write!(f, "{s} !kill@make {r}"),
            Event::Single(s, Fault::Kill(Phase::Depmod, r)) => write!(f, "{s} !kill@depmod {r}"),
            Event::Single(s, Fault::Kill(Phase::Delay(ms), r)) => {
                write!(f, "{s} !kill@{ms}ms {r}")
            }
            Event::Single(s, Fault::FullDisk(k)) => write!(f, "{s} !full-disk k{k}"),
            Event::Pair(a, b) => write!(f, "{a} || {b}"),
        }
    }
}

fn kernel(w: &str) -> Option<usize> {
    w.strip_prefix('k')?.parse().ok()
}

impl Step {
    /// Reads the text [`Step`]'s Display writes.
    pub fn parse(s: &str) -> Option<Step> {
        let w: Vec<&str> = s.split_whitespace().collect();
        Some(match w.as_slice() {
            ["install-kernel", k, h] => Step::InstallKernel {
                k: kernel(k)?,
                headers: *h == "with-headers",
            },
            ["install-headers", k] => Step::InstallHeaders { k: kernel(k)? },
            ["remove-kernel", k] => Step::RemoveKernel { k: kernel(k)? },
            ["remove-kernel-files", k] => Step::RemoveKernelFiles { k: kernel(k)? },
            ["add-module", mv] => Step::AddModule(Mv::parse(mv)?),
            ["remove-module", mv] => Step::RemoveModule(Mv::parse(mv)?),
            ["autoinstall", "all"] => Step::Autoinstall(None),
            ["autoinstall", k] => Step::Autoinstall(Some(kernel(k)?)),
            ["apt-post-invoke"] => Step::AptPostInvoke,
            ["boot"] => Step::Boot,
            ["dkms-install", mv, k] => Step::DkmsInstall(Mv::parse(mv)?, kernel(k)?),
            ["dkms-uninstall", mv, k] => Step::DkmsUninstall(Mv::parse(mv)?, kernel(k)?),
            ["dkms-remove", mv] => Step::DkmsRemove(Mv::parse(mv)?),
            _ => return None,
        })
    }
}

impl Event {
    /// Reads the text [`Event`]'s Display writes (one event).
    pub fn parse(s: &str) -> Option<Event> {
        if let Some((a, b)) = s.split_once("||") {
            return Some(Event::Pair(Step::parse(a)?, Step::parse(b)?));
        }
        let Some((step, fault)) = s.split_once('!') else {
            return Some(Event::Single(Step::parse(s)?, Fault::None));
        };
        let step = Step::parse(step)?;
        let w: Vec<&str> = fault.split_whitespace().collect();
        let recovery = |r: &str| match r {
            "rerun" => Some(Recovery::Rerun),
            "doctor+rerun" => Some(Recovery::DoctorRerun),
            "next-trigger" => Some(Recovery::NextTrigger),
            _ => None,
        };
        let fault = match w.as_slice() {
            ["full-disk", k] => Fault::FullDisk(kernel(k)?),
            [kill, r] => {
                let at = kill.strip_prefix("kill@")?;
                let r = recovery(r)?;
                match at {
                    "make" => Fault::Kill(Phase::Make, r),
                    "depmod" => Fault::Kill(Phase::Depmod, r),
                    _ if at.ends_with("ms") => {
                        Fault::Kill(Phase::Delay(at.trim_end_matches("ms").parse().ok()?), r)
                    }
                    _ => Fault::Point(dkms_hook::fault::POINTS.iter().find(|p| **p == at)?, r),
                }
            }
            _ => return None,
        };
        Some(Event::Single(step, fault))
    }

    /// Reads a sequence: events separated by `;` or newlines.
    pub fn parse_sequence(s: &str) -> Result<Vec<Event>, String> {
        s.split([';', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| Event::parse(e).ok_or_else(|| format!("cannot read event {e:?}")))
            .collect()
    }
}

/// A sequence as one line per event, numbered.
pub fn show_sequence(events: &[Event]) -> String {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| format!("    {i:>2}: {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A sequence in the form [`Event::parse_sequence`] reads.
pub fn sequence_text(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
