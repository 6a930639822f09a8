//! The boot loader of a root, for the boot guard: which entries boot which
//! kernel, and the setting that chooses the next boot.
//!
//! - [`grub`]: grub.cfg's menu entry ids, grubenv, `GRUB_DEFAULT`;
//! - [`bls`]: systemd-boot and other Boot Loader Specification loaders.

pub mod bls;
pub mod grub;

use crate::layout::Root;

/// One boot menu entry that boots a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEntry {
    /// What the loader selects it by.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The kernel version it boots.
    pub kernel: String,
}

/// The loader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loader {
    /// GRUB (grub.cfg found).
    Grub(grub::Grub),
    /// A BLS loader (loader entries found).
    Bls(bls::Bls),
    /// Neither: the boot entry cannot be chosen.
    Unknown,
}

impl Loader {
    /// The entries that boot kernel `k`.
    pub fn entries_of(&self, k: &str) -> Vec<&BootEntry> {
        let all: &[BootEntry] = match self {
            Loader::Grub(g) => &g.entries,
            Loader::Bls(b) => &b.entries,
            Loader::Unknown => &[],
        };
        all.iter().filter(|e| e.kernel == k).collect()
    }
}

/// Find the loader of `root` (GRUB first: Fedora's GRUB reads BLS entries
/// itself).
pub fn observe(root: &Root) -> Loader {
    if let Some(g) = grub::observe(root) {
        return Loader::Grub(g);
    }
    if let Some(b) = bls::observe(root) {
        return Loader::Bls(b);
    }
    Loader::Unknown
}
