//! Ours: why an archive given to ldtarball is refused before anything is
//! loaded (upstream unpacks archives as they are).

use std::path::Path;

pub use crate::exec::msg::*;

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

/// Ours: the error (exit 9) when the program that decompresses an archive
/// cannot be started.
pub fn cannot_run_decompressor(program: &str, cause: &str) -> String {
    format!("Cannot run {program}: {cause}")
}

/// Ours: the line (stderr) before upstream's "not a DKMS archive" error
/// when the archive cannot be read as a (compressed) tar archive; `cause`
/// is the reader's or the decompressor's own words.
pub fn cannot_read_archive(archive: &Path, cause: &str) -> String {
    format!(
        "Cannot read {} as a tar archive: {cause}",
        archive.display()
    )
}

/// Ours: the error (exit 9) when a checked archive cannot be unpacked into
/// the private directory.
pub fn cannot_extract(archive: &Path, cause: &str) -> String {
    format!("Unable to extract {}: {cause}", archive.display())
}

/// Ours: the error (exit 9) when the source tree's destination is a link.
pub fn source_dest_is_link(dest: &Path) -> String {
    format!(
        "{} is a symbolic link; refusing to copy the source into it.",
        dest.display()
    )
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

/// Ours: why a member is refused: a type that is none of the above
/// (`kind` is the header's type byte, escaped).
pub fn entry_unsupported(kind: &str) -> String {
    format!("has the unsupported type '{kind}'")
}

/// Ours: why a member is refused: it would replace the archive's root.
pub const ENTRY_REPLACES_ROOT: &str = "replaces the archive root";

/// Ours: why a member is refused: it lies beneath a link in the archive.
pub fn entry_beneath_link(link: &str) -> String {
    format!("lies beneath the symbolic link {link}")
}

/// Ours: why a member is refused: it lies beneath a member that is a file.
pub fn entry_beneath_file(file: &str) -> String {
    format!("lies beneath {file}, which is not a directory")
}

/// Ours: why a member is refused: the same name given twice (not two
/// directories), so which one is unpacked would depend on the unpacker.
pub const ENTRY_DUPLICATE: &str = "appears more than once";

/// Ours: why a member is refused: a file with the setuid bit.
pub const ENTRY_SETUID: &str = "has the setuid bit set";

/// Ours: why a member is refused: a file with the setgid bit.
pub const ENTRY_SETGID: &str = "has the setgid bit set";

/// Ours: why a member is refused: a link that leaves the directory it is
/// loaded with (the source, or one kernel's prebuilt modules).
pub fn entry_link_escapes(target: &str) -> String {
    format!("is a symbolic link pointing outside its directory ({target})")
}

/// Ours: why a member is refused: its size.
pub fn entry_too_large(cap: u64) -> String {
    format!("is larger than {cap} bytes")
}

/// Ours: why a member is refused: its name or link target.
pub fn entry_name_too_long(cap: usize) -> String {
    format!("has a name or link target longer than {cap} bytes")
}

/// Ours: a reason: the members' sizes add up to too much.
pub fn archive_too_large(cap: u64) -> String {
    format!("its members add up to more than {cap} bytes")
}

/// Ours: a reason: too many members.
pub fn archive_too_many_members(cap: usize) -> String {
    format!("it has more than {cap} members")
}

/// Ours: a reason: a long name or extended header too large to hold.
pub fn archive_header_too_large(cap: u64) -> String {
    format!("a member's extended headers are larger than {cap} bytes")
}

/// Ours: a reason: the members' names and link targets add up to too much.
pub fn archive_names_too_large(cap: u64) -> String {
    format!("its member names and link targets add up to more than {cap} bytes")
}

/// Ours: a reason: symbolic links that take too long to resolve.
pub fn archive_links_too_complex(steps: u64) -> String {
    format!("its symbolic links take more than {steps} steps to resolve")
}

/// Ours: a reason: the private copy read differently the second time.
pub const ARCHIVE_CHANGED: &str = "it read differently while being unpacked";
