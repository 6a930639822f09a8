//! Upstream's text for `dkms uninstall`, `unbuild`, `remove` and the
//! kernel_prerm/preinst removals.

use std::path::Path;

/// Upstream's skip line when there is nothing to uninstall:
/// `Module m/v is not installed for kernel k (a). Skipping...`
pub fn not_installed(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} is not installed for kernel {k} ({a}). Skipping...")
}

/// Upstream's skip line when there is nothing to unbuild:
/// `Module m/v is not built for kernel k (a). Skipping...`
pub fn not_built(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} is not built for kernel {k} ({a}). Skipping...")
}

/// Upstream's first line of an uninstall.
pub fn uninstalling(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} for kernel {k} ({a}):")
}

/// Upstream's line when the version being uninstalled was the active one.
pub const WAS_ACTIVE: &str = "Before uninstall, this module version was ACTIVE on this kernel.";

/// Upstream's line when it was not.
pub const WAS_INACTIVE: &str = "This module version was INACTIVE for this kernel.";

/// Upstream's line for each module file taken out.
pub fn deleting(dir: &Path, name: &str, suffix: &str) -> String {
    format!("Deleting {}/{name}.ko{suffix}", dir.display())
}

/// Upstream's line when the module file is not where it was installed.
pub fn not_found_within(name: &str, suffix: &str, lib_tree: &Path) -> String {
    format!(
        "Module {name}.ko{suffix} was not found within {}/",
        lib_tree.display()
    )
}

/// Upstream's line (stderr) for an archived original whose recorded
/// location is outside the kernel's tree (it stays archived).
pub fn bad_original_location(loc: &str, origin: &Path) -> String {
    format!(
        "Warning: Bad original location '{loc}' in {}",
        origin.display()
    )
}

/// Upstream's line for each archived original put back.
pub fn restoring_original(loc: &str) -> String {
    format!("Restoring archived original module {loc}")
}

/// Upstream's line when the archive of originals is dropped.
pub fn removing_originals(k: &str, a: &str) -> String {
    format!("Removing original module(s) from DKMS tree for kernel {k} ({a})")
}

/// Upstream's line when `remove` deletes the last of m/v.
pub fn deleting_completely(m: &str, v: &str) -> String {
    format!("Deleting module {m}/{v} completely from the DKMS tree.")
}

/// Upstream's line (stderr) before kernel_prerm/preinst removes a module.
pub fn removing_from_kernel(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("dkms: removing module {m}/{v} for kernel {k} ({a})")
}
