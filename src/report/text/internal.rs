//! Ours: errors that mean this tool has a bug (a step that finds what the
//! planner should have arranged missing). Users should never see them; if
//! they do, the text says what was missing.

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
