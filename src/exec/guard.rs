//! The boot guard's step at the end of a hook run: gather which critical
//! modules the run could not install (failed, deferred for BUILD_DEPENDS
//! or for missing headers), let [`crate::plan::guard::decide`] decide, then
//! write what it says: the guard records, the loader setting (grubenv or
//! loader.conf through the lock, the EFI variable through `bootctl`), the
//! record of what was changed; and say it, loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::child::Run;
use crate::error::{os_error, Result};
use crate::exec::ledger::HookResult;
use crate::exec::{Ctx, Locked};
use crate::observe::boot::{bls, grub, Loader};
use crate::observe::critical::Critical;
use crate::observe::guard::{guard_file, BootChange, Guard, Setting};
use crate::plan::guard::{decide, BootNote, Inputs, Missed, Write};
use crate::plan::GuardJob;
use crate::report::msg::guard as guard_msg;
use crate::report::Say;

/// Run the guard step.
pub fn run(cx: &mut Ctx, lock: &Locked, say: &mut dyn Say, job: &GuardJob) -> Result<()> {
    let w = cx.world;
    let empty = Critical::default();
    let critical = w.critical().unwrap_or(&empty);
    let unknown = Loader::Unknown;
    let loader = w.loader().unwrap_or(&unknown);
    let a = w.host.machine_arch.clone();
    let missed = missed(cx, job, critical);
    let ledger = &cx.ledger;
    let installed = |m: &str, k: &str| {
        ledger.installed_version(w, m, k, &a).is_some() || w.provided_prebuilt(m, k, &a)
    };
    let d = decide(&Inputs {
        critical,
        before: &w.records.guards,
        loader,
        arch: &a,
        bootable: &job.bootable,
        missed: &missed,
        installed: &installed,
        now: crate::report::time::now(),
    });
    let l = &w.host.layout;
    let touched: Vec<&String> = missed.iter().map(|x| &x.k).collect();
    for g in &d.guards {
        let old = w.records.guards.of(&g.kernel);
        if old != Some(g) {
            write_guard(cx, lock, g);
        }
        if touched.contains(&&g.kernel) {
            for gm in &g.modules {
                say.eline(&guard_msg::guard_set(
                    &g.kernel,
                    &gm.module,
                    &gm.what,
                    &gm.critical,
                ));
            }
        }
    }
    for g in d.lifted.iter().chain(&d.dropped) {
        let p = guard_file(l, &g.kernel, &g.arch);
        if let Err(e) = lock.remove_file(&l.dkms, &p) {
            log::warn!("cannot remove {}: {e}", p.display());
        }
    }
    for g in &d.lifted {
        say.line(&guard_msg::guard_lifted(&g.kernel));
    }
    for g in &d.dropped {
        say.line(&guard_msg::guard_dropped(&g.kernel));
    }
    let mut written = true;
    for wr in &d.writes {
        if let Err(why) = write_setting(lock, loader, wr) {
            written = false;
            say.eline(&guard_msg::guard_write_failed(
                &setting_name(w, loader, wr.setting),
                &why,
            ));
        }
    }
    let guarded: Vec<String> = d.guards.iter().map(|g| g.kernel.clone()).collect();
    let loud = !touched.is_empty() || job.booted.is_some();
    match &d.note {
        BootNote::Quiet => {}
        BootNote::Pointed {
            kernel,
            entry,
            setting,
            already,
        } => {
            let name = setting_name(w, loader, *setting);
            if !*already && written {
                say.eline(&guard_msg::guard_points(kernel, entry, &name));
            } else if loud && written {
                say.eline(&guard_msg::guard_still_points(kernel, entry, &name));
            }
        }
        BootNote::Restored { setting, value } => {
            say.line(&guard_msg::guard_restored(
                &setting_name(w, loader, *setting),
                value.as_deref(),
            ));
        }
        BootNote::LeftAlone { setting } => {
            say.line(&guard_msg::guard_left_alone(&setting_name(
                w, loader, *setting,
            )));
        }
        BootNote::Unchanged(why) => {
            if loud {
                say.eline(&guard_msg::guard_unchanged(why, &guarded));
            }
        }
    }
    if !touched.is_empty() {
        cx.ledger.critical_failed = true;
        let root_opt = root_option(w);
        for k in guarded.iter().filter(|k| touched.contains(k)) {
            say.eline(&guard_msg::guard_how_lifted(k, &root_opt));
        }
    }
    if let Some(k) = &job.booted {
        if let Some(g) = d.guards.iter().find(|g| &g.kernel == k) {
            let ms: Vec<&str> = g.modules.iter().map(|m| m.module.as_str()).collect();
            say.eline(&guard_msg::booted_guarded(k, &ms.join(" ")));
        }
    }
    if written {
        record_changes(cx, lock, loader, &d.changes);
    }
    Ok(())
}

/// The critical modules this run could not install, per kernel.
fn missed(cx: &Ctx, job: &GuardJob, critical: &Critical) -> Vec<Missed> {
    let mut out = Vec::new();
    for (k, m, v, r) in &cx.ledger.results {
        if !critical.contains(m) {
            continue;
        }
        let what = match r {
            HookResult::Installed | HookResult::Excluded => continue,
            HookResult::Deferred(deps) => guard_msg::guard_what_deferred(deps),
            HookResult::Failed(code, _) | HookResult::FailedBecause(code, _) => {
                guard_msg::guard_what_failed(*code)
            }
        };
        out.push(Missed {
            k: k.clone(),
            m: m.clone(),
            v: v.clone(),
            what,
        });
    }
    for (k, pkg) in &cx.ledger.headers_deferred {
        let Some((_, ms)) = job.deferred.iter().find(|(dk, _)| dk == k) else {
            continue;
        };
        for (m, v) in ms {
            out.push(Missed {
                k: k.clone(),
                m: m.clone(),
                v: v.clone(),
                what: guard_msg::guard_what_no_headers(pkg),
            });
        }
    }
    out
}

/// ` --root DIR` when the run has one.
fn root_option(w: &crate::observe::World) -> String {
    let r = &w.host.layout.root;
    if r.is_slash() {
        String::new()
    } else {
        format!(
            " --root {}",
            crate::child::quote(&r.dir().display().to_string())
        )
    }
}

/// The file a setting is in (host path).
fn setting_file(loader: &Loader, s: Setting) -> PathBuf {
    match (loader, s) {
        (Loader::Grub(g), Setting::GrubNextEntry | Setting::GrubSavedEntry) => g.env_file(),
        (Loader::Bls(b), Setting::LoaderConfDefault) => b.loader_conf(),
        _ => PathBuf::new(),
    }
}

/// A setting, named for people (paths as seen inside the root).
fn setting_name(w: &crate::observe::World, loader: &Loader, s: Setting) -> String {
    let f = w.host.layout.root.inside(&setting_file(loader, s));
    match s {
        Setting::GrubNextEntry => guard_msg::grub_next_entry(&f),
        Setting::GrubSavedEntry => guard_msg::grub_saved_entry(&f),
        Setting::LoaderConfDefault => guard_msg::loader_conf_default(&f),
        Setting::EfiDefault => guard_msg::EFI_DEFAULT.to_string(),
    }
}

/// Write one loader setting; the reason when it could not be.
fn write_setting(lock: &Locked, loader: &Loader, wr: &Write) -> std::result::Result<(), String> {
    match (loader, wr.setting) {
        (Loader::Grub(g), Setting::GrubNextEntry | Setting::GrubSavedEntry) => {
            let key = if wr.setting == Setting::GrubNextEntry {
                "next_entry"
            } else {
                "saved_entry"
            };
            let mut env = g.env.clone();
            match &wr.value {
                Some(v) => env.insert(key.to_string(), v.clone()),
                None => env.remove(key),
            };
            let bytes =
                grub::render_env(&env).ok_or_else(|| guard_msg::GRUBENV_FULL.to_string())?;
            lock.write_atomic(&g.dir, &g.env_file(), &bytes, 0o644)
                .map_err(|e| os_error(&e))
        }
        (Loader::Bls(b), Setting::LoaderConfDefault) => {
            let t = bls::with_default(&b.conf_text, wr.value.as_deref());
            let base = b.esp.join("loader");
            lock.create_dir_all(&b.esp, &base, 0o755)
                .and_then(|()| lock.write_atomic(&base, &b.loader_conf(), t.as_bytes(), 0o644))
                .map_err(|e| os_error(&e))
        }
        (Loader::Bls(_), Setting::EfiDefault) => Command::new("bootctl")
            .args(["set-default", wr.value.as_deref().unwrap_or("")])
            .run_ok()
            .map_err(|e| e.to_string()),
        _ => Err(guard_msg::NO_LOADER.to_string()),
    }
}

/// Write (or remove) the guard record of one kernel.
fn write_guard(cx: &mut Ctx, lock: &Locked, g: &Guard) {
    let l = &cx.world.host.layout;
    let p = guard_file(l, &g.kernel, &g.arch);
    let res = serde_json::to_vec_pretty(g)
        .map_err(std::io::Error::other)
        .and_then(|data| {
            lock.create_dir_all(&l.dkms, &l.guard_dir(), 0o755)?;
            lock.write_atomic(&l.dkms, &p, &data, 0o644)
        });
    if let Err(e) = res {
        let line = guard_msg::guard_not_recorded(&g.kernel, &p, &os_error(&e));
        log::warn!("{line}");
        cx.ledger.unrecorded.push(line);
    }
}

/// Keep the record of the loader settings changed (or remove it when
/// none is left).
fn record_changes(cx: &mut Ctx, lock: &Locked, loader: &Loader, changes: &[BootChange]) {
    let l = &cx.world.host.layout;
    let p = l.boot_change_file();
    let with_files: Vec<BootChange> = changes
        .iter()
        .map(|c| BootChange {
            file: inside(cx, &setting_file(loader, c.setting)),
            ..c.clone()
        })
        .collect();
    if with_files == cx.world.records.guards.changes {
        return;
    }
    let res = if changes.is_empty() {
        lock.remove_file(&l.dkms, &p).or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })
    } else {
        serde_json::to_vec_pretty(&with_files)
            .map_err(std::io::Error::other)
            .and_then(|data| {
                lock.create_dir_all(&l.dkms, &l.hook_dir(), 0o755)?;
                lock.write_atomic(&l.dkms, &p, &data, 0o644)
            })
    };
    if let Err(e) = res {
        let line = guard_msg::guard_not_recorded("the boot entry", &p, &os_error(&e));
        log::warn!("{line}");
        cx.ledger.unrecorded.push(line);
    }
}

/// A host path as seen inside the root.
fn inside(cx: &Ctx, p: &Path) -> String {
    if p.as_os_str().is_empty() {
        return String::new();
    }
    cx.world.host.layout.root.inside(p).display().to_string()
}
