//! Whether a kernel checks module signatures, and which keys it trusts,
//! as the machine under the root shows it: the firmware's Secure Boot
//! variable, the running kernel's lockdown mode and `module.sig_enforce`
//! parameter, the keys shim enrolled (MOK: `MokListRT`) and the enrolment
//! waiting for the next reboot (`MokNew`), and the keys in the running
//! kernel's keyrings (`/proc/keys`). The same files `mokutil --test-key`
//! and `mokutil --list-new` read; every one is read under `--root`, so a
//! test root can hold its own.

use std::path::{Path, PathBuf};

use crate::layout::Root;
use crate::observe::der;
use crate::observe::x509::{Certificate, Signer};

/// shim's variable GUID.
const SHIM_GUID: &str = "605dab50-e046-4300-abb6-3dd810dd8b23";
/// The global EFI variable GUID (SecureBoot).
const GLOBAL_GUID: &str = "8be4df61-93ca-11d2-aa0d-e98c6b8a0b8c";
/// EFI_CERT_X509_GUID as stored (mixed-endian).
const CERT_X509: [u8; 16] = [
    0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72,
];

/// What the machine says about module signature checks and keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    /// `/sys/firmware/efi` exists: the machine booted through EFI.
    pub efi: bool,
    /// The firmware's SecureBoot variable (`None` without EFI or unreadable).
    pub secure_boot: Option<bool>,
    /// The running kernel's lockdown mode (`none`, `integrity`,
    /// `confidentiality`), when it has the lockdown LSM.
    pub lockdown: Option<String>,
    /// The running kernel's `module.sig_enforce` parameter.
    pub sig_enforce: Option<bool>,
    /// Certificates enrolled with shim (MOK).
    pub mok: Vec<Certificate>,
    /// Certificates waiting to be enrolled at the next reboot.
    pub mok_pending: Vec<Certificate>,
    /// The descriptions of the asymmetric keys in the running kernel's
    /// keyrings (`<subject>: <key id hex>`).
    pub kernel_keys: Vec<String>,
}

/// Where a signing key stands with the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyTrust {
    /// In the running kernel's keyrings, under this description.
    Keyring(String),
    /// Enrolled with shim (MOK).
    Mok,
    /// Waiting for enrolment at the next reboot.
    Pending,
    /// Not known to the kernel.
    Untrusted,
}

impl KeyState {
    /// Observe under `root`.
    pub fn observe(root: &Root) -> KeyState {
        let efi_dir = root.join("/sys/firmware/efi");
        let efi = efi_dir.is_dir();
        let vars = efi_dir.join("efivars");
        let secure_boot = if efi {
            read(&vars.join(format!("SecureBoot-{GLOBAL_GUID}")))
                .and_then(|d| d.get(4).copied())
                .map(|b| b == 1)
        } else {
            None
        };
        let lockdown = read_text(&root.join("/sys/kernel/security/lockdown")).and_then(|t| {
            let s = t.find('[')?;
            let e = t[s..].find(']')?;
            Some(t[s + 1..s + e].to_string())
        });
        let sig_enforce = read_text(&root.join("/sys/module/module/parameters/sig_enforce"))
            .map(|t| t.trim() == "Y" || t.trim() == "1");
        let (mok, mok_pending) = if efi {
            (mok_list(&efi_dir), var_certs(&vars, "MokNew"))
        } else {
            (Vec::new(), Vec::new())
        };
        let kernel_keys = read_text(&root.join("/proc/keys"))
            .map(|t| kernel_keys(&t))
            .unwrap_or_default();
        KeyState {
            efi,
            secure_boot,
            lockdown,
            sig_enforce,
            mok,
            mok_pending,
            kernel_keys,
        }
    }

    /// Whether the running kernel refuses modules without a valid
    /// signature, and why: `module.sig_enforce`, or lockdown.
    pub fn running_enforces(&self) -> Option<String> {
        if self.sig_enforce == Some(true) {
            return Some("module.sig_enforce".into());
        }
        match self.lockdown.as_deref() {
            Some(m @ ("integrity" | "confidentiality")) => Some(format!("lockdown={m}")),
            _ => None,
        }
    }

    /// How the key that made `signer` stands, given the configured
    /// certificate (when readable): which certificate it is comes from the
    /// certificates known here (the configured one, MOK, pending), whose
    /// subject key identifiers name the kernel's keys.
    pub fn trust(&self, signer: &Signer, configured: Option<&Certificate>) -> KeyTrust {
        let known: Vec<&Certificate> = configured
            .into_iter()
            .chain(&self.mok)
            .chain(&self.mok_pending)
            .filter(|c| c.signed(signer))
            .collect();
        let mut names: Vec<String> = known
            .iter()
            .map(|c| {
                let id = c.skid.as_deref().unwrap_or(&c.serial);
                format!("{}: {}", c.subject, der::hex_plain(id))
            })
            .collect();
        names.push(format!(
            "{}: {}",
            signer.issuer_cn,
            der::hex_plain(&signer.key_id)
        ));
        if let Some(k) = self
            .kernel_keys
            .iter()
            .find(|k| names.iter().any(|n| k.starts_with(n.as_str())))
        {
            return KeyTrust::Keyring(k.clone());
        }
        if self.mok.iter().any(|c| c.signed(signer)) {
            return KeyTrust::Mok;
        }
        if self.mok_pending.iter().any(|c| c.signed(signer)) {
            return KeyTrust::Pending;
        }
        KeyTrust::Untrusted
    }

    /// Whether certificate `cert` is enrolled with shim.
    pub fn enrolled(&self, cert: &Certificate) -> bool {
        self.mok.iter().any(|c| c.der == cert.der)
    }

    /// Whether certificate `cert` waits for enrolment at the next reboot.
    pub fn pending(&self, cert: &Certificate) -> bool {
        self.mok_pending.iter().any(|c| c.der == cert.der)
    }
}

/// A small system file, or `None`.
fn read(p: &Path) -> Option<Vec<u8>> {
    crate::fs::read_regular(p, 4 << 20).ok()
}

/// A small system file as text, or `None`.
fn read_text(p: &Path) -> Option<String> {
    read(p).map(|d| String::from_utf8_lossy(&d).into_owned())
}

/// The MOK list: `mok-variables/MokListRT` (kernels that mirror shim's
/// configuration table), else the `MokListRT*` EFI variables (shim splits
/// a long list into `MokListRT`, `MokListRT1`, ...).
fn mok_list(efi_dir: &Path) -> Vec<Certificate> {
    let mirrored = efi_dir.join("mok-variables/MokListRT");
    if let Some(d) = read(&mirrored) {
        return signature_lists(&d);
    }
    let vars = efi_dir.join("efivars");
    let mut out = var_certs(&vars, "MokListRT");
    for i in 1..16 {
        let p = var_path(&vars, &format!("MokListRT{i}"));
        if !p.is_file() {
            break;
        }
        out.extend(var_certs(&vars, &format!("MokListRT{i}")));
    }
    out
}

/// shim's variable `name` under efivarfs.
fn var_path(vars: &Path, name: &str) -> PathBuf {
    vars.join(format!("{name}-{SHIM_GUID}"))
}

/// The certificates in shim's variable `name` (efivarfs puts 4 bytes of
/// attributes first).
fn var_certs(vars: &Path, name: &str) -> Vec<Certificate> {
    read(&var_path(vars, name))
        .map(|d| signature_lists(d.get(4..).unwrap_or_default()))
        .unwrap_or_default()
}

/// The X.509 certificates in a run of EFI_SIGNATURE_LISTs.
pub fn signature_lists(mut data: &[u8]) -> Vec<Certificate> {
    let mut out = Vec::new();
    let u32_at = |d: &[u8], i: usize| -> Option<usize> {
        Some(u32::from_le_bytes(d.get(i..i + 4)?.try_into().ok()?) as usize)
    };
    while data.len() >= 28 {
        let (Some(list), Some(header), Some(size)) =
            (u32_at(data, 16), u32_at(data, 20), u32_at(data, 24))
        else {
            break;
        };
        if list < 28 || list > data.len() || size <= 16 {
            break;
        }
        let is_cert = data[..16] == CERT_X509;
        let mut entries = data.get(28 + header..list).unwrap_or_default();
        while is_cert && entries.len() >= size {
            if let Some(c) = Certificate::parse(&entries[16..size]) {
                out.push(c);
            }
            entries = &entries[size..];
        }
        data = &data[list..];
    }
    out
}

/// The descriptions of asymmetric keys in `/proc/keys` text.
fn kernel_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut rest = l;
            let mut fields = Vec::new();
            for _ in 0..8 {
                rest = rest.trim_start();
                let end = rest.find(' ').unwrap_or(rest.len());
                fields.push(&rest[..end]);
                rest = &rest[end..];
            }
            fields[7]
                .starts_with("asymmetri")
                .then(|| rest.trim().to_string())
        })
        .collect()
}

/// An EFI_SIGNATURE_LIST holding `certs` (tests write MOK variables).
#[cfg(test)]
pub(crate) fn signature_list(certs: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in certs {
        let size = 16 + c.len();
        out.extend(CERT_X509);
        out.extend(((28 + size) as u32).to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend((size as u32).to_le_bytes());
        out.extend([0u8; 16]);
        out.extend(*c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_keys_lines() {
        let t = "0a8e5e35 I------     1 perm 1f030000     0     0 asymmetri Debian Secure Boot CA: 6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1: X509.rsa 4f4a6b33 []\n\
                 1a2b3c4d I------     1 perm 1f0b0000     0     0 keyring   .builtin_trusted_keys: 1\n";
        assert_eq!(
            kernel_keys(t),
            ["Debian Secure Boot CA: 6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1: X509.rsa 4f4a6b33 []"]
        );
    }

    #[test]
    fn garbage_lists_give_nothing() {
        assert!(signature_lists(&[0xff; 100]).is_empty());
        assert!(signature_lists(&signature_list(&[b"not a cert"])).is_empty());
    }
}
