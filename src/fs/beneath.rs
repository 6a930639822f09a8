//! Resolving a path beneath a tree without ever leaving it: the one place
//! where a path under one of the trees becomes a directory handle.
//!
//! The tree's own directory (e.g. `/var/lib/dkms`) is opened as given, so an
//! administrator may point it anywhere with a symlink. Below it, no symlink
//! is followed and no `..` is accepted: `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` where the kernel has it (Linux 5.6+), otherwise a
//! walk that opens one component at a time with `O_NOFOLLOW`. A planted
//! symlink anywhere on the way is refused with `ELOOP`, so nothing written
//! or deleted through this module can land outside the tree.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use rustix::fs::{openat, openat2, Mode, OFlags, ResolveFlags, CWD};

use crate::fs::msg;

/// A directory handle beneath a tree and the name of an entry in it.
pub struct Entry {
    /// The directory holding the entry (an `O_PATH` handle).
    pub dir: OwnedFd,
    /// The entry's name (one component).
    pub name: std::ffi::OsString,
}

/// `path`'s components below `base`; an error for a path outside `base` or
/// one that has `.`/`..` in it.
pub fn relative<'a>(base: &Path, path: &'a Path) -> io::Result<Vec<&'a OsStr>> {
    let rel = path.strip_prefix(base).map_err(|_| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            msg::path_outside(path, base),
        )
    })?;
    let mut out = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    msg::path_leaves(path, base),
                ))
            }
        }
    }
    Ok(out)
}

/// Open the tree's own directory (following links: it is configuration).
pub fn open_base(base: &Path) -> io::Result<OwnedFd> {
    Ok(openat(
        CWD,
        base,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Open directory `parts` below `base_fd` without following any symlink.
pub fn open_dir(base_fd: &OwnedFd, parts: &[&OsStr]) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    if parts.is_empty() {
        return Ok(rustix::io::dup(base_fd)?);
    }
    let joined: std::path::PathBuf = parts.iter().collect();
    match openat2(
        base_fd,
        &joined,
        flags,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => Ok(fd),
        Err(e) if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM => {
            walk(base_fd, parts, flags)
        }
        Err(e) => Err(e.into()),
    }
}

/// The fallback for kernels without `openat2`: one component at a time.
fn walk(base_fd: &OwnedFd, parts: &[&OsStr], flags: OFlags) -> io::Result<OwnedFd> {
    let mut fd = rustix::io::dup(base_fd)?;
    for p in parts {
        fd = openat(&fd, *p, flags, Mode::empty())?;
    }
    Ok(fd)
}

/// The directory holding `path` (beneath `base`) and `path`'s last name.
pub fn parent(base: &Path, path: &Path) -> io::Result<Entry> {
    let parts = relative(base, path)?;
    let Some((name, dirs)) = parts.split_last() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            msg::path_is_the_tree(path),
        ));
    };
    let base_fd = open_base(base)?;
    Ok(Entry {
        dir: open_dir(&base_fd, dirs)?,
        name: name.to_os_string(),
    })
}

/// Open directory `path` (beneath `base`, `path` may be `base` itself).
pub fn dir(base: &Path, path: &Path) -> io::Result<OwnedFd> {
    let parts = relative(base, path)?;
    let base_fd = open_base(base)?;
    open_dir(&base_fd, &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_symlinks_and_dotdot() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("tree");
        std::fs::create_dir_all(base.join("a/b")).unwrap();
        std::fs::create_dir_all(d.path().join("outside")).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), base.join("link")).unwrap();
        assert!(parent(&base, &base.join("a/b/c")).is_ok());
        assert!(parent(&base, &base.join("link/c")).is_err());
        assert!(parent(&base, &base.join("a/../../outside/c")).is_err());
        assert!(parent(&base, &d.path().join("outside/c")).is_err());
        assert!(parent(&base, &base).is_err());
        let lx = base.join("link/x");
        let parts = relative(&base, &lx).unwrap();
        let fd = open_base(&base).unwrap();
        assert!(walk(
            &fd,
            &parts[..1],
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW
        )
        .is_err());
    }

    #[test]
    fn the_base_itself_may_be_a_link() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("real/x")).unwrap();
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("tree")).unwrap();
        let base = d.path().join("tree");
        assert!(parent(&base, &base.join("x/y")).is_ok());
    }
}
