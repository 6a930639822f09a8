//! [`Tmpfs`], a tmpfs mounted for the length of a test: a filesystem of its
//! own inside a test root (another device, a size limit, read-only on
//! demand). Mounting needs root; without it the test is skipped, or fails
//! under CI.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::skip_unless_ci;

/// A tmpfs mounted for the test's lifetime; unmounted on drop, panics
/// included.
pub struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (mode 0755) on `at`, created if need be, or
    /// says why it cannot.
    pub fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("not running as root".into());
        }
        fs::create_dir_all(at).unwrap_or_else(|e| panic!("mkdir {}: {e}", at.display()));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0755"))
            .arg("tmpfs")
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            at: at.to_path_buf(),
        })
    }

    /// [`Tmpfs::mount`], or `None` once `test` is reported skipped (a
    /// failure under CI).
    #[track_caller]
    pub fn mount_or_skip(test: &str, at: &Path, size: &str) -> Option<Tmpfs> {
        match Tmpfs::mount(at, size) {
            Ok(m) => Some(m),
            Err(why) => {
                skip_unless_ci(test, &format!("cannot mount a tmpfs: {why}"));
                None
            }
        }
    }

    /// Remounts it with `opt` (e.g. `ro`, `rw`).
    #[track_caller]
    pub fn remount(&self, opt: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{opt}")])
            .arg(&self.at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {opt} {}", self.at.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Something still has a file open there: detach it at least.
            let _ = Command::new("umount").arg("-l").arg(&self.at).status();
        }
    }
}
