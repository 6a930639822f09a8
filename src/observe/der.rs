//! A small reader of DER (the binary form of ASN.1) for the few structures
//! module signing uses: an X.509 certificate's names, serial number and
//! subject key identifier, and the signer of a PKCS#7 module signature.
//! Only reads; anything malformed is `None`, never a panic.

/// One DER element: its tag byte and its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet (class, constructed bit, tag number < 31).
    pub tag: u8,
    /// The contents octets.
    pub body: &'a [u8],
    /// The whole element, header included (a certificate is compared as
    /// its encoding).
    pub raw: &'a [u8],
}

/// SEQUENCE.
pub const SEQUENCE: u8 = 0x30;
/// SET.
pub const SET: u8 = 0x31;
/// INTEGER.
pub const INTEGER: u8 = 0x02;
/// OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;
/// OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;

/// The context-specific constructed tag `[n]`.
pub const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// The first element of `data` and what follows it.
pub fn read(data: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *data.first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tag numbers: none in these structures
    }
    let first = *data.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None; // indefinite length is BER, not DER
        }
        let mut len = 0usize;
        for b in data.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    let body = data.get(head..end)?;
    Some((
        Tlv {
            tag,
            body,
            raw: &data[..end],
        },
        &data[end..],
    ))
}

/// The elements inside a constructed element's contents, in order; stops
/// at the first malformed one.
pub fn children(body: &[u8]) -> Vec<Tlv<'_>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let Some((t, r)) = read(rest) else { break };
        out.push(t);
        rest = r;
    }
    out
}

/// The single element of `data` when it has tag `tag`.
pub fn expect(data: &[u8], tag: u8) -> Option<Tlv<'_>> {
    read(data).filter(|(t, _)| t.tag == tag).map(|(t, _)| t)
}

/// An object identifier's contents in dotted form (`2.5.4.3`).
pub fn oid_text(body: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for (i, b) in body.iter().enumerate() {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let (a, b) = if v < 40 {
                    (0, v)
                } else if v < 80 {
                    (1, v - 40)
                } else {
                    (2, v - 80)
                };
                parts.push(a);
                parts.push(b);
            } else {
                parts.push(v);
            }
            v = 0;
        } else if i == body.len() - 1 {
            break;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Bytes as upper-case hexadecimal pairs joined by `:` (how `modinfo`
/// shows a signature's key id).
pub fn hex_colons(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Bytes as lower-case hexadecimal without separators (how the kernel
/// describes a key in `/proc/keys`).
pub fn hex_plain(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An INTEGER's contents without the sign-padding zero byte (a serial
/// number as `modinfo` and the kernel show it).
pub fn unsigned(body: &[u8]) -> &[u8] {
    match body {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let (t, rest) = read(&[0x04, 0x02, 0xaa, 0xbb, 0x05]).unwrap();
        assert_eq!(
            (t.tag, t.body, rest),
            (0x04, &[0xaa, 0xbb][..], &[0x05][..])
        );
        let mut long = vec![0x04, 0x81, 200];
        long.extend(vec![7u8; 200]);
        let (t, rest) = read(&long).unwrap();
        assert_eq!((t.body.len(), rest.len()), (200, 0));
    }

    #[test]
    fn malformed_is_none() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x01],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x1f, 0x01, 0x00],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(read(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn oids_and_hex() {
        assert_eq!(oid_text(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(
            oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]),
            "1.2.840.113549.1.7.2"
        );
        assert_eq!(hex_colons(&[0x0a, 0xff]), "0A:FF");
        assert_eq!(hex_plain(&[0x0a, 0xff]), "0aff");
        assert_eq!(unsigned(&[0, 0x80]), &[0x80]);
        assert_eq!(unsigned(&[0]), &[0]);
    }
}
