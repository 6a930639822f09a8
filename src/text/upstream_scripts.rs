//! Upstream's text around the dkms.conf scripts (PRE_BUILD, POST_ADD, ...)
//! that run without a log.

/// Upstream's warning for a script that is not executable (it is skipped).
pub fn script_not_executable(kind: &str) -> String {
    format!("The {kind} script is not executable.")
}

/// Upstream's line before a script whose output is shown (POST_ADD,
/// PRE_INSTALL, POST_INSTALL, POST_REMOVE).
pub fn script_running(kind: &str) -> String {
    format!("Running the {kind} script:")
}
