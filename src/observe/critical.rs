//! Which DKMS modules the machine cannot live without, and why: named in
//! framework.conf's `critical_modules`, providing the type of the root or
//! another mounted file system, or loaded at the moment of the run.
//!
//! The running system is read from the root's `/proc/self/mounts` (else
//! `/proc/mounts`) and `/proc/modules`: under `--root` an image being
//! built has none (nothing is mounted or loaded there), and the tests put
//! the files they want in their roots.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::layout::{Layout, Root};
use crate::observe::tree::TreeState;

/// Largest /proc file read.
const MAX_PROC: u64 = 4 << 20;

/// Why a module is critical.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    /// Named in `critical_modules` (in this framework file).
    Setting(PathBuf),
    /// It provides the type of a mounted file system (type, mount point).
    Filesystem(String, String),
    /// One of its kernel modules is loaded now (that module's name).
    Loaded(String),
}

/// One critical module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalModule {
    /// The DKMS module name (or the name as written in the setting, when
    /// no registered module has it).
    pub module: String,
    /// Whether DKMS knows the module.
    pub registered: bool,
    /// Every reason, in a stable order.
    pub why: Vec<Why>,
}

/// The critical modules of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Critical {
    /// Sorted by module name.
    pub modules: Vec<CriticalModule>,
    /// The framework files that assign `critical_modules`, in reading
    /// order (host paths).
    pub setters: Vec<PathBuf>,
}

impl Critical {
    /// Whether DKMS module `m` is critical.
    pub fn contains(&self, m: &str) -> bool {
        self.modules.iter().any(|c| c.module == m)
    }

    /// The reasons module `m` is critical (empty when it is not).
    pub fn why(&self, m: &str) -> &[Why] {
        self.modules
            .iter()
            .find(|c| c.module == m)
            .map_or(&[], |c| c.why.as_slice())
    }

    /// The critical modules DKMS knows.
    pub fn registered(&self) -> impl Iterator<Item = &CriticalModule> {
        self.modules.iter().filter(|c| c.registered)
    }
}

/// What a registered DKMS module consists of: the kernel module names it
/// builds and the file system types those provide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provides {
    /// Kernel module names (`-` written as `_`, as /proc/modules does).
    pub kmods: Vec<String>,
    /// File system types (from the modules' `alias=fs-TYPE`).
    pub fstypes: Vec<String>,
}

/// The inputs of the decision, each as read.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `critical_modules` words with the framework file that set them last.
    pub setting: Option<(PathBuf, Vec<String>)>,
    /// Mounted file systems: (mount point, type).
    pub mounts: Vec<(String, String)>,
    /// Loaded kernel module names.
    pub loaded: Vec<String>,
    /// Registered DKMS module -> what it provides.
    pub provides: BTreeMap<String, Provides>,
}

/// Decide which modules are critical from `inputs` (pure).
pub fn decide(inputs: &Inputs) -> Critical {
    let mut why: BTreeMap<String, Vec<Why>> = BTreeMap::new();
    if let Some((file, words)) = &inputs.setting {
        for w in words {
            // A word names a DKMS module, or one of the kernel modules it builds.
            let owner = inputs
                .provides
                .iter()
                .find(|(m, p)| *m == w || p.kmods.contains(&kmod_name(w)))
                .map_or(w.clone(), |(m, _)| m.clone());
            why.entry(owner)
                .or_default()
                .push(Why::Setting(file.clone()));
        }
    }
    for (m, p) in &inputs.provides {
        for (point, fstype) in &inputs.mounts {
            let provided = p.fstypes.contains(fstype) || p.kmods.contains(&kmod_name(fstype));
            if provided {
                why.entry(m.clone())
                    .or_default()
                    .push(Why::Filesystem(fstype.clone(), point.clone()));
            }
        }
        for k in &p.kmods {
            if inputs.loaded.contains(k) {
                why.entry(m.clone())
                    .or_default()
                    .push(Why::Loaded(k.clone()));
            }
        }
    }
    let modules = why
        .into_iter()
        .map(|(module, mut why)| {
            why.sort();
            why.dedup();
            CriticalModule {
                registered: inputs.provides.contains_key(&module),
                module,
                why,
            }
        })
        .collect();
    Critical {
        modules,
        setters: Vec::new(),
    }
}

/// A kernel module name as /proc/modules writes it.
pub fn kmod_name(s: &str) -> String {
    s.replace('-', "_")
}

/// The words of a `critical_modules` value.
pub fn words(value: &str) -> Vec<String> {
    let mut v: Vec<String> = value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    v.dedup();
    v
}

/// The mounts of `/proc/self/mounts` text: (mount point, type), with the
/// kernel's octal escapes in the mount point undone.
pub fn parse_mounts(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let _dev = f.next()?;
            let point = f.next()?;
            let fstype = f.next()?;
            Some((unescape(point), fstype.to_string()))
        })
        .collect()
}

/// `\040` and friends, as /proc writes spaces in mount points.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let d = |j: usize| u32::from(b[i + j] - b'0');
            let n = d(1) * 64 + d(2) * 8 + d(3);
            out.push(u8::try_from(n).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The module names of `/proc/modules` text.
pub fn parse_modules(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Read the inputs of `root`: the setting (`value` as framework.conf left
/// it), the framework files that set it, the mounts, the loaded modules,
/// and what each registered module provides.
pub fn observe(root: &Root, layout: &Layout, tree: &TreeState, value: Option<&str>) -> Critical {
    let setters: Vec<PathBuf> = crate::observe::settings::framework_files(root)
        .into_iter()
        .filter(|f| {
            crate::fs::read_regular_text(f, 1 << 20).is_ok_and(|t| assigns(&t, "critical_modules"))
        })
        .collect();
    let setting = value.map(|v| {
        let file = setters.last().map(|f| root.inside(f)).unwrap_or_default();
        (file, words(v))
    });
    let read = |p: &str| crate::fs::read_regular_text(&root.join(p), MAX_PROC).ok();
    let mounts = read("/proc/self/mounts")
        .or_else(|| read("/proc/mounts"))
        .map(|t| parse_mounts(&t))
        .unwrap_or_default();
    let loaded = read("/proc/modules")
        .map(|t| parse_modules(&t))
        .unwrap_or_default();
    let fs = !mounts.is_empty();
    let provides = tree
        .module_names()
        .into_iter()
        .map(|m| {
            let p = provides(layout, tree, &m, fs);
            (m, p)
        })
        .collect();
    let mut c = decide(&Inputs {
        setting,
        mounts,
        loaded,
        provides,
    });
    c.setters = setters;
    c
}

/// What module `m` builds, from the module files of one build of each
/// version: the names of the files, and (when `fs`: something is mounted)
/// the file system types their `.modinfo` aliases name.
fn provides(layout: &Layout, tree: &TreeState, m: &str, fs: bool) -> Provides {
    let mut p = Provides {
        kmods: vec![kmod_name(m)],
        fstypes: Vec::new(),
    };
    for v in tree.versions(m) {
        // Every kernel's build of a version has the same module files.
        if let Some((k, a)) = tree.built_kernels(m, &v).into_iter().next() {
            let dir = layout.base_dir(m, &v, &k, &a).join("module");
            for name in crate::fs::list_names(&dir) {
                let Some(stem) = module_stem(&name) else {
                    continue;
                };
                let stem = kmod_name(stem);
                if !p.kmods.contains(&stem) {
                    p.kmods.push(stem);
                }
                let info = if fs {
                    crate::observe::modinfo::read_modinfo(&dir.join(&name)).ok()
                } else {
                    None
                };
                if let Some(info) = info {
                    for (key, val) in &info.fields {
                        if let Some(t) = val.strip_prefix("fs-").filter(|_| key == "alias") {
                            if !p.fstypes.iter().any(|f| f == t) {
                                p.fstypes.push(t.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    p
}

/// `name` without `.ko` and its compression suffix, when it is a module.
fn module_stem(name: &str) -> Option<&str> {
    [".ko", ".ko.gz", ".ko.xz", ".ko.zst"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
}

/// Whether shell text `t` has a line assigning `name` (what the static
/// reader honours: `name=...` at the start of a line).
pub fn assigns(t: &str, name: &str) -> bool {
    t.lines().any(|l| {
        l.trim_start()
            .strip_prefix(name)
            .is_some_and(|r| r.starts_with('='))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        let mut provides = BTreeMap::new();
        provides.insert(
            "zfs".to_string(),
            Provides {
                kmods: vec!["zfs".into(), "spl".into()],
                fstypes: vec!["zfs".into()],
            },
        );
        provides.insert(
            "nvidia-current".to_string(),
            Provides {
                kmods: vec!["nvidia_current".into(), "nvidia".into()],
                fstypes: vec![],
            },
        );
        provides.insert(
            "hello".to_string(),
            Provides {
                kmods: vec!["hello".into()],
                fstypes: vec![],
            },
        );
        Inputs {
            provides,
            ..Default::default()
        }
    }

    #[test]
    fn by_setting_names_a_dkms_module_or_one_of_its_kernel_modules() {
        let mut i = inputs();
        i.setting = Some(("/etc/dkms/framework.conf".into(), words("nvidia, other")));
        let c = decide(&i);
        assert!(c.contains("nvidia-current"));
        assert!(c.contains("other"));
        assert!(!c.registered().any(|m| m.module == "other"));
        assert!(!c.contains("hello"));
    }

    #[test]
    fn by_root_file_system_type() {
        let mut i = inputs();
        i.mounts = parse_mounts("rpool/ROOT / zfs rw 0 0\nproc /proc proc rw 0 0\n");
        let c = decide(&i);
        assert_eq!(c.why("zfs"), &[Why::Filesystem("zfs".into(), "/".into())]);
        assert_eq!(c.modules.len(), 1);
    }

    #[test]
    fn by_being_loaded() {
        let mut i = inputs();
        i.loaded = parse_modules("hello 16384 0 - Live 0x0\next4 1 2 - Live 0x0\n");
        let c = decide(&i);
        assert_eq!(c.why("hello"), &[Why::Loaded("hello".into())]);
        assert!(!c.contains("zfs"));
    }

    #[test]
    fn mount_points_with_spaces() {
        assert_eq!(
            parse_mounts("d /mnt/a\\040b ext4 rw 0 0"),
            vec![("/mnt/a b".to_string(), "ext4".to_string())]
        );
    }

    #[test]
    fn assignment_lines() {
        assert!(assigns(
            "# x\ncritical_modules=\"zfs\"\n",
            "critical_modules"
        ));
        assert!(!assigns("#critical_modules=zfs\n", "critical_modules"));
        assert!(!assigns("critical_modules_x=1\n", "critical_modules"));
    }
}
