//! The boot guard's records, as read: the kernels that must not be booted
//! because a critical module is missing there (one JSON file each under
//! `<dkms_tree>/.dkms-hook/guard/`), and the one boot loader setting the
//! guard changed, with the value it had before (`boot-change.json`), so
//! that lifting the last guard puts it back. Written by `exec::guard`.

use serde::{Deserialize, Serialize};

use crate::layout::{is_safe_component, Layout};
use crate::observe::version::sort_v_cmp;

/// Largest record read.
const MAX_RECORD: u64 = 64 * 1024;

/// A critical module missing on a guarded kernel (also a field of `dkms
/// status --output json`'s `guarded`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GuardedModule {
    /// The DKMS module.
    pub module: String,
    /// Its version, when known.
    #[serde(default)]
    pub version: String,
    /// What happened to it there, in one line (failed, deferred).
    pub what: String,
    /// Why it is critical, in one line.
    pub critical: String,
}

/// A kernel the machine must not boot next.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Guard {
    /// Kernel.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// The critical modules missing there.
    pub modules: Vec<GuardedModule>,
    /// Seconds since the epoch when first recorded.
    #[serde(default)]
    pub since: u64,
}

/// Which loader setting a change is in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    /// grubenv's `next_entry` (grub-reboot: the next boot only; the boot
    /// unit sets it again at each boot while a guard stands).
    GrubNextEntry,
    /// grubenv's `saved_entry` (`GRUB_DEFAULT=saved`).
    GrubSavedEntry,
    /// loader.conf's `default`.
    LoaderConfDefault,
    /// The `LoaderEntryDefault` EFI variable (`bootctl set-default`).
    EfiDefault,
}

/// A loader setting the guard changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BootChange {
    /// Which setting.
    pub setting: Setting,
    /// The file it is in, as a path inside the root ("" for the EFI
    /// variable).
    pub file: String,
    /// Its value before the guard first changed it (`None`: unset).
    pub original: Option<String>,
    /// The value the guard gave it.
    pub set: String,
    /// The kernel that entry boots.
    pub kernel: String,
}

/// The guard's records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guards {
    /// Guarded kernels, in version order.
    pub kernels: Vec<Guard>,
    /// The loader settings changed, when any.
    pub changes: Vec<BootChange>,
}

impl Guards {
    /// Read the records of `layout`'s dkms tree; records that cannot be
    /// read or name unsafe kernels are left out (and go to `corrupt`).
    pub fn read(layout: &Layout, corrupt: &mut Vec<std::path::PathBuf>) -> Guards {
        let mut g = Guards::default();
        let dir = layout.guard_dir();
        for name in crate::fs::list_names(&dir) {
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            let p = dir.join(&name);
            let parsed = crate::fs::read_regular(&p, MAX_RECORD)
                .ok()
                .and_then(|b| serde_json::from_slice::<Guard>(&b).ok())
                .filter(|r| is_safe_component(&r.kernel) && is_safe_component(&r.arch));
            match parsed {
                Some(r) => g.kernels.push(r),
                None => corrupt.push(p),
            }
        }
        g.kernels.sort_by(|a, b| sort_v_cmp(&a.kernel, &b.kernel));
        let p = layout.boot_change_file();
        if p.exists() {
            match crate::fs::read_regular(&p, MAX_RECORD)
                .ok()
                .and_then(|b| serde_json::from_slice::<Vec<BootChange>>(&b).ok())
            {
                Some(c) => g.changes = c,
                None => corrupt.push(p),
            }
        }
        g
    }

    /// The guard of kernel `k`.
    pub fn of(&self, k: &str) -> Option<&Guard> {
        self.kernels.iter().find(|g| g.kernel == k)
    }
}

/// The file of kernel k's guard.
pub fn guard_file(layout: &Layout, k: &str, a: &str) -> std::path::PathBuf {
    // Both are safe names (checked where they come from): `K@A.json`.
    layout.guard_dir().join(format!("{k}@{a}.json"))
}
