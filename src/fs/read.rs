//! Reading configuration, records and directory listings without being
//! blocked or flooded: only regular files are read (a FIFO would hang every
//! run, `/dev/zero` would fill memory), opened without blocking, up to a cap.

// This is crate::fs, where the std file calls clippy.toml keeps out of
// everything else live.
#![allow(clippy::disallowed_methods)]

use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::fs::msg;
use crate::fs::msg::NotRegular;

/// Read `path` if it is a regular file of at most `cap` bytes. A FIFO,
/// socket or device is refused at once (never blocks), as is a larger file.
pub fn read_regular(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let f = open_regular(path)?;
    let len = f.metadata()?.len();
    if len > cap {
        return Err(too_large(path, cap));
    }
    let mut data = Vec::with_capacity(len as usize);
    f.take(cap + 1).read_to_end(&mut data)?;
    if data.len() as u64 > cap {
        return Err(too_large(path, cap));
    }
    Ok(data)
}

/// Open `path` for reading if it is a regular file, for readers that seek
/// rather than read it whole (the ELF reader on a vmlinux). A FIFO, socket
/// or device is refused at once, never blocking the open.
pub fn open_regular(path: &Path) -> io::Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_nonblock())
        .open(path)?;
    let meta = f.metadata()?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let what = if ft.is_fifo() {
            NotRegular::Fifo
        } else if ft.is_char_device() || ft.is_block_device() {
            NotRegular::Device
        } else if ft.is_socket() {
            NotRegular::Socket
        } else {
            NotRegular::Other
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            msg::not_regular(path, what),
        ));
    }
    Ok(f)
}

/// The most a module file, an archived original or a module of the kernel
/// may hold for [`read_file`] (no module comes near it).
pub const FILE_CAP: u64 = 1 << 32;

/// A whole module-sized file ([`FILE_CAP`]), read the way [`read_regular`]
/// reads: what stands where a module should be and is not a regular file
/// (a FIFO, a socket, a device) is an error at once, never a wait.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    read_regular(path, FILE_CAP)
}

/// Whether `a` and `b` are regular files with the same bytes (sizes first).
/// Anything else (missing, unreadable, special) is "not the same".
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) if x.is_file() && y.is_file() && x.len() == y.len() => {
            matches!((read_file(a), read_file(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

/// What `p` is when it is a FIFO, a socket or a device (not followed when
/// a symlink): the nodes a write path must neither write into nor read.
pub fn special_kind(p: &Path) -> Option<NotRegular> {
    let ft = std::fs::symlink_metadata(p).ok()?.file_type();
    if ft.is_fifo() {
        Some(NotRegular::Fifo)
    } else if ft.is_char_device() || ft.is_block_device() {
        Some(NotRegular::Device)
    } else if ft.is_socket() {
        Some(NotRegular::Socket)
    } else {
        None
    }
}

/// [`read_regular`] as text (invalid UTF-8 replaced).
pub fn read_regular_text(path: &Path, cap: u64) -> io::Result<String> {
    read_regular(path, cap).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn too_large(path: &Path, cap: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg::too_large(path, cap))
}

fn libc_nonblock() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

/// True if `p` is a symlink (without following it).
pub fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

/// True if `p` is a directory and not a symlink.
pub fn is_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| m.file_type().is_dir())
        .unwrap_or(false)
}

/// Names of the entries in `dir` that are directories (links to directories
/// count, as upstream's globs see them). Names that are not UTF-8 are skipped.
pub fn list_dirs(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Names of every entry in `dir` (UTF-8 only), sorted.
pub fn list_names(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_fifos_and_big_files_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let e = read_regular(&fifo, 100).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let big = d.path().join("big");
        std::fs::write(&big, vec![b'x'; 101]).unwrap();
        assert!(read_regular(&big, 100).is_err());
        assert_eq!(read_regular(&big, 101).unwrap().len(), 101);
        assert!(read_regular(Path::new("/dev/zero"), 100).is_err());
    }
}
