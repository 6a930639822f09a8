//! What one build needs, decided before it starts: shared by the build's
//! steps (exec/build.rs) and the publishing of its result
//! (exec/build_result.rs).

use crate::exec::sign::Signer;
use crate::exec::Locked;
use crate::observe::conf::ModuleConf;
use crate::observe::kernel::KernelFacts;
use crate::observe::World;
use crate::plan::Mvka;
use crate::report::Style;

/// What one build needs, decided before it starts.
pub struct BuildInput<'a> {
    /// The observation.
    pub world: &'a World,
    /// The lock.
    pub lock: &'a Locked,
    /// What to build.
    pub at: Mvka,
    /// Its dkms.conf.
    pub conf: &'a ModuleConf,
    /// The kernel.
    pub kernel: &'a KernelFacts,
    /// How to sign, when signing.
    pub signer: Option<Signer>,
    /// BUILD_DEPENDS not installed for the kernel.
    pub missing_deps: Vec<String>,
    /// Whose output.
    pub style: Style,
}
