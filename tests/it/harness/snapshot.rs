//! Snapshots of a directory tree, so a test can prove what a run changed
//! (or that it changed nothing), and the comparison of two path -> state
//! maps.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One entry of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file: SHA-256 of its content and its permission bits.
    File {
        /// Hex SHA-256 of the content.
        sha256: String,
        /// `mode & 0o7777`.
        mode: u32,
    },
    /// A symbolic link and its (unresolved) target.
    Symlink(PathBuf),
    /// Anything else (fifo, socket, device).
    Other,
}

/// Every path under a root (relative to it, without a leading `/`) and what
/// is there. Compare two with `==` or [`diff_snapshots`].
pub type Snapshot = BTreeMap<PathBuf, Node>;

/// Human-readable differences between two snapshots (empty when equal).
pub fn diff_snapshots(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (p, n) in before {
        match after.get(p) {
            None => out.push(format!("- {} ({n:?})", p.display())),
            Some(m) if m != n => out.push(format!("~ {}: {n:?} -> {m:?}", p.display())),
            Some(_) => {}
        }
    }
    for (p, n) in after {
        if !before.contains_key(p) {
            out.push(format!("+ {} ({n:?})", p.display()));
        }
    }
    out
}

/// A snapshot of everything under `dir` (symlinks are not followed).
pub fn snapshot_dir(dir: &Path) -> Snapshot {
    let mut map = Snapshot::new();
    walk(dir, dir, &mut map);
    map
}

fn walk(base: &Path, dir: &Path, map: &mut Snapshot) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(base).expect("under base").to_path_buf();
        let meta = fs::symlink_metadata(&path).expect("lstat");
        let ft = meta.file_type();
        if ft.is_symlink() {
            map.insert(rel, Node::Symlink(fs::read_link(&path).expect("readlink")));
        } else if ft.is_dir() {
            map.insert(rel, Node::Dir);
            walk(base, &path, map);
        } else if ft.is_file() {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let sha256 = format!("{:x}", Sha256::digest(&data));
            map.insert(
                rel,
                Node::File {
                    sha256,
                    mode: meta.permissions().mode() & 0o7777,
                },
            );
        } else {
            map.insert(rel, Node::Other);
        }
    }
}

/// Differences between two path -> description maps, one line each:
/// `missing`, `differs` or `extra` (used to compare a run's final state with
/// a reference run's).
pub fn diff_states(
    want: &BTreeMap<PathBuf, String>,
    got: &BTreeMap<PathBuf, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (p, v) in want {
        match got.get(p) {
            None => out.push(format!("missing {} ({v})", p.display())),
            Some(g) if g != v => out.push(format!("differs {}: want {v}, got {g}", p.display())),
            Some(_) => {}
        }
    }
    for (p, v) in got {
        if !want.contains_key(p) {
            out.push(format!("extra {} ({v})", p.display()));
        }
    }
    out
}

/// Every path under `dir`, relative to it, sorted: a short listing for
/// failure messages (unreadable directories are left out).
pub fn list_tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(base).unwrap_or(&p).display().to_string());
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(base, &p, out);
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}
