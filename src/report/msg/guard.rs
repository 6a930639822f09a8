//! Ours: the boot guard's lines (a kernel that lacks a critical module is
//! kept from booting next) and `dkms-hook critical`'s.

use std::path::Path;

/// Ours: why a module is critical: the setting in this file.
pub fn critical_by_setting(file: &Path) -> String {
    if file.as_os_str().is_empty() {
        "named in critical_modules".to_string()
    } else {
        format!("named in critical_modules in {}", file.display())
    }
}

/// Ours: why a module is critical: it provides a mounted file system.
pub fn critical_by_filesystem(fstype: &str, at: &str) -> String {
    format!("the {fstype} file system mounted on {at} needs it")
}

/// Ours: why a module is critical: it is loaded now.
pub fn critical_by_loading(kmod: &str) -> String {
    format!("its kernel module {kmod} is loaded now")
}

/// Ours: no loader was found.
pub const NO_LOADER: &str = "no boot loader this tool can set was found (no /boot/grub/grub.cfg, /boot/grub2/grub.cfg or BLS loader entries)";

/// Ours: no kernel has every critical module.
pub fn no_safe_kernel(modules: &[String]) -> String {
    format!(
        "no other installed kernel has every critical module ({}) installed",
        modules.join(" ")
    )
}

/// Ours: the kernel to boot has no entry in the loader's menu.
pub fn no_boot_entry(k: &str) -> String {
    format!("the boot menu has no entry for {k}, the kernel that has every critical module")
}

/// Ours: grubenv's `next_entry`, named for people.
pub fn grub_next_entry(file: &Path) -> String {
    format!(
        "GRUB's next_entry in {} (as grub-reboot sets it; set again at each boot while a guard stands)",
        file.display()
    )
}

/// Ours: grubenv's `saved_entry`, named for people.
pub fn grub_saved_entry(file: &Path) -> String {
    format!(
        "GRUB's saved_entry in {} (GRUB_DEFAULT=saved)",
        file.display()
    )
}

/// Ours: loader.conf's `default`, named for people.
pub fn loader_conf_default(file: &Path) -> String {
    format!("the default entry of {}", file.display())
}

/// Ours: the EFI variable `bootctl set-default` sets, named for people.
pub const EFI_DEFAULT: &str = "the LoaderEntryDefault EFI variable (bootctl set-default)";

/// Ours: a critical module is missing on kernel k.
pub fn guard_set(k: &str, m: &str, what: &str, why: &str) -> String {
    format!(
        "dkms-hook: GUARD: {k} must not be booted next: the critical module {m} {what} ({why})."
    )
}

/// Ours: the next boot goes to a safe kernel.
pub fn guard_points(safe: &str, entry: &str, setting: &str) -> String {
    format!("dkms-hook: GUARD: the next boot stays on {safe}: boot entry {entry} set in {setting}.")
}

/// Ours: the setting already pointed at the safe kernel.
pub fn guard_still_points(safe: &str, entry: &str, setting: &str) -> String {
    format!("dkms-hook: GUARD: the next boot stays on {safe} (boot entry {entry} in {setting}).")
}

/// Ours: the boot entry was not changed.
pub fn guard_unchanged(why: &str, kernels: &[String]) -> String {
    format!(
        "dkms-hook: GUARD: the boot entry was NOT changed: {why}. Do not boot {} until the module is fixed.",
        kernels.join(" or ")
    )
}

/// Ours: how a guard goes away.
pub fn guard_how_lifted(k: &str, root_opt: &str) -> String {
    format!("dkms-hook: GUARD: the guard of {k} is lifted by itself once every critical module is installed for it (when its headers arrive, or after fixing the module: dkms-hook{root_opt} autoinstall -k {k}); dkms-hook{root_opt} pending lists it meanwhile.")
}

/// Ours: what happened to a guarded module: its build failed.
pub fn guard_what_failed(code: i32) -> String {
    format!("failed to build or install (exit {code})")
}

/// Ours: what happened to a guarded module: it waits for BUILD_DEPENDS.
pub fn guard_what_deferred(deps: &[String]) -> String {
    format!("waits for its BUILD_DEPENDS ({})", deps.join(" "))
}

/// Ours: what happened to a guarded module: the kernel has no headers.
pub fn guard_what_no_headers(package: &str) -> String {
    format!("is not built: the kernel headers are missing (install {package})")
}

/// Ours: a guard was lifted.
pub fn guard_lifted(k: &str) -> String {
    format!("dkms-hook: guard lifted: every critical module is installed for {k} now; it may boot.")
}

/// Ours: a guard of a kernel that is gone.
pub fn guard_dropped(k: &str) -> String {
    format!("dkms-hook: guard of {k} dropped: the kernel is no longer installed.")
}

/// Ours: the setting is back to what it was.
pub fn guard_restored(setting: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => format!("dkms-hook: the boot entry is back to what it was: {v} in {setting}."),
        None => format!("dkms-hook: the boot entry is back to what it was: unset in {setting}."),
    }
}

/// Ours: the setting was changed by someone else since.
pub fn guard_left_alone(setting: &str) -> String {
    format!("dkms-hook: {setting} was changed since the guard set it; it is left as it is.")
}

/// Ours: a loader setting could not be written.
pub fn guard_write_failed(setting: &str, cause: &str) -> String {
    format!("dkms-hook: GUARD: could not write {setting}: {cause}")
}

/// Ours: the guard's record could not be written.
pub fn guard_not_recorded(k: &str, path: &Path, cause: &str) -> String {
    format!(
        "dkms-hook: WARNING: could not record the guard of {k} in {}: {cause}",
        path.display()
    )
}

/// Ours: the environment block would not fit.
pub const GRUBENV_FULL: &str = "the GRUB environment block would exceed 1024 bytes";

/// Ours: the boot unit's line when the running kernel is guarded.
pub fn booted_guarded(k: &str, modules: &str) -> String {
    format!("dkms-hook: WARNING: this machine was booted into {k}, which the boot guard keeps from booting: the critical module(s) {modules} are not installed for it.")
}

/// Ours: `pending`'s and `doctor`'s line for a guarded kernel.
pub fn pending_guarded(k: &str, a: &str, m: &str, what: &str, why: &str) -> String {
    format!("{k} ({a}): guarded, not to be booted: critical module {m} {what} ({why})")
}

/// Ours: `pending`'s and `doctor`'s line for the loader setting the guard
/// changed.
pub fn pending_boot_change(setting: &str, kernel: &str, entry: &str) -> String {
    format!("boot entry: {setting} points at {kernel} ({entry}) while a guard stands")
}

/// Ours: a hook's line when modules that are not critical failed and the
/// package operation goes on.
pub fn not_critical_goes_on(modules: &[String]) -> String {
    format!(
        "dkms-hook: {} failed (see above) but no critical module did: this package operation goes on (exit 0). To fail it instead set autoinstall_failure=strict in /etc/dkms/framework.conf; to guard the boot on a module: dkms-hook critical add MODULE",
        modules.join(", ")
    )
}

/// Ours: a hook's line when a critical module failed and the package
/// operation goes on, guarded.
pub const CRITICAL_GOES_ON: &str = "dkms-hook: a critical module failed (see GUARD above): this package operation goes on (exit 0), and the boot guard keeps the machine off the kernel that lacks it.";

/// Ours: `critical list` when nothing is critical.
pub const NO_CRITICAL: &str = "No module is critical. Mark one with: dkms-hook critical add MODULE";

/// Ours: `critical list`'s line for one module.
pub fn critical_line(m: &str, registered: bool, why: &str) -> String {
    if registered {
        format!("{m}: critical: {why}")
    } else {
        format!("{m}: critical: {why} (not registered with DKMS)")
    }
}

/// Ours: `critical add` / `remove` wrote the setting.
pub fn critical_written(file: &Path, value: &str) -> String {
    format!("critical_modules=\"{value}\" written to {}", file.display())
}

/// Ours: `critical remove` of a module that only the running system makes
/// critical.
pub fn critical_still(m: &str, why: &str) -> String {
    format!("{m} stays critical: {why}")
}

/// Ours: a framework file read after ours sets the variable too.
pub fn critical_overridden(file: &Path) -> String {
    format!(
        "{} sets critical_modules too and is read later, so a change here would not take effect; change it there.",
        file.display()
    )
}

/// Ours: a name that cannot be a module name.
pub fn critical_bad_name(m: &str) -> String {
    format!("{m:?} is not a module name.")
}

/// Ours: the file `critical add|remove` writes.
pub fn critical_conf_file(value: &str) -> String {
    format!(
        "# Written by dkms-hook critical add|remove: the DKMS modules this machine\n\
         # cannot live without. A kernel that lacks one is kept from booting next\n\
         # (see dkms-hook(8), CRITICAL MODULES).\n\
         critical_modules=\"{value}\"\n"
    )
}

/// Ours: a module that failed in a hook run, for the closing line.
pub fn failed_module(m: &str, v: &str, k: &str) -> String {
    if v.is_empty() {
        format!("{m} for {k}")
    } else {
        format!("{m}/{v} for {k}")
    }
}
