//! Installing a built module into the kernel's module tree (upstream's
//! `do_install`). Files appear in the install tree only by an atomic
//! rename; an original module is copied into the dkms tree before ours
//! replaces it and removed only after ours is in place; a failed install
//! puts back whatever it moved away.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::exec::build::{self, run_script};
use crate::exec::depmod;
use crate::exec::{Ctx, Locked};
use crate::layout::{ORIGIN, PLACING};
use crate::observe::conf::{ModuleConf, ModuleRecord};
use crate::observe::files::{compressed_or_uncompressed, find_module, info, join_loc};
use crate::observe::forced::{forced, Forced};
use crate::observe::modinfo::{compare_module_version, VersionCmp};
use crate::observe::{ConfKey, World};
use crate::plan::{Depmod, Mvka};
use crate::report::{Say, Style};
use crate::text;

/// `maybe_install_module` as autoinstall runs it: say so when installed,
/// else install (building first when needed).
pub fn maybe_install(
    cx: &mut Ctx,
    say: &mut dyn Say,
    at: &Mvka,
    key: &ConfKey,
    depmod: Depmod,
) -> Result<()> {
    if cx.ledger.is_installed(cx.world, &at.m, &at.v, &at.k, &at.a) {
        say.line(&text::already_installed(&at.m, &at.v, &at.k, &at.a));
        return Ok(());
    }
    install(cx, say, at, key, depmod)
}

/// Upstream's `do_install` of m/v into k/a (building first when not built).
pub fn install(
    cx: &mut Ctx,
    say: &mut dyn Say,
    at: &Mvka,
    key: &ConfKey,
    depmod: Depmod,
) -> Result<()> {
    if at.k.is_empty() || at.a.is_empty() {
        return Err(Error::empty_kernel([text::DO_INSTALL_EMPTY_KERNEL]));
    }
    if !cx.ledger.is_built(cx.world, &at.m, &at.v, &at.k, &at.a) {
        build::build(cx, say, at, key)?;
    }
    let lock = cx.locked()?;
    let world = cx.world;
    build::clean_leftover(world, &at.m, &at.v);
    let mut force = world.host.opts.force;
    let mut version_override = world.host.opts.force_version_override;
    match forced(&world.host.force_words, &at.m) {
        Forced::Force => {
            force = true;
            say.line(&text::forcing_installation(&at.m));
        }
        Forced::VersionOverride => {
            version_override = true;
            say.line(&text::forcing_version_override(&at.m));
        }
        Forced::No => {}
    }
    let l = &world.host.layout;
    let lib_tree = l.lib_tree(&at.k);
    if !lib_tree.exists() {
        return Err(Error::install_failed(text::no_kernel_modules_dir(
            &lib_tree,
        )));
    }
    let conf = cx.conf(say, key)?;
    let suffix = build::kernel(world, &at.k)?.suffix;
    let base_dir = l.base_dir(&at.m, &at.v, &at.k, &at.a);
    for r in conf.modules.iter().filter(|r| r.buildable) {
        if compressed_or_uncompressed(&base_dir.join("module"), &r.dest_name, suffix).is_none() {
            return Err(Error::install_failed([text::built_module_gone(
                &r.dest_name,
                &base_dir,
            )]));
        }
    }
    if cx.ledger.is_installed(world, &at.m, &at.v, &at.k, &at.a) {
        return Err(Error::not_allowed([text::already_installed_combo(
            &at.k, &at.a,
        )]));
    }
    if world.host.opts.rpm_safe_upgrade {
        force = true;
    }
    // Upstream (and so `dkms`) archives another module's file as an
    // original and puts it back on uninstall; the hooks refuse instead, so
    // an unattended run never hides one package's module behind another's.
    if cx.style == Style::Hook {
        claimed_by_another(world, at, conf, suffix)?;
    }
    let source = build::script_dir(world, &at.m, &at.v);
    if run_script(
        world,
        say,
        "pre_install",
        &conf.pre_install,
        &source,
        None,
        &[],
        &at.m,
    )
    .is_err()
        && !force
    {
        return Err(Error::pre_install(text::PRE_INSTALL_FAILED));
    }
    place_modules(
        world,
        lock,
        say,
        at,
        conf,
        suffix,
        force,
        version_override,
        cx.ledger.has_link(world, &at.m, &at.k, &at.a),
    )?;
    crate::fault::point("install:before-link");
    let target = PathBuf::from(format!("{}/{}/{}", at.v, at.k, at.a));
    crate::fs::replace_symlink(&l.dkms, &target, &l.kernel_link(&at.m, &at.k, &at.a)).map_err(
        |e| {
            Error::io(
                text::CANNOT_CREATE_LINK,
                &l.kernel_link(&at.m, &at.k, &at.a),
                e,
            )
            .into_kind(Error::InstallFailed)
        },
    )?;
    cx.ledger.set_linked(&at.m, &at.k, &at.a, Some(&at.v));
    let _ = run_script(
        world,
        say,
        "post_install",
        &conf.post_install,
        &source,
        None,
        &[],
        &at.m,
    );
    crate::fault::point("install:before-depmod");
    if depmod::request(cx, say, &at.k, depmod) != 0 {
        let _ = crate::exec::uninstall::uninstall(cx, say, at, key, Depmod::Now);
        return Err(Error::install_failed(text::DEPMOD_PROBLEMS));
    }
    if (world.host.opts.modprobe_on_install || world.host.settings.modprobe_on_install)
        && world.host.layout.root.is_slash()
        && at.k == world.host.running_kernel
    {
        let _ = Command::new("bash")
            .arg("-c")
            .arg("find /sys/devices -name modalias -print0 | xargs -0 cat | sort -u | xargs modprobe -a -b -q; [ -f /lib/systemd/system/systemd-modules-load.service ] && systemctl restart systemd-modules-load.service")
            .status();
    }
    Ok(())
}

/// The per-record part of `do_install`: version check, archiving the
/// original, collisions, placement. Undone completely on failure.
#[allow(clippy::too_many_arguments)]
fn place_modules(
    world: &World,
    _lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    conf: &ModuleConf,
    suffix: &str,
    force: bool,
    version_override: bool,
    active_exists: bool,
) -> Result<()> {
    let l = &world.host.layout;
    let (dkms, install) = (&l.dkms, &l.install);
    let lib_tree = l.lib_tree(&at.k);
    let orig_dir = l.original_dir(&at.m, &at.k, &at.a);
    let base_dir = l.base_dir(&at.m, &at.v, &at.k, &at.a);
    let mut placed: Vec<PathBuf> = Vec::new();
    // (backup copy, original path): originals are copied first and removed
    // only after our modules are in place, so a crash never leaves the
    // kernel without either.
    let mut archived: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut any = false;
    for r in conf.modules.iter().filter(|r| r.buildable) {
        if !version_sane(world, say, at, conf, r, suffix, force, version_override) {
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
        if active_exists && compressed_or_uncompressed(&orig_dir, name, suffix).is_some() {
            say.line(text::ORIGINAL_ALREADY_STORED);
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
                say.line(&text::archiving_original(&original));
                mkdirs(dkms, &orig_dir)?;
                let fname = original
                    .file_name()
                    .map(|n| n.to_owned())
                    .unwrap_or_default();
                let backup = orig_dir.join(&fname);
                remove_stale_temps(dkms, &orig_dir, name);
                crate::fs::place_atomically(dkms, &original, &backup, false).map_err(|e| {
                    Error::io(text::CANNOT_ARCHIVE_TO, &backup, e).into_kind(Error::InstallFailed)
                })?;
                let origin = orig_dir.join(format!("{}{ORIGIN}", fname.to_string_lossy()));
                crate::fs::write_atomic(
                    dkms,
                    &origin,
                    format!("{}\n", l.root.inside(&original).display()).as_bytes(),
                    0o644,
                )
                .map_err(|e| {
                    Error::io(text::CANNOT_WRITE, &origin, e).into_kind(Error::InstallFailed)
                })?;
                archived.push((backup, original));
                crate::fault::point("install:after-archive");
                found = true;
                break;
            }
            if !found && installed.len() > 1 {
                say.line(text::MULTIPLE_ORIGINALS);
                say.line(&text::collisions_kept(&orig_dir));
            }
        }
        if installed.len() > 1 {
            say.line(&text::same_named_modules(
                installed.len(),
                name,
                suffix,
                &lib_tree,
            ));
            for dup in &installed {
                let rel = dup.strip_prefix(&lib_tree).unwrap_or(dup);
                let sub = rel.parent().unwrap_or(Path::new(""));
                let cdir = orig_dir.join("collisions").join(sub);
                mkdirs(dkms, &cdir)?;
                if let Some(fname) = dup.file_name() {
                    crate::fs::move_verified(install, dup, dkms, &cdir.join(fname)).map_err(
                        |e| Error::io(text::CANNOT_MOVE, dup, e).into_kind(Error::InstallFailed),
                    )?;
                    let _ = crate::fs::write_atomic(
                        dkms,
                        &cdir.join(format!("{}{ORIGIN}", fname.to_string_lossy())),
                        format!("{}\n", l.root.inside(dup).display()).as_bytes(),
                        0o644,
                    );
                }
            }
        }
        let dest_dir = join_loc(&lib_tree, &r.dest_location);
        let dest = dest_dir.join(toinstall.file_name().unwrap_or_default());
        say.line(&text::installing(&dest));
        depmod::mark_pending(world, &at.k);
        let symlink = world.host.opts.symlink_modules || world.host.settings.symlink_modules;
        let placed_now = mkdirs(install, &dest_dir).and_then(|()| {
            remove_stale_temps(install, &dest_dir, name);
            crate::fs::place_atomically(install, &toinstall, &dest, symlink)
                .map_err(|e| Error::io(text::CANNOT_PLACE, &dest, e))
        });
        if let Err(e) = placed_now {
            // Undo this install: our files out, originals back where we
            // replaced them, backups made by this run dropped.
            for p in &placed {
                match archived.iter().find(|(_, orig)| orig == p) {
                    Some((backup, _)) => {
                        let _ = crate::fs::place_atomically(install, backup, p, false);
                    }
                    None => {
                        let _ = crate::fs::remove_file(install, p);
                    }
                }
            }
            for (backup, _) in &archived {
                let _ = crate::fs::remove_file(dkms, backup);
                let _ = crate::fs::remove_file(dkms, &with_suffix(backup, ORIGIN));
            }
            return Err(Error::install_failed(
                [text::copy_failed(&toinstall)]
                    .into_iter()
                    .chain(e.lines().iter().cloned()),
            ));
        }
        placed.push(dest);
        crate::fault::point("install:after-place");
        any = true;
    }
    // Our modules are in place: now the originals may leave theirs.
    for (_, original) in &archived {
        if !placed.contains(original) {
            let _ = crate::fs::remove_file(install, original);
        }
    }
    if !conf.modules.is_empty() && !any {
        return Err(Error::install_failed([text::INSTALLATION_ABORTED]));
    }
    Ok(())
}

/// Refuse to install over a file another dkms module installed for this
/// kernel: the file at the destination is byte for byte that module's
/// build. Upstream would archive it as an "original" and overwrite it, and
/// removing one module would then take the other's file away.
fn claimed_by_another(world: &World, at: &Mvka, conf: &ModuleConf, suffix: &str) -> Result<()> {
    let l = &world.host.layout;
    let lib_tree = l.lib_tree(&at.k);
    for r in conf.modules.iter().filter(|r| r.buildable) {
        let dir = join_loc(&lib_tree, &r.dest_location);
        let Some(there) = compressed_or_uncompressed(&dir, &r.dest_name, suffix) else {
            continue;
        };
        let Some(fname) = there.file_name() else {
            continue;
        };
        let bytes = std::fs::read(&there).ok();
        for (m2, ms) in &world.tree.modules {
            if *m2 == at.m {
                continue;
            }
            let Some(Some(v2)) = ms.links.get(&(at.k.clone(), at.a.clone())) else {
                continue;
            };
            let theirs = l.base_dir(m2, v2, &at.k, &at.a).join("module").join(fname);
            if bytes.is_some() && std::fs::read(&theirs).ok() == bytes {
                return Err(Error::install_failed(text::claimed_by_another(
                    &there,
                    (m2, v2),
                    &at.k,
                    &at.a,
                    &at.m,
                    &at.v,
                    &fname.to_string_lossy(),
                )));
            }
        }
    }
    Ok(())
}

fn mkdirs(base: &Path, p: &Path) -> Result<()> {
    crate::fs::create_dir_all(base, p, 0o755)
        .map_err(|e| Error::io(text::CANNOT_CREATE, p, e).into_kind(Error::InstallFailed))
}

/// `p` with `suffix` appended to its file name.
pub fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Remove temporary files an interrupted placement of `name` left in `dir`
/// (`.<name>.ko*.dkms-*`); only called with the tree lock held.
fn remove_stale_temps(base: &Path, dir: &Path, name: &str) {
    let prefix = format!(".{name}.ko");
    for n in crate::fs::list_names(dir) {
        if n.starts_with(&prefix) && n.contains(PLACING) {
            let _ = crate::fs::remove_file(base, &dir.join(n));
        }
    }
}

/// Upstream's `check_version_sanity`: false (with upstream's message) when
/// the module must not be installed for this record.
#[allow(clippy::too_many_arguments)]
fn version_sane(
    world: &World,
    say: &mut dyn Say,
    at: &Mvka,
    conf: &ModuleConf,
    r: &ModuleRecord,
    suffix: &str,
    force: bool,
    version_override: bool,
) -> bool {
    let k = &at.k;
    if !conf.obsolete_by.is_empty() && !force && obsoleted(k, &conf.obsolete_by) {
        say.eline("");
        for line in text::obsoleted(&conf.obsolete_by) {
            say.eline(&line);
        }
        return false;
    }
    let l = &world.host.layout;
    let lib_tree = l.lib_tree(k);
    let mine = compressed_or_uncompressed(
        &l.base_dir(&at.m, &at.v, k, &at.a).join("module"),
        &r.dest_name,
        suffix,
    );
    let ours_bytes = mine.as_ref().and_then(|p| std::fs::read(p).ok());
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
        say.warning(&[text::version_check_ambiguous(&r.dest_name, suffix, k)]);
        return true;
    }
    let Some(ours) = mine else {
        return true;
    };
    let (kinfo, oinfo) = (info(&found[0]), info(&ours));
    match compare_module_version(&kinfo, &oinfo) {
        VersionCmp::Newer if !force => {
            say.error(&Error::denied(text::not_newer(
                &oinfo.verinfo().version,
                &r.dest_name,
                suffix,
                k,
                &kinfo.verinfo().version,
            )));
            false
        }
        VersionCmp::Same if !force => {
            let ver = oinfo.version().unwrap_or("");
            let has_info =
                !ver.trim().is_empty() || !oinfo.srcversion().unwrap_or("").trim().is_empty();
            let same_bytes = std::fs::read(&found[0]).ok() == std::fs::read(&ours).ok();
            if has_info || same_bytes {
                if !ver.is_empty() {
                    say.eline(&text::same_version_installed(&found[0], ver));
                } else {
                    say.eline(&text::same_unversioned_installed(&found[0]));
                }
                return false;
            }
            true
        }
        _ => true,
    }
}

/// OBSOLETE_BY as upstream compares it.
fn obsoleted(kver: &str, obs: &str) -> bool {
    // Upstream splits with a quoted expansion, so each "array" holds the whole
    // string with '-' turned into spaces and the ABI branch never applies: the
    // module is obsolete when this kernel is at or above OBSOLETE_BY.
    crate::observe::version::ver_cmp(&kver.replace('-', " "), &obs.replace('-', " "))
        != std::cmp::Ordering::Less
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
}
