//! Upstream's `invoke_command`: how a step (make, a patch, a script,
//! depmod) shows on the terminal (`Building module(s)... done.`), what it
//! adds to make.log, and the descriptions of the steps.

use std::path::Path;

/// Upstream's line while a step runs (no newline): `<description>...`
pub fn step_running(description: &str) -> String {
    format!("{description}...")
}

/// Upstream's progress dot, one every few seconds while a step runs.
pub const STEP_DOT: &str = ".";

/// Upstream's end of a step's line when it succeeded.
pub const STEP_DONE: &str = " done.";

/// Upstream's end of a step's line when it failed (no newline).
pub fn step_bad_exit(status: i32) -> String {
    format!("(bad exit status: {status})")
}

/// Upstream's failed command, shown after a failed step when not verbose.
pub fn step_failed_command(shown: &str) -> String {
    format!("\nFailed command:\n{shown}\n")
}

/// Upstream's record of a step in make.log, before its output.
pub fn log_step_start(description: &str, cmd: &str) -> String {
    format!("\n{description}\n# command: {cmd}\n")
}

/// Upstream's record in make.log after a step's output: its exit code, how
/// long it took (`HH:MM:SS`) and a rule.
pub fn log_step_end(code: i32, elapsed: &str) -> String {
    format!(
        "\n# exit code: {code}\n# elapsed time: {elapsed}\n{}\n",
        "-".repeat(64)
    )
}

/// Upstream's pointer to the log after a failed step.
pub fn consult(log: &Path) -> String {
    format!("Consult {} for more information.", log.display())
}

/// Upstream's description of the make step.
pub const STEP_BUILD: &str = "Building module(s)";

/// Upstream's description of applying PATCH `p`.
pub fn step_patch(p: &str) -> String {
    format!("Applying patch {p}")
}

/// Upstream's description of a script step (`kind` as upstream names it,
/// e.g. `pre_build`).
pub fn step_script(kind: &str) -> String {
    format!("Running the {kind} script")
}

/// Upstream's description of the depmod step.
pub const STEP_DEPMOD: &str = "Running depmod";

/// Upstream's message (echoed by the depmod step) for a kernel without
/// modules.dep.
pub fn depmod_skipped(modules_dep: &Path) -> String {
    format!(
        "Skipping depmod because '{}' is missing.",
        modules_dep.display()
    )
}

/// Upstream's description of framework.conf's post_transaction step.
pub const STEP_POST_TRANSACTION: &str = "Executing post-transaction command";
