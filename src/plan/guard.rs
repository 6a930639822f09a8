//! The boot guard's decisions (pure): which kernels must not be booted
//! because a critical module is missing there, which guards are lifted
//! because every critical module is installed now, and what the boot
//! loader's setting becomes: the newest installed kernel that has every
//! critical module and a boot entry, or back to what it was before the
//! first guard, or unchanged with the reason.
//!
//! The executor calls [`decide`] at the end of a hook run, with what the
//! run did; it writes what the decision says (`exec::guard`).

use std::collections::BTreeMap;

use crate::observe::boot::{BootEntry, Loader};
use crate::observe::critical::{Critical, Why};
use crate::observe::guard::{BootChange, Guard, GuardedModule, Guards, Setting};
use crate::observe::version::sort_v_cmp;
use crate::report::msg::guard as guard_msg;

/// A critical module this run could not install for a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// Kernel.
    pub k: String,
    /// Module.
    pub m: String,
    /// Version ("" when unknown).
    pub v: String,
    /// What happened, in one line.
    pub what: String,
}

/// What the decision is made from.
pub struct Inputs<'a> {
    /// The critical modules.
    pub critical: &'a Critical,
    /// The guard's records before the run.
    pub before: &'a Guards,
    /// The loader.
    pub loader: &'a Loader,
    /// The arch.
    pub arch: &'a str,
    /// Kernels that are installed (image and modules) after the run.
    pub bootable: &'a [String],
    /// Critical modules this run could not install.
    pub missed: &'a [Missed],
    /// Whether module m is installed for kernel k after the run.
    pub installed: &'a dyn Fn(&str, &str) -> bool,
    /// Now, in seconds since the epoch.
    pub now: u64,
}

/// A loader setting to write: `value` `None` takes it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Which setting.
    pub setting: Setting,
    /// The value.
    pub value: Option<String>,
}

/// What the loader's setting becomes, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootNote {
    /// No guard before or after: nothing to say.
    Quiet,
    /// The next boot goes to `kernel` through `entry`; `already`: the
    /// setting said so before this run.
    Pointed {
        /// The kernel.
        kernel: String,
        /// The entry id.
        entry: String,
        /// The setting.
        setting: Setting,
        /// Nothing had to be written.
        already: bool,
    },
    /// The last guard went: the setting is as it was before the guard.
    Restored {
        /// The setting.
        setting: Setting,
        /// The value it has again (`None`: unset).
        value: Option<String>,
    },
    /// The last guard went, but the setting was changed since the guard
    /// set it: it is left as it is.
    LeftAlone {
        /// The setting.
        setting: Setting,
    },
    /// Guards stand, but the boot entry was not changed: why.
    Unchanged(String),
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Guards that stand after the run (each written when it changed).
    pub guards: Vec<Guard>,
    /// Guards whose every critical module is installed now.
    pub lifted: Vec<Guard>,
    /// Guards of kernels that are gone.
    pub dropped: Vec<Guard>,
    /// Loader settings to write.
    pub writes: Vec<Write>,
    /// The record of changed settings after the run.
    pub changes: Vec<BootChange>,
    /// What to say about the boot entry.
    pub note: BootNote,
}

/// One line on why module `m` is critical.
pub fn critical_because(why: &[Why]) -> String {
    why.iter()
        .map(|w| match w {
            Why::Setting(f) => guard_msg::critical_by_setting(f),
            Why::Filesystem(t, at) => guard_msg::critical_by_filesystem(t, at),
            Why::Loaded(k) => guard_msg::critical_by_loading(k),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Decide (see the module's doc).
pub fn decide(i: &Inputs) -> Decision {
    let mut by_kernel: BTreeMap<String, Guard> = BTreeMap::new();
    let mut lifted = Vec::new();
    let mut dropped = Vec::new();
    for g in &i.before.kernels {
        if !i.bootable.contains(&g.kernel) {
            dropped.push(g.clone());
            continue;
        }
        let left: Vec<GuardedModule> = g
            .modules
            .iter()
            .filter(|gm| i.critical.contains(&gm.module) && !(i.installed)(&gm.module, &g.kernel))
            .cloned()
            .collect();
        if left.is_empty() && !i.missed.iter().any(|x| x.k == g.kernel) {
            lifted.push(g.clone());
        } else {
            let mut kept = g.clone();
            kept.modules = left;
            by_kernel.insert(g.kernel.clone(), kept);
        }
    }
    for x in i.missed {
        if !i.critical.contains(&x.m) {
            continue;
        }
        let g = by_kernel.entry(x.k.clone()).or_insert_with(|| Guard {
            kernel: x.k.clone(),
            arch: i.arch.to_string(),
            modules: Vec::new(),
            since: i.now,
        });
        let gm = GuardedModule {
            module: x.m.clone(),
            version: x.v.clone(),
            what: x.what.clone(),
            critical: critical_because(i.critical.why(&x.m)),
        };
        match g.modules.iter_mut().find(|o| o.module == x.m) {
            Some(o) => *o = gm,
            None => g.modules.push(gm),
        }
    }
    let mut guards: Vec<Guard> = by_kernel.into_values().collect();
    guards.sort_by(|a, b| sort_v_cmp(&a.kernel, &b.kernel));
    let (writes, changes, note) = boot(i, &guards);
    Decision {
        guards,
        lifted,
        dropped,
        writes,
        changes,
        note,
    }
}

/// The loader setting's part of the decision.
fn boot(i: &Inputs, guards: &[Guard]) -> (Vec<Write>, Vec<BootChange>, BootNote) {
    let before = &i.before.changes;
    if guards.is_empty() {
        let mut writes = Vec::new();
        let mut note = BootNote::Quiet;
        for c in before {
            if current(i.loader, c.setting).as_deref() == Some(c.set.as_str()) {
                writes.push(Write {
                    setting: c.setting,
                    value: c.original.clone(),
                });
                note = BootNote::Restored {
                    setting: c.setting,
                    value: c.original.clone(),
                };
            } else {
                note = BootNote::LeftAlone { setting: c.setting };
            }
        }
        return (writes, Vec::new(), note);
    }
    let Some(setting) = setting_of(i.loader) else {
        return (
            Vec::new(),
            before.clone(),
            BootNote::Unchanged(guard_msg::NO_LOADER.into()),
        );
    };
    let guarded = |k: &str| guards.iter().any(|g| g.kernel == k);
    let mut candidates: Vec<&String> = i.bootable.iter().filter(|k| !guarded(k)).collect();
    candidates.sort_by(|a, b| sort_v_cmp(b, a));
    let complete = |k: &str| i.critical.registered().all(|c| (i.installed)(&c.module, k));
    let Some(safe) = candidates.into_iter().find(|k| complete(k)) else {
        return (
            Vec::new(),
            before.clone(),
            BootNote::Unchanged(guard_msg::no_safe_kernel(&names(i.critical))),
        );
    };
    let Some(entry) = pick_entry(i.loader.entries_of(safe), safe) else {
        return (
            Vec::new(),
            before.clone(),
            BootNote::Unchanged(guard_msg::no_boot_entry(safe)),
        );
    };
    let now = current(i.loader, setting);
    let original = before
        .iter()
        .find(|c| c.setting == setting)
        .map_or(now.clone(), |c| c.original.clone());
    let already = now.as_deref() == Some(entry.id.as_str());
    let writes = if already {
        Vec::new()
    } else {
        vec![Write {
            setting,
            value: Some(entry.id.clone()),
        }]
    };
    let change = BootChange {
        setting,
        file: String::new(),
        original,
        set: entry.id.clone(),
        kernel: safe.clone(),
    };
    (
        writes,
        vec![change],
        BootNote::Pointed {
            kernel: safe.clone(),
            entry: entry.id.clone(),
            setting,
            already,
        },
    )
}

/// The registered critical modules' names.
fn names(c: &Critical) -> Vec<String> {
    c.registered().map(|m| m.module.clone()).collect()
}

/// Which setting chooses the next boot on this loader.
fn setting_of(l: &Loader) -> Option<Setting> {
    match l {
        Loader::Grub(g) if g.saved => Some(Setting::GrubSavedEntry),
        Loader::Grub(_) => Some(Setting::GrubNextEntry),
        Loader::Bls(b) if b.efi_writable && b.efi_default.is_some() => Some(Setting::EfiDefault),
        Loader::Bls(_) => Some(Setting::LoaderConfDefault),
        Loader::Unknown => None,
    }
}

/// The setting's value now.
pub fn current(l: &Loader, s: Setting) -> Option<String> {
    match (l, s) {
        (Loader::Grub(g), Setting::GrubNextEntry) => g.env.get("next_entry").cloned(),
        (Loader::Grub(g), Setting::GrubSavedEntry) => g.env.get("saved_entry").cloned(),
        (Loader::Bls(b), Setting::LoaderConfDefault) => b.default.clone(),
        (Loader::Bls(b), Setting::EfiDefault) => b.efi_default.clone(),
        _ => None,
    }
    .filter(|v| !v.is_empty())
}

/// The entry that boots kernel k itself: one whose id names the kernel
/// (GRUB's "simple" entry boots whichever kernel was newest when grub.cfg
/// was written, so its id does not stay with k), else the last one.
fn pick_entry<'e>(entries: Vec<&'e BootEntry>, k: &str) -> Option<&'e BootEntry> {
    entries
        .iter()
        .find(|e| e.id.contains(k))
        .or(entries.last())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::boot::grub::Grub;
    use crate::observe::critical::CriticalModule;

    fn critical() -> Critical {
        Critical {
            modules: vec![CriticalModule {
                module: "zfs".into(),
                registered: true,
                why: vec![Why::Filesystem("zfs".into(), "/".into())],
            }],
            setters: Vec::new(),
        }
    }

    fn grub(saved: bool, env: &[(&str, &str)]) -> Loader {
        let entries = ["6.1.0-1-amd64", "6.1.0-2-amd64", "6.1.0-3-amd64"]
            .iter()
            .map(|k| BootEntry {
                id: format!("gnulinux-advanced-u>gnulinux-{k}-advanced-u"),
                title: String::new(),
                kernel: k.to_string(),
            })
            .collect();
        Loader::Grub(Grub {
            dir: "/boot/grub".into(),
            entries,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            saved,
        })
    }

    fn bootable() -> Vec<String> {
        vec![
            "6.1.0-1-amd64".into(),
            "6.1.0-2-amd64".into(),
            "6.1.0-3-amd64".into(),
        ]
    }

    fn run(
        before: &Guards,
        loader: &Loader,
        missed: &[Missed],
        installed: &dyn Fn(&str, &str) -> bool,
    ) -> Decision {
        let c = critical();
        let b = bootable();
        decide(&Inputs {
            critical: &c,
            before,
            loader,
            arch: "x86_64",
            bootable: &b,
            missed,
            installed,
            now: 1,
        })
    }

    fn miss(k: &str) -> Missed {
        Missed {
            k: k.into(),
            m: "zfs".into(),
            v: "2.1".into(),
            what: "failed (exit 10)".into(),
        }
    }

    const SAFE: &str = "gnulinux-advanced-u>gnulinux-6.1.0-2-amd64-advanced-u";

    #[test]
    fn a_failure_guards_the_kernel_and_points_grub_at_the_newest_safe_one() {
        let d = run(
            &Guards::default(),
            &grub(false, &[]),
            &[miss("6.1.0-3-amd64")],
            &|_, k| k != "6.1.0-3-amd64",
        );
        assert_eq!(d.guards.len(), 1);
        assert_eq!(d.guards[0].kernel, "6.1.0-3-amd64");
        assert_eq!(
            d.writes,
            vec![Write {
                setting: Setting::GrubNextEntry,
                value: Some(SAFE.into())
            }]
        );
        assert_eq!(d.changes[0].original, None);
    }

    #[test]
    fn saved_default_uses_saved_entry_and_remembers_the_old_value() {
        let d = run(
            &Guards::default(),
            &grub(true, &[("saved_entry", "0")]),
            &[miss("6.1.0-3-amd64")],
            &|_, k| k != "6.1.0-3-amd64",
        );
        assert_eq!(d.writes[0].setting, Setting::GrubSavedEntry);
        assert_eq!(d.changes[0].original.as_deref(), Some("0"));
    }

    #[test]
    fn a_kept_guard_writes_nothing_when_the_setting_is_still_ours_and_lifts_later() {
        let first = run(
            &Guards::default(),
            &grub(true, &[]),
            &[miss("6.1.0-3-amd64")],
            &|_, k| k != "6.1.0-3-amd64",
        );
        let before = Guards {
            kernels: first.guards.clone(),
            changes: first.changes.clone(),
        };
        let l = grub(true, &[("saved_entry", SAFE)]);
        let kept = run(&before, &l, &[], &|_, k| k != "6.1.0-3-amd64");
        assert_eq!(kept.guards.len(), 1);
        assert!(kept.writes.is_empty());
        assert!(matches!(kept.note, BootNote::Pointed { already: true, .. }));
        let lifted = run(&before, &l, &[], &|_, _| true);
        assert!(lifted.guards.is_empty());
        assert_eq!(lifted.lifted.len(), 1);
        assert_eq!(
            lifted.writes,
            vec![Write {
                setting: Setting::GrubSavedEntry,
                value: None
            }]
        );
        assert!(lifted.changes.is_empty());
    }

    #[test]
    fn two_kernels_at_once_boot_the_newest_unguarded() {
        let d = run(
            &Guards::default(),
            &grub(false, &[]),
            &[miss("6.1.0-3-amd64"), miss("6.1.0-2-amd64")],
            &|_, k| k == "6.1.0-1-amd64",
        );
        assert_eq!(d.guards.len(), 2);
        assert!(d.writes[0]
            .value
            .as_deref()
            .unwrap()
            .contains("6.1.0-1-amd64"));
    }

    #[test]
    fn no_loader_and_no_safe_kernel_say_why() {
        let d = run(
            &Guards::default(),
            &Loader::Unknown,
            &[miss("6.1.0-3-amd64")],
            &|_, _| false,
        );
        assert!(matches!(d.note, BootNote::Unchanged(_)));
        assert!(d.writes.is_empty());
        let d = run(
            &Guards::default(),
            &grub(false, &[]),
            &[miss("6.1.0-3-amd64")],
            &|_, _| false,
        );
        assert!(matches!(d.note, BootNote::Unchanged(_)));
    }

    #[test]
    fn a_kernel_with_a_boot_entry_but_not_installed_is_never_picked() {
        // grub.cfg still names 6.1.0-9, newer than every installed kernel,
        // and nothing says it lacks a module: it is not installed, so the
        // newest installed kernel with every critical module is chosen.
        let mut loader = grub(false, &[]);
        if let Loader::Grub(g) = &mut loader {
            g.entries.push(BootEntry {
                id: "gnulinux-advanced-u>gnulinux-6.1.0-9-amd64-advanced-u".into(),
                title: String::new(),
                kernel: "6.1.0-9-amd64".into(),
            });
        }
        let d = run(
            &Guards::default(),
            &loader,
            &[miss("6.1.0-3-amd64")],
            &|_, k| k != "6.1.0-3-amd64",
        );
        assert_eq!(
            d.writes,
            vec![Write {
                setting: Setting::GrubNextEntry,
                value: Some(SAFE.into())
            }]
        );
    }

    #[test]
    fn a_removed_kernel_drops_its_guard() {
        let first = run(
            &Guards::default(),
            &grub(false, &[]),
            &[miss("6.1.0-9-amd64")],
            &|_, _| true,
        );
        let before = Guards {
            kernels: first.guards,
            changes: vec![],
        };
        let d = run(&before, &grub(false, &[]), &[], &|_, _| false);
        assert_eq!(d.dropped.len(), 1);
        assert!(d.guards.is_empty());
    }
}
