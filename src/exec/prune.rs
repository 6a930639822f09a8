//! Pruning: kernels that are no longer installed (neither image nor
//! headers) lose their builds, `kernel-K-A` links, archived originals and
//! records. Which kernels is the planner's decision (from names it
//! validated); nothing of an installed kernel is ever touched.

use crate::error::Result;
use crate::exec::{queue, uninstall, Ctx};
use crate::layout::kernel_link_name;
use crate::plan::{Depmod, PruneKernel};
use crate::report::Say;
use crate::text;

/// Prune `kernels` (or, with `dry_run`, say what would go).
pub fn prune(
    cx: &mut Ctx,
    say: &mut dyn Say,
    kernels: &[PruneKernel],
    dry_run: bool,
    explicit: bool,
) -> Result<()> {
    let world = cx.world;
    let arch = world.host.machine_arch.clone();
    if kernels.is_empty() {
        if explicit {
            say.line(text::NOTHING_TO_PRUNE);
        }
        return Ok(());
    }
    for pk in kernels {
        let k = &pk.k;
        if dry_run {
            for (m, v) in world.tree.module_versions() {
                if world.tree.is_built(&m, &v, k, &arch) || world.tree.has_link(&m, k, &arch) {
                    say.line(&text::would_prune(&m, &v, k, &arch));
                }
            }
            continue;
        }
        say.line(&text::hook_pruning(k));
        crate::fault::point("prune:before-remove");
        let l = &world.host.layout;
        for (at, key) in &pk.builds {
            // An earlier step of this run may have taken it off already.
            if !cx.ledger.is_built(world, &at.m, &at.v, k, &at.a) {
                continue;
            }
            let res = if cx.ledger.is_installed(world, &at.m, &at.v, k, &at.a) {
                uninstall::uninstall(cx, say, at, key, Depmod::Later)
            } else {
                Ok(())
            }
            .and_then(|()| uninstall::unbuild(cx, at));
            if let Err(e) = res {
                say.error(&e);
            }
        }
        for m in world.tree.module_names() {
            let link = l.module_dir(&m).join(kernel_link_name(k, &arch));
            if world.tree.has_link(&m, k, &arch) {
                let _ = crate::fs::remove_file(&l.dkms, &link);
            }
            if world
                .tree
                .modules
                .get(&m)
                .is_some_and(|ms| ms.originals.iter().any(|(kk, _)| kk == k))
            {
                let _ = crate::fs::remove_all(&l.dkms, &l.originals_dir(&m).join(k));
                let od = l.originals_dir(&m);
                if crate::fs::list_names(&od).is_empty() {
                    let _ = crate::fs::rmdir(&l.dkms, &od);
                }
            }
        }
        queue::drop_kernel(cx, k)?;
    }
    if !dry_run {
        crate::exec::depmod::flush(cx, say)?;
    }
    Ok(())
}
