//! Creating and replacing under a tree: directories, whole files by an
//! atomic rename after `fsync`, appends, symlinks, renames, and moves across
//! filesystems that are verified before their source goes.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{
    fsync, mkdirat, openat, renameat, renameat_with, statat, symlinkat, unlinkat, AtFlags,
    FileType, Mode, OFlags, RenameFlags,
};

use super::beneath;
use crate::fs::msg;
use crate::fs::msg::NotRegular;

/// `mkdir -p path` beneath `base` (new directories get `mode`, less the
/// umask); an existing symlink on the way is an error, never followed.
pub fn create_dir_all(base: &Path, path: &Path, mode: u32) -> io::Result<()> {
    open_or_create_dir(base, path, mode).map(|_| ())
}

/// [`create_dir_all`], returning the directory handle.
pub(super) fn open_or_create_dir(base: &Path, path: &Path, mode: u32) -> io::Result<OwnedFd> {
    let parts = beneath::relative(base, path)?;
    let mut fd = beneath::open_base(base)?;
    for p in parts {
        match mkdirat(&fd, p, Mode::from_raw_mode(mode)) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::EXIST => {}
            Err(e) => return Err(e.into()),
        }
        fd = openat(
            &fd,
            p,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
    }
    Ok(fd)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary name next to `name`: `.<name>.dkms-<pid>-<n>`.
fn temp_name(name: &OsStr) -> OsString {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut s = OsString::from(".");
    s.push(name);
    s.push(format!(
        "{}{}-{n}",
        crate::layout::PLACING,
        std::process::id()
    ));
    s
}

/// Create a new temporary file next to `name` in `dir`.
fn create_temp(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<(OsString, File)> {
    loop {
        let tmp = temp_name(name);
        match openat(
            dir,
            &tmp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        ) {
            Ok(fd) => return Ok((tmp, File::from(fd))),
            Err(e) if e == rustix::io::Errno::EXIST => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// fsync a directory given by an `O_PATH` handle.
fn sync_dir(dir: &OwnedFd) {
    if let Ok(fd) = openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        // The rename is done: a failed directory fsync costs only durability.
        let _ = fsync(&fd);
    }
}

/// Finish a temporary file: fsync, rename over `name`, fsync the directory.
/// On any failure the temporary goes and the old `name` stays.
fn commit(dir: &OwnedFd, tmp: &OsStr, file: File, name: &OsStr) -> io::Result<()> {
    let res = file
        .sync_all()
        .and_then(|()| renameat(dir, tmp, dir, name).map_err(io::Error::from));
    if res.is_err() {
        // The caller gets the error; a leftover dot-file is skipped by readers.
        let _ = unlinkat(dir, tmp, AtFlags::empty());
    }
    res?;
    sync_dir(dir);
    Ok(())
}

/// Replace `path` (beneath `base`) with `data` atomically: readers see the
/// old content or the new one, never a part.
pub fn write_atomic(base: &Path, path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let e = beneath::parent(base, path)?;
    let (tmp, mut f) = create_temp(&e.dir, &e.name, mode)?;
    if let Err(err) = f.write_all(data) {
        // The caller gets the error; a leftover dot-file is skipped by readers.
        let _ = unlinkat(&e.dir, &tmp, AtFlags::empty());
        return Err(err);
    }
    commit(&e.dir, &tmp, f, &e.name)
}

/// Append `data` to `path` beneath `base` (created 0644 if missing; a
/// symlink there is refused).
pub fn append(base: &Path, path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = create_file(base, path, false)?;
    f.write_all(data)
}

/// Open `path` beneath `base` for writing (created 0644 if missing, never
/// through a symlink): emptied first with `truncate`, else appended to. A
/// FIFO, socket or device standing there is refused without blocking and
/// without being opened for long: the open does not wait for a reader, and
/// nothing is truncated until the file is known to be a regular one.
pub fn create_file(base: &Path, path: &Path, truncate: bool) -> io::Result<File> {
    let e = beneath::parent(base, path)?;
    let mut flags =
        OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    if !truncate {
        flags |= OFlags::APPEND;
    }
    // What stands there is looked at first, so a device is never opened.
    if let Ok(st) = statat(&e.dir, &e.name, AtFlags::SYMLINK_NOFOLLOW) {
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind != FileType::RegularFile {
            return Err(not_regular(path, kind));
        }
    }
    // O_NONBLOCK: one swapped in meanwhile still cannot block the open.
    let fd = openat(&e.dir, &e.name, flags, Mode::from_raw_mode(0o644))?;
    let f = File::from(fd);
    let kind = FileType::from_raw_mode(rustix::fs::fstat(&f)?.st_mode);
    if kind != FileType::RegularFile {
        return Err(not_regular(path, kind));
    }
    if truncate {
        f.set_len(0)?;
    }
    // Back to blocking writes (a regular file never blocks anyway).
    rustix::fs::fcntl_setfl(&f, flags & OFlags::APPEND)?;
    Ok(f)
}

/// The refusal of a file that is not a regular one.
pub(super) fn not_regular(path: &Path, kind: FileType) -> io::Error {
    let what = match kind {
        FileType::Fifo => NotRegular::Fifo,
        FileType::CharacterDevice | FileType::BlockDevice => NotRegular::Device,
        FileType::Socket => NotRegular::Socket,
        _ => NotRegular::Other,
    };
    io::Error::new(io::ErrorKind::InvalidInput, msg::not_regular(path, what))
}

/// Change the owner of `path` itself beneath `base` (a symlink's own
/// owner, never its target's).
pub fn set_owner(base: &Path, path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let e = beneath::parent(base, path)?;
    rustix::fs::chownat(
        &e.dir,
        &e.name,
        Some(rustix::process::Uid::from_raw(uid)),
        Some(rustix::process::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// Change the permission bits of `path` beneath `base` (a file or a
/// directory; never through a symlink, never opening a FIFO or device).
pub fn set_mode(base: &Path, path: &Path, mode: u32) -> io::Result<()> {
    let e = beneath::parent(base, path)?;
    let st = statat(&e.dir, &e.name, AtFlags::SYMLINK_NOFOLLOW)?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if !matches!(kind, FileType::RegularFile | FileType::Directory) {
        return Err(not_regular(path, kind));
    }
    let fd = openat(
        &e.dir,
        &e.name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    Ok(())
}

/// Create the new regular file `path` beneath `base` with `mode` (less the
/// umask) and open it for writing. Anything already there, a symlink
/// included, is an error (`EEXIST`): unpacking an archive must never land
/// on, or through, something that was there before.
pub fn create_new(base: &Path, path: &Path, mode: u32) -> io::Result<File> {
    let e = beneath::parent(base, path)?;
    let fd = openat(
        &e.dir,
        &e.name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    Ok(File::from(fd))
}

/// Create the new symlink `link` (beneath `base`) pointing at `target`;
/// anything already at `link` is an error (`EEXIST`), never replaced.
pub fn symlink(base: &Path, target: &Path, link: &Path) -> io::Result<()> {
    let e = beneath::parent(base, link)?;
    Ok(symlinkat(target, &e.dir, &e.name)?)
}

/// Give directory `path` (beneath `base`, not a symlink) `mode` and the
/// modification time `mtime` (seconds since the epoch): the last step of
/// unpacking a directory, once everything in it was written.
pub fn set_dir_mode_and_mtime(base: &Path, path: &Path, mode: u32, mtime: i64) -> io::Result<()> {
    let fd = match beneath::relative(base, path)?.is_empty() {
        true => openat(
            beneath::open_base(base)?,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?,
        false => {
            let e = beneath::parent(base, path)?;
            openat(
                &e.dir,
                &e.name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?
        }
    };
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    let when = rustix::fs::Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    rustix::fs::futimens(
        &fd,
        &rustix::fs::Timestamps {
            last_access: when,
            last_modification: when,
        },
    )?;
    Ok(())
}

/// Copy `from` (our own file, e.g. a built module) to `to` beneath `base`
/// through a temporary file and an atomic rename, so `to` is always the old
/// file or the new one. With `symlink`, `to` becomes a link to `from`.
pub fn place_atomically(base: &Path, from: &Path, to: &Path, symlink: bool) -> io::Result<()> {
    let e = beneath::parent(base, to)?;
    if symlink {
        return link_over(&e.dir, from.as_os_str(), &e.name);
    }
    let mut src = super::open_regular(from)?;
    let (tmp, mut f) = create_temp(&e.dir, &e.name, 0o644)?;
    crate::fault::point("install:before-rename");
    if let Err(err) = io::copy(&mut src, &mut f) {
        // The caller gets the error; a leftover dot-file is skipped by readers.
        let _ = unlinkat(&e.dir, &tmp, AtFlags::empty());
        return Err(err);
    }
    commit(&e.dir, &tmp, f, &e.name)
}

fn link_over(dir: &OwnedFd, target: &OsStr, name: &OsStr) -> io::Result<()> {
    loop {
        let tmp = temp_name(name);
        match symlinkat(target, dir, &tmp) {
            Ok(()) => {
                let r = renameat(dir, &tmp, dir, name).map_err(io::Error::from);
                if r.is_err() {
                    // The caller gets the error; a leftover dot-file is skipped by readers.
                    let _ = unlinkat(dir, &tmp, AtFlags::empty());
                }
                return r;
            }
            Err(e) if e == rustix::io::Errno::EXIST => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Point symlink `link` (beneath `base`) at `target`, replacing whatever
/// link was there in one rename.
pub fn replace_symlink(base: &Path, target: &Path, link: &Path) -> io::Result<()> {
    let e = beneath::parent(base, link)?;
    link_over(&e.dir, target.as_os_str(), &e.name)
}

/// `rename(from, to)`, both beneath `base`.
pub fn rename(base: &Path, from: &Path, to: &Path) -> io::Result<()> {
    let a = beneath::parent(base, from)?;
    let b = beneath::parent(base, to)?;
    Ok(renameat(&a.dir, &a.name, &b.dir, &b.name)?)
}

/// Swap `a` and `b` (both beneath `base`) in one step.
pub fn exchange(base: &Path, a: &Path, b: &Path) -> io::Result<()> {
    let x = beneath::parent(base, a)?;
    let y = beneath::parent(base, b)?;
    Ok(renameat_with(
        &x.dir,
        &x.name,
        &y.dir,
        &y.name,
        RenameFlags::EXCHANGE,
    )?)
}

/// Move file `from` (beneath `from_base`) to `to` (beneath `to_base`),
/// which may be on another filesystem. A rename when it can be one;
/// otherwise copy, fsync, rename into place, read back and compare, and only
/// then delete the source. On any failure the source stays where it was.
pub fn move_verified(from_base: &Path, from: &Path, to_base: &Path, to: &Path) -> io::Result<()> {
    let a = beneath::parent(from_base, from)?;
    let b = beneath::parent(to_base, to)?;
    match renameat(&a.dir, &a.name, &b.dir, &b.name) {
        Ok(()) => {
            sync_dir(&b.dir);
            return Ok(());
        }
        Err(e) if e == rustix::io::Errno::XDEV => {}
        Err(e) => return Err(e.into()),
    }
    let src_fd = openat(
        &a.dir,
        &a.name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut src = File::from(src_fd);
    let mut data = Vec::new();
    src.read_to_end(&mut data)?;
    let mode = src.metadata().map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o7777
    })?;
    let (tmp, mut f) = create_temp(&b.dir, &b.name, mode)?;
    if let Err(err) = f.write_all(&data) {
        // The caller gets the error; a leftover dot-file is skipped by readers.
        let _ = unlinkat(&b.dir, &tmp, AtFlags::empty());
        return Err(err);
    }
    commit(&b.dir, &tmp, f, &b.name)?;
    let back = openat(
        &b.dir,
        &b.name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
    .and_then(|mut f| {
        let mut v = Vec::new();
        f.read_to_end(&mut v).map_err(|_| rustix::io::Errno::IO)?;
        Ok(v)
    })?;
    if back != data {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            msg::not_read_back(to),
        ));
    }
    unlinkat(&a.dir, &a.name, AtFlags::empty())?;
    sync_dir(&a.dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_never_follow_planted_links() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("tree");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(base.join("q")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("victim"), b"keep").unwrap();
        std::os::unix::fs::symlink(outside.join("victim"), base.join("q/lock")).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("dirlink")).unwrap();
        // append through a final symlink: refused
        assert!(append(&base, &base.join("q/lock"), b"x").is_err());
        // write through a directory symlink: refused
        assert!(write_atomic(&base, &base.join("dirlink/f"), b"x", 0o644).is_err());
        assert!(create_dir_all(&base, &base.join("dirlink/sub"), 0o755).is_err());
        assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"keep");
        assert!(!outside.join("f").exists() && !outside.join("sub").exists());
        // atomic write replaces a planted link itself, not its target
        write_atomic(&base, &base.join("q/lock"), b"new", 0o644).unwrap();
        assert_eq!(std::fs::read(base.join("q/lock")).unwrap(), b"new");
        assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"keep");
    }

    #[test]
    fn place_and_link() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        std::fs::write(base.join("src"), b"module").unwrap();
        create_dir_all(base, &base.join("a/b"), 0o755).unwrap();
        place_atomically(base, &base.join("src"), &base.join("a/b/m.ko"), false).unwrap();
        assert_eq!(std::fs::read(base.join("a/b/m.ko")).unwrap(), b"module");
        replace_symlink(base, Path::new("1.0/k/a"), &base.join("kernel-k-a")).unwrap();
        replace_symlink(base, Path::new("2.0/k/a"), &base.join("kernel-k-a")).unwrap();
        assert_eq!(
            std::fs::read_link(base.join("kernel-k-a")).unwrap(),
            Path::new("2.0/k/a")
        );
        let leftovers: Vec<_> = std::fs::read_dir(base.join("a/b"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn new_entries_never_replace_or_follow_what_is_there() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("tree");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(base.join("d")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("victim"), b"keep").unwrap();
        std::os::unix::fs::symlink(outside.join("victim"), base.join("planted")).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("dirlink")).unwrap();

        let mut f = create_new(&base, &base.join("d/new"), 0o640).unwrap();
        f.write_all(b"data").unwrap();
        drop(f);
        assert_eq!(std::fs::read(base.join("d/new")).unwrap(), b"data");
        let mode = std::fs::metadata(base.join("d/new"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7000, 0);
        // An existing file, a planted link, a path through a link: refused.
        assert!(create_new(&base, &base.join("d/new"), 0o644).is_err());
        assert!(create_new(&base, &base.join("planted"), 0o644).is_err());
        assert!(create_new(&base, &base.join("dirlink/f"), 0o644).is_err());
        assert!(symlink(&base, Path::new("x"), &base.join("planted")).is_err());
        assert!(symlink(&base, Path::new("x"), &base.join("dirlink/l")).is_err());
        assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"keep");
        assert!(!outside.join("f").exists() && !outside.join("l").exists());

        symlink(&base, Path::new("../new"), &base.join("d/l")).unwrap();
        assert_eq!(
            std::fs::read_link(base.join("d/l")).unwrap(),
            Path::new("../new")
        );

        set_dir_mode_and_mtime(&base, &base.join("d"), 0o750, 1000).unwrap();
        let m = std::fs::metadata(base.join("d")).unwrap();
        assert_eq!((m.permissions().mode() & 0o7777, m.mtime()), (0o750, 1000));
        set_dir_mode_and_mtime(&base, &base, 0o700, 2000).unwrap();
        assert_eq!(std::fs::metadata(&base).unwrap().mtime(), 2000);
        // A link to a directory is not a directory here.
        let outside_mode = std::fs::metadata(&outside).unwrap().mode();
        assert!(set_dir_mode_and_mtime(&base, &base.join("dirlink"), 0o700, 0).is_err());
        assert_eq!(std::fs::metadata(&outside).unwrap().mode(), outside_mode);
    }

    #[test]
    fn move_verified_within_one_filesystem() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("x.ko"), b"orig").unwrap();
        move_verified(&a, &a.join("x.ko"), &b, &b.join("x.ko")).unwrap();
        assert_eq!(std::fs::read(b.join("x.ko")).unwrap(), b"orig");
        assert!(!a.join("x.ko").exists());
    }
}
