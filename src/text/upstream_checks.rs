//! The checks upstream makes before an action (module and version given,
//! the module not broken, ...), and ours on names.

use std::path::Path;

/// Ours: a name refused because it could escape the trees or reach a shell
/// (upstream has no such check; the names become paths and shell words).
pub fn invalid_name(what: &str, s: &str) -> Vec<String> {
    vec![
        invalid_name_line(what, s),
        "Names must not be empty, contain '/', whitespace, control or shell characters, be '.' or '..', or start with '-' or '~'.".to_string(),
    ]
}

/// Upstream's `module_is_broken_and_die` lines: m/v "is broken!" (its
/// source or the link to it is missing).
pub fn broken(m: &str, v: &str) -> Vec<String> {
    vec![
        format!("{m}/{v} is broken!"),
        "Missing the source directory or the symbolic link pointing to it.".into(),
        "Manual intervention is required!".into(),
    ]
}

/// Ours: the first line of [`invalid_name`], alone where the rule is not
/// repeated (mktarball's kernels and arches).
pub fn invalid_name_line(what: &str, s: &str) -> String {
    format!("Invalid {what} '{}'.", s.escape_default())
}

/// Upstream's `check_root` failure (exit 1).
pub const MUST_BE_ROOT: &str = "You must be root to use this command.";

/// Upstream's `check_all_is_banned` failure (exit 5).
pub fn all_not_supported(action: &str) -> String {
    format!("The action {action} does not support the --all parameter.")
}

/// Upstream's `have_one_kernel` failure (exit 4) for the kernel_* actions.
pub fn one_kernel_required(action: &str) -> String {
    format!(
        "The action {action} requires exactly one kernel version parameter on the command line."
    )
}

/// Upstream's `have_one_kernel` failure (exit 4) for the other actions.
pub fn one_kernel_only(action: &str) -> String {
    format!("The action {action} does not support multiple kernel version parameters on the command line.")
}

/// Upstream's `module_is_added_or_die` failure (exit 3).
pub fn not_in_tree(m: &str, v: &str) -> String {
    format!("The module/version combo: {m}/{v} is not located in the DKMS tree.")
}

/// Upstream's `check_rw_dkms_tree` failure (exit 1).
pub fn no_write_access(dkms_tree: &Path) -> String {
    format!("No write access to DKMS tree at {}", dkms_tree.display())
}

/// Upstream's `setup_kernels_arches` failure (exit 16) for an empty
/// kernel version, `i` its index.
pub fn empty_kernelver(i: usize) -> String {
    format!("Empty kernelver[{i}]")
}

/// Upstream's `setup_kernels_arches` failure (exit 16) for an empty arch.
pub fn empty_arch(i: usize) -> String {
    format!("Empty arch[{i}]")
}

/// Ours: what [`invalid_name`] calls a kernel version.
pub const NAME_KERNEL_VERSION: &str = "kernel version";

/// Ours: what [`invalid_name`] calls an arch.
pub const NAME_ARCH: &str = "arch";

/// Ours: what [`invalid_name`] calls a module name.
pub const NAME_MODULE: &str = "module name";

/// Ours: what [`invalid_name`] calls a module version.
pub const NAME_MODULE_VERSION: &str = "module version name";

/// Ours (`--root`/`DKMS_ROOT`): the root named is not a directory.
pub fn root_missing(root: &str) -> String {
    format!("The root directory {root} does not exist.")
}

/// Upstream: neither /etc/os-release nor /usr/lib/os-release is readable.
pub const NO_OS_RELEASE: &str = "System is missing os-release file.";
