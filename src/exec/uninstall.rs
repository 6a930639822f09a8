//! Taking a module off a kernel (upstream's `do_uninstall`), deleting a
//! build (`do_unbuild`), and `remove`'s first and last steps. Archived
//! originals go back before ours go (so the kernel always has one of the
//! two), by a move that works across filesystems and is verified before
//! the archive is deleted; when putting one back fails, nothing is removed
//! and the error says where the original still is.

use std::path::{Path, PathBuf};

use crate::error::{os_error, Error, Result};
use crate::exec::build::run_script;
use crate::exec::msg;
use crate::exec::{depmod, Ctx, Locked};
use crate::layout::{looks_like_kernel, NOT_KERNELS, ORIGIN, TMP_BUILD};
use crate::observe::files::{actual_location, join_loc};
use crate::observe::{ConfKey, World};
use crate::plan::{Depmod, Mvka};
use crate::report::{Say, Stream};
use crate::text;

/// Upstream's `do_uninstall` of m/v from k/a.
pub fn uninstall(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    key: &ConfKey,
    depmod: Depmod,
) -> Result<()> {
    let (m, v, k, a) = (at.m.as_str(), at.v.as_str(), at.k.as_str(), at.a.as_str());
    say.line(&text::uninstalling(m, v, k, a));
    let conf = cx.conf(say, key)?;
    let world = cx.world;
    let l = &world.host.layout;
    let (dkms, install) = (&l.dkms, &l.install);
    let suffix = world.kernel(k).map(|f| f.suffix).unwrap_or("");
    let lib_tree = l.lib_tree(k);
    let orig_dir = l.original_dir(m, k, a);
    let was_active = cx.ledger.links_to(world, at);
    // An original that could not be put back is never deleted.
    let mut kept = false;
    if was_active {
        say.line(text::WAS_ACTIVE);
        depmod::mark_pending(world, lock, k)?;
        let owned = l.base_dir(m, v, k, a).join("module");
        for r in &conf.modules {
            let name = &r.dest_name;
            let location = actual_location(&owned, &lib_tree, r, suffix);
            // Originals go back first (one at our own path replaces ours
            // atomically), so the kernel always has one of the two.
            let mut said = Vec::new();
            let restored = restore_originals(cx, lock, &orig_dir, name, &lib_tree, &mut said)?;
            kept |= said.iter().any(|(s, _)| *s == Stream::Err);
            match location {
                Some(loc) => {
                    let dir = join_loc(&lib_tree, &loc);
                    say.line(&text::deleting(&dir, name, suffix));
                    for f in [format!("{name}.ko"), format!("{name}.ko{suffix}")] {
                        let p = dir.join(&f);
                        if restored.contains(&p) || !p.exists() {
                            continue;
                        }
                        lock.remove_file(install, &p)
                            .map_err(|e| Error::io(msg::CANNOT_REMOVE, &p, e))?;
                    }
                    lock.remove_empty_parents(install, &dir, &lib_tree);
                    crate::fault::point("uninstall:after-delete");
                }
                None => {
                    say.line(&text::not_found_within(name, suffix, &lib_tree));
                    let dir = join_loc(&lib_tree, &r.dest_location);
                    for f in [format!("{name}.ko"), format!("{name}.ko{suffix}")] {
                        if let Some(what) = crate::fs::special_kind(&dir.join(&f)) {
                            say.warning(&[msg::special_left(&dir.join(&f), what)]);
                            break;
                        }
                    }
                }
            }
            for (stream, line) in said {
                say.emit(stream, &format!("{line}\n"));
            }
            if let Some(kdir) = orig_dir.parent() {
                lock.remove_empty_dirs(dkms, kdir);
            }
        }
        crate::fault::point("uninstall:before-unlink");
        let link = l.kernel_link(m, k, a);
        lock.remove_file(dkms, &link)
            .map_err(|e| Error::io(msg::CANNOT_REMOVE, &link, e))?;
        cx.ledger.set_unlinked(at);
    } else {
        say.line(text::WAS_INACTIVE);
    }
    let source = crate::exec::build::script_dir(world, m, v);
    // Upstream ignores POST_REMOVE's result; run_script has said what went wrong.
    let _ = run_script(
        world,
        say,
        "post_remove",
        &conf.post_remove,
        &source,
        None,
        &[],
        m,
    );
    depmod::request(cx, lock, say, k, m, depmod);
    if was_active && orig_dir.is_dir() && kept {
        say.warning(&[msg::originals_kept(&orig_dir)]);
    } else if was_active && orig_dir.is_dir() {
        say.line(&text::removing_originals(k, a));
        if let Err(e) = lock.remove_all(dkms, &orig_dir) {
            // Every original is back: what stays holds notes without files,
            // which every reader skips, and the next install reuses it.
            log::warn!("cannot remove {}: {e}", orig_dir.display());
        }
        if let Some(kd) = orig_dir.parent() {
            // Only an empty directory goes: another arch's originals keep it.
            let _ = lock.rmdir(dkms, kd);
        }
    }
    let od = l.originals_dir(m);
    if crate::fs::list_dirs(&od).is_empty() {
        // It holds no kernel's originals: a leftover is an empty directory.
        let _ = lock.remove_all(dkms, &od);
    }
    Ok(())
}

/// Put archived originals of `name` back; returns the restored paths. The
/// "Restoring" lines go to `said`, so the caller prints them in upstream's
/// order (after "Deleting"). An origin outside the kernel's tree is only
/// warned about; a move that fails is an error and the archive stays.
fn restore_originals(
    cx: &Ctx,
    lock: &Locked,
    orig_dir: &Path,
    name: &str,
    lib_tree: &Path,
    said: &mut Vec<(Stream, String)>,
) -> Result<Vec<PathBuf>> {
    let l = &cx.world.host.layout;
    let mut restored = Vec::new();
    let prefix = format!("{name}.");
    for fname in crate::fs::list_names(orig_dir) {
        if !(fname.starts_with(&prefix) && fname.ends_with(ORIGIN)) {
            continue;
        }
        let origin = orig_dir.join(&fname);
        let module = orig_dir.join(fname.trim_end_matches(ORIGIN));
        if let Some(what) = crate::fs::special_kind(&module) {
            said.push((Stream::Err, msg::original_not_a_file(&module, what)));
            continue;
        }
        if !module.is_file() {
            continue;
        }
        let loc = crate::fs::read_regular_text(&origin, 4096).unwrap_or_default();
        let loc = loc.lines().next().unwrap_or("").to_string();
        let host = l.root.join(&loc);
        let inside_tree = host.starts_with(lib_tree)
            && !loc.contains("/../")
            && !loc.ends_with("/..")
            && host != lib_tree;
        if !inside_tree {
            said.push((Stream::Err, text::bad_original_location(&loc, &origin)));
            continue;
        }
        said.push((Stream::Out, text::restoring_original(&loc)));
        if let Some(p) = host.parent() {
            lock.create_dir_all(&l.install, p, 0o755)
                .map_err(|e| Error::io(msg::CANNOT_CREATE, p, e))?;
        }
        lock.move_verified(&l.dkms, &module, &l.install, &host)
            .map_err(|e| {
                Error::denied(msg::cannot_restore_original(
                    &module,
                    &host,
                    &os_error(&e),
                    orig_dir,
                ))
            })?;
        // The module is back: a note without its file is skipped by every reader.
        let _ = lock.remove_file(&l.dkms, &origin);
        restored.push(host);
    }
    Ok(restored)
}

/// Upstream's `do_unbuild`: delete `<v>/<k>/<a>` and `<v>/<k>` when no other
/// arch is left under it. The build is moved out of sight first
/// ([`super::gone::hide`]): a run killed while its files go never leaves a
/// build directory without its modules that `dkms status` would go on
/// calling built.
pub fn unbuild(cx: &mut Ctx, lock: &Locked, at: &Mvka) -> Result<()> {
    let l = &cx.world.host.layout;
    let base = l.base_dir(&at.m, &at.v, &at.k, &at.a);
    let label = format!("{}@{}@{}@{}", at.m, at.v, at.k, at.a);
    let doomed = super::gone::hide(lock, l, &base, &label);
    crate::fault::point("remove:after-hide");
    super::gone::delete(lock, l, &doomed).map_err(|e| Error::io(msg::CANNOT_REMOVE, &doomed, e))?;
    let kd = l.kernel_dir(&at.m, &at.v, &at.k);
    if crate::fs::list_dirs(&kd).is_empty() {
        // No arch is left under it: a leftover is no build, and goes with the version.
        let _ = lock.remove_all(&l.dkms, &kd);
    }
    cx.ledger.set_built(at, false);
    Ok(())
}

/// `remove`'s first step: temporary build results of m/v and empty kernel
/// directories go.
pub fn clean_version(cx: &mut Ctx, lock: &Locked, m: &str, v: &str) -> Result<()> {
    let l = &cx.world.host.layout;
    let vd = l.version_dir(m, v);
    for k in crate::fs::list_dirs(&vd) {
        let kd = vd.join(&k);
        for n in crate::fs::list_names(&kd) {
            if n.starts_with(TMP_BUILD) {
                // Never published: a leftover is no build, and goes with the version.
                let _ = lock.remove_all(&l.dkms, &kd.join(n));
            }
        }
        // Only an empty directory goes: another arch's build keeps it.
        let _ = lock.rmdir(&l.dkms, &kd);
    }
    Ok(())
}

/// `remove`'s last step: when no kernel is left under m/v, delete it
/// ("completely"), then the module directory when it is empty.
pub fn delete_version(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    m: &str,
    v: &str,
) -> Result<()> {
    let l = &cx.world.host.layout;
    let vd = l.version_dir(m, v);
    let remaining = crate::fs::list_dirs(&vd)
        .into_iter()
        .filter(|d| !NOT_KERNELS.contains(&d.as_str()) && !is_old_build_dir(d))
        .count();
    if remaining == 0 {
        say.line(&text::deleting_completely(m, v));
        crate::fault::point("remove:before-delete");
        lock.remove_all(&l.dkms, &vd)
            .map_err(|e| Error::io(msg::CANNOT_REMOVE, &vd, e))?;
        drop_records_of(cx.world, lock, m, v)
            .map_err(|(file, e)| Error::io(msg::CANNOT_REMOVE, &file, e))?;
    }
    let md = l.module_dir(m);
    if crate::fs::list_names(&md).is_empty() {
        // Only an empty directory goes: another version keeps it.
        let _ = lock.rmdir(&l.dkms, &md);
    }
    Ok(())
}

/// A per-kernel build directory an earlier version of this tool made
/// (`build-<k>-<a>`); not a kernel.
fn is_old_build_dir(d: &str) -> bool {
    d.strip_prefix("build-").is_some_and(looks_like_kernel)
}

/// The failure and deferral records of a module version that is gone
/// (also what `doctor --repair` drops with a broken module it forgets).
/// Every one is tried; the first that cannot go is the error, with its
/// file: a record left behind would go on reporting a module that is gone.
pub(crate) fn drop_records_of(
    world: &World,
    lock: &Locked,
    m: &str,
    v: &str,
) -> std::result::Result<(), (PathBuf, std::io::Error)> {
    let l = &world.host.layout;
    let failures = world
        .records
        .failures
        .iter()
        .filter(|f| f.module == m && f.version == v)
        .map(|f| crate::observe::pending::failure_file(l, f));
    let last_version = world.tree.versions(m).len() <= 1;
    let items = world
        .records
        .items
        .iter()
        .filter(|i| last_version && i.module == m)
        .map(|i| crate::observe::pending::item_file(l, i));
    let mut first = Ok(());
    for file in failures.chain(items) {
        if let Err(e) = lock.remove_file(&l.dkms, &file) {
            if first.is_ok() {
                first = Err((file, e));
            }
        }
    }
    first
}

/// kernel_prerm/preinst for one module: upstream's `unbuild_module` in a
/// subshell with depmod put off, after its line on stderr.
pub fn remove_from_kernel(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    key: &ConfKey,
    exclusive: bool,
) -> Result<()> {
    say.eline(&text::removing_from_kernel(&at.m, &at.v, &at.k, &at.a));
    if cx.ledger.is_installed(cx.world, at) {
        uninstall(cx, lock, say, at, key, Depmod::Later)?;
    } else if !exclusive {
        say.line(&text::not_installed(&at.m, &at.v, &at.k, &at.a));
    }
    if cx.ledger.is_built(cx.world, at) {
        unbuild(cx, lock, at)
    } else {
        say.line(&text::not_built(&at.m, &at.v, &at.k, &at.a));
        Ok(())
    }
}
