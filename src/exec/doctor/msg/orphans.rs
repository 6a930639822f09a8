//! Ours: what `dkms-hook doctor` says about module files no dkms record
//! claims.

use std::path::Path;

/// Ours: a module file in `updates/dkms` that nothing claims.
pub fn orphan_module_file(k: &str) -> String {
    format!(
        "module file in updates/dkms of kernel {k} that no dkms module or module package claims"
    )
}

/// Ours: an unclaimed module file identical to a build of an installed
/// module, which doctor never removes.
pub fn orphan_identical_to_build(k: &str, m: &str, v: &str, bk: &str) -> String {
    format!("module file no dkms record claims for kernel {k}, byte for byte the build of {m}/{v} for kernel {bk}, which is installed")
}

/// Ours: what to do about [`orphan_identical_to_build`].
pub fn orphan_identical_advice(k: &str) -> String {
    format!("Left in place, since dkms uses that build. If kernel {k} must not load it, remove it by hand, then run depmod for {k}.")
}

/// Ours: a module file named like a dkms module in a directory the
/// distribution's module packages share (`/extra`, `/updates`).
pub fn orphan_in_shared_dir(k: &str, dir: &str) -> String {
    format!(
        "module file in {dir} of kernel {k}, named like a dkms module, that no dkms record claims"
    )
}

/// Ours: what to do about [`orphan_in_shared_dir`].
pub fn orphan_shared_advice(dir: &str, path: &Path, k: &str) -> String {
    format!("Left in place: {dir} is shared with the distribution's module packages. If no package owns it (rpm -qf {}), remove it, then run depmod for {k}.", path.display())
}
