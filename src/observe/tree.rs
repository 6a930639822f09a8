//! The dkms tree as one run sees it: which module versions are registered,
//! built for which kernels, installed, or broken — read once, without
//! running anything, into plain values the planner decides from.
//!
//! Upstream's rules, kept exactly because other tools rely on them:
//! added = `<m>/<v>` is a directory and `source` a symlink to a directory;
//! broken = the link dangles, or there is no link although
//! `<source_tree>/<m>-<v>` exists; built = `<m>/<v>/<k>/<a>/module` is a
//! directory; installed = built and `kernel-<k>-<a>` resolves to that build.
//! Names read from disk that would not be accepted on the command line
//! (`..`, shell characters, ...) are skipped and reported.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::fs::{is_symlink, list_dirs, list_names};
use crate::layout::{
    is_safe_component, looks_like_kernel, Layout, KERNEL_LINK, ORIGIN, ORIGINAL_MODULE,
};
use crate::observe::version::{sort_v_cmp, ver_cmp};

/// One module version's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionState {
    /// Registered: the `source` link leads to a directory.
    pub added: bool,
    /// Source or its link missing.
    pub broken: bool,
    /// The source as a host path (the link resolved under the root, or a
    /// `source` directory of a binaries-only tarball).
    pub source_dir: PathBuf,
    /// Number of entries in the source directory (upstream refuses to
    /// build from fewer than two).
    pub source_entries: usize,
    /// (kernel, arch) pairs built, sorted by kernel (`sort -V`) then arch.
    pub built: Vec<(String, String)>,
    /// Every directory name under `<m>/<v>` (for "delete completely").
    pub dirs: Vec<String>,
}

/// One module's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleState {
    /// Versions by name (ordered by `sort -V` in [`TreeState::versions`]).
    pub versions: BTreeMap<String, VersionState>,
    /// `kernel-<k>-<a>` links: (kernel, arch) -> the version whose build they
    /// resolve to (`None` when dangling or pointing elsewhere).
    pub links: BTreeMap<(String, String), Option<String>>,
    /// (kernel, arch) pairs with an `original_module/<k>/<a>` directory.
    pub originals: Vec<(String, String)>,
    /// Those of them that hold an archived module (not only notes, or
    /// nothing: what an interrupted restore or a rolled-back archive
    /// leaves), what status's "(Original modules exist)" says.
    pub archived: Vec<(String, String)>,
}

/// A module version's state for one line of `dkms status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The whole dkms tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeState {
    /// Modules by name.
    pub modules: BTreeMap<String, ModuleState>,
    /// Names found on disk that were skipped as unsafe, for the report.
    pub skipped: Vec<PathBuf>,
}

impl TreeState {
    /// Read the tree under `layout`.
    pub fn read(layout: &Layout) -> TreeState {
        let mut t = TreeState::default();
        for m in list_names(&layout.dkms) {
            if m.starts_with('.') || !layout.module_dir(&m).is_dir() {
                continue;
            }
            if !is_safe_component(&m) {
                t.skipped.push(layout.module_dir(&m));
                continue;
            }
            let ms = read_module(layout, &m, &mut t.skipped);
            t.modules.insert(m, ms);
        }
        t
    }

    /// Every module name, sorted.
    pub fn module_names(&self) -> Vec<String> {
        self.modules.keys().cloned().collect()
    }

    /// The versions of `m`, sorted by `sort -V`.
    pub fn versions(&self, m: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .modules
            .get(m)
            .map(|ms| ms.versions.keys().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| sort_v_cmp(a, b));
        v
    }

    /// Every (module, version), like upstream's `list_module_version_combos`.
    pub fn module_versions(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for m in self.modules.keys() {
            for v in self.versions(m) {
                out.push((m.clone(), v));
            }
        }
        out
    }

    /// The state of m/v, if that directory exists.
    pub fn version(&self, m: &str, v: &str) -> Option<&VersionState> {
        self.modules.get(m)?.versions.get(v)
    }

    /// Upstream's `is_module_added`.
    pub fn is_added(&self, m: &str, v: &str) -> bool {
        self.version(m, v).is_some_and(|s| s.added)
    }

    /// Upstream's `is_module_broken`.
    pub fn is_broken(&self, m: &str, v: &str) -> bool {
        self.version(m, v).is_some_and(|s| s.broken)
    }

    /// Upstream's `is_module_built`.
    pub fn is_built(&self, m: &str, v: &str, k: &str, a: &str) -> bool {
        self.version(m, v)
            .is_some_and(|s| s.built.iter().any(|(kk, aa)| kk == k && aa == a))
    }

    /// The version the `kernel-<k>-<a>` link of `m` resolves to.
    pub fn linked_version(&self, m: &str, k: &str, a: &str) -> Option<&str> {
        self.modules
            .get(m)?
            .links
            .get(&(k.to_string(), a.to_string()))?
            .as_deref()
    }

    /// True if a `kernel-<k>-<a>` link of `m` exists (even dangling).
    pub fn has_link(&self, m: &str, k: &str, a: &str) -> bool {
        self.modules
            .get(m)
            .is_some_and(|ms| ms.links.contains_key(&(k.to_string(), a.to_string())))
    }

    /// Upstream's `_is_module_installed`: the link resolves to this build.
    pub fn link_points_here(&self, m: &str, v: &str, k: &str, a: &str) -> bool {
        self.linked_version(m, k, a) == Some(v)
    }

    /// Built and installed.
    pub fn is_installed(&self, m: &str, v: &str, k: &str, a: &str) -> bool {
        self.is_built(m, v, k, a) && self.link_points_here(m, v, k, a)
    }

    /// (kernel, arch) pairs m/v is built for.
    pub fn built_kernels(&self, m: &str, v: &str) -> Vec<(String, String)> {
        self.version(m, v)
            .map(|s| s.built.clone())
            .unwrap_or_default()
    }

    /// True if `original_module/<k>/<a>` of `m` holds an archived module.
    pub fn has_originals(&self, m: &str, k: &str, a: &str) -> bool {
        self.modules
            .get(m)
            .is_some_and(|ms| ms.archived.iter().any(|(kk, aa)| kk == k && aa == a))
    }

    /// The newest registered (added, not broken) version of each module, by
    /// upstream's `VER` order, in module order.
    pub fn latest_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (m, v) in self.module_versions() {
            if !self.is_added(&m, &v) {
                continue;
            }
            match out.iter_mut().find(|(mm, _)| *mm == m) {
                Some(slot) => {
                    if ver_cmp(&v, &slot.1) == std::cmp::Ordering::Greater {
                        slot.1 = v;
                    }
                }
                None => out.push((m, v)),
            }
        }
        out
    }

    /// Every kernel something is built for or linked to.
    pub fn kernels(&self) -> Vec<String> {
        let mut ks: Vec<String> = Vec::new();
        for ms in self.modules.values() {
            for vs in ms.versions.values() {
                ks.extend(vs.built.iter().map(|(k, _)| k.clone()));
            }
            ks.extend(ms.links.keys().map(|(k, _)| k.clone()));
            ks.extend(ms.originals.iter().map(|(k, _)| k.clone()));
        }
        ks.sort_by(|a, b| sort_v_cmp(a, b));
        ks.dedup();
        ks
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
}

fn read_module(layout: &Layout, m: &str, skipped: &mut Vec<PathBuf>) -> ModuleState {
    let md = layout.module_dir(m);
    let mut ms = ModuleState::default();
    for name in list_names(&md) {
        let p = md.join(&name);
        if name.starts_with('.') {
            continue;
        }
        if let Some(ka) = name.strip_prefix(KERNEL_LINK) {
            if is_symlink(&p) {
                read_link(layout, m, ka, &p, &mut ms, skipped);
                continue;
            }
        }
        if name == ORIGINAL_MODULE {
            for k in list_dirs(&p) {
                for a in list_dirs(&p.join(&k)) {
                    // Only an archived file counts: an interrupted restore
                    // or a rolled-back archive can leave the directory
                    // empty, or with notes whose files are back.
                    let holds_original = list_names(&p.join(&k).join(&a))
                        .iter()
                        .any(|n| !n.starts_with('.') && !n.ends_with(ORIGIN));
                    if is_safe_component(&k) && is_safe_component(&a) {
                        if holds_original {
                            ms.archived.push((k.clone(), a.clone()));
                        }
                        ms.originals.push((k.clone(), a));
                    } else {
                        skipped.push(p.join(&k));
                    }
                }
            }
            continue;
        }
        if !p.is_dir() {
            continue;
        }
        if !is_safe_component(&name) {
            skipped.push(p);
            continue;
        }
        let vs = read_version(layout, m, &name, skipped);
        ms.versions.insert(name, vs);
    }
    ms
}

/// A `kernel-<k>-<a>` link: which build of which version it resolves to.
fn read_link(
    layout: &Layout,
    m: &str,
    ka: &str,
    link: &std::path::Path,
    ms: &mut ModuleState,
    skipped: &mut Vec<PathBuf>,
) {
    // The target names the version, kernel and arch: `<v>/<k>/<a>`; the
    // link name alone cannot be split where kernel and arch both hold '-'.
    let target = std::fs::read_link(link).unwrap_or_default();
    let parts: Vec<String> = target
        .to_string_lossy()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let (k, a) = match parts.as_slice() {
        [_, k, a] if ka == format!("{k}-{a}") => (k.clone(), a.clone()),
        _ => match ka.rsplit_once('-') {
            Some((k, a)) => (k.to_string(), a.to_string()),
            None => (ka.to_string(), String::new()),
        },
    };
    if !is_safe_component(&k) || !is_safe_component(&a) {
        skipped.push(link.to_path_buf());
        return;
    }
    let version = parts.first().cloned().filter(|v| {
        if !is_safe_component(v) {
            return false;
        }
        let base = layout.base_dir(m, v, &k, &a);
        if target.is_relative() && parts.len() == 3 && parts[1] == k && parts[2] == a {
            // `<v>/<k>/<a>`, relative, every part a plain name: the link
            // resolves to exactly `base` when that exists (one stat, where
            // resolving both paths costs a readlink per component).
            return base.is_dir();
        }
        let resolved = std::fs::canonicalize(link).ok();
        resolved.is_some() && resolved == std::fs::canonicalize(&base).ok()
    });
    ms.links.insert((k, a), version);
}

fn read_version(layout: &Layout, m: &str, v: &str, skipped: &mut Vec<PathBuf>) -> VersionState {
    let vd = layout.version_dir(m, v);
    let link = layout.source_link(m, v);
    let mut vs = VersionState {
        source_dir: layout.root.read_link(&link).unwrap_or_else(|| link.clone()),
        ..Default::default()
    };
    let link_is_symlink = is_symlink(&link);
    let source_is_dir = vs.source_dir.is_dir();
    vs.added = link_is_symlink && source_is_dir;
    vs.broken = if link_is_symlink {
        !source_is_dir
    } else {
        layout.source_tree_dir(m, v).is_dir()
    };
    if source_is_dir {
        vs.source_entries = std::fs::read_dir(&vs.source_dir)
            .map(|r| r.count())
            .unwrap_or(0);
    }
    vs.dirs = list_dirs(&vd);
    vs.dirs.sort();
    for k in vs.dirs.clone() {
        if !looks_like_kernel(&k) {
            continue;
        }
        if !is_safe_component(&k) {
            skipped.push(vd.join(&k));
            continue;
        }
        for a in list_dirs(&vd.join(&k)) {
            if a.starts_with('.') {
                continue;
            }
            if !is_safe_component(&a) {
                skipped.push(vd.join(&k).join(&a));
                continue;
            }
            let base = layout.base_dir(m, v, &k, &a);
            if !base.join("module").is_dir() {
                continue;
            }
            vs.built.push((k.clone(), a));
        }
    }
    vs.built
        .sort_by(|x, y| sort_v_cmp(&x.0, &y.0).then_with(|| x.1.cmp(&y.1)));
    vs
}

/// The dependency versions a build of m/v for k/a was made against (its
/// `.dep_<module>` records, written by a BUILD_DEPENDS_REBUILD build):
/// dependency -> version. Read only for the modules that may be rebuilt.
pub fn recorded_deps(
    layout: &Layout,
    m: &str,
    v: &str,
    k: &str,
    a: &str,
) -> BTreeMap<String, String> {
    let base = layout.base_dir(m, v, k, a);
    let mut deps = BTreeMap::new();
    for f in list_names(&base) {
        if let Some(dep) = f.strip_prefix(".dep_") {
            if let Ok(text) = crate::fs::read_regular_text(&base.join(&f), 4096) {
                deps.insert(dep.to_string(), text.trim().to_string());
            }
        }
    }
    deps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Root;
    use std::os::unix::fs::symlink;

    fn fixture() -> (tempfile::TempDir, Layout) {
        let d = tempfile::tempdir().unwrap();
        let l = Layout {
            root: Root::new(d.path()),
            dkms: d.path().join("var/lib/dkms"),
            source: d.path().join("usr/src"),
            install: d.path().join("lib/modules"),
        };
        (d, l)
    }

    fn add(l: &Layout, m: &str, v: &str) {
        std::fs::create_dir_all(l.source_tree_dir(m, v)).unwrap();
        std::fs::create_dir_all(l.version_dir(m, v)).unwrap();
        symlink(format!("/usr/src/{m}-{v}"), l.source_link(m, v)).unwrap();
    }

    #[test]
    fn states_follow_upstream_rules() {
        let (_d, l) = fixture();
        add(&l, "hello", "1.0");
        let t = TreeState::read(&l);
        assert!(t.is_added("hello", "1.0"));
        assert_eq!(t.status("", "", "", "")[0].state, State::Added);
        std::fs::create_dir_all(
            l.base_dir("hello", "1.0", "6.1.0-1-amd64", "x86_64")
                .join("module"),
        )
        .unwrap();
        assert_eq!(
            TreeState::read(&l).status("", "", "", "")[0].state,
            State::Built
        );
        symlink(
            "1.0/6.1.0-1-amd64/x86_64",
            l.kernel_link("hello", "6.1.0-1-amd64", "x86_64"),
        )
        .unwrap();
        let t = TreeState::read(&l);
        let s = t.status("", "", "", "");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].state, State::Installed);
        assert_eq!(s[0].kernel, "6.1.0-1-amd64");
        assert_eq!(t.versions("hello"), vec!["1.0"]);
        std::fs::remove_dir_all(l.source_tree_dir("hello", "1.0")).unwrap();
        let t = TreeState::read(&l);
        assert!(t.is_broken("hello", "1.0"));
        assert_eq!(t.status("", "", "", "")[0].state, State::Broken);
    }

    #[test]
    fn latest_uses_ver_order() {
        let (_d, l) = fixture();
        add(&l, "m", "1.9");
        add(&l, "m", "1.10");
        assert_eq!(
            TreeState::read(&l).latest_versions(),
            vec![("m".to_string(), "1.10".to_string())]
        );
    }

    /// Flavours of one ABI (`-amd64`, `-rt-amd64`, `-cloud-amd64`), a `+`
    /// in the release, Ubuntu's names: each link and build is read as its
    /// own kernel, never as a sibling's, and `kernels()` is in `sort -V`
    /// order.
    #[test]
    fn kernel_links_of_every_release_shape() {
        let (_d, l) = fixture();
        add(&l, "m", "1.0");
        let ks = [
            "6.12.118+deb13-rt-amd64",
            "6.12.118+deb13-amd64",
            "6.8.0-51-lowlatency",
            "6.12.118+deb13-cloud-amd64",
            "6.8.0-51-generic",
            "6.12.9+deb13-amd64",
        ];
        for k in ks {
            std::fs::create_dir_all(l.base_dir("m", "1.0", k, "x86_64").join("module")).unwrap();
            symlink(format!("1.0/{k}/x86_64"), l.kernel_link("m", k, "x86_64")).unwrap();
        }
        // Built, not linked: a kernel of its own too.
        std::fs::create_dir_all(
            l.base_dir("m", "1.0", "6.8.0-52-generic", "x86_64")
                .join("module"),
        )
        .unwrap();
        let t = TreeState::read(&l);
        assert_eq!(
            t.kernels(),
            [
                "6.8.0-51-generic",
                "6.8.0-51-lowlatency",
                "6.8.0-52-generic",
                "6.12.9+deb13-amd64",
                "6.12.118+deb13-amd64",
                "6.12.118+deb13-cloud-amd64",
                "6.12.118+deb13-rt-amd64",
            ]
        );
        let s = t.status("", "", "", "");
        assert_eq!(s.len(), 7);
        for e in &s {
            let want = if e.kernel == "6.8.0-52-generic" {
                State::Built
            } else {
                State::Installed
            };
            assert_eq!(e.state, want, "{}", e.kernel);
        }
        assert!(t.skipped.is_empty(), "{:?}", t.skipped);
        // One flavour's link gone: only that kernel drops to "built".
        std::fs::remove_file(l.kernel_link("m", "6.12.118+deb13-amd64", "x86_64")).unwrap();
        let t = TreeState::read(&l);
        for e in t.status("", "", "", "") {
            let want = if e.kernel == "6.12.118+deb13-amd64" || e.kernel == "6.8.0-52-generic" {
                State::Built
            } else {
                State::Installed
            };
            assert_eq!(e.state, want, "{}", e.kernel);
        }
    }

    #[test]
    fn unsafe_names_on_disk_are_skipped() {
        let (_d, l) = fixture();
        add(&l, "m", "1.0");
        std::fs::create_dir_all(
            l.version_dir("m", "1.0")
                .join("6.1;x")
                .join("x86_64/module"),
        )
        .unwrap();
        symlink("1.0/../../../x", l.module_dir("m").join("kernel-..-x86_64")).unwrap();
        let t = TreeState::read(&l);
        assert!(t.built_kernels("m", "1.0").is_empty());
        assert!(t.kernels().is_empty(), "{:?}", t.kernels());
        assert_eq!(t.skipped.len(), 2, "{:?}", t.skipped);
    }
}
