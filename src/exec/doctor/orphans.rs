//! Module files in our install locations that nothing claims: left when a
//! module's dkms tree was deleted by hand, or when `dkms build --force`
//! failed after an install (the build and its link are gone, the installed
//! file stays).
//!
//! A file is claimed when it is the installed file of a module version
//! linked for that kernel (`kernel-K-A` leads to a build holding a module
//! of that name), a file a binary module package records
//! ([`crate::observe::prebuilt`]), or a file a dpkg package lists. Where we
//! look:
//!
//! - `updates/dkms` of every kernel: only DKMS installs there, on every
//!   distribution. Unclaimed module files are removed by `--repair` (then
//!   depmod), except one byte for byte a build of a module dkms has
//!   installed, which is only reported.
//! - `extra` (Fedora, RHEL) or `updates` (SUSE), where dkms installs on
//!   those distributions: the distribution's own module packages install
//!   there too, and their files are known only to rpm, so an unclaimed file
//!   named like a dkms module is reported, never removed.
//!
//! Only the files directly in those directories (where dkms puts them) are
//! looked at; nothing outside them is touched.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Disk, Scan};
use crate::exec::doctor::msg;
use crate::fs::{is_symlink, list_dirs, list_names};
use crate::layout::{is_safe_component, KERNEL_LINK};
use crate::observe::conf::resolve::override_dest_module_location;
use crate::observe::files::files_equal;

/// The directory below a kernel's module tree only DKMS installs into.
const DKMS_DIR: &str = "updates/dkms";

/// The name of a module file without its `.ko[.gz|.xz|.zst]`, or `None`
/// for anything else (and for hidden files: temporaries of ours, reported
/// as such).
fn module_stem(name: &str) -> Option<&str> {
    if name.starts_with('.') {
        return None;
    }
    [".ko", ".ko.gz", ".ko.xz", ".ko.zst"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .filter(|stem| !stem.is_empty())
}

/// The module files (regular files and links) directly in `dir`, sorted,
/// with their stems.
fn module_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = list_names(dir)
        .into_iter()
        .filter_map(|n| {
            let p = dir.join(&n);
            let md = p.symlink_metadata().ok()?;
            if !(md.is_file() || md.file_type().is_symlink()) {
                return None;
            }
            module_stem(&n).map(|s| (p, s.to_string()))
        })
        .collect();
    out.sort();
    out
}

/// The distribution's own location for dkms modules when it is a directory
/// other packages share (`extra`, `updates`).
fn shared_location(distribution: &str) -> Option<&'static str> {
    match override_dest_module_location(distribution, "").as_str() {
        "/extra" => Some("extra"),
        "/updates" => Some("updates"),
        _ => None,
    }
}

/// The stems of the module files of the builds that the `kernel-<k>-*`
/// links lead to, as they are on disk now (an earlier step may have
/// removed a link).
fn claimed_stems(d: &Disk, k: &str) -> BTreeSet<String> {
    let prefix = format!("{KERNEL_LINK}{k}-");
    let mut out = BTreeSet::new();
    for m in d.modules() {
        let md = d.l.module_dir(&m);
        for n in list_names(&md) {
            let link = md.join(&n);
            if !n.starts_with(&prefix) || !is_symlink(&link) {
                continue;
            }
            for f in list_names(&link.join("module")) {
                if let Some(stem) = module_stem(&f) {
                    out.insert(stem.to_string());
                }
            }
        }
    }
    out
}

/// Every module file of a build of m/v in the tree, with the kernel.
fn build_files(d: &Disk, m: &str, v: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for (k, a) in d.built_kernels(m, v) {
        let dir = d.l.base_dir(m, v, &k, &a).join("module");
        for f in list_names(&dir) {
            if module_stem(&f).is_some() {
                out.push((k.clone(), dir.join(f)));
            }
        }
    }
    out
}

/// The build of a module that dkms has installed (for any kernel) that
/// `p` is byte for byte: module, version and the build's kernel.
fn identical_installed_build(d: &Disk, p: &Path) -> Option<(String, String, String)> {
    for (m, ms) in &d.w.tree.modules {
        if !ms.links.values().any(Option::is_some) {
            continue;
        }
        for v in d.versions(m) {
            for (k, f) in build_files(d, m, &v) {
                if files_equal(p, &f) {
                    return Some((m.clone(), v, k));
                }
            }
        }
    }
    None
}

/// Names a dkms module's files have: the module names and the stems of
/// every build's module files.
fn dkms_names(d: &Disk) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = d.modules().into_iter().collect();
    for (m, v) in d.module_versions() {
        for (_, f) in build_files(d, &m, &v) {
            if let Some(stem) = f
                .file_name()
                .and_then(|n| module_stem(&n.to_string_lossy()).map(str::to_string))
            {
                out.insert(stem);
            }
        }
    }
    out
}

/// The files (as host paths) that binary module packages record for `k`.
fn packaged(d: &Disk, k: &str) -> BTreeSet<PathBuf> {
    d.w.prebuilt
        .iter()
        .filter(|p| p.kernel == k)
        .flat_map(|p| p.files.iter().map(|f| d.l.root.join(f)))
        .collect()
}

/// Whether a dpkg package lists `p` (a host path) among its files: read
/// from dpkg's file lists under the root, as `dpkg -S` does, with and
/// without the `/usr` prefix of a merged /usr. `lists` caches them.
fn dpkg_owns(d: &Disk, lists: &mut Option<BTreeSet<String>>, p: &Path) -> bool {
    let lists = lists.get_or_insert_with(|| {
        let info = d.l.root.join("/var/lib/dpkg/info");
        let mut all = BTreeSet::new();
        for n in list_names(&info) {
            if !n.ends_with(".list") {
                continue;
            }
            // A list that cannot be read claims nothing; dpkg -S would fail too.
            if let Ok(text) = crate::fs::read_regular_text(&info.join(n), 64 << 20) {
                all.extend(
                    text.lines()
                        .filter(|l| l.contains("/modules/"))
                        .map(str::to_string),
                );
            }
        }
        all
    });
    let inside = d.l.root.inside(p).display().to_string();
    let other = match inside.strip_prefix("/usr") {
        Some(rest) => rest.to_string(),
        None => format!("/usr{inside}"),
    };
    lists.contains(&inside) || lists.contains(&other)
}

/// Report (and under `--repair` remove) the module files of our install
/// locations that nothing claims.
pub(super) fn unclaimed_module_files(d: &Disk, s: &mut Scan) {
    let shared = shared_location(&d.w.host.distribution);
    let names = shared.map(|_| dkms_names(d));
    let mut lists = None;
    for k in list_dirs(&d.l.install) {
        if !is_safe_component(&k) {
            continue;
        }
        let lib = d.l.lib_tree(&k);
        let mut candidates: Vec<(PathBuf, String, Option<&str>)> =
            module_files(&lib.join(DKMS_DIR))
                .into_iter()
                .map(|(p, stem)| (p, stem, None))
                .collect();
        if let (Some(dir), Some(names)) = (shared, &names) {
            candidates.extend(
                module_files(&lib.join(dir))
                    .into_iter()
                    .filter(|(_, stem)| names.contains(stem))
                    .map(|(p, stem)| (p, stem, Some(dir))),
            );
        }
        if candidates.is_empty() {
            continue;
        }
        let claimed = claimed_stems(d, &k);
        let packaged = packaged(d, &k);
        for (p, stem, shared_dir) in candidates {
            if claimed.contains(&stem)
                || packaged.contains(&p)
                || s.seen(&p)
                || dpkg_owns(d, &mut lists, &p)
            {
                continue;
            }
            if let Some(dir) = shared_dir {
                let shown = d.l.root.inside(&p);
                s.attention(
                    &msg::orphan_in_shared_dir(&k, dir),
                    p,
                    &[msg::orphan_shared_advice(dir, &shown, &k)],
                );
            } else if let Some((m, v, bk)) = identical_installed_build(d, &p) {
                s.attention(
                    &msg::orphan_identical_to_build(&k, &m, &v, &bk),
                    p,
                    &[msg::orphan_identical_advice(&k)],
                );
            } else if s.repair(
                &msg::orphan_module_file(&k),
                p,
                &msg::remove_then_depmod(&k),
                &msg::removed_depmod_below(&k),
                |lock, p| {
                    lock.remove_file(&d.l.install, p)?;
                    // As uninstall leaves it: no empty updates/dkms.
                    if let Some(dir) = p.parent() {
                        lock.remove_empty_parents(&d.l.install, dir, &lib);
                    }
                    Ok(())
                },
            ) {
                s.depmod.insert(k.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{module_stem, shared_location};

    #[test]
    fn module_files_are_known_by_their_extension() {
        assert_eq!(module_stem("hello.ko"), Some("hello"));
        assert_eq!(module_stem("hello.ko.zst"), Some("hello"));
        assert_eq!(module_stem("hello.ko.bak"), None);
        assert_eq!(module_stem(".hello.ko.dkms-x1y2"), None);
        assert_eq!(module_stem(".ko"), None);
    }

    #[test]
    fn only_fedora_and_suse_install_into_a_shared_directory() {
        assert_eq!(shared_location("debian"), None);
        assert_eq!(shared_location("arch"), None);
        assert_eq!(shared_location("fedora"), Some("extra"));
        assert_eq!(shared_location("suse opensuse"), Some("updates"));
        assert_eq!(shared_location("gentoo"), None);
    }
}
