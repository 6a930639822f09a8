//! Publishing binary module packages: copy them into a repository
//! directory and index it with the distributions' own tools, so that the
//! directory can be served as it is (HTTP, rsync, or `file:`): a flat apt
//! repository (`deb [trusted=yes] file:/srv/dkms-repo ./`) from
//! `Packages`, `Packages.gz` and `Release` ([`deb_index`]), and RPM
//! `repodata/` from createrepo_c where it is installed ([`rpm_index`]).
//! One lock file in the repository serialises publishers.

pub mod built;
pub mod deb_index;
pub mod rpm_index;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::package::deliver;
use crate::exec::Locked;
use crate::report::Say;

/// The extensions of package files.
fn kind(p: &Path) -> Option<&'static str> {
    match p.extension().and_then(|e| e.to_str()) {
        Some("deb") => Some("deb"),
        Some("rpm") => Some("rpm"),
        _ => None,
    }
}

/// The package files directly in `repo` with extension `ext`, sorted.
pub fn packages_in(repo: &Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = crate::fs::list_names(repo)
        .into_iter()
        .filter(|n| !n.starts_with('.') && n.ends_with(&format!(".{ext}")))
        .filter(|n| repo.join(n).is_file())
        .collect();
    v.sort();
    v
}

/// The job: check every file first (nothing is copied when one is not a
/// package), copy them into `repo`, then index it.
pub fn run(say: &mut dyn Say, repo: &Path, files: &[PathBuf]) -> Result<()> {
    for f in files {
        if kind(f).is_none() || !f.is_file() {
            return Err(Error::usage([msg::publish_not_a_package(f)]));
        }
    }
    deliver::user_dir(repo)?;
    let lock = deliver::lock_dir(repo)?;
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A file already in the repository is indexed where it is.
        let same = std::fs::canonicalize(f).ok() == std::fs::canonicalize(repo.join(&name)).ok();
        if !same {
            deliver::file(&lock, f, repo, repo, &name)?;
        }
        say.line(&msg::publish_added(&name, repo));
    }
    index(&lock, say, repo)
}

/// Index what `repo` holds, under its lock.
pub fn index(lock: &Locked, say: &mut dyn Say, repo: &Path) -> Result<()> {
    let debs = packages_in(repo, "deb");
    let rpms = packages_in(repo, "rpm");
    if debs.is_empty() && rpms.is_empty() {
        say.line(&msg::publish_empty(repo));
    }
    if !debs.is_empty() {
        deb_index::write(lock, say, repo, debs.len())?;
    }
    if !rpms.is_empty() {
        rpm_index::write(say, repo, rpms.len())?;
    }
    Ok(())
}
