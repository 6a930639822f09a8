//! Ours: framework.conf files (and `framework.conf.d/*.conf`) that are
//! skipped. They are read without running them, so a file that is not a
//! list of plain assignments is ignored with a warning, not executed.

/// A file that could not be read (`why`: the system's error).
pub fn framework_unreadable(path: &str, why: &str) -> String {
    format!("ignoring {path}: {why}.")
}

/// A binary file.
pub fn framework_binary(path: &str) -> String {
    format!("ignoring {path}: not a text configuration file.")
}

/// A file with something other than plain assignments, from `line` on.
pub fn framework_not_static(path: &str, line: usize, reason: &str) -> String {
    format!("ignoring {path} from line {line}: {reason}.")
}
