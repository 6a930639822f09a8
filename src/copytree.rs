//! Copying a module's source tree into its build directory the way `cp -a`
//! does (symlinks stay symlinks, modes and modification times are kept, so
//! make sees shipped generated files as up to date), without starting a
//! process per build.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// Copy the contents of directory `from` into `to` (created if missing).
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            copy_tree(&src, &dst)?;
            std::fs::set_permissions(
                &dst,
                std::fs::Permissions::from_mode(meta.permissions().mode()),
            )?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            // Devices, fifos and sockets have no place in a module source.
            continue;
        }
        keep_times(&meta, &dst)?;
    }
    Ok(())
}

fn keep_times(meta: &std::fs::Metadata, dst: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(None, dst, &atime, &mtime, UtimensatFlags::NoFollowSymlink).map_err(io::Error::from)
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
        utimensat(
            None,
            &src.join("a.c"),
            &TimeSpec::new(1000, 0),
            &TimeSpec::new(2000, 5),
            UtimensatFlags::FollowSymlink,
        )
        .unwrap();
        let dst = d.path().join("dst");
        copy_tree(&src, &dst).unwrap();
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
}
