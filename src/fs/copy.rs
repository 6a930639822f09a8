//! Copying a module's source tree the way `cp -a` does (symlinks stay
//! symlinks, modes and modification times are kept, so make sees shipped
//! generated files as up to date), into a directory beneath a tree, without
//! starting a process and without following links on either side.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{
    mkdirat, openat, statat, symlinkat, utimensat, AtFlags, FileType, Mode, OFlags, Timespec,
    Timestamps,
};

use super::write::open_or_create_dir;

/// Copy the contents of directory `from` into `to` (created beneath `base`
/// if missing). Devices, FIFOs and sockets are skipped: they have no place
/// in a module source.
pub fn copy_tree(from: &Path, base: &Path, to: &Path) -> io::Result<()> {
    let dir = open_or_create_dir(base, to, 0o755)?;
    copy_into(from, &dir, false)
}

/// [`copy_tree`] into a directory that may already hold files (`cp -rf`
/// over an older copy): whatever is in the way of an entry is removed
/// first, without following it (a symlink, a file where a directory goes,
/// a directory where a file goes); real directories are merged.
pub fn copy_tree_replacing(from: &Path, base: &Path, to: &Path) -> io::Result<()> {
    let dir = open_or_create_dir(base, to, 0o755)?;
    copy_into(from, &dir, true)
}

/// Remove whatever is at `name` in `dir` unless it is a real directory and
/// `keep_dir` (a directory is about to be merged into it).
fn clear_the_way(dir: &OwnedFd, name: &std::ffi::OsStr, keep_dir: bool) -> io::Result<()> {
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if keep_dir && FileType::from_raw_mode(st.st_mode) == FileType::Directory => Ok(()),
        Ok(_) => super::remove::remove_entry(dir, name),
        Err(e) if e == rustix::io::Errno::NOENT => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn copy_into(from: &Path, dir: &OwnedFd, replace: bool) -> io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let name = entry.file_name();
        let meta = std::fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if replace && (ft.is_symlink() || ft.is_dir() || ft.is_file()) {
            clear_the_way(dir, &name, ft.is_dir())?;
        }
        if ft.is_symlink() {
            symlinkat(std::fs::read_link(&src)?, dir, &name)?;
        } else if ft.is_dir() {
            match mkdirat(dir, &name, Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::EXIST => {}
                Err(e) => return Err(e.into()),
            }
            let sub = openat(
                dir,
                &name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            copy_into(&src, &sub, replace)?;
            rustix::fs::fchmod(
                &sub,
                Mode::from_raw_mode(meta.permissions().mode() & 0o7777),
            )?;
        } else if ft.is_file() {
            let fd = openat(
                dir,
                &name,
                OFlags::WRONLY
                    | OFlags::CREATE
                    | OFlags::TRUNC
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let mut out = File::from(fd);
            io::copy(&mut super::open_regular(&src)?, &mut out)?;
            out.set_permissions(std::fs::Permissions::from_mode(
                meta.permissions().mode() & 0o7777,
            ))?;
        } else {
            continue;
        }
        keep_times(&meta, dir, &name)?;
    }
    Ok(())
}

fn keep_times(meta: &std::fs::Metadata, dir: &OwnedFd, name: &std::ffi::OsStr) -> io::Result<()> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec() as _,
        },
        last_modification: Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec() as _,
        },
    };
    Ok(utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW)?)
}

/// Copy one file `from` to `to` beneath `base` (replaced atomically, mode
/// kept).
pub fn copy_file_into(from: &Path, base: &Path, to: &Path) -> io::Result<()> {
    let mode = std::fs::metadata(from)?.permissions().mode() & 0o7777;
    super::write::place_atomically(base, from, to, false)?;
    let e = super::beneath::parent(base, to)?;
    rustix::fs::chmodat(&e.dir, &e.name, Mode::from_raw_mode(mode), AtFlags::empty())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn copies_like_cp_a() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.c"), b"int x;").unwrap();
        std::fs::write(src.join("sub/configure"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            src.join("sub/configure"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("a.c", src.join("link.c")).unwrap();
        let f = File::options().write(true).open(src.join("a.c")).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::new(2000, 5))
            .unwrap();
        let base = d.path().join("tree");
        std::fs::create_dir_all(&base).unwrap();
        let dst = base.join("m/v/build");
        copy_tree(&src, &base, &dst).unwrap();
        assert_eq!(std::fs::read(dst.join("a.c")).unwrap(), b"int x;");
        assert_eq!(
            std::fs::read_link(dst.join("link.c")).unwrap(),
            Path::new("a.c")
        );
        assert_eq!(
            std::fs::metadata(dst.join("sub/configure"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o755
        );
        let m = std::fs::metadata(dst.join("a.c")).unwrap();
        assert_eq!((m.mtime(), m.mtime_nsec()), (2000, 5));
    }

    #[test]
    fn copy_over_replaces_what_is_in_the_way_without_following_it() {
        let d = tempfile::tempdir().unwrap();
        let (src, base, outside) = (
            d.path().join("src"),
            d.path().join("tree"),
            d.path().join("outside"),
        );
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("g"), b"outside").unwrap();
        std::fs::write(src.join("sub/f"), b"new").unwrap();
        std::fs::write(src.join("g"), b"new").unwrap();
        std::fs::write(src.join("was_dir"), b"new").unwrap();
        std::fs::create_dir(src.join("was_file")).unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("l")).unwrap();
        let dst = base.join("m-1.0");
        std::fs::create_dir_all(dst.join("was_dir/x")).unwrap();
        std::fs::create_dir_all(dst.join("kept")).unwrap();
        std::fs::write(dst.join("was_file"), b"old").unwrap();
        std::fs::write(dst.join("kept/old"), b"old").unwrap();
        std::os::unix::fs::symlink(&outside, dst.join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.join("g"), dst.join("g")).unwrap();
        std::os::unix::fs::symlink("elsewhere", dst.join("l")).unwrap();
        // The plain copy refuses to go through the planted links.
        assert!(copy_tree(&src, &base, &dst).is_err());
        assert_eq!(std::fs::read(outside.join("g")).unwrap(), b"outside");

        copy_tree_replacing(&src, &base, &dst).unwrap();
        assert_eq!(std::fs::read(outside.join("g")).unwrap(), b"outside");
        assert!(!outside.join("f").exists());
        assert!(std::fs::symlink_metadata(dst.join("sub")).unwrap().is_dir());
        assert_eq!(std::fs::read(dst.join("sub/f")).unwrap(), b"new");
        assert_eq!(std::fs::read(dst.join("g")).unwrap(), b"new");
        assert_eq!(std::fs::read(dst.join("was_dir")).unwrap(), b"new");
        assert!(std::fs::symlink_metadata(dst.join("was_file"))
            .unwrap()
            .is_dir());
        assert_eq!(
            std::fs::read_link(dst.join("l")).unwrap(),
            Path::new("sub/f")
        );
        assert_eq!(std::fs::read(dst.join("kept/old")).unwrap(), b"old");
    }
}
