//! A directory made under a tree for work that is published later (a
//! build's results before their atomic rename): removed again, through the
//! confined layer, unless it is kept.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{mkdirat, Mode};

use super::{beneath, remove, Locked};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new directory beneath a tree, removed on drop unless [`TempDir::keep`]
/// was called.
pub struct TempDir<'l> {
    /// Held for its lifetime: the directory goes while the lock is held.
    _lock: &'l Locked,
    base: PathBuf,
    path: PathBuf,
    kept: bool,
}

impl<'l> TempDir<'l> {
    /// Make `<dir>/<prefix><unique>` (mode 0700) beneath `base`.
    pub(super) fn new(lock: &'l Locked, base: &Path, dir: &Path, prefix: &str) -> io::Result<Self> {
        let fd = beneath::dir(base, dir)?;
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}{}-{n}", std::process::id());
            match mkdirat(&fd, name.as_str(), Mode::from_raw_mode(0o700)) {
                Ok(()) => {
                    return Ok(TempDir {
                        _lock: lock,
                        base: base.to_path_buf(),
                        path: dir.join(name),
                        kept: false,
                    })
                }
                Err(e) if e == rustix::io::Errno::EXIST => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep it (it was published, or its removal is the caller's): its path.
    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for TempDir<'_> {
    fn drop(&mut self) {
        if !self.kept {
            // Best effort: a leftover is found and removed by the next run
            // (a build clears its kernel's unpublished results first).
            let _ = remove::remove_all(&self.base, &self.path);
        }
    }
}

impl Locked {
    /// A new directory `<dir>/<prefix><unique>` beneath `base`, removed
    /// again unless kept.
    pub fn temp_dir(&self, base: &Path, dir: &Path, prefix: &str) -> io::Result<TempDir<'_>> {
        TempDir::new(self, base, dir, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_unless_kept() {
        let d = tempfile::tempdir().unwrap();
        let lock = Locked::acquire(&d.path().join("lock"), &mut |_| {})
            .unwrap()
            .lock;
        let t = lock.temp_dir(d.path(), d.path(), "x_").unwrap();
        std::fs::write(t.path().join("f"), b"1").unwrap();
        let gone = t.path().to_path_buf();
        drop(t);
        assert!(!gone.exists());
        let t = lock.temp_dir(d.path(), d.path(), "x_").unwrap();
        let kept = t.keep();
        assert!(kept.is_dir());
        assert!(kept
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("x_"));
    }
}
