//! Broken modules: a registered version whose source is gone, or whose
//! link to it is missing. `dkms remove` refuses a broken module (as
//! upstream does), so doctor names the ways out: keep it (reinstall the
//! package, or put the source back), or forget it, which `--repair` does
//! when the source is certainly gone: the archived originals go back, its
//! module files leave the kernels it is installed for (then depmod), and its
//! kernel links, its directory in the dkms tree and its records are deleted.
//!
//! "Certainly gone" means the link's target does not exist while the
//! directory that held it can be read. A source that cannot be examined
//! (an unmounted file system, a permission, a loop of links) or that is
//! something other than a directory is only reported.

use std::path::{Path, PathBuf};

use super::interrupted::files_named;
use super::{report, Disk, Scan};
use crate::error::os_error;
use crate::exec::doctor::msg;
use crate::fs::{is_symlink, list_names};
use crate::layout::ORIGIN;
use crate::observe::distro::is_debian_like;

/// What is at a broken module's source.
enum Source {
    /// A directory (it came back).
    Present,
    /// Nothing, in a directory that can be read.
    Gone,
    /// Something that is not a directory.
    NotDir,
    /// It cannot be examined; the error says why.
    Unreadable(String),
}

/// What is at `p`, without following a link at `p` itself.
fn source_state(p: &Path) -> Source {
    match std::fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => Source::Present,
        Ok(_) => Source::NotDir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match p.parent().map(std::fs::read_dir) {
                Some(Ok(_)) => Source::Gone,
                Some(Err(e)) => Source::Unreadable(os_error(&e)),
                None => Source::Unreadable(os_error(&e)),
            }
        }
        Err(e) => Source::Unreadable(os_error(&e)),
    }
}

/// Every broken module version: report it, with the way out; forget it
/// under `--repair` when its source is certainly gone.
pub(super) fn broken_modules(d: &Disk, s: &mut Scan) {
    for (m, v) in d.module_versions() {
        if !d.w.tree.is_broken(&m, &v) {
            continue;
        }
        let vd = d.l.version_dir(&m, &v);
        let link = d.l.source_link(&m, &v);
        if !is_symlink(&link) {
            // Broken without a link: `<source_tree>/<m>-<v>` is there.
            let shown = d.l.root.inside(&d.l.source_tree_dir(&m, &v));
            let add = report::command(d.w, "dkms", &format!("add {m}/{v}"));
            s.attention(
                &msg::broken_link_missing(&m, &v, &shown),
                link,
                &[msg::broken_add_again(&add)],
            );
            continue;
        }
        let Some(source) = d.l.root.read_link(&link) else {
            continue;
        };
        let shown = d.l.root.inside(&source);
        match source_state(&source) {
            Source::Present => {}
            Source::Gone => forget(d, s, &m, &v, &shown),
            Source::NotDir => s.attention(
                &msg::broken_source_not_dir(&m, &v, &shown),
                vd,
                &[msg::broken_left_alone(&shown)],
            ),
            Source::Unreadable(e) => s.attention(
                &msg::broken_source_unreadable(&m, &v, &shown, &e),
                vd,
                &[msg::broken_left_alone_unreadable(&shown)],
            ),
        }
    }
}

/// Forget m/v, whose source `shown` is gone: say so and how to keep it
/// instead, then each step, repaired under `--repair`; the directory and
/// records go only when every step before succeeded.
fn forget(d: &Disk, s: &mut Scan, m: &str, v: &str, shown: &Path) {
    let vd = d.l.version_dir(m, v);
    let what = msg::broken_source_gone(m, v, shown);
    if s.repairing() {
        s.say.line(&msg::finding(msg::FORGETTING, &what, &vd));
    } else {
        let keep = if is_debian_like(&d.w.host.distribution) {
            msg::broken_keep_debian(m, v, shown)
        } else {
            msg::broken_keep(m, v, shown)
        };
        let forget = msg::broken_forget(m, v, &report::repair_command(d.w));
        s.attention(&what, vd.clone(), &[keep, forget]);
    }
    let mut complete = true;
    let installed: Vec<(String, String)> =
        d.w.tree
            .modules
            .get(m)
            .map(|ms| {
                ms.links
                    .iter()
                    .filter(|(_, lv)| lv.as_deref() == Some(v))
                    .map(|(ka, _)| ka.clone())
                    .collect()
            })
            .unwrap_or_default();
    for (k, a) in &installed {
        complete &= uninstall(d, s, m, v, k, a);
    }
    if s.repairing() && !complete {
        s.attention(
            &msg::broken_version_dir(m, v),
            vd,
            &[msg::BROKEN_KEPT.to_string()],
        );
        return;
    }
    let (dkms, w) = (&d.l.dkms, d.w);
    let deleted = s.repair(
        &msg::broken_version_dir(m, v),
        vd,
        msg::DELETE_WITH_RECORDS,
        msg::DELETED_WITH_RECORDS,
        |lock, p| {
            lock.remove_all(dkms, p)?;
            crate::exec::uninstall::drop_records_of(w, lock, m, v).map_err(|(file, e)| {
                std::io::Error::new(e.kind(), format!("{}: {e}", file.display()))
            })?;
            let md = d.l.module_dir(m);
            if list_names(&md).is_empty() {
                // Another version or an archived original keeps it.
                let _ = lock.rmdir(dkms, &md);
            }
            Ok(())
        },
    );
    if deleted {
        s.forgotten.insert((m.to_string(), v.to_string()));
    }
}

/// Take m/v off k/a: put back the originals its install archived, remove
/// its module files, then its kernel link. Returns whether every step
/// succeeded (without `--repair`: true).
fn uninstall(d: &Disk, s: &mut Scan, m: &str, v: &str, k: &str, a: &str) -> bool {
    let (dkms, install) = (&d.l.dkms, &d.l.install);
    let lib_tree = d.l.lib_tree(k);
    let mut ok = true;
    let mut copies = installed_copies(&lib_tree, &d.l.base_dir(m, v, k, a).join("module"));
    copies.retain(|c| !s.seen(c));
    let orig_dir = d.l.original_dir(m, k, a);
    for name in list_names(&orig_dir) {
        let Some(file) = name.strip_suffix(ORIGIN) else {
            continue;
        };
        let (module, origin) = (orig_dir.join(file), orig_dir.join(&name));
        if !module.is_file() {
            continue;
        }
        let loc = crate::fs::read_regular_text(&origin, 4096).unwrap_or_default();
        let loc = loc.lines().next().unwrap_or("").to_string();
        let host = d.l.root.join(&loc);
        let free = host.symlink_metadata().is_err() || copies.contains(&host);
        if !host.starts_with(&lib_tree) || loc.contains("/../") || host == lib_tree || !free {
            s.attention(
                &msg::original_location_blocked(&loc),
                module,
                &[msg::original_blocked_advice(&loc)],
            );
            continue;
        }
        let back = s.repair(
            &msg::broken_original(m, v, k),
            module,
            &msg::put_back_to(&loc, k),
            &msg::put_back_to_done(&loc, k),
            |lock, p| {
                if let Some(parent) = host.parent() {
                    lock.create_dir_all(install, parent, 0o755)?;
                }
                lock.move_verified(dkms, p, install, &host)?;
                lock.remove_file(dkms, &origin)
            },
        );
        if back {
            // Ours at that place was replaced by the original.
            copies.retain(|c| *c != host);
            s.depmod.insert(k.to_string());
        }
        ok &= back || !s.repairing();
    }
    if let Some(lock) = s.lock {
        // Empty directories only: a blocked original keeps them.
        let _ = lock.rmdir(dkms, &orig_dir);
        if let Some(kd) = orig_dir.parent() {
            // Only empty directories go (see above).
            let _ = lock.rmdir(dkms, kd);
        }
        // Only empty directories go (see above).
        let _ = lock.rmdir(dkms, &d.l.originals_dir(m));
    }
    for c in copies {
        let removed = s.repair(
            &msg::broken_module_file(m, v, k, a),
            c,
            &msg::remove_then_depmod(k),
            &msg::removed_depmod_below(k),
            |lock, p| {
                lock.remove_file(install, p)?;
                if let Some(dir) = p.parent() {
                    lock.remove_empty_parents(install, dir, &lib_tree);
                }
                Ok(())
            },
        );
        if removed {
            s.depmod.insert(k.to_string());
        }
        ok &= removed || !s.repairing();
    }
    let link = d.l.kernel_link(m, k, a);
    let unlinked = s.repair(
        &msg::broken_kernel_link(m, v),
        link,
        msg::REMOVE_IT,
        msg::REMOVED,
        |lock, p| lock.remove_file(dkms, p),
    );
    ok && (unlinked || !s.repairing())
}

/// The files in `lib_tree` that are an installed copy of a module file of
/// the build in `module_dir`: the same name and the same bytes, or a link
/// to it (`symlink_modules`).
fn installed_copies(lib_tree: &Path, module_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for name in list_names(module_dir) {
        if !name.contains(".ko") {
            continue;
        }
        let ours = module_dir.join(&name);
        let Ok(bytes) = crate::fs::read_file(&ours) else {
            continue;
        };
        let mut same_name = Vec::new();
        files_named(lib_tree, std::ffi::OsStr::new(&name), &mut same_name);
        out.extend(
            same_name
                .into_iter()
                .filter(|p| crate::fs::read_file(p).ok().as_deref() == Some(bytes.as_slice())),
        );
        links_to(lib_tree, &name, &ours, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// Symbolic links named `name` under `dir` (not in `build`/`source`) that
/// lead to `target`.
fn links_to(dir: &Path, name: &str, target: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let n = e.file_name();
        if ft.is_dir() {
            if n != "build" && n != "source" {
                links_to(&e.path(), name, target, out);
            }
        } else if ft.is_symlink()
            && n == name
            && std::fs::canonicalize(e.path()).ok() == std::fs::canonicalize(target).ok()
        {
            out.push(e.path());
        }
    }
}
