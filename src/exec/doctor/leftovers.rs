//! What an interrupted run leaves in the trees: per-kernel build
//! directories, temporary and swapped-out build results, dangling and
//! temporary kernel links, temporary queue entries and module files,
//! names that were not trusted, and a `modules.dep` older than the modules.

use std::path::{Path, PathBuf};

use super::{remove_finding, Disk, Scan};
use crate::exec::doctor::msg;
use crate::fs::{is_symlink, list_dirs};
use crate::layout::{is_safe_component, looks_like_kernel, OLD_BUILD, PLACING, TMP_BUILD};

/// Per-kernel build directories, temporary and swapped-out build results.
pub(super) fn build_leftovers(d: &Disk, s: &mut Scan) {
    let tree = d.l;
    let base = &d.l.dkms;
    for (m, v) in d.module_versions() {
        let vd = tree.version_dir(&m, &v);
        for name in list_dirs(&vd) {
            if let Some(ka) = name.strip_prefix("build-") {
                let dir = vd.join(&name);
                // A build killed after its result was moved into place: keep its log.
                let rescue = ka
                    .rsplit_once('-')
                    .filter(|(k, a)| is_safe_component(k) && is_safe_component(a))
                    .map(|(k, a)| tree.base_dir(&m, &v, k, a))
                    .filter(|b| {
                        b.join("module").is_dir()
                            && !b.join("log/make.log").exists()
                            && dir.join("make.log").is_file()
                    });
                let (will, done) = match &rescue {
                    Some(b) => (
                        msg::rescue_log_and_remove(&b.join("log/make.log")),
                        msg::log_rescued_removed(&b.join("log/make.log")),
                    ),
                    None => (msg::REMOVE_IT.to_string(), msg::REMOVED.to_string()),
                };
                s.repair(msg::LEFTOVER_BUILD_DIR, dir, &will, &done, |lock, p| {
                    if let Some(b) = &rescue {
                        lock.create_dir_all(base, &b.join("log"), 0o755)?;
                        lock.rename(base, &p.join("make.log"), &b.join("log/make.log"))?;
                    }
                    lock.remove_all(base, p)
                });
            } else if looks_like_kernel(&name) {
                kernel_dir_leftovers(s, base, &vd.join(&name));
            }
        }
    }
}

/// Temporary build results and swapped-out builds in `<m>/<v>/<k>`.
fn kernel_dir_leftovers(s: &mut Scan, base: &Path, kd: &Path) {
    let Ok(rd) = std::fs::read_dir(kd) else {
        return;
    };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(TMP_BUILD) {
            remove_finding(s, msg::LEFTOVER_BUILD_RESULT, e.path(), base);
        } else if let Some(rest) = n.strip_prefix(OLD_BUILD) {
            // `.old_<arch>_<pid>`: the previous build, swapped out by a
            // rebuild that never moved its result in.
            let a = rest.rsplit_once('_').map(|(a, _)| a).unwrap_or(rest);
            let build = kd.join(a);
            if build.exists() {
                remove_finding(s, msg::LEFTOVER_SWAPPED_BUILD, e.path(), base);
            } else {
                let (will, done) = (msg::put_back_as(&build), msg::put_back_as_done(&build));
                s.repair(
                    msg::SWAPPED_BUILD_BACK,
                    e.path(),
                    &will,
                    &done,
                    |lock, p| lock.rename(base, p, &build),
                );
            }
        }
    }
}

/// Dangling and temporary kernel links; temporary files of the pending queue.
pub(super) fn link_and_queue_leftovers(d: &Disk, s: &mut Scan) {
    let tree = d.l;
    let base = &d.l.dkms;
    for m in d.modules() {
        if let Ok(rd) = std::fs::read_dir(tree.module_dir(&m)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let p = e.path();
                if n.starts_with("kernel-") && is_symlink(&p) && !p.exists() {
                    remove_finding(s, msg::DANGLING_KERNEL_LINK, p, base);
                } else if n.starts_with(".kernel-") && (n.contains(".tmp") || n.contains(PLACING)) {
                    remove_finding(s, msg::LEFTOVER_LINK_TEMP, p, base);
                }
            }
        }
    }
    // Builds a killed run was deleting (exec::gone).
    for n in crate::fs::list_names(&d.l.gone_dir()) {
        remove_finding(s, msg::LEFTOVER_BUILD_RESULT, d.l.gone_dir().join(n), base);
    }
    let q = d.l.hook_dir();
    for sub in ["pending", "failed"] {
        let Ok(rd) = std::fs::read_dir(q.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(".tmp") || (n.starts_with('.') && n.contains(PLACING)) {
                remove_finding(s, msg::LEFTOVER_QUEUE_TEMP, e.path(), base);
            }
        }
    }
}

/// Temporary module files an atomic placement left, next to installed
/// modules and next to archived originals (written the same way, under the
/// dkms tree).
pub(super) fn module_temporaries(d: &Disk, s: &mut Scan) {
    let mut found = Vec::new();
    temporaries_under(&d.l.install, &mut found);
    for p in found {
        remove_finding(s, msg::LEFTOVER_MODULE_TEMP, p, &d.l.install);
    }
    for m in d.modules() {
        let mut found = Vec::new();
        temporaries_under(&d.l.originals_dir(&m), &mut found);
        for p in found {
            remove_finding(s, msg::LEFTOVER_MODULE_TEMP, p, &d.l.dkms);
        }
    }
}

/// `.<name>.ko….dkms-XXXXXX` files under `dir` (not following links, not
/// in a kernel's `build`/`source`).
fn temporaries_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let n = e.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            if n != "build" && n != "source" {
                temporaries_under(&e.path(), found);
            }
        } else if n.starts_with('.') && n.contains(".ko") && n.contains(PLACING) {
            found.push(e.path());
        }
    }
}

/// Records and names on disk that were not trusted: corrupt queue records,
/// directories and links with names the command line would refuse. They
/// are reported, never acted on.
pub(super) fn untrusted_names(d: &Disk, s: &mut Scan) {
    for p in &d.w.records.corrupt {
        s.attention(msg::UNTRUSTED_RECORD, p.clone(), &[]);
    }
    for p in &d.w.tree.skipped {
        s.attention(msg::UNTRUSTED_NAME, p.clone(), &[]);
    }
}

/// The newest modification time of a module file under `dir` (not in the
/// kernel's `build`/`source`, not following links).
fn newest_module(dir: &Path) -> Option<std::time::SystemTime> {
    let rd = std::fs::read_dir(dir).ok()?;
    let mut newest = None;
    for e in rd.flatten() {
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        let n = e.file_name();
        let t = if meta.is_dir() {
            if n == "build" || n == "source" {
                continue;
            }
            newest_module(&e.path())
        } else if n.to_string_lossy().contains(".ko") && !n.to_string_lossy().starts_with('.') {
            meta.modified().ok()
        } else {
            None
        };
        newest = newest.max(t);
    }
    newest
}

/// A kernel whose `modules.dep` is older than one of its modules: an install
/// or uninstall died before depmod. Run depmod.
pub(super) fn stale_depmod(d: &Disk, s: &mut Scan) {
    let it = &d.l.install;
    for k in list_dirs(it) {
        let dep = it.join(&k).join("modules.dep");
        let Ok(dep_time) = std::fs::metadata(&dep).and_then(|m| m.modified()) else {
            continue;
        };
        if newest_module(&it.join(&k)).is_some_and(|t| t > dep_time)
            && s.repair(
                msg::STALE_MODULES_DEP,
                dep,
                &msg::run_depmod_for(&k),
                &msg::depmod_runs_for(&k),
                |_, _| Ok(()),
            )
        {
            s.depmod.insert(k);
        }
    }
}

/// A kernel whose depmod an interrupted run left due (its marker under the
/// dkms tree; listed now, since a run that repairs finished the markers it
/// could before doctor looked). Run depmod.
pub(super) fn depmod_due(d: &Disk, s: &mut Scan) {
    let dir = d.l.depmod_pending_dir();
    for k in crate::fs::list_names(&dir) {
        if !is_safe_component(&k) || k.starts_with('.') {
            continue;
        }
        if s.repair(
            &msg::depmod_due(&k),
            dir.join(&k),
            &msg::run_depmod_for(&k),
            &msg::depmod_runs_for(&k),
            |_, _| Ok(()),
        ) {
            s.depmod.insert(k);
        }
    }
}
