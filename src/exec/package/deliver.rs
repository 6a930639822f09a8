//! Putting a finished package (or index file) into its directory: copied
//! next to its final name under a hidden temporary name, synced, then
//! renamed, so a reader of the directory (an HTTP server, apt, rsync) sees
//! the old file or the new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::report::text;

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::io(text::CANNOT_WRITE_PACKAGE, path, e).into_kind(Error::InstallFailed)
}

/// The hidden temporary name used for `name` in `dir`.
fn temp_for(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.dkms-hook-{}", std::process::id()))
}

/// Write `data` as `dir/name` atomically (mode 0644).
pub fn bytes(dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf> {
    let tmp = temp_for(dir, name);
    let dest = dir.join(name);
    let r = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))?;
        fs::rename(&tmp, &dest)
    })();
    if let Err(e) = r {
        let _ = fs::remove_file(&tmp);
        return Err(io(&dest, e));
    }
    Ok(dest)
}

/// Copy the file `from` to `dir/name` atomically (mode 0644).
pub fn file(from: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    let data = crate::fs::read_regular(from, 4 << 30).map_err(|e| io(from, e))?;
    bytes(dir, name, &data)
}

/// Create `dir` (and its parents) when missing.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| io(dir, e))
}
