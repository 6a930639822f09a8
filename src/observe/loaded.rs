//! The running kernel as the root shows it: its release
//! (`/proc/sys/kernel/osrelease`), its command line, the modules it has
//! loaded (`/proc/modules`) and the source version of each
//! (`/sys/module/<name>/srcversion`). Read under `--root`, so that a test
//! root describes a running kernel of its own; a root without `/proc` has
//! no running kernel.

use crate::layout::Root;
use crate::observe::module_file::normalized;

/// A module the running kernel has loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Its name (`_` form).
    pub name: String,
    /// Its `srcversion`, when the kernel exposes one.
    pub srcversion: Option<String>,
}

/// The running kernel's release, when the root has a `/proc`.
pub fn running_release(root: &Root) -> Option<String> {
    crate::fs::read_regular_text(&root.join("/proc/sys/kernel/osrelease"), 4096)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The running kernel's command line (empty when unknown).
pub fn cmdline(root: &Root) -> String {
    crate::fs::read_regular_text(&root.join("/proc/cmdline"), 64 << 10).unwrap_or_default()
}

/// Module `name` as the running kernel has it loaded, if it does.
pub fn loaded(root: &Root, name: &str) -> Option<Loaded> {
    let want = normalized(name);
    let modules = crate::fs::read_regular_text(&root.join("/proc/modules"), 4 << 20).ok()?;
    modules
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|n| normalized(n) == want)?;
    let srcversion =
        crate::fs::read_regular_text(&root.join(format!("/sys/module/{want}/srcversion")), 4096)
            .ok()
            .map(|s| s.trim().to_string());
    Some(Loaded {
        name: want,
        srcversion,
    })
}
