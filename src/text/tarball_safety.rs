//! Ours: why an archive given to ldtarball is refused before anything is
//! loaded (upstream unpacks archives as they are).

use std::path::Path;

/// Ours: the error (exit 9) for a hostile or malformed archive; `why` is
/// one of the reasons below.
pub fn unsafe_archive(archive: &Path, why: &str) -> Vec<String> {
    vec![
        format!("{} is not a safe DKMS tarball: {why}.", archive.display()),
        "Nothing was loaded.".to_string(),
    ]
}

/// Ours: the error (exit 9) for an archive whose dkms.conf names a package
/// or version that could escape the trees.
pub fn unsafe_conf_name(archive: &Path, what: &str, value: &str) -> Vec<String> {
    vec![
        format!(
            "{} is not a safe DKMS tarball: its dkms.conf has {what}=\"{}\".",
            archive.display(),
            value.escape_default()
        ),
        "Names must not be empty, contain '/', whitespace or control characters, be '.' or '..', or start with '-'.".to_string(),
    ]
}

/// Ours: the error (exit 9) when tar cannot be run.
pub fn cannot_run_tar(cause: &str) -> String {
    format!("Cannot run tar: {cause}")
}

/// Ours: the error (exit 9) when tar fails to unpack a checked archive.
pub fn cannot_extract(archive: &Path) -> String {
    format!("Unable to extract {}.", archive.display())
}

/// Ours: the error (exit 9) when the source tree's destination is a link.
pub fn source_dest_is_link(dest: &Path) -> String {
    format!(
        "{} is a symbolic link; refusing to copy the source into it.",
        dest.display()
    )
}

/// Ours: a reason: a tar listing line that cannot be parsed (`line` shown
/// quoted).
pub fn unreadable_listing(line: &str) -> String {
    format!("tar listed an entry this tool cannot read: {line}")
}

/// Ours: a reason: a prebuilt kernel/arch directory name that is not text.
pub fn kernel_dir_not_text(dir: &str) -> String {
    format!("the kernel/arch directory {dir} has an invalid name")
}

/// Ours: a reason: a prebuilt kernel/arch directory name that could
/// escape the trees.
pub fn kernel_dir_unsafe(name: &str) -> String {
    format!("the kernel/arch directory name {name} is not allowed")
}

/// Ours: a reason about one archive member (`name` shown quoted).
pub fn archive_entry(name: &str, why: &str) -> String {
    format!("entry {name} {why}")
}

/// Ours: why a member is refused: an absolute name.
pub const ENTRY_ABSOLUTE: &str = "is an absolute path";

/// Ours: why a member is refused: a `..` in its name.
pub const ENTRY_DOTDOT: &str = "contains a '..' component";

/// Ours: why a member is refused: a link to an absolute path.
pub fn entry_link_absolute(target: &str) -> String {
    format!("is a symbolic link to the absolute path {target}")
}

/// Ours: why a member is refused: a link leaving the archive.
pub fn entry_link_outside(target: &str) -> String {
    format!("is a symbolic link pointing outside the archive ({target})")
}

/// Ours: why a member is refused: a hard link.
pub fn entry_hard_link(target: &str) -> String {
    format!("is a hard link (to {target})")
}

/// Ours: why a member is refused: a character device.
pub const ENTRY_CHAR_DEVICE: &str = "is a character device";

/// Ours: why a member is refused: a block device.
pub const ENTRY_BLOCK_DEVICE: &str = "is a block device";

/// Ours: why a member is refused: a fifo.
pub const ENTRY_FIFO: &str = "is a fifo";

/// Ours: why a member is refused: a socket.
pub const ENTRY_SOCKET: &str = "is a socket";

/// Ours: why a member is refused: a type tar lists that is none of the
/// above (`kind` escaped).
pub fn entry_unsupported(kind: &str) -> String {
    format!("has the unsupported type '{kind}'")
}

/// Ours: why a member is refused: it would replace the archive's root.
pub const ENTRY_REPLACES_ROOT: &str = "replaces the archive root";

/// Ours: why a member is refused: it lies beneath a link in the archive.
pub fn entry_beneath_link(link: &str) -> String {
    format!("lies beneath the symbolic link {link}")
}

/// Ours: why a member is refused: a link listed more than once.
pub const ENTRY_LINK_REPEATED: &str = "is a symbolic link and appears more than once";

/// Ours: a reason: an unpacked file that cannot be inspected.
pub fn cannot_inspect(path: &str, cause: &str) -> String {
    format!("cannot inspect {path}: {cause}")
}

/// Ours: why an unpacked file is refused: a link leaving its directory.
pub fn entry_link_escapes(target: &str) -> String {
    format!("is a symbolic link pointing outside its directory ({target})")
}

/// Ours: why an unpacked file is refused: a device, fifo or socket.
pub const ENTRY_NOT_PLAIN: &str = "is not a regular file, directory or symbolic link";
