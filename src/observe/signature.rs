//! The signature sign-file appends to a kernel module: the module's bytes,
//! the PKCS#7 signature, a 12-byte `struct module_signature` (its last four
//! bytes the signature's length, big-endian) and the magic
//! `~Module signature appended~\n`. Read to say who signed a module, and
//! cut off to sign it again.

use crate::observe::x509::{self, Signer};

/// The magic string the kernel looks for at the end of a signed module.
pub const MAGIC: &[u8] = b"~Module signature appended~\n";

/// `struct module_signature`'s size.
const INFO_LEN: usize = 12;

/// `id_type` of a PKCS#7 signature (the only kind sign-file makes).
const PKEY_ID_PKCS7: u8 = 2;

/// A module's signature as found at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No signature appended.
    Unsigned,
    /// A PKCS#7 signature whose signer could be read.
    Signed(Signer),
    /// The magic is there but what precedes it is not a signature this
    /// reader understands (the kernel will refuse it too, or it is an old
    /// format).
    Unreadable,
}

impl Signature {
    /// The signer, when there is one.
    pub fn signer(&self) -> Option<&Signer> {
        match self {
            Signature::Signed(s) => Some(s),
            _ => None,
        }
    }

    /// Whether a signature is appended at all.
    pub fn present(&self) -> bool {
        !matches!(self, Signature::Unsigned)
    }
}

/// Where the signature starts in `data` (the length of the unsigned
/// module), and the signature's bytes with its `id_type`.
fn split(data: &[u8]) -> Option<(usize, u8, &[u8])> {
    let body = data.strip_suffix(MAGIC)?;
    let info_at = body.len().checked_sub(INFO_LEN)?;
    let info = &body[info_at..];
    let sig_len = u32::from_be_bytes([info[8], info[9], info[10], info[11]]) as usize;
    let extra = usize::from(info[3]) + usize::from(info[4]); // signer_len + key_id_len
    let start = info_at.checked_sub(sig_len)?.checked_sub(extra)?;
    Some((start, info[2], &body[info_at - sig_len..info_at]))
}

/// The signature at the end of a module's (uncompressed) bytes.
pub fn read(data: &[u8]) -> Signature {
    if !data.ends_with(MAGIC) {
        return Signature::Unsigned;
    }
    match split(data) {
        Some((_, PKEY_ID_PKCS7, sig)) => match x509::pkcs7_signer(sig) {
            Some(s) => Signature::Signed(s),
            None => Signature::Unreadable,
        },
        _ => Signature::Unreadable,
    }
}

/// The module without its signature (the whole module when unsigned, or
/// `None` when the end looks signed but cannot be taken apart).
pub fn strip(data: &[u8]) -> Option<&[u8]> {
    if !data.ends_with(MAGIC) {
        return Some(data);
    }
    split(data).map(|(start, _, _)| &data[..start])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module signature as sign-file lays it out around `sig`.
    fn signed(module: &[u8], sig: &[u8]) -> Vec<u8> {
        let mut v = module.to_vec();
        v.extend(sig);
        v.extend([0, 0, PKEY_ID_PKCS7, 0, 0, 0, 0, 0]);
        v.extend((sig.len() as u32).to_be_bytes());
        v.extend(MAGIC);
        v
    }

    #[test]
    fn unsigned_and_stripped() {
        assert_eq!(read(b"\x7fELF..."), Signature::Unsigned);
        assert_eq!(strip(b"\x7fELF..."), Some(&b"\x7fELF..."[..]));
        let s = signed(b"\x7fELF...", b"not pkcs7");
        assert_eq!(read(&s), Signature::Unreadable);
        assert_eq!(strip(&s), Some(&b"\x7fELF..."[..]));
    }

    #[test]
    fn a_length_past_the_start_is_unreadable_not_a_panic() {
        let mut s = signed(b"x", b"sig");
        let n = s.len() - MAGIC.len() - 4;
        s[n..n + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(read(&s), Signature::Unreadable);
        assert_eq!(strip(&s), None);
        assert_eq!(read(MAGIC), Signature::Unreadable);
    }
}
