//! The on-disk state under the dkms tree, read without running anything:
//! which module versions are added, built for which kernels, installed, or
//! broken. The layout is upstream's, because other tools read it:
//!
//! - `<dkms_tree>/<m>/<v>/source -> <source_tree>/<m>-<v>`
//! - `<dkms_tree>/<m>/<v>/<kver>/<arch>/module/<dest>.ko[.gz|.xz|.zst]`
//! - `<dkms_tree>/<m>/kernel-<kver>-<arch> -> <v>/<kver>/<arch>` ("installed")
//! - `<dkms_tree>/<m>/original_module/<kver>/<arch>/...`

use std::path::{Path, PathBuf};

use crate::paths::Root;
use crate::version::sort_v_cmp;

/// The dkms tree and source tree locations (host paths).
#[derive(Debug, Clone)]
pub struct Tree {
    /// The `--root` prefix (symlink targets are read under it).
    pub root: Root,
    /// `dkms_tree`.
    pub dkms: PathBuf,
    /// `source_tree`.
    pub source: PathBuf,
}

/// A module version's state for one line of `dkms status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Registered, not built for any kernel (matching the filter).
    Added,
    /// Built for the kernel/arch.
    Built,
    /// Built and the `kernel-K-A` link points at this build.
    Installed,
    /// Source or its link missing.
    Broken,
}

impl State {
    /// The word upstream prints.
    pub fn word(&self) -> &'static str {
        match self {
            State::Added => "added",
            State::Built => "built",
            State::Installed => "installed",
            State::Broken => "broken",
        }
    }
}

/// One status fact: module, version, and for built/installed the kernel and arch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Module name.
    pub module: String,
    /// Module version.
    pub version: String,
    /// Kernel version (built/installed only).
    pub kernel: String,
    /// Arch (built/installed only).
    pub arch: String,
    /// The state.
    pub state: State,
}

impl Tree {
    /// A tree view.
    pub fn new(root: Root, dkms: PathBuf, source: PathBuf) -> Tree {
        Tree { root, dkms, source }
    }

    /// `<dkms_tree>/<m>`.
    pub fn module_dir(&self, m: &str) -> PathBuf {
        self.dkms.join(m)
    }

    /// `<dkms_tree>/<m>/<v>`.
    pub fn version_dir(&self, m: &str, v: &str) -> PathBuf {
        self.dkms.join(m).join(v)
    }

    /// `<dkms_tree>/<m>/<v>/source` (the link itself).
    pub fn source_link(&self, m: &str, v: &str) -> PathBuf {
        self.version_dir(m, v).join("source")
    }

    /// `<source_tree>/<m>-<v>`.
    pub fn source_tree_dir(&self, m: &str, v: &str) -> PathBuf {
        self.source.join(format!("{m}-{v}"))
    }

    /// The module source as a host path: the `source` link resolved under the
    /// root, or the `source` directory itself (binaries-only tarballs).
    pub fn source_dir(&self, m: &str, v: &str) -> PathBuf {
        let link = self.source_link(m, v);
        self.root.read_link(&link).unwrap_or(link)
    }

    /// `<dkms_tree>/<m>/<v>/<k>/<a>`.
    pub fn base_dir(&self, m: &str, v: &str, k: &str, a: &str) -> PathBuf {
        self.version_dir(m, v).join(k).join(a)
    }

    /// `<dkms_tree>/<m>/kernel-<k>-<a>`.
    pub fn kernel_link(&self, m: &str, k: &str, a: &str) -> PathBuf {
        self.module_dir(m).join(format!("kernel-{k}-{a}"))
    }

    /// `<dkms_tree>/<m>/original_module/<k>/<a>`.
    pub fn original_dir(&self, m: &str, k: &str, a: &str) -> PathBuf {
        self.module_dir(m).join("original_module").join(k).join(a)
    }

    /// Upstream `is_module_added`: the version dir exists and `source` is a
    /// symlink to a directory.
    pub fn is_added(&self, m: &str, v: &str) -> bool {
        let link = self.source_link(m, v);
        self.version_dir(m, v).is_dir() && is_symlink(&link) && self.source_dir(m, v).is_dir()
    }

    /// Upstream `is_module_broken`: the source link dangles, or there is no
    /// link although the source tree has the module.
    pub fn is_broken(&self, m: &str, v: &str) -> bool {
        if !self.version_dir(m, v).is_dir() {
            return false;
        }
        let link = self.source_link(m, v);
        if is_symlink(&link) {
            return !self.source_dir(m, v).is_dir();
        }
        self.source_tree_dir(m, v).is_dir()
    }

    /// Upstream `is_module_built`: `<k>/<a>/module` is a directory.
    pub fn is_built(&self, m: &str, v: &str, k: &str, a: &str) -> bool {
        self.base_dir(m, v, k, a).join("module").is_dir()
    }

    /// Upstream `_is_module_installed`: the kernel link resolves to this build.
    pub fn link_points_here(&self, m: &str, v: &str, k: &str, a: &str) -> bool {
        let link = self.kernel_link(m, k, a);
        match (
            std::fs::canonicalize(&link),
            std::fs::canonicalize(self.base_dir(m, v, k, a)),
        ) {
            (Ok(x), Ok(y)) => is_symlink(&link) && x == y,
            _ => false,
        }
    }

    /// Built and installed.
    pub fn is_installed(&self, m: &str, v: &str, k: &str, a: &str) -> bool {
        self.is_built(m, v, k, a) && self.link_points_here(m, v, k, a)
    }

    /// Every module name in the tree (directories not starting with `.`), sorted.
    pub fn modules(&self) -> Vec<String> {
        let mut out = list_dirs(&self.dkms)
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect::<Vec<_>>();
        out.sort();
        out
    }

    /// Every version directory of `m` (skipping `kernel-*` links and
    /// `original_module`), sorted by `sort -V`.
    pub fn versions(&self, m: &str) -> Vec<String> {
        let mut out: Vec<String> = list_dirs(&self.module_dir(m))
            .into_iter()
            .filter(|n| !n.starts_with('.') && n != "original_module")
            .filter(|n| !(n.starts_with("kernel-") && is_symlink(&self.module_dir(m).join(n))))
            .collect();
        out.sort_by(|a, b| sort_v_cmp(a, b));
        out
    }

    /// Every (module, version) pair, like upstream `list_module_version_combos`.
    pub fn module_versions(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for m in self.modules() {
            for v in self.versions(&m) {
                out.push((m.clone(), v));
            }
        }
        out
    }

    /// (kernel, arch) pairs built for m/v: kernel dirs look like a version
    /// (digits then a dot, as upstream's `+([0-9]).*` glob), arch dirs hold `module/`.
    pub fn built_kernels(&self, m: &str, v: &str) -> Vec<(String, String)> {
        let vd = self.version_dir(m, v);
        let mut out = Vec::new();
        for k in list_dirs(&vd) {
            if !looks_like_kernel(&k) {
                continue;
            }
            for a in list_dirs(&vd.join(&k)) {
                if !a.starts_with('.') && self.is_built(m, v, &k, &a) {
                    out.push((k.clone(), a));
                }
            }
        }
        out.sort_by(|x, y| sort_v_cmp(&x.0, &y.0).then_with(|| x.1.cmp(&y.1)));
        out
    }

    /// Status entries for the filters (empty string = any), in upstream's
    /// order: module, version, kernel.
    pub fn status(&self, m: &str, v: &str, k: &str, a: &str) -> Vec<Entry> {
        let mut out = Vec::new();
        for (mm, vv) in self.module_versions() {
            if (!m.is_empty() && mm != m) || (!v.is_empty() && vv != v) {
                continue;
            }
            let entry = |k: &str, a: &str, state| Entry {
                module: mm.clone(),
                version: vv.clone(),
                kernel: k.to_string(),
                arch: a.to_string(),
                state,
            };
            if self.is_broken(&mm, &vv) {
                out.push(entry("", "", State::Broken));
                continue;
            }
            if !self.is_added(&mm, &vv) {
                continue;
            }
            let built: Vec<_> = self
                .built_kernels(&mm, &vv)
                .into_iter()
                .filter(|(kk, aa)| (k.is_empty() || kk == k) && (a.is_empty() || aa == a))
                .collect();
            if built.is_empty() {
                out.push(entry("", "", State::Added));
            }
            for (kk, aa) in built {
                let st = if self.link_points_here(&mm, &vv, &kk, &aa) {
                    State::Installed
                } else {
                    State::Built
                };
                out.push(entry(&kk, &aa, st));
            }
        }
        out
    }

    /// The newest registered (added, not broken) version of each module, by
    /// upstream's `VER` order.
    pub fn latest_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (m, v) in self.module_versions() {
            if !self.is_added(&m, &v) {
                continue;
            }
            match out.iter_mut().find(|(mm, _)| *mm == m) {
                Some(slot) => {
                    if crate::version::ver_cmp(&v, &slot.1) == std::cmp::Ordering::Greater {
                        slot.1 = v;
                    }
                }
                None => out.push((m, v)),
            }
        }
        out
    }
}

/// True if `p` is a symlink (without following it).
pub fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

/// Upstream's kernel-dir glob `+([0-9]).*`: one or more digits, then a dot.
pub fn looks_like_kernel(name: &str) -> bool {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && name.as_bytes().get(digits) == Some(&b'.')
}

/// Names of the entries in `dir` that are directories (following links).
pub fn list_dirs(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn fixture() -> (tempfile::TempDir, Tree) {
        let d = tempfile::tempdir().unwrap();
        let t = Tree::new(
            Root::new(d.path()),
            d.path().join("var/lib/dkms"),
            d.path().join("usr/src"),
        );
        (d, t)
    }

    fn add(t: &Tree, m: &str, v: &str) {
        std::fs::create_dir_all(t.source_tree_dir(m, v)).unwrap();
        std::fs::create_dir_all(t.version_dir(m, v)).unwrap();
        symlink(format!("/usr/src/{m}-{v}"), t.source_link(m, v)).unwrap();
    }

    #[test]
    fn states_follow_upstream_rules() {
        let (_d, t) = fixture();
        add(&t, "hello", "1.0");
        assert!(t.is_added("hello", "1.0"));
        assert_eq!(t.status("", "", "", "")[0].state, State::Added);
        std::fs::create_dir_all(
            t.base_dir("hello", "1.0", "6.1.0-1-amd64", "x86_64")
                .join("module"),
        )
        .unwrap();
        assert_eq!(t.status("", "", "", "")[0].state, State::Built);
        symlink(
            "1.0/6.1.0-1-amd64/x86_64",
            t.kernel_link("hello", "6.1.0-1-amd64", "x86_64"),
        )
        .unwrap();
        let s = t.status("", "", "", "");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].state, State::Installed);
        assert_eq!(s[0].kernel, "6.1.0-1-amd64");
        // the kernel-* link is not a version
        assert_eq!(t.versions("hello"), vec!["1.0"]);
        std::fs::remove_dir_all(t.source_tree_dir("hello", "1.0")).unwrap();
        assert!(t.is_broken("hello", "1.0"));
        assert_eq!(t.status("", "", "", "")[0].state, State::Broken);
    }

    #[test]
    fn latest_uses_ver_order() {
        let (_d, t) = fixture();
        add(&t, "m", "1.9");
        add(&t, "m", "1.10");
        assert_eq!(
            t.latest_versions(),
            vec![("m".to_string(), "1.10".to_string())]
        );
    }

    #[test]
    fn kernel_dir_glob() {
        assert!(looks_like_kernel("6.1.0-56-amd64"));
        assert!(!looks_like_kernel("build"));
        assert!(!looks_like_kernel("build-6.1.0-x86_64"));
        assert!(!looks_like_kernel("6"));
    }
}
