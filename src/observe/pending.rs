//! The deferred-work queue and the failure records, as read: kernels
//! skipped because their headers were not installed yet, modules deferred
//! for missing BUILD_DEPENDS, and recorded build failures. Kept under
//! `<dkms_tree>/.dkms-hook/` as one small JSON file per entry (written by
//! `exec::queue`). A record that cannot be read, or that names a kernel,
//! arch or module the command line would refuse, is not trusted: it is
//! listed in [`Records::corrupt`] for `doctor` and skipped.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::layout::{is_safe_component, Layout};
use crate::observe::version::sort_v_cmp;

/// Largest record read (a real one is a few hundred bytes).
const MAX_RECORD: u64 = 64 * 1024;

/// Why work waits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The kernel's headers are not installed.
    HeadersMissing,
    /// A BUILD_DEPENDS module is not available for the kernel.
    BuildDepends,
    /// depmod for the kernel has not run since a run that changed its
    /// modules was interrupted (a marker, not a queue entry: see
    /// [`Records::depmod_due`]).
    DepmodDue,
}

/// One deferred piece of work.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    /// Kernel version.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// Why it waits.
    pub reason: Reason,
    /// The module (for BUILD_DEPENDS deferrals), or empty for the whole kernel.
    #[serde(default)]
    pub module: String,
    /// Human-readable detail (headers package to install, missing dependencies).
    #[serde(default)]
    pub detail: String,
    /// Seconds since the epoch when first recorded.
    #[serde(default)]
    pub since: u64,
}

/// A recorded build/install failure (cleared by the next success).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    /// Module.
    pub module: String,
    /// Version.
    pub version: String,
    /// Kernel.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// Exit code of the failed step.
    pub code: i32,
    /// make.log path when there is one.
    #[serde(default)]
    pub log: String,
    /// Seconds since the epoch.
    #[serde(default)]
    pub when: u64,
    /// Why it failed, in one line, when the failed step said (a failed
    /// BUILD_DEPENDS, a dkms.conf that names no module...); empty in
    /// records written before the field existed.
    #[serde(default)]
    pub reason: String,
}

/// A kernel whose depmod an interrupted run left due: the marker
/// `exec::depmod` writes before a module tree changes and removes once
/// depmod succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepmodDue {
    /// Kernel.
    pub kernel: String,
    /// Seconds since the epoch when the marker was written (0: unknown).
    pub since: u64,
}

/// Everything in the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    /// Deferrals, sorted by kernel then module.
    pub items: Vec<Item>,
    /// Failures, sorted by module then kernel.
    pub failures: Vec<Failure>,
    /// Records that could not be read or name unsafe things.
    pub corrupt: Vec<PathBuf>,
    /// Kernels whose depmod is still due, sorted (markers with unsafe
    /// names are left to the tree's report of skipped names).
    pub depmod_due: Vec<DepmodDue>,
    /// The boot guard: guarded kernels and the loader settings changed.
    pub guards: crate::observe::guard::Guards,
}

impl Records {
    /// Read the queue of `layout`'s dkms tree.
    pub fn read(layout: &Layout) -> Records {
        let mut r = Records::default();
        for (path, item) in read_all::<Item>(&layout.pending_dir(), &mut r.corrupt) {
            let ok = is_safe_component(&item.kernel)
                && is_safe_component(&item.arch)
                && (item.module.is_empty() || is_safe_component(&item.module));
            if ok {
                r.items.push(item);
            } else {
                r.corrupt.push(path);
            }
        }
        for (path, f) in read_all::<Failure>(&layout.failed_dir(), &mut r.corrupt) {
            let ok = [&f.kernel, &f.arch, &f.module, &f.version]
                .iter()
                .all(|s| is_safe_component(s));
            if ok {
                r.failures.push(f);
            } else {
                r.corrupt.push(path);
            }
        }
        r.items
            .sort_by(|a, b| sort_v_cmp(&a.kernel, &b.kernel).then_with(|| a.module.cmp(&b.module)));
        r.failures.sort_by(|a, b| {
            a.module
                .cmp(&b.module)
                .then_with(|| sort_v_cmp(&a.kernel, &b.kernel))
        });
        r.guards = crate::observe::guard::Guards::read(layout, &mut r.corrupt);
        r.corrupt.sort();
        r.depmod_due = read_depmod_due(&layout.depmod_pending_dir());
        r
    }

    /// Whether a failure or deferral of module `m` is recorded for k/a.
    pub fn concern(&self, k: &str, a: &str, m: &str) -> bool {
        self.items
            .iter()
            .any(|i| i.kernel == k && i.arch == a && i.module == m)
            || self
                .failures
                .iter()
                .any(|f| f.kernel == k && f.arch == a && f.module == m)
    }

    /// Kernels with deferred work, sorted, each once.
    pub fn kernels(&self) -> Vec<String> {
        let mut v: Vec<String> = self.items.iter().map(|i| i.kernel.clone()).collect();
        v.sort_by(|a, b| sort_v_cmp(a, b));
        v.dedup();
        v
    }
}

/// The file name of a record: its key parts joined by `@`.
pub fn key_name(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.replace(['/', '\0'], "_"))
        .collect::<Vec<_>>()
        .join("@")
        + ".json"
}

/// The file of a deferral.
pub fn item_file(layout: &Layout, i: &Item) -> PathBuf {
    layout
        .pending_dir()
        .join(key_name(&[&i.kernel, &i.arch, &i.module]))
}

/// The file of a failure record.
pub fn failure_file(layout: &Layout, f: &Failure) -> PathBuf {
    layout
        .failed_dir()
        .join(key_name(&[&f.module, &f.version, &f.kernel, &f.arch]))
}

/// The depmod markers in `dir`, each with its time.
fn read_depmod_due(dir: &Path) -> Vec<DepmodDue> {
    let mut out: Vec<DepmodDue> = crate::fs::list_names(dir)
        .into_iter()
        .filter(|k| is_safe_component(k) && !k.starts_with('.'))
        .map(|k| {
            let since = std::fs::symlink_metadata(dir.join(&k))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            DepmodDue { kernel: k, since }
        })
        .collect();
    out.sort_by(|a, b| sort_v_cmp(&a.kernel, &b.kernel));
    out
}

fn read_all<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    corrupt: &mut Vec<PathBuf>,
) -> Vec<(PathBuf, T)> {
    let mut out = Vec::new();
    for name in crate::fs::list_names(dir) {
        if !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let p = dir.join(&name);
        let parsed = crate::fs::read_regular(&p, MAX_RECORD)
            .ok()
            .and_then(|b| serde_json::from_slice::<T>(&b).ok());
        match parsed {
            Some(t) => out.push((p, t)),
            None => corrupt.push(p),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Root;

    /// Trees all under `dir`, as a test root has them.
    fn layout_in(dir: &std::path::Path) -> Layout {
        Layout {
            root: Root::new(dir),
            dkms: dir.to_path_buf(),
            source: dir.join("src"),
            install: dir.join("lib"),
        }
    }

    #[test]
    fn unsafe_and_unreadable_records_are_reported_not_trusted() {
        let d = tempfile::tempdir().unwrap();
        let l = layout_in(d.path());
        let dir = l.pending_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let good = r#"{"kernel":"6.1.0-1-amd64","arch":"x86_64","reason":"headers-missing"}"#;
        let evil = r#"{"kernel":"..","arch":"x86_64","reason":"headers-missing"}"#;
        std::fs::write(dir.join("a.json"), good).unwrap();
        std::fs::write(dir.join("b.json"), evil).unwrap();
        std::fs::write(dir.join("c.json"), "{not json").unwrap();
        let r = Records::read(&l);
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.kernels(), vec!["6.1.0-1-amd64"]);
        assert_eq!(r.corrupt, vec![dir.join("b.json"), dir.join("c.json")]);
    }

    /// Records of every release shape (Debian 13's `+deb13` and its
    /// flavours, Ubuntu's) are trusted, kept apart and sorted as `sort -V`
    /// sorts them; each file is named after its kernel exactly.
    #[test]
    fn records_of_every_release_shape() {
        let d = tempfile::tempdir().unwrap();
        let l = layout_in(d.path());
        let ks = [
            "6.12.118+deb13-rt-amd64",
            "6.8.0-51-lowlatency",
            "6.12.118+deb13-amd64",
            "6.12.9+deb13-amd64",
            "6.8.0-51-generic",
            "6.12.118+deb13-cloud-amd64",
        ];
        std::fs::create_dir_all(l.pending_dir()).unwrap();
        std::fs::create_dir_all(l.failed_dir()).unwrap();
        for k in ks {
            let item = Item {
                kernel: k.into(),
                arch: "x86_64".into(),
                reason: Reason::HeadersMissing,
                module: String::new(),
                detail: format!("linux-headers-{k}"),
                since: 1,
            };
            let file = item_file(&l, &item);
            assert_eq!(
                file.file_name().unwrap().to_string_lossy(),
                format!("{k}@x86_64@.json")
            );
            std::fs::write(file, serde_json::to_vec(&item).unwrap()).unwrap();
            let f = Failure {
                module: "m".into(),
                version: "1.0".into(),
                kernel: k.into(),
                arch: "x86_64".into(),
                code: 10,
                log: String::new(),
                when: 1,
                reason: String::new(),
            };
            std::fs::write(failure_file(&l, &f), serde_json::to_vec(&f).unwrap()).unwrap();
        }
        let r = Records::read(&l);
        assert!(r.corrupt.is_empty(), "{:?}", r.corrupt);
        let want = [
            "6.8.0-51-generic",
            "6.8.0-51-lowlatency",
            "6.12.9+deb13-amd64",
            "6.12.118+deb13-amd64",
            "6.12.118+deb13-cloud-amd64",
            "6.12.118+deb13-rt-amd64",
        ];
        assert_eq!(r.kernels(), want);
        let failed: Vec<&str> = r.failures.iter().map(|f| f.kernel.as_str()).collect();
        assert_eq!(failed, want);
        assert!(r.concern("6.12.118+deb13-amd64", "x86_64", "m"));
        assert!(!r.concern("6.12.118+deb13", "x86_64", "m"));
    }
}
