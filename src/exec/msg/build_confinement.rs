//! Ours: what keeps a build inside its directory: the unprivileged
//! build_user, and the checks on a module source's links and special
//! files (upstream builds as root, in whatever the source holds).

use std::path::Path;

/// Ours: the error (exit 1) for a build_user that does not exist.
pub fn build_user_missing(name: &str) -> Vec<String> {
    vec![
        format!("The build_user '{name}' set in framework.conf does not exist."),
        format!("Create it (e.g. useradd --system --no-create-home {name}) or remove build_user."),
    ]
}

/// Ours: the error (exit 1) when the user database cannot be read.
pub fn build_user_lookup_failed(name: &str, cause: &str) -> String {
    format!("Cannot look up the build_user '{name}': {cause}")
}

/// Ours: the error (exit 10) when the build left a file the build user
/// does not own.
pub fn build_left_foreign_file(file: &Path, dir: &Path, user: &str) -> Vec<String> {
    vec![
        format!(
            "The build left {} in {}, which does not belong to the build user {user}.",
            file.display(),
            dir.display()
        ),
        "Refusing to use the build results.".to_string(),
    ]
}

/// Ours: what [`special_file_found`] names: the module's source.
pub const MODULE_SOURCE: &str = "module source";

/// Ours: what [`special_file_found`] names: the build's directory.
pub const BUILD_DIRECTORY: &str = "build directory";

/// Ours: the error (exit 8) for a device node, fifo or socket in `dir`
/// (`what` is [`MODULE_SOURCE`] or [`BUILD_DIRECTORY`]).
pub fn special_file_found(what: &str, dir: &Path, file: &Path) -> Vec<String> {
    vec![
        format!(
            "The {what} {} contains a device node, fifo or socket: {}",
            dir.display(),
            file.display()
        ),
        "Refusing to build: a module source holds only files, directories and links.".to_string(),
    ]
}

/// Ours: the error (exit 8) for a link out of the source that cannot be
/// replaced by a copy of its target.
pub fn escaping_link(source: &Path, link: &Path, target: &Path) -> Vec<String> {
    vec![
        format!(
            "The module source {} contains a symbolic link outside it that cannot be copied into the build:",
            source.display()
        ),
        format!("{} -> {}", link.display(), target.display()),
        "It leads to a directory, a special file, or a file that is large or not world-readable;".to_string(),
        "refusing to build: the build could write through it to files elsewhere.".to_string(),
    ]
}
