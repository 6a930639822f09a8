//! The facts of a registered module on one kernel: its dkms.conf there,
//! built or why not, the installed file and whether it is the one built,
//! what `modules.dep` lists for its name, and which of its `depends` the
//! kernel lacks.

use std::path::{Path, PathBuf};

use crate::observe::kernel::KernelFacts;
use crate::observe::module_file::{name_of_file, normalized, ModuleFile};
use crate::observe::{files, World};

use super::{ConfFacts, DepFacts, FailedBuild, Registration, WhyFacts, LOG_TAIL};

/// The facts of a registered module on the kernel.
pub(super) fn observe_registered(
    world: &World,
    f: &mut WhyFacts,
    reg: &Registration,
    kf: &KernelFacts,
) {
    let (m, v, k, a) = (
        &reg.module,
        &reg.version,
        &f.kernel.clone(),
        &f.arch.clone(),
    );
    let tree = &world.tree;
    let l = &world.host.layout;
    let key = world.source_conf_key(m, v, k, a, false);
    let read = world
        .conf(&key)
        .cloned()
        .unwrap_or_else(|| world.read_conf_now(&key));
    let mut dest = reg.dest_name.clone();
    let mut record = None;
    f.conf = Some(match &read.result {
        Ok(c) => {
            let want = normalized(if dest.is_empty() { &reg.module } else { &dest });
            record = c
                .modules
                .iter()
                .find(|r| normalized(&r.dest_name) == want)
                .or_else(|| c.modules.first())
                .cloned();
            if let Some(r) = &record {
                dest = r.dest_name.clone();
            }
            Ok(ConfFacts {
                autoinstall: c.autoinstall,
                excluded_by: c.excluded_by.clone(),
                build_depends: c.build_depends.clone(),
            })
        }
        Err(e) => Err(e
            .lines
            .iter()
            .chain(e.error.lines())
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_default()),
    });
    if dest.is_empty() {
        dest = reg.module.clone();
    }
    if let Ok(r) = &mut f.registration {
        r.dest_name = dest.clone();
    }
    f.built = tree.is_built(m, v, k, a);
    f.waiting_for = world
        .records
        .items
        .iter()
        .find(|i| i.kernel == *k && i.module == *m)
        .map(|i| i.detail.clone());
    f.failed = failed_build(world, m, v, k, a);
    f.installed_version = tree.linked_version(m, k, a).map(str::to_string);
    let suffix = kf.suffix;
    if f.built {
        let mdir = l.base_dir(m, v, k, a).join("module");
        f.built_file = files::compressed_or_uncompressed(&mdir, &dest, suffix)
            .or_else(|| any_named(&mdir, &dest));
    }
    if f.installed_version.is_some() {
        let owned = l.kernel_link(m, k, a).join("module");
        let lib = l.lib_tree(k);
        f.installed_file = match &record {
            Some(r) => files::installed_file(&owned, &lib, r, suffix),
            None => None,
        }
        .or_else(|| {
            files::find_module(&lib, &dest, suffix)
                .into_iter()
                .find(|p| !p.starts_with(lib.join("kernel")))
        });
        f.same_as_built = match (&f.built_file, &f.installed_file) {
            (Some(b), Some(i)) => files::files_equal(b, i),
            _ => false,
        };
    }
    f.file = f
        .installed_file
        .as_deref()
        .map(|p| ModuleFile::read(p).map_err(|e| e.to_string()));
}

/// A module file named `name` with any compression in `dir`.
fn any_named(dir: &Path, name: &str) -> Option<PathBuf> {
    ["", ".gz", ".xz", ".zst"]
        .iter()
        .map(|s| dir.join(format!("{name}.ko{s}")))
        .find(|p| p.is_file())
}

/// The recorded failure of m/v on k/a, or a make.log left in the build
/// directory by a failed `dkms build`.
fn failed_build(world: &World, m: &str, v: &str, k: &str, a: &str) -> Option<FailedBuild> {
    let l = &world.host.layout;
    let root = &l.root;
    let recorded = world
        .records
        .failures
        .iter()
        .find(|x| x.module == m && x.kernel == k && x.arch == a && !x.log.is_empty())
        .map(|x| PathBuf::from(&x.log));
    let (inside, host) = match recorded {
        Some(p) => {
            let host = if root.is_slash() || p.starts_with(root.dir()) {
                p.clone()
            } else {
                root.join(&p)
            };
            (root.inside(&host), host)
        }
        None => {
            if world.tree.is_built(m, v, k, a) {
                return None;
            }
            let host = l.version_dir(m, v).join("build/make.log");
            let text = crate::fs::read_regular_text(&host, 64 << 20).ok()?;
            // Only a log of a build for this kernel that did not end well.
            if !text.lines().next().is_some_and(|h| h.contains(k)) {
                return None;
            }
            (root.inside(&host), host)
        }
    };
    let text = crate::fs::read_regular_text(&host, 64 << 20).unwrap_or_default();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("# ") && !l.chars().all(|c| c == '-') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    // From the first error the compiler reported (what to read first),
    // else the last lines.
    let start = lines
        .iter()
        .position(|l| l.contains("error:"))
        .unwrap_or_else(|| lines.len().saturating_sub(LOG_TAIL));
    Some(FailedBuild {
        log: inside,
        tail: lines.iter().skip(start).take(LOG_TAIL).cloned().collect(),
    })
}

/// What `modules.dep` lists for `name`.
pub(super) fn dep_facts(kf: &KernelFacts, name: &str) -> DepFacts {
    let path = kf.kernel.modules_dir().join("modules.dep");
    let Ok(text) = crate::fs::read_regular_text(&path, 64 << 20) else {
        return DepFacts::default();
    };
    let want = normalized(name);
    let listed = text.lines().find_map(|l| {
        let file = l.split(':').next()?.trim();
        (name_of_file(file).map(normalized).as_deref() == Some(want.as_str()))
            .then(|| file.to_string())
    });
    DepFacts {
        exists: true,
        listed,
    }
}

/// Of `depends`, those the kernel has neither as a module in
/// `modules.dep` nor built in (`modules.builtin`).
pub(super) fn missing_depends(kf: &KernelFacts, depends: &[String]) -> Vec<String> {
    let dir = kf.kernel.modules_dir();
    let names = |f: &str| -> Vec<String> {
        crate::fs::read_regular_text(&dir.join(f), 64 << 20)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| name_of_file(l.split(':').next().unwrap_or("").trim()))
            .map(normalized)
            .collect()
    };
    let mut have = names("modules.dep");
    have.extend(names("modules.builtin"));
    depends
        .iter()
        .filter(|d| !have.contains(&normalized(d)))
        .cloned()
        .collect()
}
