//! `dkms-hook doctor`: find what interrupted runs, hand-deleted trees and
//! lost sources leave behind and, with `--repair` (the lock held), repair
//! what is safe to repair. Without `--repair` nothing changes: each finding
//! says what `--repair` would do, and the report ends with the command.
//!
//! The steps, one file each:
//!
//! - [`leftovers`]: temporary build directories (rescuing the make.log of a
//!   build that was already moved into place), swapped-out builds,
//!   temporary files next to installed modules and in the pending queue,
//!   dangling links, untrusted names, a `modules.dep` older than the modules;
//! - [`interrupted`]: the module file of an install that died before its
//!   kernel link was switched (the active version's module is put back), and
//!   originals archived by an install that never finished (put back);
//! - [`broken`]: modules whose source is gone (uninstalled and forgotten) or
//!   whose source link is missing (the command that adds it again);
//! - [`orphans`]: module files in our install locations that no dkms record
//!   or binary module package claims;
//! - [`report`]: pending work, failures, Secure Boot, the closing lines.
//!
//! Every step reports as it goes, through [`Scan`]; depmod runs once per
//! kernel touched, at the end.

mod broken;
mod interrupted;
mod leftovers;
pub mod msg;
mod orphans;
mod report;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{os_error, Result};
use crate::exec::{Ctx, Locked};
use crate::layout::Layout;
use crate::observe::World;
use crate::report::Say;

/// The findings of one run as they are reported: each is printed when it
/// is found (and repaired, when the run holds the lock); the counts decide
/// the exit status and the closing lines; `depmod` collects the kernels
/// whose depmod must run after the repairs.
struct Scan<'s> {
    lock: Option<&'s Locked>,
    say: &'s mut dyn Say,
    /// Paths already reported, so that a later step does not report (or
    /// act on) a file an earlier one did.
    seen: BTreeSet<PathBuf>,
    depmod: BTreeSet<String>,
    /// Broken module versions `--repair` forgot (their records are gone).
    forgotten: BTreeSet<(String, String)>,
    /// Findings reported.
    found: usize,
    /// Findings not repaired (without `--repair`: all of them).
    attention: usize,
    /// Findings `--repair` would act on (counted without `--repair`).
    repairable: usize,
}

impl Scan<'_> {
    /// Whether this run repairs.
    fn repairing(&self) -> bool {
        self.lock.is_some()
    }

    /// Whether `path` was reported already.
    fn seen(&self, path: &Path) -> bool {
        self.seen.contains(path)
    }

    /// A finding `--repair` acts on: `will` says what it does, `done` what
    /// it did. Without the lock only reported; with it, `fix` is applied.
    /// Returns whether it was repaired.
    fn repair(
        &mut self,
        what: &str,
        path: PathBuf,
        will: &str,
        done: &str,
        fix: impl FnOnce(&Locked, &Path) -> std::io::Result<()>,
    ) -> bool {
        self.found += 1;
        self.seen.insert(path.clone());
        let Some(lock) = self.lock else {
            self.attention += 1;
            self.repairable += 1;
            self.say.line(&msg::finding_noted(
                msg::FOUND,
                what,
                &path,
                &msg::repair_will(will),
            ));
            return false;
        };
        match fix(lock, &path) {
            Ok(()) => {
                self.say
                    .line(&msg::finding_noted(msg::REPAIRED, what, &path, done));
                true
            }
            Err(e) => {
                self.attention += 1;
                let note = msg::could_not(will, &os_error(&e));
                self.say.line(&msg::finding_noted(
                    msg::NEEDS_ATTENTION,
                    what,
                    &path,
                    &note,
                ));
                false
            }
        }
    }

    /// A finding only a person can settle, with what to do (`advice`, one
    /// indented line each).
    fn attention(&mut self, what: &str, path: PathBuf, advice: &[String]) {
        self.found += 1;
        self.attention += 1;
        let state = if self.repairing() {
            msg::NEEDS_ATTENTION
        } else {
            msg::FOUND
        };
        self.say.line(&msg::finding(state, what, &path));
        for a in advice {
            self.say.line(&msg::advice(a));
        }
        self.seen.insert(path);
    }
}

/// Remove `p` beneath the tree it lies in (never following a link).
fn remove_in(base: &Path) -> impl Fn(&Locked, &Path) -> std::io::Result<()> + '_ {
    move |lock: &Locked, p: &Path| lock.remove_all(base, p)
}

/// A finding `--repair` removes.
fn remove_finding(s: &mut Scan, what: &str, path: PathBuf, base: &Path) -> bool {
    s.repair(what, path, msg::REMOVE_IT, msg::REMOVED, remove_in(base))
}

/// The disk as doctor reads it: the observed tree, paths by layout.
struct Disk<'a> {
    w: &'a World,
    l: &'a Layout,
}

impl Disk<'_> {
    fn modules(&self) -> Vec<String> {
        self.w.tree.module_names()
    }
    fn module_versions(&self) -> Vec<(String, String)> {
        self.w.tree.module_versions()
    }
    fn versions(&self, m: &str) -> Vec<String> {
        self.w.tree.versions(m)
    }
    fn built_kernels(&self, m: &str, v: &str) -> Vec<(String, String)> {
        self.w.tree.built_kernels(m, v)
    }
    fn link_points_here(&self, m: &str, v: &str, k: &str, a: &str) -> bool {
        self.w.tree.link_points_here(m, v, k, a)
    }
}

/// Run every step; with the lock, repair as it goes and run depmod for
/// the kernels touched at the end. Never touches a module file that is not
/// a temporary of ours, a byte-identical copy of one of our builds, or a
/// file in `updates/dkms` no record claims.
fn check(s: &mut Scan, w: &World) {
    let l = &w.host.layout;
    let d = Disk { w, l };
    leftovers::build_leftovers(&d, s);
    leftovers::link_and_queue_leftovers(&d, s);
    interrupted::interrupted_installs(&d, s);
    interrupted::stranded_originals(&d, s);
    broken::broken_modules(&d, s);
    leftovers::untrusted_names(&d, s);
    leftovers::module_temporaries(&d, s);
    orphans::unclaimed_module_files(&d, s);
    leftovers::stale_depmod(&d, s);
    leftovers::depmod_due(&d, s);
    if let Some(lock) = s.lock {
        for k in std::mem::take(&mut s.depmod) {
            // Its own output says how it went (and a stale modules.dep is
            // found again by the next doctor).
            crate::exec::depmod::run(w, lock, s.say, &k, true);
        }
    }
}

/// `dkms-hook doctor`: report the findings (repairing them with `repair`),
/// the pending work, the failures and the Secure Boot state; without
/// `repair`, end with the command that repairs. Fails (exit 1) when
/// something still needs attention: without `repair`, anything found.
pub fn run(cx: &mut Ctx, repair: Option<&Locked>, say: &mut dyn Say) -> Result<()> {
    let w = cx.world;
    let mut s = Scan {
        lock: repair,
        say,
        seen: BTreeSet::new(),
        depmod: BTreeSet::new(),
        forgotten: BTreeSet::new(),
        found: 0,
        attention: 0,
        repairable: 0,
    };
    check(&mut s, w);
    let Scan {
        found,
        attention,
        repairable,
        forgotten,
        ..
    } = s;
    report::records(w, say, &forgotten);
    report::secure_boot(w, say);
    report::closing(w, say, found, repairable);
    if attention > 0 {
        return Err(crate::error::Error::msg("").shown());
    }
    Ok(())
}
