//! The closing steps of an autoinstall and of a kernel removal: upstream's
//! closing lines and exit statuses (11, 14) from what the run's steps did;
//! in hook runs, the records of deferrals and failures and the results for
//! the hook summary.

use crate::error::{Error, Result};
use crate::exec::ledger::HookResult;
use crate::exec::{queue, Ctx, Locked, Outcome};
use crate::plan::{AutoSummary, RemovalSummary};
use crate::report::{Say, Style};
use crate::text;

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
    if cx.style == Style::Hook {
        let a = s.a.clone();
        for m in installed.iter().filter(|m| !s.already.contains(m)) {
            cx.ledger
                .results
                .push((k.clone(), m.clone(), String::new(), HookResult::Installed));
            queue::clear_module(cx, lock, k, &a, m);
        }
        for m in &skipped {
            cx.ledger
                .results
                .push((k.clone(), m.clone(), String::new(), HookResult::Excluded));
        }
        for (m, code) in &failed {
            let log = queue::record_failure(cx, lock, k, &a, &m.m, &m.v, *code);
            cx.ledger.results.push((
                k.clone(),
                m.m.clone(),
                m.v.clone(),
                HookResult::Failed(*code, log),
            ));
            cx.ledger.hook_failed = true;
        }
        for (m, deps) in &unresolved {
            cx.ledger.results.push((
                k.clone(),
                m.m.clone(),
                m.v.clone(),
                HookResult::MissingDeps(deps.iter().map(|d| d.to_string()).collect()),
            ));
            cx.ledger.hook_failed = true;
        }
        for (m, deps) in &deferred {
            let deps: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
            let _ = queue::defer_module(cx, lock, k, &a, &m.m, &deps);
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
