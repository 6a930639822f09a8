//! Module files on disk: finding `name.ko[.xz]` the way upstream's
//! `find_module` and `compressed_or_uncompressed` do, where an installed
//! record really is, and comparing two module files byte for byte.

use std::path::{Path, PathBuf};

use crate::observe::conf::ModuleRecord;
use crate::observe::modinfo::{compare_module_version, read_modinfo, ModInfo, VersionCmp};

/// Module files named `name.ko` or `name.ko<suffix>` anywhere under `dir`
/// (not following symlinks), like upstream's `find_module`, sorted.
pub fn find_module(dir: &Path, name: &str, suffix: &str) -> Vec<PathBuf> {
    let a = format!("{name}.ko");
    let b = format!("{name}.ko{suffix}");
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let n = e.file_name();
                if n == a.as_str() || n == b.as_str() {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out
}

/// `dir/name.ko` if it exists, else `dir/name.ko<suffix>` if it exists
/// (upstream's `compressed_or_uncompressed`).
pub fn compressed_or_uncompressed(dir: &Path, name: &str, suffix: &str) -> Option<PathBuf> {
    let a = dir.join(format!("{name}.ko"));
    if a.exists() {
        return Some(a);
    }
    let b = dir.join(format!("{name}.ko{suffix}"));
    if !suffix.is_empty() && b.exists() {
        return Some(b);
    }
    None
}

/// `.modinfo` of a module file, empty when unreadable.
pub fn info(p: &Path) -> ModInfo {
    read_modinfo(p).unwrap_or(ModInfo { fields: Vec::new() })
}

/// `lib_tree` joined with a DEST_MODULE_LOCATION (`/updates/dkms`).
pub fn join_loc(lib_tree: &Path, loc: &str) -> PathBuf {
    let rel = loc.trim_start_matches('/');
    if rel.is_empty() {
        lib_tree.to_path_buf()
    } else {
        lib_tree.join(rel)
    }
}

/// Upstream's `find_actual_dest_module_location`: of the overridden
/// location and the one written in dkms.conf, the one holding a module of
/// the same version as the build `owned_dir` (`kernel-K-A/module`).
pub fn actual_location(
    owned_dir: &Path,
    lib_tree: &Path,
    r: &ModuleRecord,
    suffix: &str,
) -> Option<String> {
    let owned = compressed_or_uncompressed(owned_dir, &r.dest_name, suffix);
    let owned_info = owned
        .as_deref()
        .map(info)
        .unwrap_or(ModInfo { fields: Vec::new() });
    let mut locs = vec![r.dest_location.clone()];
    if r.dest_location_orig != r.dest_location {
        locs.push(r.dest_location_orig.clone());
    }
    for l in locs {
        if let Some(inst) =
            compressed_or_uncompressed(&join_loc(lib_tree, &l), &r.dest_name, suffix)
        {
            if matches!(
                compare_module_version(&owned_info, &info(&inst)),
                VersionCmp::Same | VersionCmp::SameVersionOtherSrc
            ) {
                return Some(l);
            }
        }
    }
    None
}

/// The installed file for a record, where dkms put it (for status).
pub fn installed_file(
    owned_dir: &Path,
    lib_tree: &Path,
    r: &ModuleRecord,
    suffix: &str,
) -> Option<PathBuf> {
    let l = actual_location(owned_dir, lib_tree, r, suffix).unwrap_or_default();
    compressed_or_uncompressed(&join_loc(lib_tree, &l), &r.dest_name, suffix)
}

/// Byte equality without spawning `diff`: sizes first, then contents.
pub fn files_equal(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) if x.len() == y.len() => crate::fs::same_bytes(a, b),
        _ => false,
    }
}
