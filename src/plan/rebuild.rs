//! Which modules a new install may make stale: the ones built for the
//! kernel whose BUILD_DEPENDS changed version (upstream's
//! `check_and_rebuild_dependent_modules`). One choice for `dkms install`,
//! `match` and `autoinstall`.

use crate::observe::Facts;
use crate::plan::{Mvka, RebuildCandidate};

/// Modules built for k/a that upstream's `check_and_rebuild_dependent_modules`
/// looks at: BUILD_DEPENDS set, BUILD_DEPENDS_REBUILD=yes, no `--force`.
pub fn candidates(world: &Facts, k: &str, a: &str) -> Vec<RebuildCandidate> {
    if world.host.opts.force {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (m, v) in world.tree.module_versions() {
        if !world.tree.is_built(&m, &v, k, a) {
            continue;
        }
        let key = world.conf_key(&m, &v, k, a, false);
        let Ok(c) = &world.conf(&key).result else {
            continue;
        };
        if c.build_depends.is_empty() || !c.build_depends_rebuild {
            continue;
        }
        out.push(RebuildCandidate {
            strict: world.conf_key(&m, &v, k, a, true),
            plain: key,
            recorded: world.recorded_deps(&Mvka::new(&m, &v, k, a)).clone(),
            m,
            v,
        });
    }
    out
}
