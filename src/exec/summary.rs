//! The closing steps of an autoinstall and of a kernel removal: upstream's
//! closing lines and exit statuses (11, 14) from what the run's steps did;
//! in hook runs, the records of deferrals and failures and the results for
//! the hook summary.

use crate::error::{Error, Result};
use crate::exec::ledger::HookResult;
use crate::exec::msg;
use crate::exec::{queue, Ctx, Locked, Outcome};
use crate::plan::{AutoModule, AutoSummary, RemovalSummary};
use crate::report::{Say, Style};
use crate::text;

/// The status a failure record of a module whose BUILD_DEPENDS did not get
/// installed keeps: upstream's for a missing BUILD_DEPENDS.
const BUILD_DEPENDS_MISSING: i32 = 13;

/// Upstream's status for a bad dkms.conf.
const BAD_CONF: i32 = 8;

/// After an autoinstall of one kernel (upstream's closing lines).
pub fn autoinstall(cx: &mut Ctx, lock: &Locked, say: &mut dyn Say, s: &AutoSummary) -> Result<()> {
    if s.modules.is_empty() {
        return Ok(());
    }
    let mut installed: Vec<String> = s.already.clone();
    let mut skipped = Vec::new();
    let mut failed = Vec::new();
    let mut waiting = Vec::new();
    // In the order they were tried (upstream appends as it goes).
    let mut tried: Vec<&crate::plan::AutoModule> = s.modules.iter().collect();
    tried.sort_by_key(|m| m.step.unwrap_or(usize::MAX));
    for m in tried {
        match m.step.map(|i| cx.outcomes[i]) {
            Some(Outcome::Ok) => installed.push(m.m.clone()),
            Some(Outcome::Excluded) => skipped.push(m.m.clone()),
            Some(Outcome::Failed(code)) => failed.push((m, code)),
            _ => waiting.push(m),
        }
    }
    let k = &s.k;
    if !installed.is_empty() {
        say.line(&text::autoinstall_succeeded(k, &installed));
    }
    if !skipped.is_empty() {
        say.line(&text::autoinstall_skipped(k, &skipped));
    }
    if !failed.is_empty() {
        let f: Vec<String> = failed
            .iter()
            .map(|(m, c)| text::with_status(&m.m, *c))
            .collect();
        say.line(&text::autoinstall_failed(k, &f));
    }
    let done: Vec<&String> = installed.iter().chain(skipped.iter()).collect();
    let mut unresolved = Vec::new();
    let mut deferred = Vec::new();
    for m in &waiting {
        let left: Vec<&String> = m.deps.iter().filter(|d| !done.contains(d)).collect();
        let (real, unknown): (Vec<&String>, Vec<&String>) =
            left.into_iter().partition(|d| s.known.contains(d));
        if !real.is_empty() {
            say.line(&text::missing_dependencies(&m.m, &m.v, &real));
            unresolved.push((*m, real));
        } else {
            say.line(&text::deferred_unregistered(&m.m, &m.v, &unknown));
            deferred.push((*m, unknown));
        }
    }
    if !deferred.is_empty() {
        let names: Vec<String> = deferred
            .iter()
            .map(|(m, _)| format!("{}/{}", m.m, m.v))
            .collect();
        say.line(&text::autoinstall_deferred(k, &names));
        say.line(text::DEFERRED_RETRY);
    }
    let a = s.a.clone();
    // What this run installed for k has no failure or deferral to remember
    // any more (the plan forgets those of modules installed before it).
    for m in installed.iter().filter(|m| !s.already.contains(m)) {
        queue::clear_module(cx, lock, k, &a, m);
    }
    if cx.style == Style::Hook {
        for m in installed.iter().filter(|m| !s.already.contains(m)) {
            cx.ledger
                .results
                .push((k.clone(), m.clone(), String::new(), HookResult::Installed));
        }
        for m in &skipped {
            cx.ledger
                .results
                .push((k.clone(), m.clone(), String::new(), HookResult::Excluded));
        }
        for (m, code) in &failed {
            let step = m.step.unwrap_or(usize::MAX);
            let reason = cx
                .ledger
                .step_errors
                .get(&step)
                .cloned()
                .unwrap_or_default();
            // A bad dkms.conf (8) fails before any build: the make.log
            // there is an older build's and would mislead.
            let with_log = *code != BAD_CONF;
            let log = queue::record_failure(
                cx,
                lock,
                queue::Failed {
                    m: &m.m,
                    v: &m.v,
                    k,
                    a: &a,
                    code: *code,
                    reason: &reason,
                    with_log,
                },
            );
            let result = match (&log, reason.is_empty()) {
                (None, false) => HookResult::FailedBecause(*code, reason),
                _ => HookResult::Failed(*code, log),
            };
            cx.ledger
                .results
                .push((k.clone(), m.m.clone(), m.v.clone(), result));
            cx.ledger.hook_failed = true;
        }
        for (m, deps) in &unresolved {
            let reason = dependency_failure(cx, s, m, deps);
            let code = BUILD_DEPENDS_MISSING;
            queue::record_failure(
                cx,
                lock,
                queue::Failed {
                    m: &m.m,
                    v: &m.v,
                    k,
                    a: &a,
                    code,
                    reason: &reason,
                    with_log: false,
                },
            );
            cx.ledger.results.push((
                k.clone(),
                m.m.clone(),
                m.v.clone(),
                HookResult::FailedBecause(code, reason),
            ));
            cx.ledger.hook_failed = true;
        }
        for (m, deps) in &deferred {
            let deps: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
            queue::defer_module(cx, lock, k, &a, &m.m, &deps)?;
            cx.ledger.results.push((
                k.clone(),
                m.m.clone(),
                m.v.clone(),
                HookResult::Deferred(deps),
            ));
        }
        return Ok(());
    }
    if !failed.is_empty() || !unresolved.is_empty() {
        return Err(Error::autoinstall_failed(text::AUTOINSTALL_FAILED));
    }
    Ok(())
}

/// Why `m` could not be installed for want of its registered BUILD_DEPENDS
/// `deps`: the cycle it is part of, or what became of each dependency.
fn dependency_failure(cx: &Ctx, s: &AutoSummary, m: &AutoModule, deps: &[&String]) -> String {
    if let Some(cycle) = cycle_through(s, &m.m) {
        return msg::build_depends_cycle(&cycle);
    }
    let each: Vec<(String, &str)> = deps
        .iter()
        .map(|d| {
            let why = match s.modules.iter().find(|x| &x.m == *d) {
                None => msg::DEP_NOT_AUTOINSTALL,
                Some(x) => match x.step.map(|i| cx.outcomes[i]) {
                    Some(Outcome::Failed(_)) => msg::DEP_FAILED,
                    _ => msg::DEP_WAITING,
                },
            };
            (d.to_string(), why)
        })
        .collect();
    msg::build_depends_not_installed(&each)
}

/// The BUILD_DEPENDS cycle among the modules autoinstall took on that
/// leads from `m` back to it (`[m, .., m]`), if any.
fn cycle_through(s: &AutoSummary, m: &str) -> Option<Vec<String>> {
    fn walk(s: &AutoSummary, start: &str, at: &str, path: &mut Vec<String>) -> bool {
        let Some(x) = s.modules.iter().find(|x| x.m == at) else {
            return false;
        };
        for d in &x.deps {
            if d == start {
                path.push(d.clone());
                return true;
            }
            if path.contains(d) {
                continue;
            }
            path.push(d.clone());
            if walk(s, start, d, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![m.to_string()];
    walk(s, m, m, &mut path).then_some(path)
}

/// After kernel_preinst/prerm: empty directories of the kernel's module
/// tree go; exit 14 naming the modules that failed.
pub fn removal(cx: &mut Ctx, lock: &Locked, r: &RemovalSummary) -> Result<()> {
    let l = &cx.world.host.layout;
    let kd = l.lib_tree(&r.k);
    if kd.is_dir() {
        lock.remove_empty_dirs(&l.install, &kd);
    }
    let failed: Vec<String> = r
        .modules
        .iter()
        .filter_map(|(mv, step)| match cx.outcomes[*step] {
            Outcome::Failed(c) => Some(text::with_status(mv, c)),
            _ => None,
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    let what = if r.preinst {
        "kernel_preinst"
    } else {
        "kernel_prerm"
    };
    Err(Error::kernel_hook([text::kernel_removal_failed(
        what, &r.k, &r.a, &failed,
    )]))
}
