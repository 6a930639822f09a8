//! Upstream's checks, in upstream's words and with upstream's exit codes:
//! arguments, names, root, write access, broken or missing modules, and the
//! kernel/arch list (`setup_kernels_arches`).

use crate::error::{Error, Result};
use crate::layout::is_safe_component;
use crate::observe::Facts;
use crate::plan::request::Action;
use crate::plan::DkmsArgs;
use crate::text;

/// Upstream's `check_module_args` for `action` (the one asked for, or
/// `add` when build or install adds first).
pub fn module_args(args: &DkmsArgs, action: &Action) -> Result<()> {
    if !args.module.is_empty() && !args.version.is_empty() {
        return Ok(());
    }
    Err(Error::denied(text::module_args_missing(action.name())))
}

/// Refuse a name that becomes a path component (module, version, kernel,
/// arch) when it could escape the trees or reach a shell.
pub fn component(what: &str, s: &str) -> Result<()> {
    if is_safe_component(s) {
        return Ok(());
    }
    Err(Error::usage(text::invalid_name(what, s)))
}

/// Module and version names that are safe as path components.
pub fn names(m: &str, v: &str) -> Result<()> {
    component(text::NAME_MODULE, m)?;
    component(text::NAME_MODULE_VERSION, v)
}

/// Upstream's `check_all_is_banned`.
pub fn all_is_banned(args: &DkmsArgs) -> Result<()> {
    if args.all {
        return Err(Error::not_allowed([text::all_not_supported(
            args.action.name(),
        )]));
    }
    Ok(())
}

/// Upstream's `have_one_kernel`.
pub fn have_one_kernel(args: &DkmsArgs) -> Result<()> {
    all_is_banned(args)?;
    if args.kernels.len() != 1 {
        let action = args.action.name();
        if args.action.is_kernel_hook() {
            return Err(Error::unusable([text::one_kernel_required(action)]));
        }
        return Err(Error::unusable([text::one_kernel_only(action)]));
    }
    Ok(())
}

/// Upstream's `module_is_broken_and_die`.
pub fn not_broken(world: &Facts, m: &str, v: &str) -> Result<()> {
    if world.tree.is_broken(m, v) {
        return Err(Error::unusable(text::broken(m, v)));
    }
    Ok(())
}

/// Upstream's `module_is_added_or_die`.
pub fn added(world: &Facts, m: &str, v: &str) -> Result<()> {
    if !world.tree.is_added(m, v) {
        return Err(Error::state([text::not_in_tree(m, v)]));
    }
    Ok(())
}

/// Upstream's `check_root`.
pub fn root(world: &Facts) -> Result<()> {
    if world.host.is_root {
        Ok(())
    } else {
        Err(Error::denied([text::MUST_BE_ROOT]))
    }
}

/// Upstream's `check_rw_dkms_tree`.
pub fn rw_dkms_tree(world: &Facts) -> Result<()> {
    if world.host.dkms_tree_writable {
        Ok(())
    } else {
        Err(Error::denied([text::no_write_access(
            &world.host.layout.dkms,
        )]))
    }
}

/// Upstream's `setup_kernels_arches` (not for status): `--all` means every
/// kernel m/v is built for (as observed now, under the lock); no kernel
/// means the running one; no arch means `uname -m`; one arch serves every
/// kernel; empty names are refused (16), unsafe ones too (2).
pub fn kernels_arches(args: &DkmsArgs, world: &Facts) -> Result<Vec<(String, String)>> {
    let mut kernels = args.kernels.clone();
    let mut arches = args.arches.clone();
    if args.all {
        for (k, a) in world.tree.built_kernels(&args.module, &args.version) {
            kernels.push(k);
            arches.push(a);
        }
    }
    if kernels.is_empty() && !args.all {
        kernels.push(world.host.running_kernel.clone());
    }
    if arches.is_empty() {
        arches.push(world.host.machine_arch.clone());
    }
    if arches.len() == 1 && kernels.len() > 1 {
        let a = arches[0].clone();
        arches.resize(kernels.len(), a);
    }
    for (i, k) in kernels.iter().enumerate() {
        if k.is_empty() {
            return Err(Error::empty_kernel([text::empty_kernelver(i)]));
        }
    }
    for (i, a) in arches.iter().enumerate() {
        if a.is_empty() {
            return Err(Error::empty_kernel([text::empty_arch(i)]));
        }
    }
    for k in &kernels {
        component(text::NAME_KERNEL_VERSION, k)?;
    }
    for a in &arches {
        component(text::NAME_ARCH, a)?;
    }
    Ok(kernels.into_iter().zip(arches).collect())
}
