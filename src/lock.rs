//! The one lock that serialises writers of the trees. Readers (`status`,
//! `pending`) never take it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

/// A held exclusive lock on `<dkms_tree>/.dkms-hook.lock`; released on drop
/// (and by the kernel if the process dies).
pub struct TreeLock {
    _lock: Flock<File>,
    /// The lock file.
    pub path: PathBuf,
}

impl TreeLock {
    /// Take the lock, waiting for another writer if needed (a message is
    /// printed once if it has to wait).
    pub fn acquire(dkms_tree: &Path) -> Result<TreeLock> {
        std::fs::create_dir_all(dkms_tree).map_err(|e| Error::io("Cannot create", dkms_tree, e))?;
        let path = dkms_tree.join(".dkms-hook.lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("Cannot open lock file", &path, e))?;
        let mut waited = false;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(mut lock) => {
                    let _ = lock.set_len(0);
                    let _ = writeln!(&mut *lock, "{}", std::process::id());
                    return Ok(TreeLock { _lock: lock, path });
                }
                Err((f, errno)) if errno == nix::errno::Errno::EWOULDBLOCK => {
                    if !waited {
                        eprintln!(
                            "Waiting for another dkms process to finish (lock {})...",
                            path.display()
                        );
                        waited = true;
                    }
                    file = f;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err((_, errno)) => {
                    return Err(Error::msg(
                        1,
                        format!("Cannot lock {}: {errno}", path.display()),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_locker_waits_until_release() {
        let d = tempfile::tempdir().unwrap();
        let l1 = TreeLock::acquire(d.path()).unwrap();
        let p = d.path().to_path_buf();
        let t = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let _l2 = TreeLock::acquire(&p).unwrap();
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(l1);
        let waited = t.join().unwrap();
        assert!(waited >= Duration::from_millis(250));
    }
}
