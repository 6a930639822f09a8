//! Installing a built module into the kernel's module tree (upstream
//! `do_install`) and taking it out again (`do_uninstall`). Files appear in
//! the install tree only by an atomic rename, and a failed install puts back
//! whatever it moved away.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::run_script;
use crate::conf::{ModuleConf, ModuleRecord};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::modinfo::{compare_module_version, read_modinfo, ModInfo, VersionCmp};
use crate::runner::{self, Step};

/// When depmod runs: at once (a plain `dkms install`) or once per kernel at
/// the end of a batch (autoinstall, kernel_prerm).
#[derive(Debug, Default)]
pub enum Depmod {
    /// Run after each install/uninstall.
    #[default]
    Now,
    /// Collect kernels; the caller runs [`run_depmod`] once for each.
    Later(BTreeSet<String>),
}

impl Depmod {
    fn request(&mut self, ctx: &Ctx, k: &str) -> i32 {
        match self {
            Depmod::Now => run_depmod(ctx, k),
            Depmod::Later(set) => {
                set.insert(k.to_string());
                0
            }
        }
    }
}

/// Module files named `name.ko` or `name.ko<suffix>` anywhere under `dir`
/// (not following symlinks), like upstream's `find_module`.
pub fn find_module(dir: &Path, name: &str, suffix: &str) -> Vec<PathBuf> {
    let a = format!("{name}.ko");
    let b = format!("{name}.ko{suffix}");
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let n = e.file_name();
                if n == a.as_str() || n == b.as_str() {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out
}

/// `dir/name.ko` if it exists, else `dir/name.ko<suffix>` if it exists
/// (upstream `compressed_or_uncompressed`).
pub fn compressed_or_uncompressed(dir: &Path, name: &str, suffix: &str) -> Option<PathBuf> {
    let a = dir.join(format!("{name}.ko"));
    if a.exists() {
        return Some(a);
    }
    let b = dir.join(format!("{name}.ko{suffix}"));
    if !suffix.is_empty() && b.exists() {
        return Some(b);
    }
    None
}

fn info(p: &Path) -> ModInfo {
    read_modinfo(p).unwrap_or(ModInfo { fields: Vec::new() })
}

/// Install built m/v into kernel k/a. The module must be built. `depmod`
/// decides when depmod runs.
pub fn install(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str, depmod: &mut Depmod) -> Result<()> {
    if k.is_empty() || a.is_empty() {
        return Err(Error::msg(16, "do_install: Empty $kernelver or $arch"));
    }
    let tree = ctx.tree();
    let base_dir = tree.base_dir(m, v, k, a);
    let lib_tree = ctx.settings.install_tree.join(k);
    let orig_dir = tree.original_dir(m, k, a);
    let active = tree.kernel_link(m, k, a);
    let mut force = ctx.opts.force;
    let mut version_override = ctx.opts.force_version_override;
    match crate::forced::forced(ctx, m) {
        crate::forced::Forced::Force => {
            force = true;
            println!("Forcing installation of {m}");
        }
        crate::forced::Forced::VersionOverride => {
            version_override = true;
            println!("Forcing version override of {m}");
        }
        crate::forced::Forced::No => {}
    }
    // Leftovers of an interrupted build of this module (we hold the lock).
    crate::build::clean_stale(ctx, m, v, k, a);

    if !lib_tree.exists() {
        return Err(Error::new(
            6,
            [
                format!("The directory {} doesn't exist.", lib_tree.display()),
                "You cannot install a module onto a non-existant kernel.".to_string(),
            ],
        ));
    }
    let conf = ctx.read_conf(m, v, k, a, None, true)?;
    let kernel = ctx.kernel(k);
    let suffix = kernel.module_suffix();
    for r in conf.modules.iter().filter(|r| r.buildable) {
        if compressed_or_uncompressed(&base_dir.join("module"), &r.dest_name, suffix).is_none() {
            return Err(Error::msg(
                6,
                format!(
                    "Missing module {} in {}/module",
                    r.dest_name,
                    base_dir.display()
                ),
            ));
        }
    }
    if tree.is_installed(m, v, k, a) {
        return Err(Error::msg(
            5,
            format!("This module/version combo is already installed for kernel {k} ({a})."),
        ));
    }
    if ctx.opts.rpm_safe_upgrade {
        force = true;
    }
    let source_dir = tree.source_dir(m, v);
    if run_script(
        ctx,
        "pre_install",
        &conf.pre_install,
        &source_dir,
        None,
        &[],
    )
    .is_err()
        && !force
    {
        return Err(Error::new(
            101,
            [
                "pre_install failed, aborting install.",
                "You may override by specifying --force.",
            ],
        ));
    }

    let mut placed: Vec<PathBuf> = Vec::new();
    // (backup copy, original path): originals are copied first and removed
    // only after our modules are in place, so a crash never leaves the
    // kernel without either.
    let mut archived: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut any = false;
    for r in conf.modules.iter().filter(|r| r.buildable) {
        if !version_sane(ctx, m, v, k, a, &conf, r, suffix, force, version_override) {
            continue;
        }
        let name = &r.dest_name;
        let Some(toinstall) = compressed_or_uncompressed(&base_dir.join("module"), name, suffix)
        else {
            continue;
        };
        // A file identical to ours is ours, left by an interrupted install.
        let ours = std::fs::read(&toinstall).ok();
        let is_ours = |p: &Path| ours.is_some() && std::fs::read(p).ok() == ours;
        let installed: Vec<PathBuf> = find_module(&lib_tree, name, suffix)
            .into_iter()
            .filter(|p| !is_ours(p))
            .collect();
        let active_exists = crate::tree::is_symlink(&active);
        if active_exists && compressed_or_uncompressed(&orig_dir, name, suffix).is_some() {
            println!("An original module was already stored during a previous install");
        } else if !active_exists {
            let mut candidates: Vec<PathBuf> = [
                compressed_or_uncompressed(&lib_tree.join("extra"), name, suffix),
                compressed_or_uncompressed(&lib_tree.join("updates"), name, suffix),
                compressed_or_uncompressed(&join_loc(&lib_tree, &r.dest_location), name, suffix),
            ]
            .into_iter()
            .flatten()
            .filter(|p| !is_ours(p))
            .collect();
            if installed.len() == 1 {
                candidates.push(installed[0].clone());
            }
            let mut found = false;
            for original in candidates {
                if !original.is_file() {
                    continue;
                }
                println!(
                    "Found pre-existing {}, archiving for uninstallation",
                    original.display()
                );
                mkdirs(&orig_dir)?;
                let fname = original
                    .file_name()
                    .map(|n| n.to_owned())
                    .unwrap_or_default();
                let backup = orig_dir.join(&fname);
                remove_stale_temps(&orig_dir, name);
                place_atomically(&original, &backup, false)?;
                let origin = orig_dir.join(format!("{}.origin", fname.to_string_lossy()));
                let _ = std::fs::write(
                    &origin,
                    format!("{}\n", ctx.settings.root.inside(&original).display()),
                );
                archived.push((backup, original));
                crate::fault::point("install:after-archive");
                found = true;
                break;
            }
            if !found && installed.len() > 1 {
                println!("Multiple original modules exist, so none will be put back in place during a later uninstall");
                println!(
                    "All instances will be stored for reference purposes in {}/collisions/",
                    orig_dir.display()
                );
            }
        }
        if installed.len() > 1 {
            println!(
                "Multiple same named modules! {} named {}.ko{} in {}/",
                installed.len(),
                name,
                suffix,
                lib_tree.display()
            );
            for dup in &installed {
                let rel = dup.strip_prefix(&lib_tree).unwrap_or(dup);
                let sub = rel.parent().unwrap_or(Path::new(""));
                let cdir = orig_dir.join("collisions").join(sub);
                mkdirs(&cdir)?;
                if let Some(fname) = dup.file_name() {
                    let _ = std::fs::rename(dup, cdir.join(fname));
                    let _ = std::fs::write(
                        cdir.join(format!("{}.origin", fname.to_string_lossy())),
                        format!("{}\n", ctx.settings.root.inside(dup).display()),
                    );
                }
            }
        }
        let dest_dir = join_loc(&lib_tree, &r.dest_location);
        let dest = dest_dir.join(toinstall.file_name().unwrap_or_default());
        println!("Installing {}", dest.display());
        mark_depmod_pending(ctx, k);
        if let Err(e) = mkdirs(&dest_dir).and_then(|_| {
            remove_stale_temps(&dest_dir, name);
            place_atomically(
                &toinstall,
                &dest,
                ctx.opts.symlink_modules || ctx.settings.symlink_modules,
            )
        }) {
            // Undo this install: our files out, originals back where we
            // replaced them, backups made by this run dropped.
            for p in &placed {
                match archived.iter().find(|(_, orig)| orig == p) {
                    Some((backup, _)) => {
                        let _ = place_atomically(backup, p, false);
                    }
                    None => {
                        let _ = std::fs::remove_file(p);
                    }
                }
            }
            for (backup, _) in &archived {
                let _ = std::fs::remove_file(backup);
                let _ = std::fs::remove_file(with_suffix(backup, ".origin"));
            }
            return Err(Error::new(
                6,
                [format!("Copying '{}' failed", toinstall.display())]
                    .into_iter()
                    .chain(e.lines),
            ));
        }
        placed.push(dest);
        crate::fault::point("install:after-place");
        any = true;
    }
    // Our modules are in place: now the originals may leave theirs.
    for (_, original) in &archived {
        if !placed.contains(original) {
            let _ = std::fs::remove_file(original);
        }
    }
    if !conf.modules.is_empty() && !any {
        return Err(Error::msg(6, "Installation aborted."));
    }
    crate::fault::point("install:before-link");
    replace_symlink(&format!("{v}/{k}/{a}"), &active)?;

    let _ = run_script(
        ctx,
        "post_install",
        &conf.post_install,
        &source_dir,
        None,
        &[],
    );

    crate::fault::point("install:before-depmod");
    if depmod.request(ctx, k) != 0 {
        let _ = uninstall(ctx, m, v, k, a, &mut Depmod::Now);
        return Err(Error::new(
            6,
            [
                "Problems with depmod detected.  Automatically uninstalling this module.",
                "Install Failed (depmod problems).  Module rolled back to built state.",
            ],
        ));
    }
    if (ctx.opts.modprobe_on_install || ctx.settings.modprobe_on_install)
        && ctx.settings.root.is_slash()
        && k == crate::kernel::running_kernel()
    {
        let _ = Command::new("bash")
            .arg("-c")
            .arg("find /sys/devices -name modalias -print0 | xargs -0 cat | sort -u | xargs modprobe -a -b -q; [ -f /lib/systemd/system/systemd-modules-load.service ] && systemctl restart systemd-modules-load.service")
            .status();
    }
    Ok(())
}

fn join_loc(lib_tree: &Path, loc: &str) -> PathBuf {
    let rel = loc.trim_start_matches('/');
    if rel.is_empty() {
        lib_tree.to_path_buf()
    } else {
        lib_tree.join(rel)
    }
}

fn mkdirs(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| Error::io("Cannot create", p, e).with_code(6))
}

/// `p` with `suffix` appended to its file name.
fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Remove temporary files an interrupted placement of `name` left in `dir`
/// (`.<name>.ko*.dkms-*`); only called with the tree lock held.
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.ko");
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&prefix) && n.contains(".dkms-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The marker that says depmod still has to run for kernel `k`: written
/// before the module tree changes, removed after depmod succeeded, so an
/// interrupted run's depmod happens on the next run.
fn depmod_marker(ctx: &Ctx, k: &str) -> PathBuf {
    ctx.settings
        .dkms_tree
        .join(".dkms-hook/depmod-pending")
        .join(k)
}

fn mark_depmod_pending(ctx: &Ctx, k: &str) {
    let p = depmod_marker(ctx, k);
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let _ = std::fs::write(&p, b"");
}

/// Run depmod for every kernel an interrupted run left marked. Called after
/// taking the tree lock.
pub fn flush_pending_depmod(ctx: &Ctx) {
    let dir = ctx.settings.dkms_tree.join(".dkms-hook/depmod-pending");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in rd.flatten() {
        let k = e.file_name().to_string_lossy().into_owned();
        if ctx.settings.install_tree.join(&k).is_dir() {
            run_depmod(ctx, &k);
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Copy `from` to `to` through a temporary file in the same directory and
/// an atomic rename, so `to` is always either the old file or the new one.
pub fn place_atomically(from: &Path, to: &Path, symlink: bool) -> Result<()> {
    let dir = to.parent().unwrap_or(Path::new("/"));
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.dkms-"))
        .tempfile_in(dir)
        .map_err(|e| Error::io("Cannot create a temporary file in", dir, e).with_code(6))?;
    if symlink {
        let tpath = tmp.path().to_path_buf();
        drop(tmp);
        std::os::unix::fs::symlink(from, &tpath)
            .map_err(|e| Error::io("Cannot link", &tpath, e).with_code(6))?;
        return std::fs::rename(&tpath, to).map_err(|e| {
            let _ = std::fs::remove_file(&tpath);
            Error::io("Cannot rename onto", to, e).with_code(6)
        });
    }
    let mut src =
        std::fs::File::open(from).map_err(|e| Error::io("Cannot read", from, e).with_code(6))?;
    let mut f = tmp.as_file();
    std::io::copy(&mut src, &mut f).map_err(|e| Error::io("Cannot write", to, e).with_code(6))?;
    f.sync_all()
        .map_err(|e| Error::io("Cannot write", to, e).with_code(6))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = f.set_permissions(std::fs::Permissions::from_mode(0o644));
    crate::fault::point("install:before-rename");
    tmp.persist(to)
        .map_err(|e| Error::io("Cannot rename onto", to, e.error).with_code(6))?;
    Ok(())
}

/// Point symlink `link` at `target`, atomically.
pub fn replace_symlink(target: &str, link: &Path) -> Result<()> {
    let tmp = link.with_file_name(format!(
        ".{}.tmp{}",
        link.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .map_err(|e| Error::io("Cannot create link", &tmp, e).with_code(6))?;
    std::fs::rename(&tmp, link).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("Cannot create link", link, e).with_code(6)
    })
}

/// Upstream's `check_version_sanity`: false (with upstream's message) when
/// the module must not be installed for this record.
#[allow(clippy::too_many_arguments)]
fn version_sane(
    ctx: &Ctx,
    m: &str,
    v: &str,
    k: &str,
    a: &str,
    conf: &ModuleConf,
    r: &ModuleRecord,
    suffix: &str,
    force: bool,
    version_override: bool,
) -> bool {
    if !conf.obsolete_by.is_empty() && !force && obsoleted(k, &conf.obsolete_by) {
        eprintln!();
        eprintln!(
            "Module has been obsoleted due to being included in kernel {}.",
            conf.obsolete_by
        );
        eprintln!(
            "We will avoid installing for future kernels above {}.",
            conf.obsolete_by
        );
        eprintln!("You may override by specifying --force.");
        return false;
    }
    let lib_tree = ctx.settings.install_tree.join(k);
    let ours_bytes = compressed_or_uncompressed(
        &ctx.tree().base_dir(m, v, k, a).join("module"),
        &r.dest_name,
        suffix,
    )
    .and_then(|p| std::fs::read(p).ok());
    // A copy of our own module (left by an interrupted install) is not a
    // competing module.
    let found: Vec<PathBuf> = find_module(&lib_tree, &r.dest_name, suffix)
        .into_iter()
        .filter(|p| ours_bytes.is_none() || std::fs::read(p).ok() != ours_bytes)
        .collect();
    if found.is_empty() || version_override {
        return true;
    }
    if found.len() > 1 {
        eprintln!(
            "Warning: Cannot do version sanity checking because multiple {}.ko{} modules were found in kernel {k}.",
            r.dest_name, suffix
        );
        return true;
    }
    let Some(ours) = compressed_or_uncompressed(
        &ctx.tree().base_dir(m, v, k, a).join("module"),
        &r.dest_name,
        suffix,
    ) else {
        return true;
    };
    let (kinfo, oinfo) = (info(&found[0]), info(&ours));
    match compare_module_version(&kinfo, &oinfo) {
        VersionCmp::Newer if !force => {
            eprintln!();
            eprintln!(
                "Error! Module version {} for {}.ko{}\nis not newer than what is already found in kernel {k} ({}).\nYou may override by specifying --force.",
                oinfo.verinfo().version,
                r.dest_name,
                suffix,
                kinfo.verinfo().version
            );
            false
        }
        VersionCmp::Same if !force => {
            let ver = oinfo.version().unwrap_or("");
            let has_info =
                !ver.trim().is_empty() || !oinfo.srcversion().unwrap_or("").trim().is_empty();
            let same_bytes = std::fs::read(&found[0]).ok() == std::fs::read(&ours).ok();
            if has_info || same_bytes {
                if !ver.is_empty() {
                    eprintln!("Module {} already installed at version {ver}, override by specifying --force", found[0].display());
                } else {
                    eprintln!("Module {} already installed (unversioned module), override by specifying --force", found[0].display());
                }
                return false;
            }
            true
        }
        _ => true,
    }
}

fn obsoleted(kver: &str, obs: &str) -> bool {
    // Upstream splits with a quoted expansion, so each "array" holds the whole
    // string with '-' turned into spaces and the ABI branch never applies: the
    // module is obsolete when this kernel is at or above OBSOLETE_BY.
    crate::version::ver_cmp(&kver.replace('-', " "), &obs.replace('-', " "))
        != std::cmp::Ordering::Less
}

/// Where an installed record really is: the overridden location or the one
/// written in dkms.conf, whichever holds a module of the same version as ours.
fn actual_location(
    ctx: &Ctx,
    m: &str,
    k: &str,
    a: &str,
    r: &ModuleRecord,
    suffix: &str,
) -> Option<String> {
    let tree = ctx.tree();
    let owned = compressed_or_uncompressed(
        &tree.kernel_link(m, k, a).join("module"),
        &r.dest_name,
        suffix,
    );
    let owned_info = owned
        .as_deref()
        .map(info)
        .unwrap_or(ModInfo { fields: Vec::new() });
    let mut locs = vec![r.dest_location.clone()];
    if r.dest_location_orig != r.dest_location {
        locs.push(r.dest_location_orig.clone());
    }
    let lib_tree = ctx.settings.install_tree.join(k);
    for l in locs {
        if let Some(inst) =
            compressed_or_uncompressed(&join_loc(&lib_tree, &l), &r.dest_name, suffix)
        {
            if matches!(
                compare_module_version(&owned_info, &info(&inst)),
                VersionCmp::Same | VersionCmp::SameVersionOtherSrc
            ) {
                return Some(l);
            }
        }
    }
    None
}

/// The installed file for a record, if it is where dkms put it (for status).
pub fn installed_file(
    ctx: &Ctx,
    m: &str,
    k: &str,
    a: &str,
    r: &ModuleRecord,
    suffix: &str,
) -> Option<PathBuf> {
    let lib_tree = ctx.settings.install_tree.join(k);
    let l = actual_location(ctx, m, k, a, r, suffix).unwrap_or_default();
    compressed_or_uncompressed(&join_loc(&lib_tree, &l), &r.dest_name, suffix)
}

/// Uninstall m/v from k/a (upstream `do_uninstall`): remove our files,
/// restore archived originals, drop the kernel link, run depmod.
pub fn uninstall(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str, depmod: &mut Depmod) -> Result<()> {
    let tree = ctx.tree();
    let orig_dir = tree.original_dir(m, k, a);
    println!("Module {m}/{v} for kernel {k} ({a}):");
    let conf = ctx.read_conf(m, v, k, a, None, false)?;
    let suffix = ctx.kernel(k).module_suffix();
    let lib_tree = ctx.settings.install_tree.join(k);
    let was_active = tree.link_points_here(m, v, k, a);
    if was_active {
        println!("Before uninstall, this module version was ACTIVE on this kernel.");
        mark_depmod_pending(ctx, k);
        for r in &conf.modules {
            let name = &r.dest_name;
            let location = actual_location(ctx, m, k, a, r, suffix);
            // Originals go back first (an original at our own path replaces
            // ours atomically), so the kernel always has one of the two.
            let mut said = Vec::new();
            let restored = restore_originals(ctx, &orig_dir, name, &lib_tree, &mut said);
            match location {
                Some(l) => {
                    let dir = join_loc(&lib_tree, &l);
                    println!("Deleting {}/{}.ko{}", dir.display(), name, suffix);
                    for f in [format!("{name}.ko"), format!("{name}.ko{suffix}")] {
                        if !restored.contains(&dir.join(&f)) {
                            let _ = std::fs::remove_file(dir.join(f));
                        }
                    }
                    remove_empty_parents(&dir, &lib_tree);
                    crate::fault::point("uninstall:after-delete");
                }
                None => println!(
                    "Module {}.ko{} was not found within {}/",
                    name,
                    suffix,
                    lib_tree.display()
                ),
            }
            for line in said {
                println!("{line}");
            }
            if let Some(kdir) = orig_dir.parent() {
                crate::exec::removal::remove_empty_dirs(kdir);
            }
        }
        crate::fault::point("uninstall:before-unlink");
        let _ = std::fs::remove_file(tree.kernel_link(m, k, a));
    } else {
        println!("This module version was INACTIVE for this kernel.");
    }
    let _ = run_script(
        ctx,
        "post_remove",
        &conf.post_remove,
        &tree.source_dir(m, v),
        None,
        &[],
    );
    depmod.request(ctx, k);
    if was_active && orig_dir.is_dir() {
        println!("Removing original module(s) from DKMS tree for kernel {k} ({a})");
        let _ = std::fs::remove_dir_all(&orig_dir);
        if let Some(kd) = orig_dir.parent() {
            let _ = std::fs::remove_dir(kd);
        }
    }
    let od = tree.module_dir(m).join("original_module");
    if crate::tree::list_dirs(&od).is_empty() {
        let _ = std::fs::remove_dir_all(&od);
    }
    Ok(())
}

/// Put archived originals of `name` back; returns the restored paths. The
/// "Restoring" lines go to `said`, so the caller prints them in upstream's
/// order (after "Deleting").
fn restore_originals(
    ctx: &Ctx,
    orig_dir: &Path,
    name: &str,
    lib_tree: &Path,
    said: &mut Vec<String>,
) -> Vec<PathBuf> {
    let mut restored = Vec::new();
    let Ok(rd) = std::fs::read_dir(orig_dir) else {
        return restored;
    };
    let prefix = format!("{name}.");
    for e in rd.flatten() {
        let fname = e.file_name().to_string_lossy().into_owned();
        if !(fname.starts_with(&prefix) && fname.ends_with(".origin")) {
            continue;
        }
        let module = orig_dir.join(fname.trim_end_matches(".origin"));
        if !module.is_file() {
            continue;
        }
        let loc = std::fs::read_to_string(e.path()).unwrap_or_default();
        let loc = loc.lines().next().unwrap_or("").to_string();
        let host = ctx.settings.root.join(&loc);
        let inside_tree = host.starts_with(lib_tree) && !loc.contains("/../");
        if inside_tree {
            said.push(format!("Restoring archived original module {loc}"));
            if let Some(p) = host.parent() {
                let _ = std::fs::create_dir_all(p);
            }
            if std::fs::rename(&module, &host).is_ok() {
                let _ = std::fs::remove_file(e.path());
                restored.push(host);
            }
        } else {
            eprintln!(
                "Warning: Bad original location '{loc}' in {}",
                e.path().display()
            );
        }
    }
    restored
}

fn remove_empty_parents(dir: &Path, stop: &Path) {
    let mut d = dir.to_path_buf();
    while d.starts_with(stop) && d != stop {
        if std::fs::remove_dir(&d).is_err() {
            break;
        }
        if !d.pop() {
            break;
        }
    }
}

/// Upstream's `do_depmod` wrapped in `invoke_command "Running depmod"`:
/// prints `Running depmod... done.`; skipped for `--no-depmod` or when the
/// kernel has no modules.dep; runs `depmod -b ROOT` under `--root`.
pub fn run_depmod(ctx: &Ctx, k: &str) -> i32 {
    let code = depmod_now(ctx, k);
    if code == 0 {
        let _ = std::fs::remove_file(depmod_marker(ctx, k));
    }
    code
}

fn depmod_now(ctx: &Ctx, k: &str) -> i32 {
    let it = &ctx.settings.install_tree;
    let cmd = if ctx.opts.no_depmod || !it.join(k).join("modules.dep").is_file() {
        "true".to_string()
    } else {
        let (base, _keep) = depmod_base(ctx);
        let mut c = String::from("depmod");
        if let Some(b) = &base {
            c.push_str(&format!(" -b {}", shell_quote(&b.display().to_string())));
        }
        c.push_str(&format!(" -a {}", shell_quote(k)));
        let sysmap = ctx.settings.root.join(format!("/boot/System.map-{k}"));
        if sysmap.is_file() {
            c.push_str(&format!(
                " -F {}",
                shell_quote(&sysmap.display().to_string())
            ));
        }
        let code = runner::invoke(&Step::new(c, "Running depmod"), ctx.verbose());
        cleanup_empty_depmod(ctx, k);
        return code;
    };
    runner::invoke(&Step::new(cmd, "Running depmod"), ctx.verbose())
}

/// The `depmod -b` base directory for the install tree, and a temporary
/// directory to keep alive when one had to be made.
fn depmod_base(ctx: &Ctx) -> (Option<PathBuf>, Option<tempfile::TempDir>) {
    let s = &ctx.settings;
    let it = &s.install_tree;
    if *it == s.root.join("/lib/modules") {
        return (
            if s.root.is_slash() {
                None
            } else {
                Some(s.root.dir().to_path_buf())
            },
            None,
        );
    }
    if it.ends_with("lib/modules") {
        return (
            it.parent().and_then(Path::parent).map(Path::to_path_buf),
            None,
        );
    }
    match tempfile::tempdir() {
        Ok(t) => {
            let lib = t.path().join("lib");
            let _ = std::fs::create_dir_all(&lib);
            let _ = std::os::unix::fs::symlink(it, lib.join("modules"));
            (Some(t.path().to_path_buf()), Some(t))
        }
        Err(_) => (None, None),
    }
}

fn cleanup_empty_depmod(ctx: &Ctx, k: &str) {
    let kd = ctx.settings.install_tree.join(k);
    let dep = kd.join("modules.dep");
    if std::fs::metadata(&dep)
        .map(|m| m.len() == 0)
        .unwrap_or(false)
        && !kd.join("kernel").exists()
    {
        if let Ok(rd) = std::fs::read_dir(&kd) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("modules.") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&kd);
    }
}

/// Quote a word for bash.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:+,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("6.1.0-10-amd64", "6.1.0", true)]
    #[case("6.1.0-10-amd64", "6.2", false)]
    #[case("6.3.0-1-amd64", "6.2", true)]
    #[case("6.1.0-9-amd64", "6.1.0-10", false)]
    fn obsolete_rule(#[case] k: &str, #[case] obs: &str, #[case] want: bool) {
        assert_eq!(obsoleted(k, obs), want);
    }

    #[test]
    fn atomic_place_replaces_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("new.ko");
        let dst = d.path().join("m.ko");
        std::fs::write(&src, b"new").unwrap();
        std::fs::write(&dst, b"old-old").unwrap();
        place_atomically(&src, &dst, false).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"new");
        let leftovers: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[rstest]
    #[case("abc", "abc")]
    #[case("a b", "'a b'")]
    #[case("it's", "'it'\\''s'")]
    fn quoting(#[case] s: &str, #[case] want: &str) {
        assert_eq!(shell_quote(s), want);
    }
}
