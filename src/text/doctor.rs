//! Ours: `dkms-hook doctor`'s report: what an interrupted run left, what
//! was repaired, the pending work and failures, and Secure Boot.

use std::path::Path;

/// Ours: a temporary file next to an installed (or archived) module.
pub const LEFTOVER_MODULE_TEMP: &str = "leftover temporary module file";

/// Ours: a build directory of an earlier version of this tool.
pub const LEFTOVER_BUILD_DIR: &str = "leftover per-kernel build directory";

/// Ours: a build result that was never moved into place.
pub const LEFTOVER_BUILD_RESULT: &str = "leftover temporary build result";

/// Ours: a previous build swapped out by a rebuild that finished.
pub const LEFTOVER_SWAPPED_BUILD: &str = "leftover swapped-out build";

/// Ours: a previous build swapped out by a rebuild that did not finish.
pub fn swapped_build_back(base: &Path) -> String {
    format!(
        "previous build swapped out by an interrupted rebuild; put back as {}",
        base.display()
    )
}

/// Ours: a broken module (doctor cannot repair it).
pub fn doctor_broken(m: &str, v: &str) -> String {
    format!("{m}/{v} is broken (source or its link missing); manual intervention is required")
}

/// Ours: a kernel link whose build is gone.
pub const DANGLING_KERNEL_LINK: &str = "dangling kernel link (its build is gone)";

/// Ours: a temporary kernel link.
pub const LEFTOVER_LINK_TEMP: &str = "leftover temporary link";

/// Ours: a temporary file of the pending queue.
pub const LEFTOVER_QUEUE_TEMP: &str = "leftover temporary queue entry";

/// Ours: a module placed by an install that died before switching the
/// kernel link from another version.
pub fn interrupted_install_replaced(m: &str, v: &str, k: &str) -> String {
    format!("module of an interrupted install of {m}/{v} (kernel {k} still uses another version); its module is put back")
}

/// Ours: a module placed by an install that died, no version installed.
pub fn interrupted_install_removed(m: &str, v: &str, k: &str) -> String {
    format!("module of an interrupted install of {m}/{v} (not installed for kernel {k}); removed")
}

/// Ours: a copy of an original that is still in place.
pub fn original_copy_left(loc: &str) -> String {
    format!("copy of original module {loc} left by an interrupted install (the original is still in place)")
}

/// Ours: an archived original whose place is taken or outside the tree.
pub fn original_location_blocked(loc: &str) -> String {
    format!("original module archived by an interrupted install, but its location '{loc}' is not free or not in the install tree")
}

/// Ours: an archived original put back.
pub fn original_put_back(m: &str, k: &str, loc: &str) -> String {
    format!("original module archived by an interrupted install (no {m} installed for kernel {k}); put back to {loc}")
}

/// Ours: a modules.dep older than the modules.
pub const STALE_MODULES_DEP: &str =
    "modules.dep is older than the modules (depmod did not run after an install); depmod is run";

/// Ours: a kernel whose depmod an interrupted run left due (its marker).
pub fn depmod_due(k: &str) -> String {
    format!("depmod of kernel {k} is still due (a run that changed its modules was interrupted before it)")
}

/// Ours: a queue record that cannot be trusted.
pub const UNTRUSTED_RECORD: &str =
    "unreadable or untrustworthy record (skipped by every run; inspect and remove it)";

/// Ours: a name on disk the command line would refuse.
pub const UNTRUSTED_NAME: &str =
    "name not accepted as a module, version, kernel or arch (skipped by every run)";

/// Ours: the state of a finding that was repaired.
pub const REPAIRED: &str = "repaired";

/// Ours: the state of a finding `--repair` could not repair.
pub const NEEDS_ATTENTION: &str = "needs attention";

/// Ours: the state of a finding without `--repair`.
pub const FOUND: &str = "found";

/// Ours: one finding: its state, what it is, where.
pub fn finding(state: &str, what: &str, path: &Path) -> String {
    format!("{state}: {what}: {}", path.display())
}

/// Ours: one item of pending work (`reason` as its record names it).
pub fn doctor_pending(
    kernel: &str,
    arch: &str,
    reason: impl std::fmt::Debug,
    detail: &str,
) -> String {
    format!("pending: {kernel} ({arch}) {reason:?} {detail}")
}

/// Ours: one recorded failure.
pub fn doctor_failed(
    module: &str,
    version: &str,
    kernel: &str,
    arch: &str,
    code: i32,
    log: &str,
) -> String {
    format!("failed: {module}/{version} for {kernel} ({arch}) exit {code}; log: {log}")
}

/// Ours: the line when nothing was found.
pub const NO_LEFTOVERS: &str = "No leftovers from interrupted runs found.";

/// Ours: Secure Boot on a machine without EFI.
pub const SECURE_BOOT_UNAVAILABLE: &str =
    "secure boot: not available (no EFI firmware); modules load without a signature check.";

/// Ours: Secure Boot off.
pub const SECURE_BOOT_DISABLED: &str =
    "secure boot: disabled; modules load without a signature check.";

/// Ours: Secure Boot on.
pub const SECURE_BOOT_ENABLED: &str =
    "secure boot: enabled; modules must be signed with an enrolled key.";

/// Ours: Secure Boot on and no signing certificate yet.
pub fn signing_key_absent(cert: &Path) -> String {
    format!("module signing key: {} does not exist yet (created at the first signed build or by `dkms generate_mok`); enrol it with: mokutil --import {} (then reboot and confirm in MokManager)", cert.display(), cert.display())
}

/// Ours: the signing certificate is enrolled.
pub fn signing_key_enrolled(cert: &Path) -> String {
    format!("module signing key: enrolled ({})", cert.display())
}

/// Ours: the signing certificate is not enrolled (or mokutil cannot say).
pub fn signing_key_not_enrolled(cert: &Path) -> String {
    format!(
        "module signing key: not enrolled (or mokutil is missing to tell). Enrol it with: mokutil --import {} (then reboot and confirm in MokManager)",
        cert.display()
    )
}
