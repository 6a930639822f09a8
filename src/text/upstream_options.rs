//! Upstream's text about the command line itself: options, actions and
//! their combinations (exit 1 to 8), and ours for `--output`.

/// Upstream's `deprecated` line (stderr) for an option that does nothing.
pub fn deprecated_feature(option: &str) -> String {
    format!("Deprecated feature: {option}")
}

/// Upstream's error (exit 2) for an unknown option; the usage follows.
pub fn unknown_option(option: &str) -> String {
    format!("Unknown option: {option}")
}

/// Whether an error's first line is [`unknown_option`]'s (the one error
/// after which upstream prints the usage).
pub fn is_unknown_option(line: &str) -> bool {
    line.starts_with("Unknown option")
}

/// Upstream's warning (stderr) for a word that is no action, module,
/// source tree or archive.
pub fn cannot_handle(word: &str) -> String {
    format!("Warning: I do not know how to handle {word}.")
}

/// Upstream's error (exit 4) for a second action.
pub const MORE_THAN_ONE_ACTION: &str = "Cannot specify more than one action.";

/// Upstream's error (exit 8) for `--binaries-only` with `--source-only`.
pub const BINARIES_AND_SOURCE_ONLY: [&str; 2] = [
    "You have specified both --binaries-only and --source-only.",
    "You cannot do this.",
];

/// Upstream's error (exit 1) for more arches than kernels.
pub const ARCHES_WITHOUT_KERNELS: [&str; 2] = [
    "If more than one arch is specified on the command line, then there",
    "must be an equal number of kernel versions also specified (1:1 relationship).",
];

/// Upstream's error (exit 2) for `-k` with `--all`.
pub const KERNEL_AND_ALL: [&str; 2] = [
    "You cannot specify a kernel version and also specify",
    "--all on the command line.",
];

/// Upstream's error (exit 3) for `-a` with `--all`.
pub const ARCH_AND_ALL: [&str; 2] = [
    "You cannot specify an arch and also specify",
    "--all on the command line.",
];

/// `status --output` with a format we do not have (our extension's error).
pub fn unknown_output_format(format: &str) -> String {
    format!("Unknown output format: {format} (use text, json or yaml).")
}

/// Ours: `--output` (our extension) given to an action other than status
/// (empty `action`: none given).
pub fn output_only_for_status(action: &str) -> String {
    format!(
        "The --output option applies only to the status action, not to {}.",
        if action.is_empty() {
            "no action"
        } else {
            action
        }
    )
}

/// Upstream's `error` output (on stderr, as printed) for an unknown or
/// missing action; the usage follows on stdout.
pub fn unknown_action(action: &str) -> String {
    format!("\nError! Unknown action specified: \"{action}\"\n")
}
