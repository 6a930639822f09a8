//! The write half of this module, as methods of [`Locked`]: the only way to
//! change a tree is through the lock guard, so a function that writes
//! without holding the lock does not compile. Each method is the confined
//! operation of the same name (see the module's documentation): `base` is
//! the tree the path must stay under, paths are absolute host paths.

use std::fs::File;
use std::io;
use std::path::Path;

use super::{copy, remove, write, Locked};

impl Locked {
    /// `mkdir -p path` beneath `base` (new directories get `mode`, less the
    /// umask); a symlink on the way is an error, never followed.
    pub fn create_dir_all(&self, base: &Path, path: &Path, mode: u32) -> io::Result<()> {
        write::create_dir_all(base, path, mode)
    }

    /// Replace `path` with `data` atomically (readers see the old content or
    /// the new one), mode `mode`.
    pub fn write_atomic(&self, base: &Path, path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
        self.remove_stale_temps(base, path);
        write::write_atomic(base, path, data, mode)
    }

    /// Remove the temporary files an interrupted atomic write of `path`
    /// left next to it (`.<name>.dkms-<pid>-<n>`, see `write::temp_name`).
    /// Every writer holds this lock, so none of them is being written now;
    /// clearing them before `path` is written again means a kill -9 during
    /// a write leaves nothing behind once the work is redone. One that
    /// cannot go is harmless (readers skip dot-files) and tried next time.
    fn remove_stale_temps(&self, base: &Path, path: &Path) {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return;
        };
        let prefix = format!(".{}{}", name.to_string_lossy(), crate::layout::PLACING);
        for n in super::read::list_names(dir) {
            if n.starts_with(&prefix) {
                // Harmless when it stays (see above).
                let _ = remove::remove_file(base, &dir.join(n));
            }
        }
    }

    /// Append `data` to `path` (created 0644 if missing; never through a
    /// symlink, never into a FIFO or device).
    pub fn append(&self, base: &Path, path: &Path, data: &[u8]) -> io::Result<()> {
        write::append(base, path, data)
    }

    /// Open `path` for writing (created 0644 if missing, never through a
    /// symlink): emptied first with `truncate`, else appended to.
    pub fn create_file(&self, base: &Path, path: &Path, truncate: bool) -> io::Result<File> {
        write::create_file(base, path, truncate)
    }

    /// Put a copy of `from` (a file anywhere, or with `symlink` the link
    /// itself) at `to` atomically.
    pub fn place_atomically(
        &self,
        base: &Path,
        from: &Path,
        to: &Path,
        symlink: bool,
    ) -> io::Result<()> {
        self.remove_stale_temps(base, to);
        write::place_atomically(base, from, to, symlink)
    }

    /// Make `link` a symlink to `target`, replacing what is there atomically.
    pub fn replace_symlink(&self, base: &Path, target: &Path, link: &Path) -> io::Result<()> {
        write::replace_symlink(base, target, link)
    }

    /// Rename `from` to `to`, both beneath `base`.
    pub fn rename(&self, base: &Path, from: &Path, to: &Path) -> io::Result<()> {
        write::rename(base, from, to)
    }

    /// Swap `a` and `b` atomically (RENAME_EXCHANGE).
    pub fn exchange(&self, base: &Path, a: &Path, b: &Path) -> io::Result<()> {
        write::exchange(base, a, b)
    }

    /// Move `from` (beneath `from_base`) to `to` (beneath `to_base`), across
    /// filesystems by a verified copy before the source goes.
    pub fn move_verified(
        &self,
        from_base: &Path,
        from: &Path,
        to_base: &Path,
        to: &Path,
    ) -> io::Result<()> {
        write::move_verified(from_base, from, to_base, to)
    }

    /// Change the owner of `path` itself (a symlink's own, never its
    /// target's).
    pub fn set_owner(&self, base: &Path, path: &Path, uid: u32, gid: u32) -> io::Result<()> {
        write::set_owner(base, path, uid, gid)
    }

    /// Change the permission bits of `path` (never through a symlink).
    pub fn set_mode(&self, base: &Path, path: &Path, mode: u32) -> io::Result<()> {
        write::set_mode(base, path, mode)
    }

    /// Copy the tree `from` (anywhere) to `to` beneath `base`.
    pub fn copy_tree(&self, from: &Path, base: &Path, to: &Path) -> io::Result<()> {
        copy::copy_tree(from, base, to)
    }

    /// Copy the file `from` (anywhere) to `to` beneath `base`.
    pub fn copy_file_into(&self, from: &Path, base: &Path, to: &Path) -> io::Result<()> {
        copy::copy_file_into(from, base, to)
    }

    /// `rm -rf path` beneath `base` (links are removed, never followed).
    pub fn remove_all(&self, base: &Path, path: &Path) -> io::Result<()> {
        remove::remove_all(base, path)
    }

    /// Remove the file (or symlink) `path`.
    pub fn remove_file(&self, base: &Path, path: &Path) -> io::Result<()> {
        remove::remove_file(base, path)
    }

    /// Remove the empty directory `path`.
    pub fn rmdir(&self, base: &Path, path: &Path) -> io::Result<()> {
        remove::rmdir(base, path)
    }

    /// Remove the empty directories under `dir` (depth first).
    pub fn remove_empty_dirs(&self, base: &Path, dir: &Path) {
        remove::remove_empty_dirs(base, dir)
    }

    /// Remove `dir` and its parents while they are empty, up to `stop`.
    pub fn remove_empty_parents(&self, base: &Path, dir: &Path, stop: &Path) {
        remove::remove_empty_parents(base, dir, stop)
    }

    /// Create the new regular file `path` (mode `mode`, less the umask) and
    /// open it for writing; anything already there is an error.
    pub fn create_new(&self, base: &Path, path: &Path, mode: u32) -> io::Result<File> {
        write::create_new(base, path, mode)
    }

    /// Create the new symlink `link` to `target`; anything already there is
    /// an error, never replaced.
    pub fn symlink(&self, base: &Path, target: &Path, link: &Path) -> io::Result<()> {
        write::symlink(base, target, link)
    }

    /// Give directory `path` `mode` and modification time `mtime`.
    pub fn set_dir_mode_and_mtime(
        &self,
        base: &Path,
        path: &Path,
        mode: u32,
        mtime: i64,
    ) -> io::Result<()> {
        write::set_dir_mode_and_mtime(base, path, mode, mtime)
    }

    /// Copy the tree `from` over `to` beneath `base`, replacing what is there.
    pub fn copy_tree_replacing(&self, from: &Path, base: &Path, to: &Path) -> io::Result<()> {
        copy::copy_tree_replacing(from, base, to)
    }
}
