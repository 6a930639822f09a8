//! Deleting a build in one step: the directory is renamed into
//! `<dkms_tree>/.dkms-hook/gone/` (an atomic rename on the same tree), then
//! its files are deleted. A run killed in between leaves the whole build,
//! or nothing of it, where readers look; what it left in `gone/` is emptied
//! by the next run that takes the lock ([`sweep`]) and named by `doctor`.

use std::path::{Path, PathBuf};

use crate::fs::Locked;
use crate::layout::Layout;

/// Moves `dir` (beneath the dkms tree) into the gone directory under a name
/// of its own (`label`, the run's pid); the path to delete afterwards. When
/// it cannot be moved (missing, or on another file system) it is deleted
/// where it is: the path returned is `dir`.
pub fn hide(lock: &Locked, l: &Layout, dir: &Path, label: &str) -> PathBuf {
    if std::fs::symlink_metadata(dir).is_err() {
        return dir.to_path_buf();
    }
    let gone = l.gone_dir();
    let to = gone.join(format!("{label}.{}", std::process::id()));
    let moved = lock
        .create_dir_all(&l.dkms, &gone, 0o755)
        .and_then(|()| lock.rename(&l.dkms, dir, &to));
    if moved.is_ok() {
        to
    } else {
        dir.to_path_buf()
    }
}

/// Deletes `doomed` (what [`hide`] returned), then the gone directory when
/// nothing else is in it: a tree without killed runs keeps no trace of it.
pub fn delete(lock: &Locked, l: &Layout, doomed: &Path) -> std::io::Result<()> {
    lock.remove_all(&l.dkms, doomed)?;
    // Only an empty directory goes.
    let _ = lock.rmdir(&l.dkms, &l.gone_dir());
    Ok(())
}

/// Empties the gone directory (under the lock, so nothing in it is in use):
/// what a killed run was deleting. Best effort: a run goes on without it,
/// and the next one tries again.
pub fn sweep(lock: &Locked, l: &Layout) {
    let gone = l.gone_dir();
    let names = crate::fs::list_names(&gone);
    if names.is_empty() {
        return;
    }
    for n in names {
        let _ = lock.remove_all(&l.dkms, &gone.join(n));
    }
    let _ = lock.rmdir(&l.dkms, &gone);
}
