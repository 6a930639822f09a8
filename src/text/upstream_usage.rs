//! Upstream's usage text: `dkms --help`, and the usage lines some errors
//! carry.

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

/// Upstream's `check_module_args` failure: `Arguments <module> and
/// <module-version> are not specified.` with the usage lines for `action`.
pub fn module_args_missing(action: &str) -> Vec<String> {
    vec![
        "Arguments <module> and <module-version> are not specified.".to_string(),
        format!("Usage: {action} <module>/<module-version> or"),
        format!("       {action} -m <module>/<module-version> or"),
        format!("       {action} -m <module> -v <module-version>"),
    ]
}

/// Upstream's frame of every error on stderr (`\nError! ` before the
/// first line).
pub const ERROR_PREFIX: &str = "\nError! ";

/// Upstream's frame of a warning that ends a run (`Warning: `).
pub const WARNING_PREFIX: &str = "Warning: ";
