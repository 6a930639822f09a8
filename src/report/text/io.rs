//! Ours: failures of file operations upstream leaves to `cp` and friends.

use std::path::Path;

/// Ours: a source tree that could not be copied; `cause` is the OS error.
pub fn cannot_copy(from: &Path, to: &Path, cause: &str) -> String {
    format!(
        "Cannot copy {} to {}: {cause}.",
        from.display(),
        to.display()
    )
}
