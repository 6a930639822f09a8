//! Unpacking an archive that passed every check into a private directory,
//! through the tree-confined `fs` layer with that directory as its base:
//! new entries only (nothing replaced, no link followed), no owner, no
//! special bits, group and others never given write, modification times
//! kept (make must see shipped generated files as up to date).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::check::Checked;
use super::list::{walk_file, Kind, Member, Stop, LIMITS};
use crate::error::os_error;
use crate::exec::tarball::msg;
use crate::exec::Locked;

/// Unpack the archive at `copy` (the private copy whose `members` were
/// listed and `checked`) into the existing directory `root`. The archive
/// must read the same as when it was listed, member for member.
pub fn unpack(
    lock: &Locked,
    copy: &Path,
    members: &[Member],
    checked: &Checked,
    root: &Path,
) -> Result<(), Stop> {
    let _: &Locked = lock;
    let write = |e: io::Error| Stop::Write(os_error(&e));
    // Directories get their own mode and time once everything in them is
    // written; until then they stay writable.
    let mut dirs: BTreeMap<PathBuf, (u32, u64)> = BTreeMap::new();
    let mut i = 0;
    walk_file(copy, &LIMITS, |member, data: &mut dyn Read| {
        let (Some(listed), Some(rel)) = (members.get(i), checked.paths.get(i)) else {
            return Err(Stop::Refused(msg::ARCHIVE_CHANGED.to_string()));
        };
        i += 1;
        if member != *listed {
            return Err(Stop::Refused(msg::ARCHIVE_CHANGED.to_string()));
        }
        let path = root.join(rel);
        if member.kind == Kind::Dir {
            if path != root {
                lock.create_dir_all(root, &path, 0o755).map_err(write)?;
                dirs.insert(path, (member.mode, member.mtime));
            }
            return Ok(());
        }
        if let Some(parent) = path.parent().filter(|p| *p != root) {
            lock.create_dir_all(root, parent, 0o755).map_err(write)?;
        }
        match member.kind {
            Kind::File => {
                let mut out = lock
                    .create_new(root, &path, member.mode & 0o755)
                    .map_err(write)?;
                io::copy(data, &mut out).map_err(write)?;
                let t = SystemTime::UNIX_EPOCH + Duration::from_secs(member.mtime);
                out.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t))
                    .map_err(write)?;
            }
            Kind::Symlink => {
                use std::os::unix::ffi::OsStrExt;
                let target = Path::new(std::ffi::OsStr::from_bytes(&member.target));
                lock.symlink(root, target, &path).map_err(write)?;
            }
            // Refused by the checks; never unpacked.
            _ => return Err(Stop::Refused(msg::ARCHIVE_CHANGED.to_string())),
        }
        Ok(())
    })?;
    if i != members.len() {
        return Err(Stop::Refused(msg::ARCHIVE_CHANGED.to_string()));
    }
    // Deepest first, so setting a parent's time comes last.
    for (path, (mode, mtime)) in dirs.iter().rev() {
        let mtime = i64::try_from(*mtime).unwrap_or(i64::MAX);
        lock.set_dir_mode_and_mtime(root, path, (mode & 0o755) | 0o700, mtime)
            .map_err(write)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::tarball::check::check;
    use crate::exec::tarball::list::members;
    use std::os::unix::fs::MetadataExt;

    fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(mtime);
        h
    }

    #[test]
    fn keeps_times_drops_write_for_others_and_leaves_directories_writable() {
        let d = tempfile::tempdir().unwrap();
        let lock = Locked::acquire(&d.path().join("lock"), &mut |_| {})
            .unwrap()
            .lock;
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Directory, 0o555, 0, 1000);
        b.append_data(&mut h, "src/", &[][..]).unwrap();
        let mut h = header(tar::EntryType::Regular, 0o777, 3, 2000);
        b.append_data(&mut h, "src/configure", &b"#!\n"[..])
            .unwrap();
        let mut h = header(tar::EntryType::Regular, 0o644, 1, 3000);
        b.append_data(&mut h, "src/deep/er/f.c", &b"x"[..]).unwrap();
        let mut h = header(tar::EntryType::Symlink, 0o777, 0, 0);
        b.append_link(&mut h, "src/l", "configure").unwrap();
        let mut h = header(tar::EntryType::Regular, 0o644, 0, 0);
        b.append_data(&mut h, "src/dkms.conf", &[][..]).unwrap();
        let copy = d.path().join("a.tar");
        std::fs::write(&copy, b.into_inner().unwrap()).unwrap();

        let listed = members(&copy, &LIMITS).unwrap();
        let checked = check(&listed).unwrap();
        let root = d.path().join("root");
        std::fs::create_dir(&root).unwrap();
        unpack(&lock, &copy, &listed, &checked, &root).unwrap();

        let dir = std::fs::metadata(root.join("src")).unwrap();
        assert_eq!((dir.mode() & 0o7777, dir.mtime()), (0o755, 1000));
        let conf = std::fs::metadata(root.join("src/configure")).unwrap();
        assert_eq!(conf.mode() & 0o022, 0);
        assert_eq!(conf.mode() & 0o700, 0o700);
        assert_eq!(conf.mtime(), 2000);
        assert_eq!(std::fs::read(root.join("src/deep/er/f.c")).unwrap(), b"x");
        assert_eq!(
            std::fs::read_link(root.join("src/l")).unwrap(),
            Path::new("configure")
        );

        // A list that does not match what the archive reads is refused.
        let root2 = d.path().join("root2");
        std::fs::create_dir(&root2).unwrap();
        let mut other = listed.clone();
        other[1].size = 4;
        assert!(matches!(
            unpack(&lock, &copy, &other, &checked, &root2),
            Err(Stop::Refused(r)) if r == msg::ARCHIVE_CHANGED
        ));
    }
}
