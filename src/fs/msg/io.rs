//! Ours: failures of file operations upstream leaves to `cp` and friends.

use std::path::Path;

/// Ours: a source tree that could not be copied; `cause` is the OS error.
pub fn cannot_copy(from: &Path, to: &Path, cause: &str) -> String {
    format!(
        "Cannot copy {} to {}: {cause}.",
        from.display(),
        to.display()
    )
}

// What failed, as the start of an I/O error: `Error::io` adds the path and
// the OS's reason (`Cannot create /var/lib/dkms/m: Permission denied`).

/// Ours: creating a directory or file failed.
pub const CANNOT_CREATE: &str = "Cannot create";

/// Ours: creating a symbolic link failed.
pub const CANNOT_CREATE_SYMLINK: &str = "Cannot create symlink";

/// Ours: switching a module's kernel link failed.
pub const CANNOT_CREATE_LINK: &str = "Cannot create link";

/// Ours: reading a file or directory failed.
pub const CANNOT_READ: &str = "Cannot read";

/// Ours: writing a file failed.
pub const CANNOT_WRITE: &str = "Cannot write";

/// Ours: removing a file or directory failed.
pub const CANNOT_REMOVE: &str = "Cannot remove";

/// Ours: inspecting a file failed.
pub const CANNOT_STAT: &str = "Cannot stat";

/// Ours: copying a file failed (the destination follows).
pub const CANNOT_COPY_TO: &str = "Cannot copy to";

/// Ours: copying a tree failed: `Cannot copy <from> to` (the destination
/// follows).
pub fn cannot_copy_from(from: &Path) -> String {
    format!("Cannot copy {} to", from.display())
}

/// Ours: replacing a link by a copy of its target failed.
pub const CANNOT_COPY_TARGET: &str = "Cannot copy the target of";

/// Ours: archiving the kernel's own module failed.
pub const CANNOT_ARCHIVE_TO: &str = "Cannot archive to";

/// Ours: moving a colliding module aside failed.
pub const CANNOT_MOVE: &str = "Cannot move";

/// Ours: placing a module into the kernel's tree failed.
pub const CANNOT_PLACE: &str = "Cannot place";

/// Ours: handing a build directory over (or back) failed: its mode.
pub const CANNOT_CHANGE_MODE: &str = "Cannot change the mode of";

/// Ours: handing a build directory over (or back) failed: its owner.
pub const CANNOT_CHANGE_OWNER: &str = "Cannot change the owner of";

/// Ours: making a build's temporary directory failed.
pub const NO_TEMP_DIR_IN: &str = "Unable to make temporary directory in";

/// Ours (the tree-confined fs layer): a path that is not below its tree.
pub fn path_outside(path: &Path, base: &Path) -> String {
    format!("{} is outside {}", path.display(), base.display())
}

/// Ours: a path whose `..` would climb out of its tree.
pub fn path_leaves(path: &Path, base: &Path) -> String {
    format!("{} leaves {}", path.display(), base.display())
}

/// Ours: an operation on an entry was given its tree's own root.
pub fn path_is_the_tree(path: &Path) -> String {
    format!("{} names the tree itself", path.display())
}

/// What stands where a regular file was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRegular {
    /// A named pipe: reading it could block for ever.
    Fifo,
    /// A character or block device: reading it could never end.
    Device,
    /// A Unix socket.
    Socket,
    /// A directory or anything else.
    Other,
}

/// Ours: a file to be read is not a regular file.
pub fn not_regular(path: &Path, what: NotRegular) -> String {
    let what = match what {
        NotRegular::Fifo => "is a FIFO, not a regular file",
        NotRegular::Device => "is a device, not a regular file",
        NotRegular::Socket => "is a socket, not a regular file",
        NotRegular::Other => "is not a regular file",
    };
    format!("{} {what}", path.display())
}

/// Ours: a file to be read is over its size cap.
pub fn too_large(path: &Path, cap: u64) -> String {
    format!("{} is larger than {cap} bytes", path.display())
}

/// Ours: a file copied across filesystems differs from its source.
pub fn not_read_back(path: &Path) -> String {
    format!("{} does not read back as written", path.display())
}
