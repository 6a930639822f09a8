//! The planner's view of the [`World`]: every fact it asks for is answered,
//! observed the first time and kept in the World. The planner never reads
//! the disk itself; the executor gets the World, whose getters answer only
//! what was observed, so it cannot decide from a second look.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::Path;

use crate::observe::conf::ConfRead;
use crate::observe::kernel::KernelFacts;
use crate::observe::BuildFacts;
use crate::observe::{ConfKey, Mvka, PathKind, World};

/// The facts a plan is made from: a World that observes on demand.
#[derive(Clone, Copy)]
pub struct Facts<'w> {
    world: &'w World,
}

impl<'w> Facts<'w> {
    /// Ask `world` (the engine makes one for planning; tests too).
    pub fn new(world: &'w World) -> Facts<'w> {
        Facts { world }
    }

    /// The World the answers are kept in (what the executor gets).
    pub fn world(&self) -> &'w World {
        self.world
    }

    /// The facts of kernel `k`.
    pub fn kernel(&self, k: &str) -> &'w KernelFacts {
        self.world.observe_kernel(k)
    }

    /// What building for kernel `k` needs (configuration, compiler,
    /// `build_environment`).
    pub fn build_facts(&self, k: &str) -> &'w BuildFacts {
        self.world.observe_build_facts(k)
    }

    /// The dependency versions the build `at` was made against (its
    /// `.dep_<module>` records).
    pub fn recorded_deps(&self, at: &Mvka) -> &'w BTreeMap<String, String> {
        self.world.observe_recorded_deps(at)
    }

    /// A dkms.conf read with its override files.
    pub fn conf(&self, key: &ConfKey) -> &'w ConfRead {
        self.world.observe_conf(key)
    }

    /// The expected build cost of m/v in milliseconds (from earlier builds).
    pub fn cost(&self, m: &str, v: &str) -> u64 {
        self.world.observe_cost(m, v)
    }

    /// The kernels that have a directory in the install tree, in version order.
    pub fn installed_kernels(&self) -> &'w [String] {
        self.world.observe_installed_kernels()
    }

    /// The modules the machine cannot live without, and why.
    pub fn critical(&self) -> &'w crate::observe::critical::Critical {
        self.world.observe_critical()
    }

    /// The boot loader of the root.
    pub fn loader(&self) -> &'w crate::observe::boot::Loader {
        self.world.observe_loader()
    }

    /// A regular file stands at `p` (links followed).
    pub fn is_file(&self, p: &Path) -> bool {
        self.world.observe_path(p) == PathKind::File
    }

    /// A directory stands at `p` (links followed).
    pub fn is_dir(&self, p: &Path) -> bool {
        self.world.observe_path(p) == PathKind::Dir
    }
}

impl Deref for Facts<'_> {
    type Target = World;

    fn deref(&self) -> &World {
        self.world
    }
}
