//! What the kernel said about a module: the lines of its log (read from
//! `/dev/kmsg` under the root, without waiting for new ones; a test root
//! holds a regular file there) that mention the module and say why it was
//! refused: a signature or key the kernel rejected, unknown symbols, symbol
//! versions that disagree, a wrong version magic.

use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// At most this much of the log is read.
const CAP: usize = 8 << 20;

/// Phrases of the kernel's refusals that name no module (the signature
/// check runs before the module has a name in the log).
const ANONYMOUS: &[&str] = &[
    "Loading of module with unavailable key is rejected",
    "Loading of unsigned module is rejected",
    "Loading of module with unsupported crypto is rejected",
    "unsigned module loading is restricted",
    "Key was rejected by service",
];

/// Phrases of refusals that start with the module's name.
const NAMED: &[&str] = &[
    "Unknown symbol",
    "disagrees about version of symbol",
    "version magic",
    "module verification failed",
    "invalid module format",
    "Invalid ELF header",
    "decompression failed",
    "module is from the staging directory",
];

/// The kernel log's messages (each record's text, without the
/// `priority,sequence,time,flags;` prefix), oldest first; `None` when the
/// log cannot be read.
// File operation outside crate::fs: /dev/kmsg is a device by design, opened read-only and non-blocking.
#[allow(clippy::disallowed_methods)]
pub fn read_log(path: &Path) -> Option<Vec<String>> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .ok()?;
    let mut data = Vec::new();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                if data.len() > CAP {
                    break;
                }
            }
            // /dev/kmsg: a record was overwritten while reading; go on.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // No more records (the device never ends otherwise).
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(_) => return None,
        }
    }
    let text = String::from_utf8_lossy(&data);
    Some(
        text.lines()
            // Continuation lines (dictionary) start with a space.
            .filter(|l| !l.starts_with(' '))
            .map(|l| match l.split_once(';') {
                Some((head, msg)) if head.split(',').count() >= 3 => msg.to_string(),
                _ => l.to_string(),
            })
            .collect(),
    )
}

/// The refusals of module `name` in `log` (the last `max` of them).
pub fn refusals(log: &[String], name: &str, max: usize) -> Vec<String> {
    let norm = name.replace('-', "_");
    let mut out: Vec<String> = log
        .iter()
        .filter(|l| {
            let named = l
                .split(':')
                .next()
                .is_some_and(|w| w.trim().replace('-', "_") == norm);
            (named && NAMED.iter().any(|p| l.contains(p)))
                || ANONYMOUS.iter().any(|p| l.contains(p))
                    && (l.contains(name) || l.contains(&norm) || !l.contains(".ko"))
        })
        .cloned()
        .collect();
    // A loader that retries (finit_module, then init_module) gets the same
    // refusal twice in a row: once is enough.
    out.dedup();
    let skip = out.len().saturating_sub(max);
    out.drain(..skip);
    out
}

/// Whether `line` names module `name` (its first word, or anywhere), as
/// opposed to a signature refusal that names no module.
pub fn names_module(line: &str, name: &str) -> bool {
    let norm = name.replace('-', "_");
    line.split(':')
        .next()
        .is_some_and(|w| w.trim().replace('-', "_") == norm)
        || line.contains(name)
        || line.contains(&norm)
}

/// Whether one of `lines` is a refusal for a signature or key.
pub fn is_signature_refusal(line: &str) -> bool {
    ANONYMOUS.iter().any(|p| line.contains(p)) || line.contains("module verification failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kmsg_records_and_plain_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("kmsg");
        std::fs::write(
            &p,
            "6,100,5000,-;hello: loading out-of-tree module taints kernel.\n SUBSYSTEM=x\n5,101,5001,-;Loading of module with unavailable key is rejected\nplain: Unknown symbol foo (err -2)\n",
        )
        .unwrap();
        let log = read_log(&p).unwrap();
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!(
            refusals(&log, "hello", 5),
            ["Loading of module with unavailable key is rejected"]
        );
        assert_eq!(
            refusals(&log, "plain", 5),
            [
                "Loading of module with unavailable key is rejected",
                "plain: Unknown symbol foo (err -2)"
            ]
        );
        assert!(read_log(&d.path().join("none")).is_none());
    }
}
