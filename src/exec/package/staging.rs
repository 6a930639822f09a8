//! The tree a package is built from, prepared so that the same build gives
//! the same bytes: directories 0755 and files 0644 (scripts 0755) whatever
//! the umask, every timestamp set to the package's epoch, no other file.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD};

use crate::error::{Error, Kind, Result};
use crate::exec::msg;
use crate::plan::package::BinaryPackage;

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::io(msg::CANNOT_WRITE_PACKAGE, path, e).into_kind(Kind::InstallFailed)
}

/// `dest` (an absolute installed path) under `tree`.
fn under(tree: &Path, dest: &str) -> PathBuf {
    tree.join(dest.trim_start_matches('/'))
}

/// Write `data` at `path` with `mode`, creating its directories.
// File operation outside crate::fs: the package's staging directory, ours and temporary, not a tree.
#[allow(clippy::disallowed_methods)]
pub fn write(tree: &Path, path: &Path, data: &[u8], mode: u32) -> Result<()> {
    if let Some(d) = path.parent() {
        mkdirs(tree, d)?;
    }
    fs::write(path, data).map_err(|e| io(path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| io(path, e))
}

/// `mkdir -p` up to `dir`, each new directory 0755.
// File operation outside crate::fs: the package's staging directory, ours and temporary, not a tree.
#[allow(clippy::disallowed_methods)]
fn mkdirs(tree: &Path, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut d = dir;
    while d.starts_with(tree) {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).map_err(|e| io(d, e))?;
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    Ok(())
}

/// The payload of `p` (module files and the prebuilt record) under `tree`.
pub fn payload(tree: &Path, p: &BinaryPackage) -> Result<()> {
    for f in &p.files {
        let data = crate::fs::read_regular(&f.source, 1 << 30).map_err(|e| io(&f.source, e))?;
        write(tree, &under(tree, &f.dest), &data, 0o644)?;
    }
    write(tree, &under(tree, &p.record_dest), &p.record_bytes(), 0o644)
}

/// Set the time of everything under `tree` (and `tree`) to `epoch`,
/// without following symlinks.
pub fn set_times(tree: &Path, epoch: u64) -> Result<()> {
    let t = Timespec {
        tv_sec: epoch as i64,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    let mut stack = vec![tree.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = fs::symlink_metadata(&p).map_err(|e| io(&p, e))?;
        if meta.is_dir() {
            for e in fs::read_dir(&p).map_err(|e| io(&p, e))? {
                stack.push(e.map_err(|e| io(&p, e))?.path());
            }
        }
        utimensat(CWD, &p, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io(&p, std::io::Error::from(e)))?;
    }
    Ok(())
}

/// The payload's size in KiB (each file rounded up), for Installed-Size.
pub fn size_kib(p: &BinaryPackage) -> u64 {
    let files = p
        .files
        .iter()
        .map(|f| fs::metadata(&f.source).map(|m| m.len()).unwrap_or(0))
        .chain([p.record_bytes().len() as u64]);
    files.map(|n| n.div_ceil(1024)).sum()
}
