//! Ours: what `dkms-hook doctor` says about a broken module (its source or
//! the link to it missing): how to keep it, what forgetting it does, and
//! why one whose source is not certainly gone is left alone.

use std::path::Path;

/// Ours: the state of a broken module `--repair` is about to forget (the
/// lines after it say each step).
pub const FORGETTING: &str = "forgetting";

/// Ours: a broken module whose source is gone.
pub fn broken_source_gone(m: &str, v: &str, source: &Path) -> String {
    format!("{m}/{v} is broken, its source {} is gone", source.display())
}

/// Ours: how to keep a module whose source is gone, on Debian and its
/// derivatives (where dpkg still knows which package installed it).
pub fn broken_keep_debian(m: &str, v: &str, source: &Path) -> String {
    let s = source.display();
    format!("To keep {m}/{v}: reinstall the package that installed {s} (dpkg -S {s} names it; for {m}-dkms: apt-get install --reinstall {m}-dkms), or put the source back at {s}.")
}

/// Ours: how to keep a module whose source is gone, elsewhere.
pub fn broken_keep(m: &str, v: &str, source: &Path) -> String {
    let s = source.display();
    format!(
        "To keep {m}/{v}: reinstall the package that installed {s}, or put the source back at {s}."
    )
}

/// Ours: how to forget a module whose source is gone (`command` repairs).
pub fn broken_forget(m: &str, v: &str, command: &str) -> String {
    format!("To forget {m}/{v} (dkms remove refuses a broken module): {command} does what the lines below say.")
}

/// Ours: an installed module file of a broken module.
pub fn broken_module_file(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("module file of broken {m}/{v}, installed for kernel {k} ({a})")
}

/// Ours: an original module archived when a broken module was installed.
pub fn broken_original(m: &str, v: &str, k: &str) -> String {
    format!("original module archived when broken {m}/{v} was installed for kernel {k}")
}

/// Ours: the kernel link of a broken module.
pub fn broken_kernel_link(m: &str, v: &str) -> String {
    format!("kernel link of broken {m}/{v}")
}

/// Ours: the dkms tree's directory of a broken module version.
pub fn broken_version_dir(m: &str, v: &str) -> String {
    format!("dkms tree entry of broken {m}/{v} (its builds, logs and source link)")
}

/// Ours: what `--repair` does to [`broken_version_dir`], and its records.
pub const DELETE_WITH_RECORDS: &str = "delete it with its pending and failure records";

/// Ours: [`DELETE_WITH_RECORDS`], done.
pub const DELETED_WITH_RECORDS: &str = "deleted, with its pending and failure records";

/// Ours: why the entry of a broken module was kept.
pub const BROKEN_KEPT: &str =
    "Kept, because a step above failed; fix what it says, then run doctor --repair again.";

/// Ours: a broken module whose source is there but not a directory.
pub fn broken_source_not_dir(m: &str, v: &str, source: &Path) -> String {
    format!(
        "{m}/{v} is broken, its source {} is not a directory",
        source.display()
    )
}

/// Ours: a broken module whose source cannot be examined.
pub fn broken_source_unreadable(m: &str, v: &str, source: &Path, error: &str) -> String {
    format!(
        "{m}/{v} is broken, its source {} cannot be read ({error})",
        source.display()
    )
}

/// Ours: why doctor leaves a broken module alone whose source is
/// something other than a directory.
pub fn broken_left_alone(source: &Path) -> String {
    format!("Left alone: --repair forgets a module only when its source is certainly gone. Put the source directory back at {}, or remove what is there and run doctor again.", source.display())
}

/// Ours: why doctor leaves a broken module alone whose source cannot be
/// examined (it may come back: a file system not mounted yet, a permission).
pub fn broken_left_alone_unreadable(source: &Path) -> String {
    format!("Left alone: --repair forgets a module only when its source is certainly gone. Run doctor again once {} can be read.", source.display())
}

/// Ours: a broken module whose source is there but the link to it is not.
pub fn broken_link_missing(m: &str, v: &str, source: &Path) -> String {
    format!(
        "{m}/{v} is broken, the link to its source {} is missing",
        source.display()
    )
}

/// Ours: how to repair [`broken_link_missing`] (`command` adds it again).
pub fn broken_add_again(command: &str) -> String {
    format!("To repair it: {command} (links the source again).")
}
