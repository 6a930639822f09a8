//! The closing summary of a hook run (what was built, skipped, deferred
//! and failed, with the make.log and its last lines) and `dkms-hook
//! pending`.

use std::path::{Path, PathBuf};

use crate::observe::guard::Setting;
use crate::observe::pending::{Reason, Records};
use crate::report::msg::guard as guard_msg;
use crate::report::Say;

/// Lines of make.log the hooks show when a build fails.
pub const TAIL_LINES: usize = 10;

/// One module's result in a hook run, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookResult {
    /// Built and installed.
    Installed,
    /// Ruled out by BUILD_EXCLUSIVE.
    Excluded,
    /// Waits for BUILD_DEPENDS not registered with DKMS.
    Deferred(Vec<String>),
    /// Failed (exit status, make.log when there is one).
    Failed(i32, Option<PathBuf>),
    /// Failed for a reason its make.log does not tell (exit status, the
    /// reason): a BUILD_DEPENDS that failed, is missing or forms a cycle,
    /// a dkms.conf that names no module or cannot be read.
    FailedBecause(i32, String),
}

/// The "last lines of make.log" block the hooks show for a failed build.
pub fn tail_block(log: &Path) -> Vec<String> {
    let text = crate::fs::read_regular_text(log, 64 << 20).unwrap_or_default();
    let mut lines: Vec<&str> = text.lines().collect();
    // Skip make.log's closing frame (exit code, elapsed time, dashes) so the
    // lines shown are the compiler's.
    while lines.last().is_some_and(|l| {
        l.is_empty()
            || l.starts_with("# exit code:")
            || l.starts_with("# elapsed time:")
            || l.chars().all(|c| c == '-')
    }) {
        lines.pop();
    }
    let lines = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    if lines.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!("Last {} lines of {}:", lines.len(), log.display())];
    out.extend(lines.iter().map(|l| format!("  {l}")));
    out
}

/// Print the summary of one hook run: (kernel, module, version, result),
/// the kernels deferred for missing headers (kernel, package), and one
/// loud line for each failure or deferral that could not be recorded.
pub fn print(
    say: &mut dyn Say,
    results: &[(String, String, String, HookResult)],
    headers: &[(String, String)],
    unrecorded: &[String],
) {
    if results.is_empty() && headers.is_empty() && unrecorded.is_empty() {
        return;
    }
    say.line("dkms-hook summary:");
    for (k, m, v, r) in results {
        let mv = if v.is_empty() {
            m.clone()
        } else {
            format!("{m}/{v}")
        };
        match r {
            HookResult::Installed => say.line(&format!("  built and installed: {m} for {k}")),
            HookResult::Excluded => say.line(&format!(
                "  skipped: {m} for {k} (BUILD_EXCLUSIVE does not match this kernel)"
            )),
            HookResult::Deferred(deps) => say.line(&format!(
                "  deferred: {mv} for {k} (BUILD_DEPENDS not registered: {})",
                deps.join(" ")
            )),
            HookResult::FailedBecause(code, why) => {
                say.line(&format!("  failed: {mv} for {k} (exit {code}): {why}"))
            }
            HookResult::Failed(code, log) => match log {
                Some(l) => {
                    say.line(&format!(
                        "  failed: {mv} for {k} (exit {code}); log: {}",
                        l.display()
                    ));
                    for line in tail_block(l).into_iter().skip(1) {
                        say.line(&format!("    {line}"));
                    }
                }
                None => say.line(&format!("  failed: {mv} for {k} (exit {code})")),
            },
        }
    }
    for (k, pkg) in headers {
        say.line(&format!(
            "  deferred: every module for {k} (headers missing: install {pkg})"
        ));
    }
    for line in unrecorded {
        say.line(line);
    }
}

/// The lines of the boot guard's records: each guarded kernel's missing
/// modules, then the boot entry set instead (for `pending` and `doctor`).
pub fn guard_lines(records: &Records) -> Vec<String> {
    let g = &records.guards;
    let mut out = Vec::new();
    for k in &g.kernels {
        for m in &k.modules {
            out.push(guard_msg::pending_guarded(
                &k.kernel,
                &k.arch,
                &m.module,
                &m.what,
                &m.critical,
            ));
        }
    }
    if !g.kernels.is_empty() {
        for c in &g.changes {
            let file = std::path::Path::new(&c.file);
            let setting = match c.setting {
                Setting::GrubNextEntry => guard_msg::grub_next_entry(file),
                Setting::GrubSavedEntry => guard_msg::grub_saved_entry(file),
                Setting::LoaderConfDefault => guard_msg::loader_conf_default(file),
                Setting::EfiDefault => guard_msg::EFI_DEFAULT.to_string(),
            };
            out.push(guard_msg::pending_boot_change(&setting, &c.kernel, &c.set));
        }
    }
    out
}

/// `dkms-hook pending`: what waits and why.
pub fn pending(say: &mut dyn Say, records: &Records) {
    let g = &records.guards;
    if records.items.is_empty()
        && records.failures.is_empty()
        && records.depmod_due.is_empty()
        && g.kernels.is_empty()
    {
        say.line("Nothing is pending.");
    }
    for d in &records.depmod_due {
        say.line(&format!(
            "{}: depmod is still due (a run that changed its modules was interrupted); the next dkms or dkms-hook run that changes the trees runs it, as does dkms-hook doctor",
            d.kernel
        ));
    }
    for i in &records.items {
        match i.reason {
            Reason::HeadersMissing => say.line(&format!(
                "{} ({}): waiting for kernel headers (install {})",
                i.kernel, i.arch, i.detail
            )),
            Reason::BuildDepends => say.line(&format!(
                "{} ({}): {} waits for BUILD_DEPENDS not registered with DKMS: {}",
                i.kernel, i.arch, i.module, i.detail
            )),
            // Never in the queue (markers are listed above); said plainly
            // should a record claim it.
            Reason::DepmodDue => say.line(&format!(
                "{} ({}): depmod has not run since its modules changed",
                i.kernel, i.arch
            )),
        }
    }
    for f in &records.failures {
        let log = if f.log.is_empty() {
            String::new()
        } else {
            format!("; log: {}", f.log)
        };
        let why = if f.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", f.reason)
        };
        say.line(&format!(
            "{} ({}): {}/{} failed (exit {}){why}{log}",
            f.kernel, f.arch, f.module, f.version, f.code
        ));
    }
    for line in guard_lines(records) {
        say.line(&line);
    }
    for p in &records.corrupt {
        say.eline(&format!(
            "Warning: {} is not a readable record; skipped (see dkms-hook doctor).",
            p.display()
        ));
    }
}
