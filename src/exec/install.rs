//! Installing a built module into the kernel's module tree (upstream's
//! `do_install`). Files appear in the install tree only by an atomic
//! rename; an original module is copied into the dkms tree before ours
//! replaces it and removed only after ours is in place; a failed install
//! puts back whatever it moved away.

use std::path::PathBuf;

use crate::error::{Error, Kind, Result};
use crate::exec::build::{self, run_script};
use crate::exec::depmod;
use crate::exec::msg;
use crate::exec::{place, Ctx, Locked};
use crate::observe::conf::ModuleConf;
use crate::observe::files::{compressed_or_uncompressed, join_loc};
use crate::observe::forced::{forced, Forced};
use crate::observe::{ConfKey, World};
use crate::plan::{Depmod, Mvka};
use crate::report::{Say, Style};
use crate::text;

/// `maybe_install_module` as autoinstall runs it: say so when installed,
/// else install (building first when needed).
pub fn maybe_install(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    key: &ConfKey,
    depmod: Depmod,
) -> Result<()> {
    if cx.ledger.is_installed(cx.world, at) {
        say.line(&text::already_installed(&at.m, &at.v, &at.k, &at.a));
        return Ok(());
    }
    install(cx, lock, say, at, key, depmod)
}

/// Upstream's `do_install` of m/v into k/a (building first when not built).
pub fn install(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    key: &ConfKey,
    depmod: Depmod,
) -> Result<()> {
    if at.k.is_empty() || at.a.is_empty() {
        return Err(Error::empty_kernel([text::DO_INSTALL_EMPTY_KERNEL]));
    }
    if !cx.ledger.is_built(cx.world, at) {
        build::build(cx, lock, say, at, key)?;
    }
    let world = cx.world;
    build::clean_leftover(world, lock, &at.m, &at.v);
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
    if cx.ledger.is_installed(world, at) {
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
    let how = place::How {
        suffix,
        force,
        version_override,
        active_exists: cx.ledger.has_link(world, &at.m, &at.k, &at.a),
    };
    place::place_modules(world, lock, say, at, conf, &how)?;
    crate::fault::point("install:before-link");
    let target = PathBuf::from(format!("{}/{}/{}", at.v, at.k, at.a));
    lock.replace_symlink(&l.dkms, &target, &l.kernel_link(&at.m, &at.k, &at.a))
        .map_err(|e| {
            Error::io(
                msg::CANNOT_CREATE_LINK,
                &l.kernel_link(&at.m, &at.k, &at.a),
                e,
            )
            .into_kind(Kind::InstallFailed)
        })?;
    cx.ledger.set_linked(at);
    // Upstream ignores POST_INSTALL's result; run_script has said what went wrong.
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
    if depmod::request(cx, lock, say, &at.k, &at.m, depmod) != 0 {
        // Upstream's roll-back: its own output says how it went; the
        // error below is the one that counts.
        let _ = crate::exec::uninstall::uninstall(cx, lock, say, at, key, Depmod::Now);
        return Err(Error::install_failed(text::DEPMOD_PROBLEMS));
    }
    if (world.host.opts.modprobe_on_install || world.host.settings.modprobe_on_install)
        && world.host.layout.root.is_slash()
        && at.k == world.host.running_kernel
    {
        // Upstream's --modprobe-on-install: device modules first, then the
        // modules-load.d lists when systemd has the unit.
        crate::exec::load::device_modules(say, false);
        if std::path::Path::new("/lib/systemd/system/systemd-modules-load.service").is_file() {
            crate::exec::load::modules_load_lists(say, false);
        }
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
        let bytes = crate::fs::read_file(&there).ok();
        for (m2, ms) in &world.tree.modules {
            if *m2 == at.m {
                continue;
            }
            let Some(Some(v2)) = ms.links.get(&(at.k.clone(), at.a.clone())) else {
                continue;
            };
            let theirs = l.base_dir(m2, v2, &at.k, &at.a).join("module").join(fname);
            if bytes.is_some() && crate::fs::read_file(&theirs).ok() == bytes {
                return Err(Error::install_failed(msg::claimed_by_another(
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
