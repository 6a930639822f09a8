//! Upstream's text for `dkms add` and for loading a source tree given on
//! the command line (`add_source_tree`).

use std::path::Path;

/// Upstream's line when the source link is made.
pub fn creating_symlink(link: &Path, target: &Path) -> String {
    format!(
        "Creating symlink {} -> {}",
        link.display(),
        target.display()
    )
}

/// Upstream's refusal (exit 3) to add m/v twice.
pub fn already_added(m: &str, v: &str) -> Vec<String> {
    vec![
        format!("DKMS tree already contains: {m}/{v}"),
        "You cannot add the same module/version combo more than once.".into(),
    ]
}

/// Upstream's error (exit 2) when the source directory is missing.
pub fn source_dir_missing(src: &Path) -> Vec<String> {
    vec![
        "Could not find module source directory.".to_string(),
        format!("Directory: {} does not exist.", src.display()),
    ]
}

/// Upstream's error (exit 9) for a source tree without dkms.conf.
pub fn must_contain_conf(dir: &Path) -> String {
    format!("{} must contain a dkms.conf file!", dir.display())
}

/// Upstream's error (exit 10) for a source tree whose dkms.conf names no
/// package or version.
pub const MALFORMED_SOURCE_TREE: &str = "Malformed dkms.conf file. Cannot load source tree.";

/// Upstream's line when `--force` replaces a source tree.
pub fn forcing_install_of(m: &str, v: &str) -> String {
    format!("Forcing install of {m}/{v}")
}
