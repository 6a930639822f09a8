//! Putting a finished package (or index file) into its directory through
//! the tree-confined layer ([`crate::fs`]): written under a temporary name
//! next to its final one, synced, then renamed, so a reader of the
//! directory (an HTTP server, apt, rsync) sees the old file or the new one,
//! never half of one, and nothing is written outside `base` (the output
//! directory itself, or the dkms tree for `dkms mkbmdeb`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result};
use crate::exec::msg;
use crate::exec::Locked;

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::io(msg::CANNOT_WRITE_PACKAGE, path, e).into_kind(Kind::InstallFailed)
}

/// Write `data` as `dir/name` (beneath `base`) atomically, mode 0644.
pub fn bytes(lock: &Locked, base: &Path, dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf> {
    let dest = dir.join(name);
    lock.write_atomic(base, &dest, data, 0o644)
        .map_err(|e| io(&dest, e))?;
    Ok(dest)
}

/// Copy the file `from` to `dir/name` (beneath `base`) atomically.
pub fn file(lock: &Locked, from: &Path, base: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    let data = crate::fs::read_regular(from, 4 << 30).map_err(|e| io(from, e))?;
    bytes(lock, base, dir, name, &data)
}

/// Create `dir`, a directory the user named for packages (not a tree: no
/// lock guards it; its own lock is taken in it next), when missing.
// File operation outside crate::fs: a directory the user named for packages, not a tree.
#[allow(clippy::disallowed_methods)]
pub fn user_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))
}

/// Take the lock that serialises writers of a package directory or
/// repository the user named (the same lock code as the trees').
pub fn lock_dir(dir: &Path) -> Result<Locked> {
    let path = dir.join(crate::layout::PUBLISH_LOCK);
    Locked::acquire(&path, &mut |_| {})
        .map(|a| a.lock)
        .map_err(|e| e.into_kind(Kind::InstallFailed))
}

/// Create `dir` beneath `base` when missing (a directory inside the dkms
/// tree, e.g. `dkms mkbmdeb`'s `bmdeb/`, under the run's lock).
pub fn tree_dir(lock: &Locked, base: &Path, dir: &Path) -> Result<()> {
    lock.create_dir_all(base, dir, 0o755)
        .map_err(|e| io(dir, e))
}

/// The base a package written into `out` is confined to: the dkms tree
/// for a directory inside it, else `out` itself.
pub fn base_for(out: &Path, dkms_tree: &Path) -> PathBuf {
    if out.starts_with(dkms_tree) && out != dkms_tree {
        dkms_tree.to_path_buf()
    } else {
        out.to_path_buf()
    }
}
