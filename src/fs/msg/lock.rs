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

/// Ours: what to do when the lock could not be taken for lack of rights.
pub const NEEDS_ROOT: &str = "Run it as root (changes to the DKMS trees need root).";
