//! The private temporary directory (`dkms.XXXXXX` under tmp_location, like
//! upstream's `mktemp -d`) that mktarball stages in and ldtarball unpacks
//! into; it goes on every way out.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::text;

/// A `dkms.XXXXXX` directory (mode 0700), removed when dropped.
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
}

impl Scratch {
    /// Make one under `tmp_location`; upstream's `mktemp_or_die` error
    /// (exit 1) when it cannot be made.
    pub fn new(tmp_location: &Path) -> Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix("dkms.")
            .tempdir_in(tmp_location)
            .map_err(|_| Error::denied([text::NO_TEMP_DIR]))?;
        Ok(Scratch { dir: Some(dir) })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("/nonexistent"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            make_removable(d.path());
            // A failure to remove leaves a directory in tmp_location, which
            // is all that can be done about it on the way out.
            let _ = d.close();
        }
    }
}

/// Give every directory below `dir` (links not followed) its owner's
/// rwx bits, so a read-only directory copied from a source tree cannot
/// keep the scratch directory from going.
// File operation outside crate::fs: our own scratch directory, not a tree.
#[allow(clippy::disallowed_methods)]
fn make_removable(dir: &Path) {
    // Best effort: what cannot be changed is reported by the removal.
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            make_removable(&e.path());
        }
    }
}
