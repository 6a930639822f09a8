//! Reading and checking a dkms.conf: upstream's lines (`dkms.conf: Error!
//! ...`, `Deprecated feature: ...`, the missing or bad file) and ours for
//! the reader's refusals and its fallback to bash.

/// Upstream: `Deprecated feature: NAME (file)`, a directive set in `file`.
pub fn deprecated_directive(name: &str, file: &str) -> String {
    super::deprecated_feature(&format!("{name} ({file})"))
}

/// Upstream: OBSOLETE_BY's deprecation, with its replacement.
pub fn deprecated_obsolete_by(file: &str) -> String {
    format!(
        "{}: use BUILD_EXCLUSIVE_KERNEL_MAX instead",
        deprecated_directive("OBSOLETE_BY", file)
    )
}

/// Upstream: a required scalar directive (PACKAGE_NAME, PACKAGE_VERSION)
/// is missing.
pub fn conf_no_directive(name: &str) -> String {
    format!("dkms.conf: Error! No '{name}' directive specified.")
}

/// Upstream: a per-module directive is missing from record `i`.
pub fn conf_no_directive_in_record(name: &str, i: usize) -> String {
    format!("dkms.conf: Error! No '{name}' directive specified for record #{i}.")
}

/// Upstream: a module name given with its `.o`/`.ko` suffix.
pub fn conf_name_has_suffix(name: &str, i: usize) -> String {
    format!("dkms.conf: Error! '{name}' directive ends in '.o' or '.ko' in record #{i}.")
}

/// Upstream: DEST_MODULE_LOCATION outside the three allowed trees (two
/// lines).
pub fn conf_bad_dest_location(i: usize) -> [String; 2] {
    [
        "dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' does not begin with".into(),
        format!("'/kernel', '/updates', or '/extra' in record #{i}."),
    ]
}

/// Upstream: a yes/no directive with another value.
pub fn conf_unsupported_value(name: &str, value: &str) -> String {
    format!("dkms.conf: Error! Unsupported {name} value '{value}'")
}

/// Upstream (`--strict`): no module at all.
pub const CONF_ZERO_MODULES: &str = "dkms.conf: Warning! Zero modules specified.";

/// Upstream (`--strict`): two records build the same file.
pub fn conf_duplicate_built(full: &str, i: usize) -> String {
    format!("dkms.conf: Error! Duplicate module '{full}' in 'BUILT_MODULE_NAME[{i}]'.")
}

/// Upstream (`--strict`): two records install under the same name.
pub fn conf_duplicate_dest(name: &str, i: usize) -> String {
    format!("dkms.conf: Error! Duplicate module '{name}' in 'DEST_MODULE_NAME[{i}]'.")
}

/// Ours: a module name that could climb out of its directory.
pub fn conf_name_escapes(directive: &str, i: usize) -> String {
    format!(
        "dkms.conf: Error! Directive '{directive}' contains a '..' path component or starts with '/' in record #{i}."
    )
}

/// Ours: a module location that could climb out of its tree.
pub fn conf_location_escapes(directive: &str, i: usize) -> String {
    format!(
        "dkms.conf: Error! Directive '{directive}' contains a '..' path component in record #{i}."
    )
}

/// Ours: ADDON_MODULES_DIR makes a location that could climb out.
pub fn conf_addon_dir_escapes(location: &str, i: usize) -> String {
    format!(
        "dkms.conf: Error! The module location '{location}' (ADDON_MODULES_DIR) contains a '..' path component in record #{i}."
    )
}

/// Upstream (`--directive`): one directive given on the command line.
pub fn directive_line(name: &str, value: &str) -> String {
    format!("DIRECTIVE: {name}=\"{value}\"")
}

/// Upstream: no dkms.conf where the module's should be.
pub fn conf_missing(path: &str) -> [String; 2] {
    [
        "Could not locate dkms.conf file.".into(),
        format!("File: {path} does not exist."),
    ]
}

/// Upstream: a dkms.conf that failed its checks.
pub fn conf_invalid(path: &str) -> [String; 2] {
    [
        "Bad conf file.".into(),
        format!("File: {path} does not represent a valid dkms.conf file."),
    ]
}

/// What makes a file unfit to be read as a dkms.conf (ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfRefusal {
    /// A directory, FIFO, device or socket.
    NotRegular,
    /// Over the 1 MiB cap.
    TooLarge,
    /// Binary data.
    HasNul,
}

/// Ours, in upstream's "Bad conf file." frame: a file refused before any
/// reader sees it.
pub fn conf_refused(path: &str, why: ConfRefusal) -> [String; 2] {
    let why = match why {
        ConfRefusal::NotRegular => {
            "is not a regular file; refusing to read it as a dkms.conf file."
        }
        ConfRefusal::TooLarge => "is larger than 1 MiB; refusing to read it as a dkms.conf file.",
        ConfRefusal::HasNul => {
            "contains NUL bytes; refusing to read a binary file as a dkms.conf file."
        }
    };
    ["Bad conf file.".into(), format!("File: {path} {why}")]
}

/// Ours: what went wrong around the bash that reads a dkms.conf the static
/// reader leaves to it.
pub enum BashReadFailure<'a> {
    /// The temporary files for its output could not be made.
    TempFile,
    /// bash could not be started.
    Start,
    /// Waiting for it failed.
    Lost,
    /// It ran past the time limit (seconds).
    Timeout(f64),
    /// Its output could not be read back.
    ReadBack,
    /// It ended before reporting every file (its exit status).
    Failed(&'a dyn std::fmt::Display),
}

/// Ours: one line for a [`BashReadFailure`] on `file`, with the system's
/// error when there is one.
pub fn bash_read_failed(
    failure: BashReadFailure,
    file: &str,
    error: Option<&dyn std::fmt::Display>,
) -> String {
    let line = match failure {
        BashReadFailure::TempFile => "Unable to make temporary file for reading dkms.conf".into(),
        BashReadFailure::Start => format!("Unable to run bash to read {file}"),
        BashReadFailure::Lost => format!("Lost the bash reading {file}"),
        BashReadFailure::Timeout(secs) => {
            return format!("Timed out after {secs}s reading {file}.")
        }
        BashReadFailure::ReadBack => format!("Unable to read back the values of {file}"),
        BashReadFailure::Failed(status) => {
            return format!("bash failed while reading {file} ({status}).")
        }
    };
    match error {
        Some(e) => format!("{line}: {e}"),
        None => line,
    }
}
