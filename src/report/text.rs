//! The user-visible strings. Upstream's are interface facts (scripts parse
//! them) and are spelled here exactly as upstream prints them; ours (the
//! hooks') are marked as such.

/// What `dkms --version` prints and make.log headers carry: the upstream
/// release this tool is a drop-in for (scripts compare it).
pub const RELEASE: &str = "dkms-3.4.3";

/// Upstream's usage text (`dkms --help`), with `$0` filled in.
pub fn usage(argv0: &str) -> String {
    format!(
        "Usage: {argv0} [action] [options]
  [action]  = {{ add | remove | build | unbuild | install | uninstall | match |
               autoinstall | mktarball | ldtarball | status | generate_mok |
               kernel_preinst | kernel_postinst | kernel_prerm }}
  [options] = [-m module] [-v module-version] [-k kernel-version] [-a arch]
              [-c dkms.conf-location] [-q] [--force] [--force-version-override] [--all]
              [--templatekernel=kernel] [--directive='cli-directive=cli-value']
              [--config=kernel-include/config/auto.conf-location] [--archive=tarball-location]
              [--kernelsourcedir=source-location] [--rpm_safe_upgrade]
              [--dkmstree path] [--sourcetree path] [--installtree path]
              [--binaries-only] [--source-only] [--verbose]
              [--no-depmod] [--modprobe-on-install] [-j number] [--version] [--help]
"
    )
}

/// "Arguments <module> and <module-version> are not specified." with
/// upstream's usage lines for `action`.
pub fn module_args_missing(action: &str) -> Vec<String> {
    vec![
        "Arguments <module> and <module-version> are not specified.".to_string(),
        format!("Usage: {action} <module>/<module-version> or"),
        format!("       {action} -m <module>/<module-version> or"),
        format!("       {action} -m <module> -v <module-version>"),
    ]
}

/// Ours: a name refused because it could escape the trees or reach a shell.
pub fn invalid_name(what: &str, s: &str) -> Vec<String> {
    vec![
        format!("Invalid {what} '{}'.", s.escape_default()),
        "Names must not be empty, contain '/', whitespace, control or shell characters, be '.' or '..', or start with '-' or '~'.".to_string(),
    ]
}

/// Upstream's "is broken!" lines.
pub fn broken(m: &str, v: &str) -> Vec<String> {
    vec![
        format!("{m}/{v} is broken!"),
        "Missing the source directory or the symbolic link pointing to it.".into(),
        "Manual intervention is required!".into(),
    ]
}

/// `Module m/v already built for kernel k (a), skip. ...`
pub fn already_built(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} already built for kernel {k} ({a}), skip. You may override by specifying --force.")
}

/// `Module m/v already installed on kernel k (a), skip. ...`
pub fn already_installed(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} already installed on kernel {k} ({a}), skip. You may override by specifying --force.")
}

/// `Module m/v is not installed for kernel k (a). Skipping...`
pub fn not_installed(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} is not installed for kernel {k} ({a}). Skipping...")
}

/// `Module m/v is not built for kernel k (a). Skipping...`
pub fn not_built(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} is not built for kernel {k} ({a}). Skipping...")
}

/// `Autoinstall of module m/v for kernel k (a)`
pub fn autoinstall_of(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Autoinstall of module {m}/{v} for kernel {k} ({a})")
}

/// Upstream's missing-headers error (exit 21).
pub fn no_headers(install_tree: &str, k: &str) -> Vec<String> {
    vec![
        format!("Your kernel headers for kernel {k} cannot be found at {install_tree}/{k}/build or {install_tree}/{k}/source."),
        format!("Please install your distribution's kernel headers package matching {k}, or use the --kernelsourcedir option to tell DKMS where it's located."),
    ]
}

/// Ours: the hook's one line for a kernel without headers.
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

/// Ours: autoinstall_failure=warn in effect.
pub const HOOK_FAILURE_WARN_ONLY: &str = "dkms-hook: some modules failed to build or install (see above); autoinstall_failure=warn keeps this package operation going.";
