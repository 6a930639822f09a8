//! The facts behind each `dkms status` line: the state, and upstream's
//! suffixes (originals archived, built modules missing, built and installed
//! modules differ). Rendered by `report::status`.

use serde::Serialize;

use crate::layout::Layout;
use crate::observe::files::{compressed_or_uncompressed, files_equal, installed_file};
use crate::observe::prebuilt::Prebuilt;
use crate::observe::tree::{Entry, State};
use crate::observe::version::sort_v_cmp;
use crate::observe::{ConfKey, Facts, World};

/// What `status` shows for a filter, observed before anything is printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusView {
    /// The filters.
    pub filter: Filter,
    /// The status records.
    pub records: Vec<Record>,
    /// Added module versions BUILD_EXCLUSIVE keeps off an installed kernel
    /// with headers: (module, version, kernel, arch). Only looked for when
    /// the machine-readable form is asked for.
    pub skipped: Vec<(String, String, String, String)>,
}

/// Observe what status shows for `f` (`skipped` too when `with_skipped`).
pub fn view(facts: &Facts, f: &Filter, with_skipped: bool) -> StatusView {
    let skipped = if with_skipped {
        unbuilt_on_kernels(facts, f)
            .into_iter()
            .filter(|(m, v, k, a)| {
                let key = facts.conf_key(m, v, k, a, false);
                facts
                    .conf(&key)
                    .result
                    .as_ref()
                    .is_ok_and(|c| c.build_exclude)
            })
            .collect()
    } else {
        Vec::new()
    };
    StatusView {
        filter: f.clone(),
        records: records(facts, f),
        skipped,
    }
}

/// A module version that is added but not built for an installed kernel
/// with headers: whether BUILD_EXCLUSIVE rules the kernel out is read from
/// its dkms.conf for that kernel (the machine-readable status lists those
/// as skipped).
fn unbuilt_on_kernels(facts: &Facts, f: &Filter) -> Vec<(String, String, String, String)> {
    let world = facts;
    let arch = if f.arch.is_empty() {
        world.host.machine_arch.clone()
    } else {
        f.arch.clone()
    };
    let mut out = Vec::new();
    for k in facts.installed_kernels() {
        let k = k.clone();
        if !(f.kernel.is_empty() || f.kernel == k) || !facts.kernel(&k).headers {
            continue;
        }
        for (m, v) in world.tree.module_versions() {
            if (f.module.is_empty() || f.module == m)
                && (f.version.is_empty() || f.version == v)
                && world.tree.is_added(&m, &v)
                && !world.tree.is_built(&m, &v, &k, &arch)
            {
                out.push((m, v, k.clone(), arch.clone()));
            }
        }
    }
    out
}

/// One status record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Record {
    /// Module name.
    pub module: String,
    /// Module version.
    pub version: String,
    /// Kernel (`None` for added/broken).
    pub kernel: Option<String>,
    /// Arch (`None` for added/broken).
    pub arch: Option<String>,
    /// added / built / installed / broken.
    pub state: String,
    /// ` (Original modules exist)`.
    pub original_modules_exist: bool,
    /// ` (Built modules are missing in the kernel modules folder)`.
    pub built_modules_missing: bool,
    /// ` (Differences between built and installed modules)`.
    pub differences: bool,
    /// Provided by a binary module package rather than built here (only
    /// present in the machine-readable forms when true).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub prebuilt: bool,
}

/// The filters of a status request (empty = any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Module.
    pub module: String,
    /// Version.
    pub version: String,
    /// Kernel.
    pub kernel: String,
    /// Arch.
    pub arch: String,
}

/// The dkms.conf read status needs for a built entry: the registered
/// source's dkms.conf, as upstream's `module_status_built_extra` reads it.
pub fn conf_key(layout: &Layout, e: &Entry) -> ConfKey {
    let src = layout.source_link(&e.module, &e.version).join("dkms.conf");
    ConfKey {
        path: layout
            .root
            .read_link(&layout.source_link(&e.module, &e.version))
            .map(|d| d.join("dkms.conf"))
            .unwrap_or_else(|| src.clone()),
        shown: src,
        module: e.module.clone(),
        version: e.version.clone(),
        kernel: e.kernel.clone(),
        arch: e.arch.clone(),
        strict: false,
    }
}

/// The status entries for `f`.
pub fn entries(world: &World, f: &Filter) -> Vec<Entry> {
    world.tree.status(&f.module, &f.version, &f.kernel, &f.arch)
}

/// The records for `f`: the dkms tree's, and among them, in module,
/// version, kernel order, the modules binary module packages provide that
/// the tree does not hold. Without such packages the list is exactly
/// upstream's.
pub fn records(facts: &Facts, f: &Filter) -> Vec<Record> {
    let world: &World = facts;
    let mut out: Vec<Record> = entries(world, f)
        .into_iter()
        .map(|e| record(facts, e))
        .collect();
    for p in world.prebuilt.iter().filter(|p| {
        (f.module.is_empty() || f.module == p.module)
            && (f.version.is_empty() || f.version == p.version)
            && (f.kernel.is_empty() || f.kernel == p.kernel)
            && (f.arch.is_empty() || f.arch == p.arch)
    }) {
        let same = |r: &Record| {
            r.module == p.module
                && r.version == p.version
                && r.kernel.as_deref() == Some(p.kernel.as_str())
                && r.arch.as_deref() == Some(p.arch.as_str())
        };
        if out.iter().any(same) {
            continue;
        }
        let r = prebuilt_record(world, p);
        let at = out
            .iter()
            .position(|x| record_order(x, &r) == std::cmp::Ordering::Greater)
            .unwrap_or(out.len());
        out.insert(at, r);
    }
    out
}

/// Upstream's order of status lines: module, version (`sort -V`), kernel.
fn record_order(x: &Record, y: &Record) -> std::cmp::Ordering {
    x.module
        .cmp(&y.module)
        .then_with(|| sort_v_cmp(&x.version, &y.version))
        .then_with(|| {
            sort_v_cmp(
                x.kernel.as_deref().unwrap_or(""),
                y.kernel.as_deref().unwrap_or(""),
            )
        })
}

/// The status record of a module a binary module package provides:
/// installed, with upstream's "missing" suffix when a file it installed is
/// gone from the kernel's module tree.
fn prebuilt_record(world: &World, p: &Prebuilt) -> Record {
    let root = &world.host.layout.root;
    Record {
        module: p.module.clone(),
        version: p.version.clone(),
        kernel: Some(p.kernel.clone()),
        arch: Some(p.arch.clone()),
        state: State::Installed.word().to_string(),
        original_modules_exist: false,
        built_modules_missing: p.files.is_empty()
            || p.files.iter().any(|f| !root.join(f).is_file()),
        differences: false,
        prebuilt: true,
    }
}

fn record(facts: &Facts, e: Entry) -> Record {
    let world: &World = facts;
    let built = matches!(e.state, State::Built | State::Installed);
    let mut r = Record {
        module: e.module.clone(),
        version: e.version.clone(),
        kernel: built.then(|| e.kernel.clone()),
        arch: built.then(|| e.arch.clone()),
        state: e.state.word().to_string(),
        original_modules_exist: false,
        built_modules_missing: false,
        differences: false,
        prebuilt: false,
    };
    if !built {
        return r;
    }
    let layout = &world.host.layout;
    let (m, v, k, a) = (&e.module, &e.version, &e.kernel, &e.arch);
    r.original_modules_exist = world.tree.has_originals(m, k, a);
    let Ok(conf) = &facts.conf(&conf_key(layout, &e)).result else {
        return r;
    };
    let suffix = facts.kernel(k).suffix;
    let mdir = layout.base_dir(m, v, k, a).join("module");
    let owned = layout.kernel_link(m, k, a).join("module");
    let lib = layout.lib_tree(k);
    for rec in conf.modules.iter().filter(|x| x.buildable) {
        let Some(ours) = compressed_or_uncompressed(&mdir, &rec.dest_name, suffix) else {
            r.built_modules_missing = true;
            break;
        };
        if e.state == State::Installed {
            let same = installed_file(&owned, &lib, rec, suffix)
                .map(|inst| files_equal(&ours, &inst))
                .unwrap_or(false);
            if !same {
                r.differences = true;
                break;
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;
    use crate::observe::tree::{ModuleState, VersionState};
    use crate::observe::Host;

    fn prebuilt(m: &str, v: &str, k: &str) -> Prebuilt {
        Prebuilt {
            module: m.into(),
            version: v.into(),
            kernel: k.into(),
            arch: "x86_64".into(),
            package: format!("{m}-modules-{k}"),
            files: vec![format!("/lib/modules/{k}/updates/dkms/{m}.ko")],
        }
    }

    fn world() -> World {
        let mut w = World::observe(Host::for_tests(Layout::nonexistent()));
        let version = |built: &[&str]| VersionState {
            added: true,
            built: built
                .iter()
                .map(|k| (k.to_string(), "x86_64".to_string()))
                .collect(),
            ..Default::default()
        };
        let mut a = ModuleState::default();
        a.versions.insert("1.0".into(), version(&["6.1.0-2-amd64"]));
        let mut c = ModuleState::default();
        c.versions.insert("1.0".into(), version(&[]));
        w.tree.modules.insert("a".into(), a);
        w.tree.modules.insert("c".into(), c);
        w
    }

    fn lines(w: &World, f: &Filter) -> Vec<String> {
        records(&Facts::new(w), f)
            .iter()
            .map(crate::report::status::line)
            .collect()
    }

    #[test]
    fn without_prebuilt_records_the_tree_alone_is_listed() {
        let w = world();
        assert_eq!(
            lines(&w, &Filter::default()),
            ["a/1.0, 6.1.0-2-amd64, x86_64: built", "c/1.0: added"]
        );
    }

    #[test]
    fn prebuilt_records_join_in_upstreams_order_and_never_twice() {
        let mut w = world();
        w.prebuilt = vec![
            prebuilt("a", "1.0", "6.1.0-1-amd64"),
            prebuilt("a", "1.0", "6.1.0-2-amd64"),
            prebuilt("b", "2.0", "6.1.0-2-amd64"),
        ];
        let missing = " (Built modules are missing in the kernel modules folder)";
        assert_eq!(
            lines(&w, &Filter::default()),
            [
                format!("a/1.0, 6.1.0-1-amd64, x86_64: installed{missing}"),
                "a/1.0, 6.1.0-2-amd64, x86_64: built".to_string(),
                format!("b/2.0, 6.1.0-2-amd64, x86_64: installed{missing}"),
                "c/1.0: added".to_string(),
            ]
        );
        let only_b = Filter {
            module: "b".into(),
            ..Default::default()
        };
        assert_eq!(lines(&w, &only_b).len(), 1);
    }
}
