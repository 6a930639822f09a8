//! Upstream's text for `dkms install`: its checks, the archiving of the
//! kernel's own modules, version sanity, and its failures.

use std::path::Path;

/// Upstream's skip line when m/v is already installed on k/a:
/// `Module m/v already installed on kernel k (a), skip. ...`
pub fn already_installed(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} already installed on kernel {k} ({a}), skip. You may override by specifying --force.")
}

/// Upstream's closing hint of several refusals.
pub const OVERRIDE_WITH_FORCE: &str = "You may override by specifying --force.";

/// Upstream's `do_install` guard (exit 16) when the kernel or arch is empty.
pub const DO_INSTALL_EMPTY_KERNEL: &str = "do_install: Empty $kernelver or $arch";

/// Upstream's line when the lists in
/// `/usr/share/dkms/modules_to_force_install/` force the install of `m`.
pub fn forcing_installation(m: &str) -> String {
    format!("Forcing installation of {m}")
}

/// Upstream's line when those lists turn the version check off for `m`
/// (`<m>_version-override`).
pub fn forcing_version_override(m: &str) -> String {
    format!("Forcing version override of {m}")
}

/// Upstream's error (exit 6) for a kernel without a module directory.
pub fn no_kernel_modules_dir(lib_tree: &Path) -> Vec<String> {
    vec![
        format!("The directory {} doesn't exist.", lib_tree.display()),
        "You cannot install a module onto a non-existent kernel.".to_string(),
    ]
}

/// Upstream's error (exit 6) when a built module file is gone.
pub fn built_module_gone(name: &str, base_dir: &Path) -> String {
    format!("Missing module {name} in {}/module", base_dir.display())
}

/// Upstream's refusal (exit 5) to install what is installed.
pub fn already_installed_combo(k: &str, a: &str) -> String {
    format!("This module/version combo is already installed for kernel {k} ({a}).")
}

/// Upstream's error (exit 101) when PRE_INSTALL fails.
pub const PRE_INSTALL_FAILED: [&str; 2] =
    ["pre_install failed, aborting install.", OVERRIDE_WITH_FORCE];

/// Upstream's error (exit 6) when depmod fails after an install (which is
/// then undone).
pub const DEPMOD_PROBLEMS: [&str; 2] = [
    "Problems with depmod detected.  Automatically uninstalling this module.",
    "Install Failed (depmod problems).  Module rolled back to built state.",
];

/// Upstream's line when the kernel's own module was archived before.
pub const ORIGINAL_ALREADY_STORED: &str =
    "An original module was already stored during a previous install";

/// Upstream's line when the kernel's own module is archived.
pub fn archiving_original(original: &Path) -> String {
    format!(
        "Found pre-existing {}, archiving for uninstallation",
        original.display()
    )
}

/// Upstream's line when several same-named modules make it unclear which
/// is the original.
pub const MULTIPLE_ORIGINALS: &str =
    "Multiple original modules exist, so none will be put back in place during a later uninstall";

/// Upstream's line naming where the colliding modules are kept.
pub fn collisions_kept(orig_dir: &Path) -> String {
    format!(
        "All instances will be stored for reference purposes in {}/collisions/",
        orig_dir.display()
    )
}

/// Upstream's line for several modules named like ours in the kernel.
pub fn same_named_modules(count: usize, name: &str, suffix: &str, lib_tree: &Path) -> String {
    format!(
        "Multiple same named modules! {count} named {name}.ko{suffix} in {}/",
        lib_tree.display()
    )
}

/// Upstream's line for each module placed.
pub fn installing(dest: &Path) -> String {
    format!("Installing {}", dest.display())
}

/// Upstream's error (exit 6) when a module cannot be placed (the cause
/// follows).
pub fn copy_failed(module: &Path) -> String {
    format!("Copying '{}' failed", module.display())
}

/// Upstream's error (exit 6) when no module was installed.
pub const INSTALLATION_ABORTED: &str = "Installation aborted.";

/// Upstream's lines (stderr) when OBSOLETE_BY rules the kernel out.
pub fn obsoleted(obsolete_by: &str) -> [String; 3] {
    [
        format!("Module has been obsoleted due to being included in kernel {obsolete_by}."),
        format!("We will avoid installing for future kernels above {obsolete_by}."),
        OVERRIDE_WITH_FORCE.to_string(),
    ]
}

/// Upstream's warning when the kernel has several modules of the name.
pub fn version_check_ambiguous(name: &str, suffix: &str, k: &str) -> String {
    format!(
        "Cannot do version sanity checking because multiple {name}.ko{suffix} modules were found in kernel {k}."
    )
}

/// Upstream's error (shown, the module skipped) when ours is older than
/// the kernel's.
pub fn not_newer(ours: &str, name: &str, suffix: &str, k: &str, theirs: &str) -> Vec<String> {
    vec![
        format!("Module version {ours} for {name}.ko{suffix}"),
        format!("is not newer than what is already found in kernel {k} ({theirs})."),
        OVERRIDE_WITH_FORCE.to_string(),
    ]
}

/// Upstream's line when the same version is installed.
pub fn same_version_installed(found: &Path, version: &str) -> String {
    format!(
        "Module {} already installed at version {version}, override by specifying --force",
        found.display()
    )
}

/// Upstream's line when the same unversioned module is installed.
pub fn same_unversioned_installed(found: &Path) -> String {
    format!(
        "Module {} already installed (unversioned module), override by specifying --force",
        found.display()
    )
}
