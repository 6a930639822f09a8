//! Pruning: kernels that are no longer installed (neither image nor
//! headers) lose their builds, `kernel-K-A` links, archived originals and
//! records. Which kernels is the planner's decision (from names it
//! validated); nothing of an installed kernel is ever touched.

use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::{queue, uninstall, Ctx, Locked};
use crate::layout::kernel_link_name;
use crate::plan::{Depmod, PruneKernel};
use crate::report::Say;

/// Say what prune would take away (`prune --dry-run`).
pub fn preview(cx: &mut Ctx, say: &mut dyn Say, kernels: &[PruneKernel]) -> Result<()> {
    let world = cx.world;
    let arch = &world.host.machine_arch;
    if kernels.is_empty() {
        say.line(msg::NOTHING_TO_PRUNE);
    }
    for pk in kernels {
        let k = &pk.k;
        for (m, v) in world.tree.module_versions() {
            if world.tree.is_built(&m, &v, k, arch) || world.tree.has_link(&m, k, arch) {
                say.line(&msg::would_prune(&m, &v, k, arch));
            }
        }
    }
    Ok(())
}

/// Prune `kernels`.
pub fn prune(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    kernels: &[PruneKernel],
    explicit: bool,
) -> Result<()> {
    let world = cx.world;
    let arch = world.host.machine_arch.clone();
    if kernels.is_empty() {
        if explicit {
            say.line(msg::NOTHING_TO_PRUNE);
        }
        return Ok(());
    }
    for pk in kernels {
        let k = &pk.k;
        say.line(&msg::hook_pruning(k));
        crate::fault::point("prune:before-remove");
        let l = &world.host.layout;
        // The archived originals go first: the kernel package that owned
        // them is gone, and an uninstall would otherwise put them back
        // into the removed kernel's tree, recreating its `kernel/`
        // directory, so that the kernel looked installed again and was
        // never pruned.
        for m in world.tree.module_names() {
            if world
                .tree
                .modules
                .get(&m)
                .is_some_and(|ms| ms.originals.iter().any(|(kk, _)| kk == k))
            {
                let od = l.originals_dir(&m);
                if let Err(e) = lock.remove_all(&l.dkms, &od.join(k)) {
                    not_removed(say, &od.join(k), e);
                }
                if crate::fs::list_names(&od).is_empty() {
                    if let Err(e) = lock.rmdir(&l.dkms, &od) {
                        not_removed(say, &od, e);
                    }
                }
            }
        }
        for (at, key) in &pk.builds {
            // An earlier step of this run may have taken it off already.
            if !cx.ledger.is_built(world, at) {
                continue;
            }
            let res = if cx.ledger.is_installed(world, at) {
                uninstall::uninstall(cx, lock, say, at, key, Depmod::Later)
            } else {
                Ok(())
            }
            .and_then(|()| uninstall::unbuild(cx, lock, at));
            if let Err(e) = res {
                say.error(&e);
            }
        }
        for m in world.tree.module_names() {
            let link = l.module_dir(&m).join(kernel_link_name(k, &arch));
            if world.tree.has_link(&m, k, &arch) {
                if let Err(e) = lock.remove_file(&l.dkms, &link) {
                    not_removed(say, &link, e);
                }
            }
        }
        queue::drop_kernel(cx, lock, k)?;
    }
    crate::exec::depmod::flush(cx, lock, say)
}

/// Say that `path` could not be removed (prune goes on with the rest; the
/// next prune tries again).
fn not_removed(say: &mut dyn Say, path: &std::path::Path, e: std::io::Error) {
    if e.kind() != std::io::ErrorKind::NotFound {
        say.error(&Error::io(msg::CANNOT_REMOVE, path, e));
    }
}
