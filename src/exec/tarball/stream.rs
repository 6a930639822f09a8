//! An archive as a stream of tar bytes. A compressed archive is piped
//! through the system's decompressor, chosen by the archive's first bytes
//! the way GNU tar chooses it (its `-a` on extraction), so every format
//! `tar -xaf` took before (gzip, bzip2, xz, lzma, lzip, lzop, zstd,
//! compress) is still taken, by the same programs.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use crate::child;

/// Leading bytes of each compressed format and the program that
/// decompresses it (`-d -c`, stdin to stdout). compress's `.Z` goes to
/// gzip, which reads it, because `compress` itself is seldom installed.
const FORMATS: &[(&[u8], &str)] = &[
    (b"\x1f\x8b", "gzip"),
    (b"\x1f\x9d", "gzip"),
    (b"BZh", "bzip2"),
    (b"LZIP", "lzip"),
    (b"\xffLZMA", "lzma"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x89LZO", "lzop"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
];

/// Most bytes read (and thrown away) after the end of the archive before
/// the decompressor's exit status is looked at; past that it is stopped.
const TRAILING_CAP: u64 = 64 << 20;

/// Why an archive could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The file cannot be read (the cause).
    Read(String),
    /// Its decompressor cannot be started: (program, cause).
    Spawn(&'static str, String),
}

/// A running decompressor.
struct Decompressor {
    child: child::Running,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

/// The tar bytes of an archive: the file itself, or a decompressor's
/// output.
pub struct Stream {
    source: Source,
    child: Option<Decompressor>,
}

enum Source {
    Plain(File),
    Piped(ChildStdout),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.source {
            Source::Plain(f) => f.read(buf),
            Source::Piped(p) => p.read(buf),
        }
    }
}

/// The decompressor for an archive starting with `head`, if it is
/// compressed: a first block that is a valid tar header is plain tar
/// whatever its first bytes are (GNU tar looks at that first too).
pub fn decompressor_for(head: &[u8]) -> Option<&'static str> {
    if is_tar_header(head) {
        return None;
    }
    FORMATS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, program)| *program)
}

/// A 512-byte block whose checksum field matches its bytes.
fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < 512 {
        return false;
    }
    let header = tar::Header::from_byte_slice(&block[..512]);
    let Ok(stored) = header.cksum() else {
        return false;
    };
    let sum: u32 = block[..148]
        .iter()
        .chain(&block[156..512])
        .map(|&b| u32::from(b))
        .sum::<u32>()
        + 8 * u32::from(b' ');
    sum == stored
}

impl Stream {
    /// Open `path` (our private copy of the archive).
    pub fn open(path: &Path) -> Result<Stream, OpenError> {
        let read_err = |e: io::Error| OpenError::Read(crate::error::os_error(&e));
        let mut file = crate::fs::open_regular(path).map_err(read_err)?;
        let mut head = Vec::with_capacity(512);
        (&mut file)
            .take(512)
            .read_to_end(&mut head)
            .map_err(read_err)?;
        let file = crate::fs::open_regular(path).map_err(read_err)?;
        let Some(program) = decompressor_for(&head) else {
            return Ok(Stream {
                source: Source::Plain(file),
                child: None,
            });
        };
        let mut cmd = Command::new(program);
        cmd.args(["-d", "-c"])
            .stdin(Stdio::from(file))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = child::spawn(&mut cmd)
            .map_err(|e| OpenError::Spawn(program, crate::error::os_error(&e)))?;
        let stderr = child.stderr().map(|mut e| {
            std::thread::spawn(move || {
                let mut b = Vec::new();
                // What it printed before failing, if anything; a read error
                // leaves the message shorter, nothing more.
                let _ = e.read_to_end(&mut b);
                b
            })
        });
        let Some(out) = child.stdout() else {
            // Not possible with Stdio::piped(); dropping it stops it.
            return Err(OpenError::Spawn(program, String::new()));
        };
        Ok(Stream {
            source: Source::Piped(out),
            child: Some(Decompressor { child, stderr }),
        })
    }

    /// Done with the archive. With `drain` (every member was read), the
    /// rest of the decompressor's output is read and its exit status must
    /// be success (a corrupt tail is still an unreadable archive); without
    /// it the decompressor is stopped. The error is what the decompressor
    /// said, or its status.
    pub fn close(self, drain: bool) -> Result<(), String> {
        let Stream { mut source, child } = self;
        let Some(mut d) = child else {
            return Ok(());
        };
        let rest = if drain {
            Some(io::copy(
                &mut source_reader(&mut source).take(TRAILING_CAP),
                &mut io::sink(),
            ))
        } else {
            None
        };
        drop(source);
        let read_all = matches!(rest, Some(Ok(n)) if n < TRAILING_CAP);
        if !read_all {
            d.child.kill_group();
        }
        let status = d.child.wait();
        let said = d
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
            .unwrap_or_default();
        match rest {
            // Stopped by us: its status says nothing.
            None => Err(said),
            Some(Err(e)) => Err(crate::error::os_error(&e)),
            // Every member was read; only what follows the archive's end
            // went unread.
            Some(Ok(_)) if !read_all => Ok(()),
            Some(Ok(_)) => match status {
                Ok(s) if s.success() => Ok(()),
                Ok(s) if said.is_empty() => Err(s.to_string()),
                Ok(_) => Err(said),
                Err(e) => Err(crate::error::os_error(&e)),
            },
        }
    }
}

fn source_reader(source: &mut Source) -> &mut dyn Read {
    match source {
        Source::Plain(f) => f,
        Source::Piped(p) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_block(name: &str) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(0);
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    #[test]
    fn picks_the_decompressor_by_the_first_bytes() {
        assert_eq!(decompressor_for(b"\x1f\x8b\x08\x00"), Some("gzip"));
        assert_eq!(decompressor_for(b"BZh91AY"), Some("bzip2"));
        assert_eq!(decompressor_for(b"\xfd7zXZ\x00\x00"), Some("xz"));
        assert_eq!(decompressor_for(b"\x28\xb5\x2f\xfd\x00"), Some("zstd"));
        assert_eq!(decompressor_for(b"\x5d\x00\x00\x80\x00"), Some("lzma"));
        assert_eq!(decompressor_for(b"this is not a tarball\n"), None);
        assert_eq!(decompressor_for(b""), None);
        // A tar header wins over a look-alike magic: a member named "]".
        assert_eq!(decompressor_for(&tar_block("]")), None);
        assert_eq!(decompressor_for(&tar_block("BZh")), None);
    }

    #[test]
    fn reads_a_compressed_archive_and_reports_a_corrupt_one() {
        let d = tempfile::tempdir().unwrap();
        let plain = d.path().join("a");
        std::fs::write(&plain, b"hello\n").unwrap();
        let st = Command::new("gzip").arg("-k").arg(&plain).status().unwrap();
        assert!(st.success());
        let mut s = Stream::open(&d.path().join("a.gz")).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello\n");
        s.close(true).unwrap();

        let bad = d.path().join("bad.gz");
        std::fs::write(&bad, b"\x1f\x8b\x08\x00garbage garbage garbage").unwrap();
        let mut s = Stream::open(&bad).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let err = s.close(true).unwrap_err();
        assert!(!err.is_empty());
    }
}
