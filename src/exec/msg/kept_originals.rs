//! Ours: archived originals that could not be put back are kept, and the
//! user is told where (upstream would delete them).

use std::path::Path;

/// Ours: the warning after an uninstall that kept some originals.
pub fn originals_kept(orig_dir: &Path) -> String {
    format!(
        "Original module(s) that could not be put back are kept in {}.",
        orig_dir.display()
    )
}

/// Ours: the error (exit 1) when an original cannot be moved back;
/// `cause` is the OS error.
pub fn cannot_restore_original(
    module: &Path,
    dest: &Path,
    cause: &str,
    orig_dir: &Path,
) -> Vec<String> {
    vec![
        format!(
            "Cannot restore the archived original module {} to {}: {cause}.",
            module.display(),
            dest.display()
        ),
        format!(
            "It stays archived in {}; nothing was removed.",
            orig_dir.display()
        ),
    ]
}

/// Ours: an archived original that is not a regular file (a FIFO, a
/// socket, a device) is not moved into the kernel's tree, where modprobe
/// would block on it or read a device.
pub fn original_not_a_file(module: &Path, what: crate::fs::msg::NotRegular) -> String {
    format!(
        "{}, so it was not restored",
        crate::fs::msg::not_regular(module, what)
    )
}

/// Ours: what stands at an installed module's path is not a regular file:
/// it is not ours, and uninstall leaves it alone.
pub fn special_left(path: &Path, what: crate::fs::msg::NotRegular) -> String {
    format!(
        "{}; it is not a module file and was left where it is",
        crate::fs::msg::not_regular(path, what)
    )
}
