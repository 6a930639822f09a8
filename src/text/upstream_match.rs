//! Upstream's text for `dkms match`.

/// Upstream's error (exit 1) without `--templatekernel`.
pub const MATCH_USAGE: [&str; 3] = [
    "Invalid number of parameters passed.",
    "Usage: match --templatekernel=<kernel-version> -k <kernel-version>",
    "   or: match --templatekernel=<kernel-version> -k <kernel-version> <module>",
];

/// Upstream's error (exit 2) when template and kernel are the same.
pub const MATCH_SAME_KERNEL: &str =
    "The templatekernel and the specified kernel version are the same.";

/// Upstream's error (exit 3) for a module that is not in the tree.
pub fn match_module_not_in_tree(m: &str) -> String {
    format!("The module: {m} is not located in the DKMS tree.")
}

/// Upstream's first heading line: the kernel to install for.
pub fn matching_kernel(k: &str, a: &str) -> String {
    format!("Matching modules in kernel: {k} ({a})")
}

/// Upstream's second heading line: the template kernel.
pub fn matching_template(t: &str, a: &str) -> String {
    format!("to the configuration of kernel: {t} ({a})")
}

/// Upstream's line when the template kernel has nothing installed.
pub const MATCH_NOTHING: &str = "There is nothing to be done for this match.";

/// Upstream's line naming each module matched.
pub fn match_module(m: &str) -> String {
    format!("Module:  {m}")
}

/// Upstream's line naming its version.
pub fn match_version(v: &str) -> String {
    format!("Version: {v}")
}
