//! Upstream's text for `dkms autoinstall` (and `kernel_postinst`), the
//! rebuild of dependent modules, and kernel_preinst/prerm's failure.

use super::each_after_space;

/// Upstream's line before each module autoinstall tries:
/// `Autoinstall of module m/v for kernel k (a)`
pub fn autoinstall_of(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Autoinstall of module {m}/{v} for kernel {k} ({a})")
}

/// Upstream's line when framework.conf turns autoinstall off.
pub const AUTOINSTALL_DISABLED: &str = "Automatic installation of modules has been disabled.";

/// Upstream's error (shown, autoinstall goes on) for a broken module.
pub fn autoinstall_broken(m: &str, v: &str) -> Vec<String> {
    vec![
        format!(
            "{m}/{v} is broken! Missing the source directory or the symbolic link pointing to it."
        ),
        "Manual intervention is required!".into(),
    ]
}

/// Upstream's closing line naming the modules installed.
pub fn autoinstall_succeeded(k: &str, modules: &[String]) -> String {
    format!(
        "Autoinstall on {k} succeeded for module(s) {}.",
        modules.join(" ")
    )
}

/// Upstream's closing line naming the modules BUILD_EXCLUSIVE ruled out.
pub fn autoinstall_skipped(k: &str, modules: &[String]) -> String {
    format!(
        "Autoinstall on {k} was skipped for module(s) {}.",
        modules.join(" ")
    )
}

/// Upstream's way of naming a failed module: `name(exit status)`.
pub fn with_status(module: &str, code: i32) -> String {
    format!("{module}({code})")
}

/// Upstream's closing line naming the modules that failed (each
/// [`with_status`]).
pub fn autoinstall_failed(k: &str, failed: &[String]) -> String {
    format!(
        "Autoinstall on {k} failed for module(s) {}.",
        failed.join(" ")
    )
}

/// Upstream's line for a module whose registered BUILD_DEPENDS did not
/// get installed.
pub fn missing_dependencies<S: AsRef<str>>(m: &str, v: &str, deps: &[S]) -> String {
    format!(
        "{m}/{v} autoinstall failed due to missing dependencies:{}.",
        each_after_space(deps)
    )
}

/// Upstream's line for a module waiting for BUILD_DEPENDS that are not
/// registered with DKMS.
pub fn deferred_unregistered<S: AsRef<str>>(m: &str, v: &str, deps: &[S]) -> String {
    format!(
        "{m}/{v} autoinstall deferred: BUILD_DEPENDS not registered with DKMS:{}.",
        each_after_space(deps)
    )
}

/// Upstream's closing line naming the deferred modules (`m/v` each).
pub fn autoinstall_deferred(k: &str, modules: &[String]) -> String {
    format!(
        "Autoinstall on {k} deferred module(s) {} due to BUILD_DEPENDS not yet registered with DKMS.",
        modules.join(" ")
    )
}

/// Upstream's line after [`autoinstall_deferred`].
pub const DEFERRED_RETRY: &str = "These may be provided externally or by a package not yet configured; autoinstall will retry on the next trigger.";

/// Upstream's error (exit 11) closing a failed autoinstall.
pub const AUTOINSTALL_FAILED: [&str; 2] = [
    "One or more modules failed to install during autoinstall.",
    "Refer to previous errors for more information.",
];

/// Upstream's error (exit 14) closing a failed kernel_preinst or
/// kernel_prerm (`action`); `failed` are [`with_status`] names.
pub fn kernel_removal_failed(action: &str, k: &str, a: &str, failed: &[String]) -> String {
    format!(
        "dkms {action} for kernel {k} ({a}) failed for module(s){}.",
        each_after_space(failed)
    )
}

/// Upstream's line before a module is rebuilt because a module it
/// depends on was.
pub fn rebuilding_for_dependencies(m: &str, v: &str) -> String {
    format!("Rebuilding module {m}/{v} due to updated dependencies")
}

/// Upstream's line before the modules left in a dependency cycle.
pub const DEPENDENCY_CYCLES: &str =
    "Warning: The following modules could not be rebuilt due to dependency cycles:";

/// Upstream's line for each module of a dependency cycle.
pub fn cycle_member(m: &str, v: &str) -> String {
    format!("  {m}/{v}")
}
