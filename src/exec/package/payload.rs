//! What goes into a binary module package: every module file of the
//! installed build (`<dkms_tree>/<m>/<v>/<k>/<a>/module/`), found where
//! DKMS installed it under `/lib/modules/<k>/` — the byte-identical copy,
//! so the package holds exactly the signed, compressed file that was
//! installed, at the path DEST_MODULE_LOCATION (or the distribution's
//! override) put it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::exec::msg;
use crate::observe::files::{files_equal, find_module};
use crate::observe::World;
use crate::plan::package::PayloadFile;
use crate::plan::Mvka;

/// The module suffixes a built module file may carry.
const SUFFIXES: &[&str] = &[".ko.zst", ".ko.xz", ".ko.gz", ".ko"];

/// `name.ko[.gz|.xz|.zst]` split into the module name and the compression
/// suffix (`""` for a plain `.ko`).
fn split_module_name(file: &str) -> Option<(&str, &str)> {
    SUFFIXES.iter().find_map(|s| {
        file.strip_suffix(s)
            .filter(|n| !n.is_empty())
            .map(|n| (n, &s[3..]))
    })
}

/// The payload of the installed build `at`, sorted by installed path.
pub fn collect(world: &World, at: &Mvka) -> Result<Vec<PayloadFile>> {
    let l = &world.host.layout;
    let module_dir = l.base_dir(&at.m, &at.v, &at.k, &at.a).join("module");
    let lib_tree = l.lib_tree(&at.k);
    let mut names = crate::fs::list_names(&module_dir);
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let Some((name, suffix)) = split_module_name(&n) else {
            continue;
        };
        let built = module_dir.join(&n);
        let installed = in_place(&lib_tree, name, suffix, &built)
            .ok_or_else(|| Error::built_missing(msg::package_module_not_in_place(&built, &at.k)))?;
        out.push(PayloadFile {
            dest: l.root.inside(&installed).display().to_string(),
            source: installed,
        });
    }
    if out.is_empty() {
        return Err(Error::built_missing(msg::package_module_not_in_place(
            &module_dir,
            &at.k,
        )));
    }
    out.sort_by(|a, b| a.dest.cmp(&b.dest));
    Ok(out)
}

/// The installed copy of `built` under `lib_tree` (same name, same bytes).
fn in_place(lib_tree: &Path, name: &str, suffix: &str, built: &Path) -> Option<PathBuf> {
    find_module(lib_tree, name, suffix)
        .into_iter()
        .filter(|p| p.file_name() == built.file_name())
        .find(|p| files_equal(p, built))
}

/// The `license` of the first module file, for RPM's License tag.
pub fn license(files: &[PayloadFile]) -> String {
    files
        .first()
        .and_then(|f| crate::observe::modinfo::read_modinfo(&f.source).ok())
        .and_then(|i| i.get("license").map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_file_names() {
        assert_eq!(split_module_name("hello.ko"), Some(("hello", "")));
        assert_eq!(split_module_name("hello.ko.xz"), Some(("hello", ".xz")));
        assert_eq!(split_module_name("a.b.ko.zst"), Some(("a.b", ".zst")));
        assert_eq!(split_module_name(".ko"), None);
        assert_eq!(split_module_name("Module.symvers"), None);
    }
}
