//! What an install killed half-way leaves in the kernel's tree: our module
//! placed while the kernel link still names another version (or none), and
//! originals archived but never put back.

use std::path::{Path, PathBuf};

use super::{Disk, Scan};
use crate::exec::doctor::msg;
use crate::fs::{is_symlink, list_dirs};
use crate::layout::is_safe_component;

/// Files named `name` anywhere under `dir` (not following links, not in
/// the kernel's `build`/`source`).
pub(super) fn files_named(dir: &Path, name: &std::ffi::OsStr, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let n = e.file_name();
        if ft.is_dir() {
            if n != "build" && n != "source" {
                files_named(&e.path(), name, out);
            }
        } else if ft.is_file() && n == name {
            out.push(e.path());
        }
    }
}

/// A module file in the install tree that is byte for byte a build of m/v
/// while the kernel link does not name m/v: an install killed after placing
/// the file and before switching the link. Put back the active version's
/// module, or remove the file when no version is installed.
pub(super) fn interrupted_installs(d: &Disk, s: &mut Scan) {
    let tree = d.l;
    for m in d.modules() {
        for v in d.versions(&m) {
            for (k, a) in d.built_kernels(&m, &v) {
                if d.link_points_here(&m, &v, &k, &a) {
                    continue;
                }
                let link = tree.kernel_link(&m, &k, &a);
                let active = (is_symlink(&link) && link.exists()).then(|| link.join("module"));
                let Ok(rd) = std::fs::read_dir(tree.base_dir(&m, &v, &k, &a).join("module")) else {
                    continue;
                };
                for e in rd.flatten() {
                    let fname = e.file_name();
                    if !fname.to_string_lossy().contains(".ko") {
                        continue;
                    }
                    let Ok(ours) = crate::fs::read_file(&e.path()) else {
                        continue;
                    };
                    let mut placed = Vec::new();
                    files_named(&d.l.lib_tree(&k), &fname, &mut placed);
                    for p in placed {
                        if crate::fs::read_file(&p).ok().as_deref() != Some(ours.as_slice()) {
                            continue;
                        }
                        let back = active
                            .as_ref()
                            .map(|d| d.join(&fname))
                            .filter(|f| f.is_file());
                        let repaired = match back {
                            Some(back) => {
                                if crate::fs::read_file(&back).ok().as_deref()
                                    == Some(ours.as_slice())
                                {
                                    continue;
                                }
                                s.repair(
                                    &msg::interrupted_install_replaced(&m, &v, &k),
                                    p,
                                    &msg::put_back_module_in_use(&back, &k),
                                    &msg::put_back_module_in_use_done(&back, &k),
                                    |lock, p| lock.place_atomically(&d.l.install, &back, p, false),
                                )
                            }
                            None => s.repair(
                                &msg::interrupted_install_removed(&m, &v, &k),
                                p,
                                &msg::remove_then_depmod(&k),
                                &msg::removed_depmod_below(&k),
                                |lock, p| lock.remove_file(&d.l.install, p),
                            ),
                        };
                        if repaired {
                            s.depmod.insert(k.clone());
                        }
                    }
                }
            }
        }
    }
}

/// Originals archived by an install that never created its kernel link:
/// the kernel has neither its own module nor ours. Put them back.
pub(super) fn stranded_originals(d: &Disk, s: &mut Scan) {
    let tree = d.l;
    for m in d.modules() {
        let od = tree.originals_dir(&m);
        for k in list_dirs(&od) {
            for a in list_dirs(&od.join(&k)) {
                if !is_safe_component(&k) || !is_safe_component(&a) {
                    continue;
                }
                if tree.kernel_link(&m, &k, &a).symlink_metadata().is_ok() {
                    continue;
                }
                let dir = od.join(&k).join(&a);
                stranded_in(d, s, &m, &k, &dir);
                if let Some(lock) = s.lock {
                    // Only empty directories go; one still holding a
                    // blocked original stays.
                    let _ = lock.rmdir(&d.l.dkms, &dir);
                    // Only empty directories go (see above).
                    let _ = lock.rmdir(&d.l.dkms, &od.join(&k));
                }
            }
        }
        if let Some(lock) = s.lock {
            // Only an empty directory goes: one still holding originals stays.
            let _ = lock.rmdir(&d.l.dkms, &od);
        }
    }
}

/// The archived originals of m in `dir` (`original_module/<k>/<a>`).
fn stranded_in(d: &Disk, s: &mut Scan, m: &str, k: &str, dir: &Path) {
    let it = &d.l.install;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(file) = n.strip_suffix(".origin") else {
            continue;
        };
        let module = dir.join(file);
        if !module.is_file() {
            continue;
        }
        let text = crate::fs::read_regular_text(&e.path(), 4096).unwrap_or_default();
        let loc = text.lines().next().unwrap_or("").to_string();
        let host = d.l.root.join(&loc);
        let origin = e.path();
        let in_tree = host.starts_with(it.join(k)) && !loc.contains("/../");
        // Install copies the original before it places ours, so after a
        // crash the original may still be in place: then the backup is only
        // a copy, and goes.
        if in_tree && crate::fs::same_bytes(&host, &module) {
            s.repair(
                &msg::original_copy_left(&loc),
                module,
                msg::REMOVE_IT,
                msg::REMOVED,
                |lock, p| {
                    lock.remove_file(&d.l.dkms, p)?;
                    lock.remove_file(&d.l.dkms, &origin)
                },
            );
            continue;
        }
        if !in_tree || host.symlink_metadata().is_ok() {
            s.attention(
                &msg::original_location_blocked(&loc),
                module,
                &[msg::original_blocked_advice(&loc)],
            );
            continue;
        }
        let repaired = s.repair(
            &msg::original_stranded(m, k),
            module,
            &msg::put_back_to(&loc, k),
            &msg::put_back_to_done(&loc, k),
            |lock, p| {
                if let Some(parent) = host.parent() {
                    lock.create_dir_all(it, parent, 0o755)?;
                }
                lock.move_verified(&d.l.dkms, p, it, &host)?;
                lock.remove_file(&d.l.dkms, &origin)
            },
        );
        if repaired {
            s.depmod.insert(k.to_string());
        }
    }
}
