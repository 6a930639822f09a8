//! BUILD_DEPENDS_REBUILD (upstream's `check_and_rebuild_dependent_modules`,
//! run after every install): a module built for the kernel whose
//! BUILD_DEPENDS now have another installed version than it was built
//! against (its `.dep_<module>` records) is uninstalled, rebuilt and
//! installed again, with upstream's messages.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::exec::{build, install, uninstall, Ctx, Locked};
use crate::plan::{Depmod, Mvka, RebuildCandidate};
use crate::report::Say;
use crate::text;

/// Rebuilds nested deeper than this are not attempted (upstream recurses
/// through `do_install`; a dependency chain is never this deep).
const MAX_DEPTH: usize = 4;

/// Upstream's `check_dependencies_updated`: true when some dependency's
/// installed version differs from the one recorded at build time (or
/// nothing was recorded).
fn deps_updated(cx: &Ctx, at: &Mvka, deps: &[String], recorded: &BTreeMap<String, String>) -> bool {
    let world = cx.world;
    for bd in deps {
        let Some(now) = cx.ledger.installed_version(world, bd, &at.k, &at.a) else {
            continue;
        };
        match recorded.get(bd) {
            Some(old) if *old == now => {}
            _ => return true,
        }
    }
    false
}

/// Rebuild the candidates whose dependencies changed.
pub fn rebuild_dependents(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    k: &str,
    a: &str,
    candidates: &[RebuildCandidate],
) -> Result<()> {
    if cx.ledger.rebuild_depth >= MAX_DEPTH {
        return Ok(());
    }
    let world = cx.world;
    let mut todo: Vec<(Mvka, &RebuildCandidate, Vec<String>)> = Vec::new();
    for c in candidates {
        let at = Mvka::new(&c.m, &c.v, k, a);
        if !cx.ledger.is_built(world, &at) {
            continue;
        }
        let Some(Ok(conf)) = world.conf(&c.strict).map(|r| &r.result) else {
            continue;
        };
        if deps_updated(cx, &at, &conf.build_depends, &c.recorded) {
            todo.push((at, c, conf.build_depends.clone()));
        }
    }
    let mut rebuilt: Vec<String> = Vec::new();
    let mut progress = true;
    while progress && !todo.is_empty() {
        progress = false;
        let mut next = Vec::new();
        for (at, c, deps) in std::mem::take(&mut todo) {
            // Upstream rebuilds a module as soon as one of its
            // dependencies is not among those rebuilt in this pass.
            if deps.iter().all(|d| rebuilt.contains(d)) {
                next.push((at, c, deps));
                continue;
            }
            say.blank();
            say.line(&text::rebuilding_for_dependencies(&at.m, &at.v));
            say.blank();
            if cx.ledger.is_installed(world, &at) {
                uninstall::uninstall(cx, lock, say, &at, &c.plain, Depmod::Now)?;
            }
            uninstall::unbuild(cx, lock, &at)?;
            cx.ledger.rebuild_depth += 1;
            let res = build::build(cx, lock, say, &at, &c.strict)
                .and_then(|()| install::install(cx, lock, say, &at, &c.strict, Depmod::Now));
            cx.ledger.rebuild_depth -= 1;
            res?;
            rebuilt.push(at.m.clone());
            progress = true;
        }
        todo = next;
    }
    if !todo.is_empty() {
        say.line(text::DEPENDENCY_CYCLES);
        for (at, _, _) in &todo {
            say.line(&text::cycle_member(&at.m, &at.v));
        }
    }
    Ok(())
}
