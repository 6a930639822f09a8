//! Ours: binary module packages (`dkms-hook package`, `dkms mkbmdeb`) and
//! the package repositories they are published to (`dkms-hook publish`,
//! framework.conf's `publish_repo`).

use std::path::Path;

/// Ours: the Maintainer of every binary module package (fixed, so the same
/// build gives the same bytes on any host).
pub const PACKAGE_MAINTAINER: &str = "dkms-hook <root@localhost>";

/// Ours: a binary module package's one-line summary.
pub fn package_summary(m: &str, v: &str, k: &str) -> String {
    format!("{m} {v} kernel modules for Linux {k}")
}

/// Ours: a binary module package's description body (lines; an empty line
/// separates paragraphs).
pub fn package_description(m: &str, k: &str, conflicts: &str) -> String {
    format!(
        "The {m} modules, built by DKMS on a build host for kernel {k} only,\n\
         compressed and signed as DKMS installed them there. No compiler and no\n\
         kernel headers are needed to install them.\n\
         \n\
         It conflicts with {conflicts}, which builds the same modules from source."
    )
}

/// Ours: the line after a package was written.
pub fn package_written(path: &Path) -> String {
    format!("Binary module package written: {}", path.display())
}

/// Ours: the error (exit 3) when the module to package is not installed
/// for the kernel; nothing is written.
pub fn package_not_installed(m: &str, v: &str, k: &str, a: &str) -> Vec<String> {
    vec![
        format!("{m}/{v} is not installed for kernel {k} ({a}): there is nothing to package."),
        format!("Install it first (dkms install {m}/{v} -k {k}), then package it."),
    ]
}

/// Ours: the error (exit 7) when a module file of the build is not where
/// DKMS installed it (removed or replaced since).
pub fn package_module_not_in_place(file: &Path, k: &str) -> Vec<String> {
    vec![
        format!(
            "{} is not installed in the module tree of kernel {k}.",
            file.display()
        ),
        "Reinstall the module (dkms install --force) and package it again.".to_string(),
    ]
}

/// Ours: the error (exit 4) when the program a format needs is missing.
pub fn package_tool_missing(tool: &str, package: &str) -> Vec<String> {
    vec![
        format!("{tool} is needed for this but was not found in PATH."),
        format!("Install it (the {package} package) and try again."),
    ]
}

/// Ours: the error (exit 6) when the packaging or indexing program failed.
pub fn package_tool_failed(tool: &str, status: &str, output: &str) -> Vec<String> {
    let mut v = vec![format!("{tool} failed ({status}):")];
    v.extend(output.lines().map(|l| format!("  {l}")));
    v
}

/// Ours: why rpmbuild counts as failed although it exited 0: the package
/// it was to write is not there.
pub const NO_PACKAGE_WRITTEN: &str = "no package written";

/// Ours: the error (exit 2) for an unknown `--format`.
pub fn package_unknown_format(f: &str) -> String {
    format!("Unknown package format: {f} (use deb or rpm).")
}

/// Ours: the error (exit 6) when the package cannot be written.
pub const CANNOT_WRITE_PACKAGE: &str = "Cannot write the package";

/// Ours: the error (exit 2) when `publish` is given a file that is not a
/// `.deb` or `.rpm`, or does not exist.
pub fn publish_not_a_package(path: &Path) -> String {
    format!(
        "{} is not a .deb or .rpm package file; nothing was published.",
        path.display()
    )
}

/// Ours: the line for each package copied into the repository.
pub fn publish_added(name: &str, repo: &Path) -> String {
    format!("Added {name} to {}", repo.display())
}

/// Ours: the line after the Debian index was written.
pub fn publish_indexed_debs(n: usize, repo: &Path, files: &[&str]) -> String {
    format!(
        "Indexed {n} .deb package(s) in {}: {}",
        repo.display(),
        files.join(", ")
    )
}

/// Ours: the line after createrepo_c indexed the RPMs.
pub fn publish_indexed_rpms(n: usize, repo: &Path) -> String {
    format!(
        "Indexed {n} .rpm package(s) in {} (repodata/)",
        repo.display()
    )
}

/// Ours: the note when no `Release` file can be made (apt-ftparchive is
/// missing): `[trusted=yes]` flat sources still work without it.
pub const PUBLISH_NO_RELEASE: &str =
    "apt-ftparchive not found (apt-utils): the repository has no Release file.";

/// Ours: the note when RPMs are present but createrepo_c is missing.
pub fn publish_rpms_not_indexed(n: usize) -> String {
    format!("createrepo_c not found (createrepo-c): {n} .rpm package(s) left unindexed.")
}

/// Ours: the line of `publish` when the repository holds no package.
pub fn publish_empty(repo: &Path) -> String {
    format!("No .deb or .rpm packages in {}.", repo.display())
}

/// Ours: the error when the repository directory cannot be used.
pub const CANNOT_USE_REPOSITORY: &str = "Cannot use the package repository";

/// Ours: the hooks' warning when packaging or publishing a module they
/// built failed (the package operation goes on).
pub fn auto_publish_failed(m: &str, v: &str, k: &str, repo: &Path) -> String {
    format!(
        "dkms-hook: {m}/{v} for kernel {k} was installed, but packaging it into {} failed (see above); the package operation goes on.",
        repo.display()
    )
}

/// Ours: the hooks' warning when indexing the repository after packaging
/// failed (the package operation goes on).
pub fn auto_index_failed(repo: &Path) -> String {
    format!(
        "dkms-hook: indexing {} failed (see above); the package operation goes on.",
        repo.display()
    )
}
