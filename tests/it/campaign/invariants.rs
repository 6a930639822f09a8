//! What the runner reads back from a root, and the invariants that must
//! hold after every event whatever the model says: nothing outside the
//! trees changed, every `dkms status` line agrees with the files, no
//! process is left running, the lock is free, no module file is torn, no
//! leftover of an interrupted run survives its recovery.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::harness::*;

use super::model::PendingEntry;
use super::universe::{Mv, CATALOG};

/// Hex SHA-256 of a file, `None` when it cannot be read.
pub fn sha_of(p: &Path) -> Option<String> {
    fs::read(p)
        .ok()
        .map(|d| format!("{:x}", Sha256::digest(&d)))
}

fn is_ko(name: &str) -> bool {
    [".ko", ".ko.gz", ".ko.xz", ".ko.zst"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// The built module of `mv` for `k` in the dkms tree.
pub fn built_ko(root: &TestRoot, mv: Mv, k: &str) -> PathBuf {
    root.path(&format!(
        "var/lib/dkms/{}/{}/{k}/{ARCH}/module/{}.ko",
        mv.m, mv.v, mv.m
    ))
}

/// The module files below `lib/modules/K` (not its build tree): path
/// relative to it -> SHA-256.
pub fn module_files(root: &TestRoot, k: &str) -> BTreeMap<String, String> {
    let base = root.path(&format!("lib/modules/{k}"));
    let mut out = BTreeMap::new();
    if !base.is_dir() {
        return out;
    }
    for (p, n) in snapshot_dir_skipping(&base, &["build", "source"]) {
        let name = p.to_string_lossy().into_owned();
        if let Node::File { sha256, .. } = n {
            if is_ko(&name)
                && !p
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with('.'))
            {
                out.insert(name, sha256);
            }
        }
    }
    out
}

/// [`snapshot_dir`] of `dir` without the top-level entries `skip` (a
/// kernel's `build` tree is large and a real one is a link to the host's).
pub fn snapshot_dir_skipping(dir: &Path, skip: &[&str]) -> Snapshot {
    let mut out = Snapshot::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if skip.contains(&name.as_str()) {
            continue;
        }
        let p = e.path();
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(_) => continue,
        };
        if meta.is_dir() {
            out.insert(PathBuf::from(&name), Node::Dir);
            for (sub, n) in snapshot_dir(&p) {
                out.insert(Path::new(&name).join(sub), n);
            }
        } else if meta.file_type().is_symlink() {
            out.insert(
                PathBuf::from(&name),
                Node::Symlink(fs::read_link(&p).unwrap_or_default()),
            );
        } else if meta.is_file() {
            out.insert(
                PathBuf::from(&name),
                Node::File {
                    sha256: sha_of(&p).unwrap_or_default(),
                    mode: 0,
                },
            );
        } else {
            out.insert(PathBuf::from(&name), Node::Other);
        }
    }
    out
}

/// What each module file of installed kernel `k` is: `build m/v` when its
/// bytes are that version's build for `k`, `original`, or its hash.
pub fn identify_files(
    root: &TestRoot,
    k: &str,
    original: Option<&str>,
) -> BTreeMap<String, String> {
    let builds: BTreeMap<String, Mv> = CATALOG
        .iter()
        .filter_map(|mv| sha_of(&built_ko(root, *mv, k)).map(|s| (s, *mv)))
        .collect();
    module_files(root, k)
        .into_iter()
        .map(|(p, sha)| {
            let what = if let Some(mv) = builds.get(&sha) {
                format!("build {mv}")
            } else if original == Some(sha.as_str()) {
                "original".to_string()
            } else {
                format!("unknown bytes {}", &sha[..12])
            };
            (p, what)
        })
        .collect()
}

/// The modules `modules.dep` of `k` lists (paths relative to the
/// kernel's directory, compression suffix kept).
pub fn depmod_listed(root: &TestRoot, k: &str) -> BTreeSet<String> {
    fs::read_to_string(root.path(&format!("lib/modules/{k}/modules.dep")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(|p| {
            p.trim()
                .trim_start_matches(&format!("/lib/modules/{k}/"))
                .to_string()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// True if the original hello of `k` is set aside in the dkms tree.
pub fn archived(root: &TestRoot, k: &str) -> bool {
    !root
        .list(&format!("var/lib/dkms/hello/original_module/{k}/{ARCH}"))
        .iter()
        .filter(|n| is_ko(n))
        .collect::<Vec<_>>()
        .is_empty()
}

/// `dkms status` lines, without the suffixes in parentheses.
pub fn strip_suffixes(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = lines
        .iter()
        .map(|l| match l.find(" (") {
            Some(i) => l[..i].to_string(),
            None => l.clone(),
        })
        .collect();
    out.sort();
    out
}

/// The pending entries of `dkms status --output json`.
pub fn pending_entries(json: &str) -> Result<BTreeSet<PendingEntry>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("status json: {e}: {json}"))?;
    let list = v["pending"].as_array().cloned().unwrap_or_default();
    Ok(list
        .iter()
        .map(|p| {
            (
                p["kernel"].as_str().unwrap_or("?").to_string(),
                p["reason"].as_str().unwrap_or("?").to_string(),
                p["module"].as_str().map(str::to_string),
            )
        })
        .collect())
}

/// Every status line checked against the files it describes.
pub fn status_disagreements(root: &TestRoot, lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let (body, suffix) = match line.find(" (") {
            Some(i) => (&line[..i], &line[i..]),
            None => (line.as_str(), ""),
        };
        let Some((head, state)) = body.rsplit_once(": ") else {
            out.push(format!("status line {line:?} cannot be read"));
            continue;
        };
        let parts: Vec<&str> = head.split(", ").collect();
        let Some((m, v)) = parts[0].split_once('/') else {
            out.push(format!("status line {line:?} names no module/version"));
            continue;
        };
        let vdir = format!("var/lib/dkms/{m}/{v}");
        match (parts.len(), state) {
            (1, "added") => {
                if !root.exists(&format!("{vdir}/source")) {
                    out.push(format!("{line:?}: {vdir}/source is missing"));
                }
            }
            (3, "built" | "installed") => {
                let (k, a) = (parts[1], parts[2]);
                let module_dir = root.path(&format!("{vdir}/{k}/{a}/module"));
                let built: Vec<String> = root
                    .list(&format!("{vdir}/{k}/{a}/module"))
                    .into_iter()
                    .filter(|n| is_ko(n))
                    .collect();
                if built.is_empty() {
                    out.push(format!("{line:?}: no module in {}", module_dir.display()));
                }
                let link = fs::read_link(root.path(&format!("var/lib/dkms/{m}/kernel-{k}-{a}")))
                    .ok()
                    .map(|t| t.to_string_lossy().into_owned());
                let names_this = link.as_deref() == Some(&format!("{v}/{k}/{a}"));
                if state == "installed" && !names_this {
                    out.push(format!("{line:?}: kernel-{k}-{a} is {link:?}"));
                }
                if state == "built" && names_this {
                    out.push(format!("{line:?}: but kernel-{k}-{a} names this version"));
                }
                if state == "installed"
                    && !suffix.contains("missing")
                    && !suffix.contains("Differences")
                {
                    for b in &built {
                        let inst = root.path(&format!("lib/modules/{k}/updates/dkms/{b}"));
                        if sha_of(&inst) != sha_of(&module_dir.join(b)) {
                            out.push(format!("{line:?}: {} is not the built {b}", inst.display()));
                        }
                    }
                }
                if suffix.contains("Original modules exist")
                    && root
                        .list(&format!("var/lib/dkms/{m}/original_module/{k}/{a}"))
                        .is_empty()
                {
                    out.push(format!("{line:?}: no original module is archived"));
                }
            }
            (1, "broken") => {
                // Truthful only while the source link is missing or leads
                // nowhere (a kill between the version's directory and its
                // link leaves that).
                if root
                    .path(&format!("{vdir}/source"))
                    .join("dkms.conf")
                    .is_file()
                {
                    out.push(format!("{line:?}: but {vdir}/source holds a dkms.conf"));
                }
            }
            _ => out.push(format!("status line {line:?} cannot be read")),
        }
    }
    out
}

/// What an interrupted run can leave behind (as `crash.rs` defines it):
/// build directories, temporary results and links in the dkms tree,
/// temporary module files in the install tree.
pub fn leftovers(root: &TestRoot) -> Vec<String> {
    let mut out = Vec::new();
    for (p, _) in snapshot_dir(&root.path("var/lib/dkms")) {
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if n.starts_with("build-")
            || n.starts_with(".tmp")
            || n.starts_with(".old_")
            || (n.starts_with(".kernel-") && n.contains(".tmp"))
        {
            out.push(format!("var/lib/dkms/{}", p.display()));
        }
    }
    // Builds a killed run was deleting (renamed into .dkms-hook/gone).
    for n in root.list("var/lib/dkms/.dkms-hook/gone") {
        out.push(format!("var/lib/dkms/.dkms-hook/gone/{n}"));
    }
    for k in root.list("lib/modules") {
        for (p, _) in snapshot_dir_skipping(
            &root.path(&format!("lib/modules/{k}")),
            &["build", "source"],
        ) {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if n.starts_with('.') && n.contains(".dkms-") {
                out.push(format!("lib/modules/{k}/{}", p.display()));
            }
        }
    }
    out
}

/// Everything in the root outside the dkms tree and the install tree.
pub fn outside_trees(root: &TestRoot) -> Snapshot {
    snapshot_dir(root.root())
        .into_iter()
        .filter(|(p, _)| !p.starts_with("var/lib/dkms") && !p.starts_with("lib/modules"))
        .collect()
}

/// Processes whose working directory or command line is in `root`,
/// waiting up to `grace` for them to go (a killed parent's children get
/// their death signal asynchronously).
pub fn processes_in(root: &Path, grace: Duration) -> Vec<String> {
    let needle = root.to_string_lossy().into_owned();
    let me = std::process::id().to_string();
    let until = Instant::now() + grace;
    loop {
        let mut found = Vec::new();
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.flatten() {
                let pid = e.file_name().to_string_lossy().into_owned();
                if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
                    continue;
                }
                let cwd = fs::read_link(e.path().join("cwd"))
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let cmd = fs::read(e.path().join("cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                    .unwrap_or_default();
                if cwd.starts_with(&needle) || cmd.contains(&needle) {
                    let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                    // Zombies are gone already, only not reaped by a parent.
                    if stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
                        continue;
                    }
                    found.push(format!("pid {pid}: {}", cmd.trim()));
                }
            }
        }
        if found.is_empty() || Instant::now() >= until {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills (SIGKILL) every process [`processes_in`] finds.
pub fn kill_processes_in(root: &Path) {
    for p in processes_in(root, Duration::ZERO) {
        if let Some(pid) = p
            .strip_prefix("pid ")
            .and_then(|s| s.split(':').next())
            .and_then(|s| s.parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// True if nobody holds the tree lock (a non-blocking exclusive flock
/// succeeds, and is let go at once).
pub fn lock_free(root: &TestRoot) -> bool {
    let Ok(f) = fs::File::open(root.path(LOCK)) else {
        return true;
    };
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
            let _ = rustix::fs::flock(&f, rustix::fs::FlockOperation::Unlock);
            true
        }
        Err(_) => false,
    }
}
