//! Ours: errors that mean this tool has a bug (a step that finds what the
//! planner should have arranged missing). Users should never see them; if
//! they do, the text says what was missing.

use std::path::Path;

/// Ours: a kernel the planner did not observe.
pub fn kernel_not_observed(k: &str) -> String {
    format!("Kernel {k} was not observed before planning (internal error).")
}

/// Ours: an action the planner has no plan for (the parser accepted it).
pub fn unplanned_action(action: &str) -> String {
    format!("Unknown action {action}")
}

/// Ours: a source tree named on the command line that the planner lost.
pub const NO_SOURCE_TREE: &str = "no source tree";

/// Ours: a dkms.conf the planner did not read (`shown` is its path as the
/// user named it).
pub fn conf_not_read(shown: &Path) -> String {
    format!(
        "{}: dkms.conf was not read before planning (internal error).",
        shown.display()
    )
}

/// Ours: the scheduler asked for a build it does not have.
pub const NO_SUCH_BUILD: &str = "internal error: no such build";

/// Ours: the scheduler lost a build it waited for.
pub const BUILD_NOT_DONE: &str = "internal error: build not done";

/// Ours: a plan that writes was made for a request that does not (the
/// request's `writes` and the planner disagree).
pub const READ_ONLY_REQUEST: &str =
    "internal error: a read-only request planned to change the trees";

/// Ours: a parallel build whose dkms.conf was not read.
pub const CONF_NOT_OBSERVED: &str = "internal error: dkms.conf not observed";
