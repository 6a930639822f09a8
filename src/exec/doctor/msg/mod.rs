//! Ours: `dkms-hook doctor`'s report. Each finding is one line: its state
//! ([`FOUND`], [`REPAIRED`], [`NEEDS_ATTENTION`]), what it is, where, and in
//! parentheses what `--repair` will do or did; advice a person has to
//! follow goes on indented lines below it. Then the pending work and
//! failures, Secure Boot, and the command that repairs what was found.

use std::path::Path;

pub mod broken;
pub mod orphans;

pub use crate::exec::msg::*;
pub use broken::*;
pub use orphans::*;

/// Ours: a temporary file next to an installed (or archived) module.
pub const LEFTOVER_MODULE_TEMP: &str = "leftover temporary module file";

/// Ours: a build directory of an earlier version of this tool.
pub const LEFTOVER_BUILD_DIR: &str = "leftover per-kernel build directory";

/// Ours: what `--repair` does to a leftover build directory whose build was
/// already moved into place without its log.
pub fn rescue_log_and_remove(log: &Path) -> String {
    format!("move its make.log to {} and remove it", log.display())
}

/// Ours: [`rescue_log_and_remove`], done.
pub fn log_rescued_removed(log: &Path) -> String {
    format!("its make.log moved to {}; removed", log.display())
}

/// Ours: a build result that was never moved into place.
pub const LEFTOVER_BUILD_RESULT: &str = "leftover temporary build result";

/// Ours: a previous build swapped out by a rebuild that finished.
pub const LEFTOVER_SWAPPED_BUILD: &str = "leftover swapped-out build";

/// Ours: a previous build swapped out by a rebuild that did not finish.
pub const SWAPPED_BUILD_BACK: &str = "previous build swapped out by an interrupted rebuild";

/// Ours: what `--repair` does to [`SWAPPED_BUILD_BACK`].
pub fn put_back_as(base: &Path) -> String {
    format!("put it back as {}", base.display())
}

/// Ours: [`put_back_as`], done.
pub fn put_back_as_done(base: &Path) -> String {
    format!("put back as {}", base.display())
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
    format!("module of an interrupted install of {m}/{v} (kernel {k} still uses another version)")
}

/// Ours: what `--repair` does to [`interrupted_install_replaced`].
pub fn put_back_module_in_use(back: &Path, k: &str) -> String {
    format!(
        "put back the module of the version in use, {}, then run depmod for {k}",
        back.display()
    )
}

/// Ours: [`put_back_module_in_use`], done.
pub fn put_back_module_in_use_done(back: &Path, k: &str) -> String {
    format!(
        "put back the module of the version in use, {}; depmod runs for {k} below",
        back.display()
    )
}

/// Ours: a module placed by an install that died, no version installed.
pub fn interrupted_install_removed(m: &str, v: &str, k: &str) -> String {
    format!("module of an interrupted install of {m}/{v} (not installed for kernel {k})")
}

/// Ours: a copy of an original that is still in place.
pub fn original_copy_left(loc: &str) -> String {
    format!("copy of original module {loc} left by an interrupted install (the original is still in place)")
}

/// Ours: an archived original whose place is taken or outside the tree.
pub fn original_location_blocked(loc: &str) -> String {
    format!("original module archived by an interrupted install, but its location '{loc}' is not free or not in the install tree")
}

/// Ours: what to do about [`original_location_blocked`].
pub fn original_blocked_advice(loc: &str) -> String {
    format!(
        "Check which module the kernel should have at {loc}; move this file there, or delete it."
    )
}

/// Ours: an archived original that an interrupted install never put back.
pub fn original_stranded(m: &str, k: &str) -> String {
    format!("original module archived by an interrupted install (no {m} installed for kernel {k})")
}

/// Ours: what `--repair` does to an archived original.
pub fn put_back_to(loc: &str, k: &str) -> String {
    format!("put it back to {loc}, then run depmod for {k}")
}

/// Ours: [`put_back_to`], done.
pub fn put_back_to_done(loc: &str, k: &str) -> String {
    format!("put back to {loc}; depmod runs for {k} below")
}

/// Ours: a modules.dep older than the modules.
pub const STALE_MODULES_DEP: &str =
    "modules.dep is older than the modules (depmod did not run after an install)";

/// Ours: what `--repair` does to a stale modules.dep.
pub fn run_depmod_for(k: &str) -> String {
    format!("run depmod for {k}")
}

/// Ours: the repair of a stale modules.dep, done at the end of the run.
pub fn depmod_runs_for(k: &str) -> String {
    format!("depmod runs for {k} below")
}

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

/// Ours: what `--repair` does to most leftovers.
pub const REMOVE_IT: &str = "remove it";

/// Ours: [`REMOVE_IT`], done.
pub const REMOVED: &str = "removed";

/// Ours: what `--repair` does to a module file it removes, then depmod.
pub fn remove_then_depmod(k: &str) -> String {
    format!("remove it, then run depmod for {k}")
}

/// Ours: [`remove_then_depmod`], done (depmod runs at the end).
pub fn removed_depmod_below(k: &str) -> String {
    format!("removed; depmod runs for {k} below")
}

/// Ours: a repair that failed, and the system's reason.
pub fn could_not(will: &str, error: &str) -> String {
    format!("could not {will}: {error}")
}

/// Ours: the state of a finding that was repaired.
pub const REPAIRED: &str = "repaired";

/// Ours: the state of a finding `--repair` could not repair, or that needs
/// a person.
pub const NEEDS_ATTENTION: &str = "needs attention";

/// Ours: the state of a finding without `--repair`.
pub const FOUND: &str = "found";

/// Ours: one finding: its state, what it is, where.
pub fn finding(state: &str, what: &str, path: &Path) -> String {
    format!("{state}: {what}: {}", path.display())
}

/// Ours: one finding with what `--repair` will do or did (`note`).
pub fn finding_noted(state: &str, what: &str, path: &Path, note: &str) -> String {
    format!("{state}: {what}: {} ({note})", path.display())
}

/// Ours: without `--repair`, what it would do to a finding.
pub fn repair_will(will: &str) -> String {
    format!("--repair will {will}")
}

/// Ours: advice under a finding, indented.
pub fn advice(line: &str) -> String {
    format!("  {line}")
}

/// Ours: the last line when something `--repair` can repair was found.
pub fn to_repair_run(command: &str) -> String {
    format!("To repair what was found, run: {command}")
}

/// Ours: kernels waiting for their headers.
pub fn doctor_pending_headers(kernel: &str, arch: &str, package: &str) -> String {
    if package.is_empty() {
        format!("pending: {kernel} ({arch}): waiting for the kernel headers")
    } else {
        format!("pending: {kernel} ({arch}): waiting for the kernel headers (install {package})")
    }
}

/// Ours: a module waiting for its BUILD_DEPENDS (`deps`).
pub fn doctor_pending_depends(kernel: &str, arch: &str, module: &str, deps: &str) -> String {
    format!("pending: {kernel} ({arch}): {module} waits for BUILD_DEPENDS not registered with DKMS yet: {deps}")
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
    let mut s = format!("failed: {module}/{version} for {kernel} ({arch}) (exit status {code})");
    if !log.is_empty() {
        s.push_str(&format!("; log: {log}"));
    }
    s
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

/// Ours: the signing certificate is not enrolled.
pub fn signing_key_not_enrolled(cert: &Path) -> String {
    format!(
        "module signing key: not enrolled. Enrol it with: mokutil --import {} (then reboot and confirm in MokManager)",
        cert.display()
    )
}

/// Ours: the signing certificate waits for enrolment at the next reboot.
pub fn signing_key_pending(cert: &Path) -> String {
    format!(
        "module signing key: waits for enrolment at the next reboot ({}; confirm it in MokManager when it asks)",
        cert.display()
    )
}
