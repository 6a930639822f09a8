//! The deferred-work queue: kernels skipped because their headers were not
//! installed yet, modules deferred for missing BUILD_DEPENDS, and recorded
//! failures. Kept under `<dkms_tree>/.dkms-hook/` as one small JSON file per
//! entry, written by atomic rename, so nothing is lost when a run is killed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why work waits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The kernel's headers are not installed.
    HeadersMissing,
    /// A BUILD_DEPENDS module is not available for the kernel.
    BuildDepends,
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
}

/// The queue under a dkms tree.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn key_name(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.replace(['/', '\0'], "_"))
        .collect::<Vec<_>>()
        .join("@")
        + ".json"
}

impl Queue {
    /// The queue of `dkms_tree`.
    pub fn new(dkms_tree: &Path) -> Queue {
        Queue {
            dir: dkms_tree.join(".dkms-hook"),
        }
    }

    fn pending_dir(&self) -> PathBuf {
        self.dir.join("pending")
    }

    fn failed_dir(&self) -> PathBuf {
        self.dir.join("failed")
    }

    /// Record (or keep) a deferral. The first `since` is kept.
    pub fn add(&self, mut item: Item) -> std::io::Result<()> {
        let path = self
            .pending_dir()
            .join(key_name(&[&item.kernel, &item.arch, &item.module]));
        if let Some(old) = read_json::<Item>(&path) {
            item.since = old.since;
        } else if item.since == 0 {
            item.since = now();
        }
        write_json(&path, &item)
    }

    /// Remove a deferral (after the work was done, or its kernel went away).
    pub fn remove(&self, item: &Item) {
        let _ = std::fs::remove_file(self.pending_dir().join(key_name(&[
            &item.kernel,
            &item.arch,
            &item.module,
        ])));
    }

    /// Every deferral, sorted by kernel then module.
    pub fn items(&self) -> Vec<Item> {
        let mut v: Vec<Item> = read_all(&self.pending_dir());
        v.sort_by(|a, b| {
            crate::version::sort_v_cmp(&a.kernel, &b.kernel).then_with(|| a.module.cmp(&b.module))
        });
        v
    }

    /// Record a failure.
    pub fn fail(&self, mut f: Failure) -> std::io::Result<()> {
        f.when = now();
        write_json(
            &self
                .failed_dir()
                .join(key_name(&[&f.module, &f.version, &f.kernel, &f.arch])),
            &f,
        )
    }

    /// Clear failures of m (any version) for k/a.
    pub fn clear_failure(&self, m: &str, k: &str, a: &str) {
        for f in self.failures() {
            if f.module == m && f.kernel == k && f.arch == a {
                let _ = std::fs::remove_file(
                    self.failed_dir()
                        .join(key_name(&[&f.module, &f.version, &f.kernel, &f.arch])),
                );
            }
        }
    }

    /// Clear every failure recorded for kernel `k`.
    pub fn clear_kernel_failures(&self, k: &str) {
        for f in self.failures() {
            if f.kernel == k {
                let _ = std::fs::remove_file(
                    self.failed_dir()
                        .join(key_name(&[&f.module, &f.version, &f.kernel, &f.arch])),
                );
            }
        }
    }

    /// Every recorded failure.
    pub fn failures(&self) -> Vec<Failure> {
        let mut v: Vec<Failure> = read_all(&self.failed_dir());
        v.sort_by(|a, b| {
            a.module
                .cmp(&b.module)
                .then_with(|| crate::version::sort_v_cmp(&a.kernel, &b.kernel))
        });
        v
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(p: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

fn read_all<T: for<'de> Deserialize<'de>>(dir: &Path) -> Vec<T> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| read_json(&e.path()))
        .collect()
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Temporary files of an interrupted write (writers hold the tree lock).
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(&mut tmp, value)?;
    tmp.as_file().sync_all()?;
    crate::fault::point("pending:before-persist");
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_list_remove_keeps_first_time() {
        let d = tempfile::tempdir().unwrap();
        let q = Queue::new(d.path());
        let item = Item {
            kernel: "6.1.0-9-amd64".into(),
            arch: "x86_64".into(),
            reason: Reason::HeadersMissing,
            module: String::new(),
            detail: "linux-headers-6.1.0-9-amd64".into(),
            since: 5,
        };
        q.add(item.clone()).unwrap();
        let mut again = item.clone();
        again.since = 99;
        q.add(again).unwrap();
        let items = q.items();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].since, 5);
        q.remove(&item);
        assert!(q.items().is_empty());
    }

    #[test]
    fn failures_clear_per_kernel() {
        let d = tempfile::tempdir().unwrap();
        let q = Queue::new(d.path());
        for k in ["6.1.0-1-amd64", "6.1.0-2-amd64"] {
            q.fail(Failure {
                module: "m".into(),
                version: "1".into(),
                kernel: k.into(),
                arch: "x86_64".into(),
                code: 10,
                log: String::new(),
                when: 0,
            })
            .unwrap();
        }
        q.clear_failure("m", "6.1.0-1-amd64", "x86_64");
        let f = q.failures();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kernel, "6.1.0-2-amd64");
    }
}
