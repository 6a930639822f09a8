//! An archive's members as data, read with the `tar` crate: type, name,
//! link target, mode, size and time of each, with GNU long names and pax
//! headers already applied. Reading stops at the first member or header
//! past [`LIMITS`], so a hostile archive can neither fill the disk nor
//! the memory before it is refused.

use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use super::stream::{OpenError, Stream};
use crate::exec::tarball::msg;

/// The type of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (also a contiguous or a GNU sparse one).
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link.
    HardLink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A FIFO.
    Fifo,
    /// Any other type byte.
    Other(u8),
}

/// One member of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The name as stored (raw bytes).
    pub name: Vec<u8>,
    /// Its type.
    pub kind: Kind,
    /// The link target of a symlink or hard link (empty otherwise).
    pub target: Vec<u8>,
    /// The permission bits, special bits included.
    pub mode: u32,
    /// The size of its content.
    pub size: u64,
    /// The modification time (seconds since the epoch).
    pub mtime: u64,
}

/// What an archive may hold at most. Far above any module source with
/// prebuilt modules; far below what would exhaust the machine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Members.
    pub members: usize,
    /// Bytes of content, one member or all together.
    pub bytes: u64,
    /// Bytes of a member's extended headers (GNU long names, pax), held in
    /// memory while read.
    pub header: u64,
    /// Bytes of a name or link target (Linux's `PATH_MAX`).
    pub name: usize,
    /// Bytes of all names and link targets together (they are held in
    /// memory for the checks).
    pub names: u64,
}

/// The limits every loaded archive is held to.
pub const LIMITS: Limits = Limits {
    members: 500_000,
    bytes: 4 << 30,
    header: 1 << 20,
    name: 4096,
    names: 64 << 20,
};

/// Why reading the members stopped.
#[derive(Debug)]
pub enum Stop {
    /// Not a readable (compressed) tar archive: the cause.
    Unreadable(String),
    /// Its decompressor cannot be started: (program, cause).
    Spawn(&'static str, String),
    /// The archive breaks a rule: the reason, for [`msg::unsafe_archive`].
    Refused(String),
    /// A member could not be written out: the cause.
    Write(String),
}

/// What the archive may still take from the stream before the next check.
struct Meter {
    left: Cell<u64>,
    tripped: Cell<bool>,
}

/// The stream, read no further than the [`Meter`] allows.
struct Metered<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.meter.left.get();
        if left == 0 && !buf.is_empty() {
            self.meter.tripped.set(true);
            return Err(io::Error::other("over the limit"));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.meter.left.set(left - n as u64);
        Ok(n)
    }
}

/// A member's name for a message: quoted, escaped, cut short when long.
pub fn show(bytes: &[u8]) -> String {
    const SHOWN: usize = 200;
    let cut = &bytes[..bytes.len().min(SHOWN)];
    let mut s = format!("{:?}", String::from_utf8_lossy(cut));
    if bytes.len() > SHOWN {
        s.push_str("...");
    }
    s
}

/// The member's type from its header's type byte.
fn kind_of(t: tar::EntryType) -> Kind {
    use tar::EntryType as T;
    match t {
        T::Regular | T::Continuous | T::GNUSparse => Kind::File,
        T::Directory => Kind::Dir,
        T::Symlink => Kind::Symlink,
        T::Link => Kind::HardLink,
        T::Char => Kind::CharDevice,
        T::Block => Kind::BlockDevice,
        T::Fifo => Kind::Fifo,
        other => Kind::Other(other.as_byte()),
    }
}

/// Walk the members of `input` in order within `limits`, calling `visit`
/// with each and a reader of its content (what `visit` leaves unread is
/// skipped). Global pax headers are metadata, not members.
pub fn walk<R: Read>(
    input: R,
    limits: &Limits,
    mut visit: impl FnMut(Member, &mut dyn Read) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let meter = Rc::new(Meter {
        left: Cell::new(limits.header),
        tripped: Cell::new(false),
    });
    let mut archive = tar::Archive::new(Metered {
        inner: BufReader::new(input),
        meter: meter.clone(),
    });
    let unreadable = |e: io::Error, meter: &Meter| {
        if meter.tripped.get() {
            Stop::Refused(msg::archive_header_too_large(limits.header))
        } else {
            Stop::Unreadable(e.to_string())
        }
    };
    let mut entries = archive.entries().map_err(|e| unreadable(e, &meter))?;
    let (mut count, mut total, mut names) = (0usize, 0u64, 0u64);
    loop {
        // Headers, long names, pax records and the padding before them.
        meter.left.set(limits.header + 1024);
        let mut entry = match entries.next() {
            None => return Ok(()),
            Some(Ok(e)) => e,
            Some(Err(e)) => return Err(unreadable(e, &meter)),
        };
        let header = entry.header();
        let kind = kind_of(header.entry_type());
        let size = entry.size();
        meter.left.set(size.saturating_add(512));
        if header.entry_type() == tar::EntryType::XGlobalHeader {
            io::copy(&mut entry, &mut io::sink()).map_err(|e| unreadable(e, &meter))?;
            continue;
        }
        let name = entry.path_bytes().into_owned();
        let target = entry
            .link_name_bytes()
            .map(|t| t.into_owned())
            .unwrap_or_default();
        let refuse = |why: &str| Stop::Refused(msg::archive_entry(&show(&name), why));
        count += 1;
        if count > limits.members {
            return Err(Stop::Refused(msg::archive_too_many_members(limits.members)));
        }
        if name.len() > limits.name || target.len() > limits.name {
            return Err(refuse(&msg::entry_name_too_long(limits.name)));
        }
        names = names.saturating_add((name.len() + target.len()) as u64);
        if names > limits.names {
            return Err(Stop::Refused(msg::archive_names_too_large(limits.names)));
        }
        if size > limits.bytes {
            return Err(refuse(&msg::entry_too_large(limits.bytes)));
        }
        total = total.saturating_add(size);
        if total > limits.bytes {
            return Err(Stop::Refused(msg::archive_too_large(limits.bytes)));
        }
        let header = entry.header();
        let mode = header.mode().map_err(|e| unreadable(e, &meter))?;
        // A time that cannot be read is the epoch, as GNU tar takes it.
        let mtime = header.mtime().unwrap_or(0);
        let member = Member {
            name,
            kind,
            target,
            mode,
            size,
            mtime,
        };
        visit(member, &mut entry)?;
        io::copy(&mut entry, &mut io::sink()).map_err(|e| unreadable(e, &meter))?;
    }
}

/// Open `path` and walk its members ([`walk`]), then close the stream:
/// a decompressor that failed makes the archive unreadable, in its own
/// words when it said something.
pub fn walk_file(
    path: &Path,
    limits: &Limits,
    visit: impl FnMut(Member, &mut dyn Read) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let mut stream = Stream::open(path).map_err(|e| match e {
        OpenError::Read(cause) => Stop::Unreadable(cause),
        OpenError::Spawn(program, cause) => Stop::Spawn(program, cause),
    })?;
    let walked = walk(&mut stream, limits, visit);
    let closed = stream.close(walked.is_ok());
    match (walked, closed) {
        (Ok(()), Ok(())) => Ok(()),
        (Ok(()), Err(said)) => Err(Stop::Unreadable(said)),
        (Err(Stop::Unreadable(_)), Err(said)) if !said.is_empty() => Err(Stop::Unreadable(said)),
        (Err(stop), _) => Err(stop),
    }
}

/// Every member of the archive at `path`, content skipped.
pub fn members(path: &Path, limits: &Limits) -> Result<Vec<Member>, Stop> {
    let mut out = Vec::new();
    walk_file(path, limits, |m, _| {
        out.push(m);
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8], mode: u32) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1234);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }

    fn list(bytes: &[u8], limits: &Limits) -> Result<Vec<Member>, Stop> {
        let mut out = Vec::new();
        walk(bytes, limits, |m, _| {
            out.push(m);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn gives_types_long_names_and_link_targets_as_data() {
        let long = format!("d/{}", "x".repeat(300));
        let bytes = archive(|b| {
            file(b, "d/f", b"abc", 0o4755);
            file(b, &long, b"", 0o644);
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, "d/l", "../t").unwrap();
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Fifo);
            h.set_size(0);
            h.set_mode(0o644);
            b.append_data(&mut h, "p", &[][..]).unwrap();
        });
        let m = list(&bytes, &LIMITS).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(
            (
                m[0].name.as_slice(),
                m[0].kind,
                m[0].mode,
                m[0].size,
                m[0].mtime
            ),
            (&b"d/f"[..], Kind::File, 0o4755, 3, 1234)
        );
        assert_eq!(m[1].name, long.as_bytes());
        assert_eq!(
            (m[2].kind, m[2].target.as_slice()),
            (Kind::Symlink, &b"../t"[..])
        );
        assert_eq!(m[3].kind, Kind::Fifo);
    }

    #[test]
    fn stops_at_the_limits() {
        let small = Limits {
            members: 2,
            bytes: 10,
            header: 1024,
            name: 100,
            names: 150,
        };
        let three = archive(|b| {
            for n in ["a", "b", "c"] {
                file(b, n, b"x", 0o644);
            }
        });
        assert!(
            matches!(list(&three, &small), Err(Stop::Refused(r)) if r.contains("more than 2 members"))
        );
        let big = archive(|b| file(b, "a", &[0; 11], 0o644));
        assert!(
            matches!(list(&big, &small), Err(Stop::Refused(r)) if r.contains("larger than 10"))
        );
        let sum = archive(|b| {
            file(b, "a", &[0; 6], 0o644);
            file(b, "b", &[0; 6], 0o644);
        });
        assert!(matches!(list(&sum, &small), Err(Stop::Refused(r)) if r.contains("add up to")));
        let long = archive(|b| file(b, &"n".repeat(2000), b"", 0o644));
        assert!(
            matches!(list(&long, &small), Err(Stop::Refused(r)) if r.contains("extended headers"))
        );
        let name = archive(|b| file(b, &"n".repeat(101), b"", 0o644));
        assert!(
            matches!(list(&name, &small), Err(Stop::Refused(r)) if r.contains("longer than 100"))
        );
        assert!(matches!(
            list(b"this is not a tarball, not even close; it just goes on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on and on.", &LIMITS),
            Err(Stop::Unreadable(_))
        ));
    }
}
