//! Upstream's text for `dkms mktarball` and `dkms ldtarball`.

use std::path::Path;

/// Upstream's error (exit 6) when mktarball is asked for a kernel m/v is
/// not built for.
pub fn no_modules_built(k: &str, a: &str) -> Vec<String> {
    vec![
        format!("No modules built for {k} ({a})."),
        "Modules must already be in the built state before using mktarball.".to_string(),
    ]
}

/// Upstream's line for each kernel whose modules go into the archive.
pub fn marking_modules(k: &str, a: &str) -> String {
    format!("Marking modules for {k} ({a}) for archiving...")
}

/// Upstream's line for a `--binaries-only` archive.
pub const BINARIES_ONLY_LAYOUT: &str =
    "Creating tarball structure to specifically accommodate binaries.";

/// Upstream's line when the source goes into the archive.
pub fn marking_source(source_link: &Path) -> String {
    format!("Marking {} for archiving...", source_link.display())
}

/// Upstream's line naming the archive (`dir` keeps upstream's trailing
/// `/`, so the default location shows `//`).
pub fn tarball_location(dir: &str, name: &str) -> String {
    format!("Tarball location: {dir}/{name}")
}

/// Upstream's error (exit 9) when the archive's directory is not writable.
pub fn no_write_permission(dir: &str) -> String {
    format!("Missing write permissions for {dir}.")
}

/// Upstream's error (exit 6) when tar fails.
pub const TARBALL_FAILED: &str = "Failed to make tarball.";

/// Upstream's error (exit 2) for an archive that is not there (an empty
/// `--archive` gives `" does not exist."`).
pub fn archive_missing(archive: &Path) -> String {
    format!("{} does not exist.", archive.display())
}

/// Upstream's error (exit 9) for an rpm given to ldtarball.
pub fn rpm_unsupported(archive: &Path) -> Vec<String> {
    vec![
        format!("Unable to install {} using rpm.", archive.display()),
        "Check to ensure that your system can install .rpm files.".to_string(),
    ]
}

/// Upstream's error (exit 3) for an archive without a dkms.conf (or one
/// tar cannot read).
pub const NOT_A_DKMS_ARCHIVE: &str =
    "Tarball does not appear to be a correctly formed DKMS archive. No dkms.conf found within it.";

/// Upstream's line before an archive's contents are loaded.
pub fn loading_tarball(m: &str, v: &str) -> String {
    format!("Loading tarball for {m}/{v}")
}

/// Upstream's line when a binaries-only archive's source stub is made.
pub fn creating(dir: &Path) -> String {
    format!("Creating {}", dir.display())
}

/// Upstream's line when the stub gets the archive's dkms.conf.
pub fn copying_conf(dir: &Path) -> String {
    format!("Copying dkms.conf to {} ...", dir.display())
}

/// Upstream's line (stderr) for a prebuilt kernel that is already there.
pub fn prebuilt_exists(dest: &Path) -> String {
    format!("Warning: {} already exists. Skipping...", dest.display())
}

/// Upstream's line for each prebuilt kernel loaded.
pub fn loading(dest: &Path) -> String {
    format!("Loading {}...", dest.display())
}

/// Upstream's line (stderr) for an archive's dkms.conf without a name or
/// version (the next layout is tried).
pub const MALFORMED_REFUSING: &str = "Malformed dkms.conf, refusing to load.";

/// Upstream's refusal (exit 8) to load what is already added.
pub fn tarball_already_added(m: &str, v: &str) -> Vec<String> {
    vec![
        format!("{m}/{v} is already added!"),
        "Aborting.".to_string(),
    ]
}

/// Upstream's error (exit 7) for an archive with no usable dkms.conf.
pub fn no_valid_conf(archive: &Path) -> Vec<String> {
    vec![
        "No valid dkms.conf in dkms_source_tree or dkms_binaries_only.".to_string(),
        format!("{} is not a valid DKMS tarball.", archive.display()),
    ]
}

/// Upstream's `mktemp_or_die` error (exit 1) for a directory.
pub const NO_TEMP_DIR: &str = "Unable to make temporary directory.";

/// Upstream's refusal (exit 1) of `ldtarball --force` by a non-root user.
pub const MUST_BE_ROOT_FOR_FORCE: &str =
    "You must be root to use this command with the --force option.";
