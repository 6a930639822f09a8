//! Ours: the lines the hooks (`dkms-hook`) print that upstream has no
//! counterpart for.

/// Ours: the hook's one line for a kernel without headers (instead of
/// upstream's exit-21 error, which would fail the package operation).
pub fn hook_headers_deferred(k: &str, package: &str) -> String {
    format!("dkms-hook: kernel headers for {k} are not installed; module builds for {k} are deferred until {package} is installed.")
}

/// Ours: prune's line for a kernel that is gone.
pub fn hook_pruning(k: &str) -> String {
    format!("dkms-hook: kernel {k} is no longer installed; removing its module builds.")
}

/// Ours: the line after an error that does not fail a package operation.
pub const HOOK_ERROR_IGNORED: &str =
    "dkms-hook: the error above does not fail this package operation.";

/// Ours: the warning when autoinstall_failure=warn keeps a failed run from
/// failing the package operation.
pub const HOOK_FAILURE_WARN_ONLY: &str = "dkms-hook: some modules failed to build or install (see above); autoinstall_failure=warn keeps this package operation going.";

/// Ours: the error (exit 6) when the depmod put off to the end of a run
/// fails; the modules stay, and the next run tries depmod again.
pub fn depmod_failed(kernels: &[String]) -> String {
    format!(
        "depmod failed for kernel(s) {}: the modules are in place, but modprobe will not find them until depmod succeeds (it is tried again on the next run).",
        kernels.join(" ")
    )
}

/// Ours: the hooks' warning when framework.conf's parallel_jobs is above
/// the most they run at once.
pub fn jobs_clamped(max: usize) -> String {
    format!("parallel_jobs is larger than {max}; using {max}.")
}

/// Ours: `dkms-hook prune` when no kernel is gone.
pub const NOTHING_TO_PRUNE: &str = "Nothing to prune.";

/// Ours: `dkms-hook prune --dry-run`'s line for each build it would remove.
pub fn would_prune(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Would remove {m}/{v} for kernel {k} ({a})")
}

/// Ours: the error when a deferral cannot be written to the queue.
pub fn cannot_record_pending(k: &str, cause: &str) -> String {
    format!("cannot record pending work for {k}: {cause}")
}

/// Ours: the error when a parallel build cannot get a jobserver slot.
pub fn no_jobserver_token(cause: &str) -> String {
    format!("Cannot take a jobserver token: {cause}")
}

/// Ours: the summary's loud line when a failure record cannot be written.
pub fn failure_not_recorded(
    m: &str,
    v: &str,
    k: &str,
    path: &std::path::Path,
    cause: &str,
) -> String {
    format!(
        "dkms-hook: WARNING: could not record the failure of {m}/{v} for {k} in {}: {cause}; `dkms-hook pending` will not show it",
        path.display(),
    )
}

/// Ours: the summary's loud line when a BUILD_DEPENDS deferral cannot be
/// written.
pub fn deferral_not_recorded(m: &str, k: &str, path: &std::path::Path, cause: &str) -> String {
    format!(
        "dkms-hook: WARNING: could not record that {m} for {k} waits for its BUILD_DEPENDS in {}: {cause}; `dkms-hook pending` will not show it",
        path.display(),
    )
}

/// Ours: why a module failed whose BUILD_DEPENDS form a cycle
/// (`cycle` is `[m, .., m]`).
pub fn build_depends_cycle(cycle: &[String]) -> String {
    format!("BUILD_DEPENDS cycle: {}", cycle.join(" -> "))
}

/// Ours: why a module failed whose registered BUILD_DEPENDS did not get
/// installed, each dependency with what became of it.
pub fn build_depends_not_installed(deps: &[(String, &str)]) -> String {
    let each: Vec<String> = deps.iter().map(|(d, why)| format!("{d} ({why})")).collect();
    format!("BUILD_DEPENDS not installed: {}", each.join(", "))
}

/// Ours: a BUILD_DEPENDS that failed in the same run.
pub const DEP_FAILED: &str = "failed";

/// Ours: a BUILD_DEPENDS that is registered but not AUTOINSTALL=yes and
/// not installed.
pub const DEP_NOT_AUTOINSTALL: &str = "not installed, and not AUTOINSTALL";

/// Ours: a BUILD_DEPENDS that itself waits for its own dependencies.
pub const DEP_WAITING: &str = "waits for its own BUILD_DEPENDS";

/// Ours: the hooks' error (exit 8 for the module) for a dkms.conf that
/// names no module: upstream builds it and installs nothing, with only
/// `dkms.conf: Warning! Zero modules specified.`
pub fn zero_modules_in_hook(m: &str, v: &str, k: &str) -> String {
    format!("{m}/{v}: dkms.conf names no module to build (BUILT_MODULE_NAME and DEST_MODULE_LOCATION are empty); nothing would be installed for {k}.")
}

/// Ours: `dkms-hook autoinstall -k K` for a kernel that is not installed
/// (exit 2).
pub fn kernel_not_installed(k: &str, lib: &std::path::Path, image: &std::path::Path) -> String {
    format!(
        "kernel {k} is not installed (no {} and no {}).",
        lib.display(),
        image.display()
    )
}

/// Ours: the note when the running kernel, which the event concerns
/// without the user naming it, is not installed where this run looks
/// (`root`: the `--root` directory, if any).
pub fn running_kernel_absent(
    k: &str,
    lib: &std::path::Path,
    root: Option<&std::path::Path>,
) -> String {
    match root {
        Some(r) => format!(
            "dkms-hook: note: the running kernel {k} is not installed in {} (no {}); nothing to do for it.",
            r.display(),
            lib.display()
        ),
        None => format!(
            "dkms-hook: note: the running kernel {k} is not installed (no {}); nothing to do for it.",
            lib.display()
        ),
    }
}
