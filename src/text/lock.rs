//! Ours: the writers' lock on the dkms tree (upstream takes none).

use std::path::Path;

/// Ours: the line (stderr) while another run holds the lock.
pub fn waiting_for_lock(lock: &Path) -> String {
    format!(
        "Waiting for another dkms process to finish (lock {})...",
        lock.display()
    )
}

/// Ours: the error when the lock file cannot be opened.
pub fn cannot_open_lock(lock: &Path, cause: &str) -> String {
    format!("Cannot open lock file {}: {cause}", lock.display())
}

/// Ours: the error when something else sits at the lock file's path.
pub fn lock_not_regular(lock: &Path) -> String {
    format!("The lock file {} is not a regular file.", lock.display())
}

/// Ours: the error when flock fails.
pub fn cannot_lock(lock: &Path, cause: &str) -> String {
    format!("Cannot lock {}: {cause}", lock.display())
}

/// Ours: the error when a run that must write could not take the lock.
pub fn tree_not_locked(dkms_tree: &Path) -> String {
    format!(
        "Cannot lock the DKMS tree {}; changes need write access to it.",
        dkms_tree.display()
    )
}
