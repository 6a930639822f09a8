//! A clean copy of the repository for the package builds: packages are never
//! built in the working tree. The files git knows about (tracked, plus
//! untracked ones that are not ignored) are copied, with their modes and
//! times, to `$CARGO_TARGET_TMPDIR/dkms-hook-pkg/src`; the copy is reused
//! while the content hash of those files is unchanged. Lock files in the
//! same work directory serialise the builds across processes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use sha2::{Digest, Sha256};

use super::{repo, run_command_with_stdin, run_ok, BUILD_TIMEOUT};

/// Where the copy, cargo's output and the packages live between runs.
pub fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dkms-hook-pkg")
}

/// The files git lists for the repository: tracked (and still present) plus
/// untracked files that are not ignored, sorted.
fn repo_files() -> Vec<PathBuf> {
    let out = run_ok(Command::new("git").arg("-C").arg(repo()).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    let mut files: Vec<PathBuf> = out
        .stdout
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .filter(|p| repo().join(p).symlink_metadata().is_ok())
        .collect();
    files.sort();
    files.dedup();
    files
}

/// A hash of the names, modes and contents of `files`.
fn content_hash(files: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    for f in files {
        let path = repo().join(f);
        // Files that vanish meanwhile (someone is editing the tree) are skipped.
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap_or_default();
            h.update(target.to_string_lossy().as_bytes());
        } else if meta.is_file() {
            let Ok(data) = fs::read(&path) else {
                continue;
            };
            h.update((data.len() as u64).to_le_bytes());
            h.update(&data);
        }
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Holds a cross-process lock of the work directory (released when dropped).
pub struct WorkLock {
    /// Closing it releases the lock.
    _lock: fs::File,
}

/// Take the lock file `name` in the work directory, which serialises work
/// there across processes (`flock`: released on exit, even after a crash).
pub fn lock_work_dir(name: &str) -> WorkLock {
    fs::create_dir_all(work_dir()).unwrap_or_else(|e| panic!("create work dir: {e}"));
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(work_dir().join(name))
        .unwrap_or_else(|e| panic!("open lock file: {e}"));
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .unwrap_or_else(|e| panic!("flock {name}: {e}"));
    WorkLock { _lock: file }
}

/// The copy of the repository, up to date; returns its directory and the
/// content hash. Call with the build lock held.
pub(super) fn sync_copy() -> (PathBuf, String) {
    let files = repo_files();
    let hash = content_hash(&files);
    let src = work_dir().join("src");
    let stamp = work_dir().join("src.hash");
    if src.is_dir() && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash) {
        return (src, hash);
    }
    let _ = fs::remove_file(&stamp);
    if src.exists() {
        fs::remove_dir_all(&src).unwrap_or_else(|e| panic!("remove old copy: {e}"));
    }
    fs::create_dir_all(&src).unwrap_or_else(|e| panic!("create copy dir: {e}"));
    // tar keeps modes, times and symlinks; unchanged times let cargo skip work.
    let mut list = Vec::new();
    for f in &files {
        list.extend_from_slice(f.to_string_lossy().as_bytes());
        list.push(0);
    }
    let mut tar = Command::new("bash");
    tar.arg("-c")
        .arg("set -o pipefail; tar -C \"$1\" --ignore-failed-read --null -T - -cf - | tar -C \"$2\" -xf -")
        .arg("sh")
        .arg(repo())
        .arg(&src);
    let out = run_command_with_stdin(tar, &list, BUILD_TIMEOUT);
    assert_eq!(out.code, 0, "copying the repository with tar failed\n{out}");
    fs::write(&stamp, &hash).unwrap_or_else(|e| panic!("write stamp: {e}"));
    (src, hash)
}
