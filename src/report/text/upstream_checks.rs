//! The checks upstream makes before an action (module and version given,
//! the module not broken, ...), and ours on names.

/// Ours: a name refused because it could escape the trees or reach a shell
/// (upstream has no such check; the names become paths and shell words).
pub fn invalid_name(what: &str, s: &str) -> Vec<String> {
    vec![
        invalid_name_line(what, s),
        "Names must not be empty, contain '/', whitespace, control or shell characters, be '.' or '..', or start with '-' or '~'.".to_string(),
    ]
}

/// Upstream's `module_is_broken_and_die` lines: m/v "is broken!" (its
/// source or the link to it is missing).
pub fn broken(m: &str, v: &str) -> Vec<String> {
    vec![
        format!("{m}/{v} is broken!"),
        "Missing the source directory or the symbolic link pointing to it.".into(),
        "Manual intervention is required!".into(),
    ]
}

/// Ours: the first line of [`invalid_name`], alone where the rule is not
/// repeated (mktarball's kernels and arches).
pub fn invalid_name_line(what: &str, s: &str) -> String {
    format!("Invalid {what} '{}'.", s.escape_default())
}

/// Upstream's `check_root` failure (exit 1).
pub const MUST_BE_ROOT: &str = "You must be root to use this command.";
