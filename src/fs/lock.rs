//! The one lock that serialises writers of the trees, and the proof of
//! holding it: [`Locked`]. Every function that changes a tree takes a
//! `&Locked` (through `exec::Ctx`), so "only called with the lock held" is
//! checked by the compiler. Readers (`status`, `pending`) never take it.
//!
//! The lock file is opened without following a symlink, never truncated
//! before it is ours, and after `flock` the locked file must still be the
//! file at the path: one that was unlinked or replaced while we waited is
//! dropped and the lock taken again.
//!
//! Releasing is closing: the lock belongs to the open file, so a child
//! that inherited a descriptor of it (see [`Locked::share`]) keeps it held
//! after we are gone. Nothing unlocks it explicitly.

// This is crate::fs, where the std file calls clippy.toml keeps out of
// everything else live.
#![allow(clippy::disallowed_methods)]

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{flock, FlockOperation};

use crate::error::{os_error, Error, Result};
use crate::fs::msg;

/// A held exclusive lock on `<dkms_tree>/.dkms-hook.lock`; released on drop
/// (and by the kernel if the process dies).
pub struct Locked {
    file: File,
    /// The lock file.
    pub path: PathBuf,
}

impl std::fmt::Debug for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Locked({})", self.path.display())
    }
}

/// How acquiring went: the lock, and whether we had to wait for it.
pub struct Acquired {
    /// The lock.
    pub lock: Locked,
    /// Another writer held it first.
    pub waited: bool,
}

impl Locked {
    /// Release the lock and leave no lock file behind (a directory the user
    /// named, which should hold only what was asked for). Safe for anyone
    /// waiting: a waiter that finds the file gone from its path takes the
    /// lock again on a new one.
    pub fn release_removing(self) -> std::io::Result<()> {
        std::fs::remove_file(&self.path)
    }

    /// Another descriptor of the locked file (close-on-exec in this
    /// process), for a child to inherit: the lock stays held as long as any
    /// process holds one (an flock belongs to the open file, not to a
    /// process).
    pub fn share(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.file.as_fd().try_clone_to_owned()
    }

    /// The inode of the locked file.
    pub fn ino(&self) -> u64 {
        self.file.metadata().map(|m| m.ino()).unwrap_or(0)
    }

    /// Take the lock on `path` (creating the directory holding it), waiting
    /// for another writer if needed; `waiting` is called once if it must
    /// wait (to say so).
    pub fn acquire(path: &Path, waiting: &mut dyn FnMut(&Path)) -> Result<Acquired> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(msg::CANNOT_CREATE, dir, e))?;
        }
        let mut waited = false;
        loop {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .mode(0o644)
                .custom_flags(
                    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC).bits() as i32,
                )
                .open(path)
                .map_err(|e| Error::msg(msg::cannot_open_lock(path, &os_error(&e))))?;
            if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
                return Err(Error::msg(msg::lock_not_regular(path)));
            }
            let mut lock = file;
            match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(errno) if errno == rustix::io::Errno::WOULDBLOCK => {
                    if !waited {
                        waiting(path);
                        waited = true;
                    }
                    if let Err(errno) = flock(&lock, FlockOperation::LockExclusive) {
                        return Err(Error::msg(msg::cannot_lock(path, &errno.to_string())));
                    }
                }
                Err(errno) => return Err(Error::msg(msg::cannot_lock(path, &errno.to_string()))),
            }
            // The file we locked must still be the one at the path.
            let ours = lock.metadata().map(|m| (m.dev(), m.ino())).ok();
            let now = std::fs::symlink_metadata(path)
                .map(|m| (m.dev(), m.ino()))
                .ok();
            if ours.is_none() || ours != now {
                drop(lock);
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            // The pid inside is for people looking; the lock is the flock.
            let _ = lock.set_len(0);
            // Likewise: a pid that could not be written misleads no one.
            let _ = writeln!(lock, "{}", std::process::id());
            return Ok(Acquired {
                lock: Locked {
                    file: lock,
                    path: path.to_path_buf(),
                },
                waited,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_locker_waits_until_release() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let l1 = Locked::acquire(&p, &mut |_| {}).unwrap();
        let p2 = p.clone();
        let t = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let a = Locked::acquire(&p2, &mut |_| {}).unwrap();
            (start.elapsed(), a.waited)
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(l1);
        let (waited, said) = t.join().unwrap();
        assert!(waited >= Duration::from_millis(250));
        assert!(said);
    }

    #[test]
    fn a_symlinked_lock_file_is_refused_and_its_target_untouched() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let p = d.path().join("lock");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        assert!(Locked::acquire(&p, &mut |_| {}).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn a_waiter_on_a_replaced_lock_file_locks_the_new_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let l1 = Locked::acquire(&p, &mut |_| {}).unwrap();
        let old = l1.lock.ino();
        let p2 = p.clone();
        let t = std::thread::spawn(move || Locked::acquire(&p2, &mut |_| {}).unwrap());
        std::thread::sleep(Duration::from_millis(200));
        // The file is replaced while held; the waiter is blocked on the old one.
        let tmp = d.path().join("new");
        std::fs::write(&tmp, b"").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        drop(l1);
        let l2 = t.join().unwrap();
        assert_ne!(l2.lock.ino(), old);
        assert_eq!(l2.lock.ino(), std::fs::metadata(&p).unwrap().ino());
    }
}
