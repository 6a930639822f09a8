//! What module signing needs from an X.509 certificate (its subject and
//! issuer names, serial number, subject key identifier) and from the PKCS#7
//! signature sign-file appends to a module (the signer's issuer name and
//! serial number, the digest). Read with [`super::der`]; a structure that
//! does not parse is `None`.

use crate::observe::der::{self, Tlv};

/// A certificate, as far as matching a module signature to it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The subject as the kernel names the key (`O: CN`, or the CN alone
    /// when it starts with the organisation, or whichever exists).
    pub subject: String,
    /// The subject's common name (empty when none).
    pub subject_cn: String,
    /// The issuer's common name (what `modinfo` shows as a signer).
    pub issuer_cn: String,
    /// The serial number (no sign padding).
    pub serial: Vec<u8>,
    /// The subject key identifier extension, when present.
    pub skid: Option<Vec<u8>>,
    /// The whole DER encoding (compared against the MOK list).
    pub der: Vec<u8>,
}

/// Who signed a module: the issuer and serial number PKCS#7 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The issuer's common name (`modinfo`'s `signer`).
    pub issuer_cn: String,
    /// The certificate's serial number (`modinfo`'s `sig_key`), or the
    /// subject key identifier when the signature names the key that way.
    pub key_id: Vec<u8>,
    /// The digest algorithm (`sha256`, ...; the OID when unknown).
    pub hash: String,
}

const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0a];
const SKID: &[u8] = &[0x55, 0x1d, 0x0e];

/// The first value of attribute `oid` in a Name (a SEQUENCE of SETs of
/// attribute/value pairs).
fn name_attr(name: &Tlv, oid: &[u8]) -> Option<String> {
    for rdn in der::children(name.body) {
        for atv in der::children(rdn.body) {
            let parts = der::children(atv.body);
            if let [o, v, ..] = parts.as_slice() {
                if o.tag == der::OID && o.body == oid {
                    return Some(String::from_utf8_lossy(v.body).into_owned());
                }
            }
        }
    }
    None
}

/// The kernel's name for a certificate's subject (x509_fabricate_name).
fn kernel_name(cn: Option<&str>, o: Option<&str>) -> String {
    match (o, cn) {
        (Some(o), Some(cn)) if cn.starts_with(o) => cn.to_string(),
        (Some(o), Some(cn)) => format!("{o}: {cn}"),
        (None, Some(cn)) => cn.to_string(),
        (Some(o), None) => o.to_string(),
        (None, None) => String::new(),
    }
}

impl Certificate {
    /// Parse a DER certificate; `None` when it is not one.
    pub fn parse(data: &[u8]) -> Option<Certificate> {
        let cert = der::expect(data, der::SEQUENCE)?;
        let tbs = *der::children(cert.body).first()?;
        let mut f = der::children(tbs.body).into_iter().peekable();
        if f.peek()?.tag == der::context(0) {
            f.next();
        }
        let serial = f.next().filter(|t| t.tag == der::INTEGER)?;
        let _alg = f.next()?;
        let issuer = f.next().filter(|t| t.tag == der::SEQUENCE)?;
        let _validity = f.next()?;
        let subject = f.next().filter(|t| t.tag == der::SEQUENCE)?;
        let mut skid = None;
        for t in f {
            if t.tag != der::context(3) {
                continue;
            }
            let Some(exts) = der::expect(t.body, der::SEQUENCE) else {
                continue;
            };
            for ext in der::children(exts.body) {
                let parts = der::children(ext.body);
                let Some(oid) = parts.first() else { continue };
                if oid.body != SKID {
                    continue;
                }
                skid = parts
                    .last()
                    .and_then(|v| der::expect(v.body, der::OCTET_STRING))
                    .map(|k| k.body.to_vec());
            }
        }
        let cn = name_attr(&subject, CN);
        let o = name_attr(&subject, O);
        Some(Certificate {
            subject: kernel_name(cn.as_deref(), o.as_deref()),
            subject_cn: cn.unwrap_or_default(),
            issuer_cn: name_attr(&issuer, CN).unwrap_or_default(),
            serial: der::unsigned(serial.body).to_vec(),
            skid,
            der: cert.raw.to_vec(),
        })
    }

    /// Whether `signer` names this certificate (issuer and serial, or its
    /// subject key identifier).
    pub fn signed(&self, signer: &Signer) -> bool {
        (signer.issuer_cn == self.issuer_cn && signer.key_id == self.serial)
            || self.skid.as_deref() == Some(signer.key_id.as_slice())
    }
}

/// The digest name of an algorithm OID.
fn hash_name(oid: &str) -> String {
    match oid {
        "1.3.14.3.2.26" => "sha1",
        "2.16.840.1.101.3.4.2.4" => "sha224",
        "2.16.840.1.101.3.4.2.1" => "sha256",
        "2.16.840.1.101.3.4.2.2" => "sha384",
        "2.16.840.1.101.3.4.2.3" => "sha512",
        "2.16.840.1.101.3.4.2.8" => "sha3-256",
        "2.16.840.1.101.3.4.2.9" => "sha3-384",
        "2.16.840.1.101.3.4.2.10" => "sha3-512",
        other => other,
    }
    .to_string()
}

/// The first signer of a PKCS#7 SignedData (a module signature).
pub fn pkcs7_signer(data: &[u8]) -> Option<Signer> {
    let ci = der::expect(data, der::SEQUENCE)?;
    let parts = der::children(ci.body);
    let explicit = parts.iter().find(|t| t.tag == der::context(0))?;
    let sd = der::expect(explicit.body, der::SEQUENCE)?;
    let infos = der::children(sd.body)
        .into_iter()
        .rfind(|t| t.tag == der::SET)?;
    let si = *der::children(infos.body).first()?;
    let mut f = der::children(si.body).into_iter();
    let _version = f.next()?;
    let sid = f.next()?;
    let (issuer_cn, key_id) = if sid.tag == der::SEQUENCE {
        let p = der::children(sid.body);
        let [issuer, serial, ..] = p.as_slice() else {
            return None;
        };
        (
            name_attr(issuer, CN).unwrap_or_default(),
            der::unsigned(serial.body).to_vec(),
        )
    } else {
        (String::new(), sid.body.to_vec())
    };
    let alg = f.next()?;
    let hash = der::children(alg.body)
        .first()
        .map(|o| hash_name(&der::oid_text(o.body)))
        .unwrap_or_default();
    Some(Signer {
        issuer_cn,
        key_id,
        hash,
    })
}
