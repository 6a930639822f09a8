//! The `dkms` actions with upstream's semantics: `add`, `build`, `install`,
//! `uninstall`, `unbuild`, `remove`, `status`, `generate_mok`, and the
//! entry into autoinstall / kernel hooks / tarballs. Every one goes through
//! the same build and install code ([`crate::build`], [`crate::install`]).

use std::path::{Path, PathBuf};

use crate::build::{self, Jobs};
use crate::cli::{check_all_is_banned, have_one_kernel, Invocation};
use crate::config::Settings;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::install::{self, Depmod};
use crate::lock::TreeLock;
use crate::output::module_args_usage;
use crate::paths::{is_safe_component, Root};

/// Build the run context from the invocation: root, framework.conf, distribution.
pub fn context(inv: &Invocation) -> Result<Ctx> {
    let root = match &inv.root {
        Some(r) => Root::new(r),
        None => match std::env::var("DKMS_ROOT") {
            Ok(r) if !r.is_empty() => Root::new(r),
            _ => Root::default(),
        },
    };
    if !root.dir().is_dir() {
        return Err(Error::msg(
            2,
            format!(
                "The root directory {} does not exist.",
                root.dir().display()
            ),
        ));
    }
    let distribution = crate::distro::running_distribution(&root)?;
    let settings = Settings::load(&root, &inv.trees);
    Ok(Ctx {
        settings,
        distribution,
        opts: inv.opts.clone(),
    })
}

/// Run the invocation; returns the exit status (errors already printed).
pub fn run(inv: &mut Invocation) -> i32 {
    let ctx = match context(inv) {
        Ok(c) => c,
        Err(e) => {
            e.report();
            return e.code;
        }
    };
    match dispatch(&ctx, inv) {
        Ok(code) => code,
        Err(e) => {
            e.report();
            e.code
        }
    }
}

/// Upstream's `setup_kernels_arches` (not for status).
fn setup_kernels(ctx: &Ctx, inv: &mut Invocation) -> Result<()> {
    if inv.all {
        for (k, a) in ctx.tree().built_kernels(&inv.module, &inv.version) {
            inv.kernels.push(k);
            inv.arches.push(a);
        }
    }
    if inv.kernels.is_empty() && !inv.all {
        inv.kernels.push(crate::kernel::running_kernel());
    }
    if inv.arches.is_empty() {
        inv.arches.push(crate::kernel::machine_arch());
    }
    if inv.arches.len() == 1 && inv.kernels.len() > 1 {
        let a = inv.arches[0].clone();
        inv.arches.resize(inv.kernels.len(), a);
    }
    for (i, k) in inv.kernels.iter().enumerate() {
        if k.is_empty() {
            return Err(Error::msg(16, format!("Empty kernelver[{i}]")));
        }
    }
    for (i, a) in inv.arches.iter().enumerate() {
        if a.is_empty() {
            return Err(Error::msg(16, format!("Empty arch[{i}]")));
        }
    }
    for k in &inv.kernels {
        check_component("kernel version", k)?;
    }
    for a in &inv.arches {
        check_component("arch", a)?;
    }
    Ok(())
}

fn dispatch(ctx: &Ctx, inv: &mut Invocation) -> Result<i32> {
    if inv.action == "status" {
        let recs = crate::status::records(
            ctx,
            &inv.module,
            &inv.version,
            inv.kernels.first().map(String::as_str).unwrap_or(""),
            inv.arches.first().map(String::as_str).unwrap_or(""),
        );
        crate::status::print(ctx, &recs, &inv.output)?;
        return Ok(0);
    }
    if inv.action.is_empty() {
        eprintln!("\nError! Unknown action specified: \"\"");
        print!("{}", crate::output::usage("dkms"));
        return Ok(0);
    }
    setup_kernels(ctx, inv)?;
    let pairs: Vec<(String, String)> = inv
        .kernels
        .iter()
        .cloned()
        .zip(inv.arches.iter().cloned())
        .collect();
    let action = inv.action.clone();
    match action.as_str() {
        "remove" | "unbuild" | "uninstall" => {
            registered_or_die(ctx, inv)?;
            if action == "uninstall" {
                check_root()?;
            } else {
                check_rw_dkms_tree(ctx)?;
            }
            let _lock = lock(ctx)?;
            let (m, v) = (inv.module.clone(), inv.version.clone());
            match action.as_str() {
                "uninstall" => {
                    for (i, (k, a)) in pairs.iter().enumerate() {
                        if i > 0 {
                            println!();
                        }
                        maybe_uninstall(ctx, &m, &v, k, a, &mut Depmod::Now)?;
                    }
                }
                "unbuild" => {
                    for (i, (k, a)) in pairs.iter().enumerate() {
                        if i > 0 {
                            println!();
                        }
                        maybe_uninstall(ctx, &m, &v, k, a, &mut Depmod::Now)?;
                        maybe_unbuild(ctx, &m, &v, k, a);
                    }
                }
                _ => remove(ctx, &m, &v, &pairs)?,
            }
            post_transaction(ctx);
            Ok(0)
        }
        "add" | "build" | "install" => {
            check_all_is_banned(inv)?;
            if action != "add" && !inv.module.is_empty() && !inv.version.is_empty() {
                module_is_broken_and_die(ctx, &inv.module, &inv.version)?;
            }
            if action == "install" {
                check_root()?;
            } else {
                check_rw_dkms_tree(ctx)?;
            }
            let _lock = lock(ctx)?;
            if action == "add" {
                add_module(ctx, inv)?;
                return Ok(0);
            }
            let mut last = 0;
            for (k, a) in &pairs {
                let r = if action == "build" {
                    maybe_build(ctx, inv, k, a)
                } else {
                    maybe_install(ctx, inv, k, a)
                };
                last = match r {
                    Ok(()) => 0,
                    Err(e) => {
                        e.report();
                        e.code
                    }
                };
            }
            if last == 0 && action == "install" {
                post_transaction(ctx);
            }
            Ok(last)
        }
        "autoinstall" => {
            have_one_kernel(inv)?;
            check_root()?;
            let _lock = lock(ctx)?;
            crate::exec::autoinstall::dkms_autoinstall(ctx, &pairs[0].0, &pairs[0].1)
        }
        "kernel_preinst" | "kernel_prerm" | "kernel_postinst" => {
            check_root()?;
            let _lock = lock(ctx)?;
            let (k, a) = &pairs[0];
            match action.as_str() {
                "kernel_postinst" => crate::exec::autoinstall::dkms_autoinstall(ctx, k, a),
                "kernel_prerm" => crate::exec::removal::kernel_prerm(ctx, k, a, false).map(|_| 0),
                _ => crate::exec::removal::kernel_prerm(ctx, k, a, true).map(|_| 0),
            }
        }
        "match" => {
            check_root()?;
            have_one_kernel(inv)?;
            let _lock = lock(ctx)?;
            crate::exec::matching::run_match(ctx, inv, &pairs[0].0, &pairs[0].1)
        }
        "mktarball" => {
            registered_or_die(ctx, inv)?;
            let _lock = lock(ctx)?;
            crate::tarball::mktarball(
                ctx,
                &inv.module,
                &inv.version,
                &pairs,
                inv.archive.as_deref(),
                inv.binaries_only,
                inv.source_only,
            )?;
            Ok(0)
        }
        "ldtarball" => {
            if !nix::unistd::geteuid().is_root() && inv.opts.force {
                return Err(Error::msg(
                    1,
                    "You must be root to use this command with the --force option.",
                ));
            }
            let _lock = lock(ctx)?;
            let Some(archive) = inv.archive.clone() else {
                return Err(Error::msg(2, " does not exist."));
            };
            let (m, v, has_source) = crate::tarball::ldtarball(ctx, &archive)?;
            if has_source {
                inv.module = m;
                inv.version = v;
                inv.archive = None;
                add_module(ctx, inv)?;
            }
            Ok(0)
        }
        "generate_mok" => {
            crate::sign::generate_mok(ctx)?;
            Ok(0)
        }
        other => {
            eprintln!("\nError! Unknown action specified: \"{other}\"");
            print!("{}", crate::output::usage("dkms"));
            Ok(0)
        }
    }
}

/// Take the tree lock for a writer and finish what an interrupted run left
/// (a depmod that did not happen).
pub fn lock(ctx: &Ctx) -> Result<TreeLock> {
    let l = TreeLock::acquire(&ctx.settings.dkms_tree)?;
    install::flush_pending_depmod(ctx);
    Ok(l)
}

/// upstream's `check_module_args`.
pub fn check_module_args(inv: &Invocation, action: &str) -> Result<()> {
    if !inv.module.is_empty() && !inv.version.is_empty() {
        return Ok(());
    }
    let mut lines = vec!["Arguments <module> and <module-version> are not specified.".to_string()];
    lines.extend(module_args_usage(action));
    Err(Error::new(1, lines))
}

/// Refuse a name that becomes a path component (module, version, kernel,
/// arch) when it could escape the trees.
pub fn check_component(what: &str, s: &str) -> Result<()> {
    if is_safe_component(s) {
        return Ok(());
    }
    Err(Error::new(
        2,
        [
            format!("Invalid {what} '{}'.", s.escape_default()),
            "Names must not be empty, contain '/', whitespace or control characters, be '.' or '..', or start with '-'.".to_string(),
        ],
    ))
}

/// Refuse module and version names that could escape the trees.
pub fn check_names(m: &str, v: &str) -> Result<()> {
    check_component("module name", m)?;
    check_component("module version name", v)
}

/// The checks upstream makes before acting on a registered module: both
/// names given and safe, not broken, added.
fn registered_or_die(ctx: &Ctx, inv: &Invocation) -> Result<()> {
    check_module_args(inv, &inv.action)?;
    check_names(&inv.module, &inv.version)?;
    module_is_broken_and_die(ctx, &inv.module, &inv.version)?;
    if !ctx.tree().is_added(&inv.module, &inv.version) {
        return Err(Error::msg(
            3,
            format!(
                "The module/version combo: {}/{} is not located in the DKMS tree.",
                inv.module, inv.version
            ),
        ));
    }
    Ok(())
}

fn module_is_broken_and_die(ctx: &Ctx, m: &str, v: &str) -> Result<()> {
    if ctx.tree().is_broken(m, v) {
        return Err(Error::new(
            4,
            [
                format!("{m}/{v} is broken!"),
                "Missing the source directory or the symbolic link pointing to it.".into(),
                "Manual intervention is required!".into(),
            ],
        ));
    }
    Ok(())
}

/// upstream's `check_root`.
pub fn check_root() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::msg(1, "You must be root to use this command."))
    }
}

fn check_rw_dkms_tree(ctx: &Ctx) -> Result<()> {
    let t = &ctx.settings.dkms_tree;
    if !t.exists() {
        let _ = std::fs::create_dir_all(t);
    }
    if nix::unistd::access(t.as_path(), nix::unistd::AccessFlags::W_OK).is_ok() {
        Ok(())
    } else {
        Err(Error::msg(
            1,
            format!("No write access to DKMS tree at {}", t.display()),
        ))
    }
}

/// `add` (upstream `add_module`), also used by build/install for a module
/// that is not registered yet.
pub fn add_module(ctx: &Ctx, inv: &mut Invocation) -> Result<()> {
    if inv.module.is_empty() && inv.version.is_empty() {
        if let Some(archive) = inv.archive.clone() {
            let (m, v, has_source) = crate::tarball::ldtarball(ctx, &archive)?;
            inv.module = m;
            inv.version = v;
            if !has_source {
                return Ok(());
            }
        } else if let Some(src) = inv.try_source_tree.clone() {
            let (m, v) = add_source_tree(ctx, inv, &src)?;
            inv.module = m;
            inv.version = v;
        }
    }
    check_module_args(inv, "add")?;
    let (m, v) = (inv.module.clone(), inv.version.clone());
    check_names(&m, &v)?;
    let tree = ctx.tree();
    if tree.is_added(&m, &v) {
        return Err(Error::new(
            3,
            [
                format!("DKMS tree already contains: {m}/{v}"),
                "You cannot add the same module/version combo more than once.".into(),
            ],
        ));
    }
    let src = tree.source_tree_dir(&m, &v);
    if !src.is_dir() {
        return Err(Error::new(
            2,
            [
                "Could not find module source directory.".to_string(),
                format!("Directory: {} does not exist.", src.display()),
            ],
        ));
    }
    let (k, a) = (
        inv.kernels.first().cloned().unwrap_or_default(),
        inv.arches.first().cloned().unwrap_or_default(),
    );
    let conf = ctx.read_conf(
        &m,
        &v,
        &k,
        &a,
        Some(
            ctx.opts
                .conf
                .clone()
                .unwrap_or_else(|| src.join("dkms.conf")),
        ),
        true,
    )?;
    let inside = ctx.settings.root.inside(&src);
    println!(
        "Creating symlink {} -> {}",
        tree.source_link(&m, &v).display(),
        inside.display()
    );
    let vd = tree.version_dir(&m, &v);
    std::fs::create_dir_all(&vd).map_err(|e| Error::io("Cannot create", &vd, e))?;
    let link = tree.source_link(&m, &v);
    if crate::tree::is_symlink(&link) {
        let _ = std::fs::remove_file(&link);
    }
    std::os::unix::fs::symlink(&inside, &link)
        .map_err(|e| Error::io("Cannot create symlink", &link, e))?;
    build::run_script(ctx, "post_add", &conf.post_add, &src, None, &[]).ok();
    Ok(())
}

/// upstream's `add_source_tree`: copy a directory holding a dkms.conf to
/// `<source_tree>/<PACKAGE_NAME>-<PACKAGE_VERSION>`.
fn add_source_tree(ctx: &Ctx, inv: &Invocation, dir: &Path) -> Result<(String, String)> {
    let from = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !from.join("dkms.conf").is_file() {
        return Err(Error::msg(
            9,
            format!("{} must contain a dkms.conf file!", dir.display()),
        ));
    }
    check_root()?;
    let k = inv
        .kernels
        .first()
        .cloned()
        .unwrap_or_else(crate::kernel::running_kernel);
    let a = inv
        .arches
        .first()
        .cloned()
        .unwrap_or_else(crate::kernel::machine_arch);
    let conf = ctx.read_conf("", "", &k, &a, Some(from.join("dkms.conf")), false)?;
    let (m, v) = (conf.package_name.clone(), conf.package_version.clone());
    check_names(&m, &v)?;
    let tree = ctx.tree();
    let dest = tree.source_tree_dir(&m, &v);
    if ctx.opts.force && dest.is_dir() && from != dest {
        eprintln!();
        println!("Forcing install of {m}/{v}");
        let _ = std::fs::remove_dir_all(&dest);
    }
    if from == dest || from == tree.version_dir(&m, &v).join("source") {
        return Ok((m, v));
    }
    std::fs::create_dir_all(&dest).map_err(|e| Error::io("Cannot create", &dest, e))?;
    let ok = std::process::Command::new("cp")
        .arg("-fpr")
        .arg("-T")
        .arg(format!("{}/", from.display()))
        .arg(&dest)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return Err(Error::msg(
            1,
            format!("Cannot copy {} to {}.", from.display(), dest.display()),
        ));
    }
    Ok((m, v))
}

fn ensure_added(ctx: &Ctx, inv: &mut Invocation) -> Result<()> {
    if inv.module.is_empty()
        || inv.version.is_empty()
        || !ctx.tree().is_added(&inv.module, &inv.version)
    {
        add_module(ctx, inv)?;
        println!();
    }
    Ok(())
}

/// upstream's `maybe_build_module`.
pub fn maybe_build(ctx: &Ctx, inv: &mut Invocation, k: &str, a: &str) -> Result<()> {
    ensure_added(ctx, inv)?;
    let (m, v) = (inv.module.clone(), inv.version.clone());
    if ctx.tree().is_built(&m, &v, k, a) && !ctx.opts.force {
        println!("Module {m}/{v} already built for kernel {k} ({a}), skip. You may override by specifying --force.");
        return Ok(());
    }
    build::build(ctx, &m, &v, k, a, Jobs::Fixed(ctx.jobs())).map(|_| ())
}

/// upstream's `maybe_install_module` (building first when needed).
pub fn maybe_install(ctx: &Ctx, inv: &mut Invocation, k: &str, a: &str) -> Result<()> {
    ensure_added(ctx, inv)?;
    let (m, v) = (inv.module.clone(), inv.version.clone());
    let tree = ctx.tree();
    if tree.is_installed(&m, &v, k, a) {
        if !ctx.opts.force {
            println!("Module {m}/{v} already installed on kernel {k} ({a}), skip. You may override by specifying --force.");
            return Ok(());
        }
        install::uninstall(ctx, &m, &v, k, a, &mut Depmod::Now)?;
        println!();
    }
    if !tree.is_built(&m, &v, k, a) {
        build::build(ctx, &m, &v, k, a, Jobs::Fixed(ctx.jobs()))?;
    }
    install::install(ctx, &m, &v, k, a, &mut Depmod::Now)
}

/// upstream's `maybe_uninstall_module`.
pub fn maybe_uninstall(
    ctx: &Ctx,
    m: &str,
    v: &str,
    k: &str,
    a: &str,
    depmod: &mut Depmod,
) -> Result<()> {
    if !ctx.tree().is_installed(m, v, k, a) {
        let excluded = ctx
            .read_conf(m, v, k, a, None, false)
            .map(|c| c.build_exclude || c.modules.iter().any(|r| !r.buildable))
            .unwrap_or(false);
        if !excluded {
            println!("Module {m}/{v} is not installed for kernel {k} ({a}). Skipping...");
        }
        return Ok(());
    }
    install::uninstall(ctx, m, v, k, a, depmod)
}

/// upstream's `maybe_unbuild_module`.
pub fn maybe_unbuild(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str) {
    if !ctx.tree().is_built(m, v, k, a) {
        println!("Module {m}/{v} is not built for kernel {k} ({a}). Skipping...");
        return;
    }
    unbuild(ctx, m, v, k, a);
}

/// upstream's `do_unbuild`: delete `<v>/<k>/<a>` and an empty `<v>/<k>`.
pub fn unbuild(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str) {
    let tree = ctx.tree();
    let _ = std::fs::remove_dir_all(tree.base_dir(m, v, k, a));
    let kd = tree.version_dir(m, v).join(k);
    if crate::tree::list_dirs(&kd).is_empty() {
        let _ = std::fs::remove_dir_all(&kd);
    }
    let _ = std::fs::remove_dir_all(build::build_dir(ctx, m, v, k, a));
}

/// upstream's `remove_module`.
pub fn remove(ctx: &Ctx, m: &str, v: &str, pairs: &[(String, String)]) -> Result<()> {
    let tree = ctx.tree();
    let vd = tree.version_dir(m, v);
    for k in crate::tree::list_dirs(&vd) {
        if let Ok(rd) = std::fs::read_dir(vd.join(&k)) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(".tmp_") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(vd.join(&k));
    }
    for (k, a) in pairs {
        maybe_uninstall(ctx, m, v, k, a, &mut Depmod::Now)?;
        maybe_unbuild(ctx, m, v, k, a);
        println!();
    }
    let remaining = crate::tree::list_dirs(&vd)
        .into_iter()
        .filter(|d| {
            !matches!(
                d.as_str(),
                "build" | "tarball" | "driver_disk" | "rpm" | "deb" | "source"
            ) && !d.starts_with("build-")
        })
        .count();
    if remaining == 0 {
        println!("Deleting module {m}/{v} completely from the DKMS tree.");
        crate::fault::point("remove:before-delete");
        std::fs::remove_dir_all(&vd).map_err(|e| Error::io("Cannot remove", &vd, e))?;
    }
    let md = tree.module_dir(m);
    if std::fs::read_dir(&md)
        .map(|mut r| r.next().is_none())
        .unwrap_or(false)
    {
        let _ = std::fs::remove_dir(&md);
    }
    Ok(())
}

/// Run framework.conf's `post_transaction` command, logging to
/// `<dkms_tree>/post_transaction.log`.
pub fn post_transaction(ctx: &Ctx) {
    let cmd = &ctx.settings.post_transaction;
    if cmd.is_empty() {
        return;
    }
    let log: PathBuf = ctx.settings.dkms_tree.join("post_transaction.log");
    let _ = std::fs::write(&log, b"");
    let mut step = crate::runner::Step::new(cmd.clone(), "Executing post-transaction command");
    step.log = Some(log);
    crate::runner::invoke(&step, ctx.verbose());
}
