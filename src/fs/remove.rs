//! Deleting under a tree: whole trees, single files, empty directories.
//! Symlinks met on the way are removed as links, never followed.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{openat, statat, unlinkat, AtFlags, Dir, FileType, Mode, OFlags};

use super::beneath;

fn missing_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// `rm -rf path` beneath `base`; a missing path is fine.
pub fn remove_all(base: &Path, path: &Path) -> io::Result<()> {
    let e = match beneath::parent(base, path) {
        Ok(e) => e,
        Err(e) => return missing_ok(Err(e)),
    };
    missing_ok(remove_entry(&e.dir, &e.name))
}

/// Remove `name` in `dir` (a directory with everything in it), never
/// following a symlink.
pub(super) fn remove_entry(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let st = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let sub = openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let names: Vec<std::ffi::OsString> = Dir::read_from(&sub)?
            .filter_map(|e| e.ok())
            .map(|e| {
                use std::os::unix::ffi::OsStrExt;
                OsStr::from_bytes(e.file_name().to_bytes()).to_os_string()
            })
            .filter(|n| n != "." && n != "..")
            .collect();
        for n in names {
            missing_ok(remove_entry(&sub, &n))?;
        }
        unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    } else {
        unlinkat(dir, name, AtFlags::empty())?;
    }
    Ok(())
}

/// Remove one file or symlink beneath `base`; a missing one is fine.
pub fn remove_file(base: &Path, path: &Path) -> io::Result<()> {
    let e = match beneath::parent(base, path) {
        Ok(e) => e,
        Err(e) => return missing_ok(Err(e)),
    };
    missing_ok(unlinkat(&e.dir, &e.name, AtFlags::empty()).map_err(Into::into))
}

/// `rmdir path` beneath `base` (fails when not empty).
pub fn rmdir(base: &Path, path: &Path) -> io::Result<()> {
    let e = beneath::parent(base, path)?;
    Ok(unlinkat(&e.dir, &e.name, AtFlags::REMOVEDIR)?)
}

/// `find dir -type d -empty -delete` beneath `base` (depth first, links
/// not followed; `dir` itself goes too when it ends up empty).
pub fn remove_empty_dirs(base: &Path, dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_empty_dirs(base, &e.path());
        }
    }
    if dir != base {
        // Only an empty directory goes, as with `find -empty -delete`.
        let _ = rmdir(base, dir);
    }
}

/// `rmdir -p --ignore-fail-on-non-empty`: remove `dir` and its parents
/// while they are empty, never `stop` or anything above it.
pub fn remove_empty_parents(base: &Path, dir: &Path, stop: &Path) {
    let mut d = dir.to_path_buf();
    while d.starts_with(stop) && d != stop {
        if rmdir(base, &d).is_err() {
            break;
        }
        if !d.pop() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_all_never_follows_links() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("tree");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(base.join("m/v/sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, base.join("m/v/sub/link")).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("m/v2")).unwrap();
        remove_all(&base, &base.join("m/v")).unwrap();
        assert!(!base.join("m/v").exists());
        assert!(outside.join("keep").exists());
        // A path through a link is refused, not followed.
        assert!(remove_all(&base, &base.join("m/v2/keep")).is_err());
        assert!(outside.join("keep").exists());
        remove_all(&base, &base.join("m/v2")).unwrap();
        assert!(outside.join("keep").exists());
        remove_all(&base, &base.join("missing")).unwrap();
    }

    #[test]
    fn empty_dirs_go_depth_first() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        std::fs::create_dir_all(base.join("a/b/c")).unwrap();
        std::fs::create_dir_all(base.join("a/x")).unwrap();
        std::fs::write(base.join("a/x/f"), b"").unwrap();
        remove_empty_dirs(base, &base.join("a"));
        assert!(!base.join("a/b").exists());
        assert!(base.join("a/x/f").exists());
        remove_empty_parents(base, &base.join("a/x"), base);
        assert!(base.join("a/x").exists());
    }
}
