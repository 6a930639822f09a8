//! Which builds come off a kernel that is going away (`kernel_prerm`,
//! `kernel_preinst` and the hooks' removal events): every module version
//! built for it, or for preinst only the AUTOINSTALL ones. One choice for
//! `dkms` and `dkms-hook`; each decides what an unreadable dkms.conf means.

use crate::observe::{ConfKey, Facts, Mvka};

/// One module version's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// m/v comes off the kernel.
    Take(String, String),
    /// Whether m/v is AUTOINSTALL cannot be told: its dkms.conf must be
    /// read (and its error shown).
    Unreadable(ConfKey),
}

/// The module versions built for k/a, in tree order, that come off it.
pub fn removals(world: &Facts, k: &str, a: &str, preinst: bool) -> Vec<Removal> {
    let mut out = Vec::new();
    for (m, v) in world.tree.module_versions() {
        if !world.tree.is_built(&m, &v, k, a) {
            continue;
        }
        if preinst {
            let key = world.source_conf_key(&m, &v, k, a, false);
            match &world.conf(&key).result {
                Ok(c) if c.autoinstall => {}
                Ok(_) => continue,
                Err(_) => {
                    out.push(Removal::Unreadable(key));
                    continue;
                }
            }
        }
        out.push(Removal::Take(m, v));
    }
    out
}

/// Whether m/v's registered dkms.conf has BUILD_EXCLUSIVE rules for k/a:
/// removing a module that is not installed then says nothing about it.
pub fn exclusive(world: &Facts, at: &Mvka) -> bool {
    let key = world.source_conf_key(&at.m, &at.v, &at.k, &at.a, false);
    world
        .conf(&key)
        .result
        .as_ref()
        .is_ok_and(|c| c.has_build_exclusive)
}
