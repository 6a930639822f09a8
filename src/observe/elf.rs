//! The one ELF reader: the bytes of a named section (`.modinfo` of a kernel
//! module, `.comment` of a vmlinux), from an image in memory or from a file,
//! read with the `object` crate. Only the file header, the section headers,
//! the section-name table and the wanted section are looked at; anything
//! malformed is an `InvalidData` error worded by
//! [`msg::not_an_elf_module`], never a panic.

use std::io;
use std::path::Path;

use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, ReadCache, ReadRef};

use crate::observe::msg;

/// The contents of the first section called `name` in the ELF image `data`
/// (32- or 64-bit, either byte order). `Ok(None)` when the image has
/// section headers but no such section; a section without file contents
/// (`SHT_NOBITS`) is empty.
pub fn section<'data>(data: &'data [u8], name: &str) -> io::Result<Option<&'data [u8]>> {
    find(data, name, u64::MAX)
}

/// [`section`] of the ELF file at `path`, reading only the headers and that
/// section (a vmlinux with debug info is hundreds of megabytes), and
/// refusing a section over `cap` bytes. The file must be a regular file
/// ([`crate::fs::open_regular`]); the path prefixes every error.
pub fn file_section(path: &Path, name: &str, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let file = crate::fs::open_regular(path)?;
    let cache = ReadCache::new(file);
    find(&cache, name, cap)
        .map(|s| s.map(<[u8]>::to_vec))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// An `InvalidData` error saying where the reader stopped.
fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg::not_an_elf_module(what))
}

/// [`bad`] with the `object` crate's account of what is malformed.
fn malformed(e: object::read::Error) -> io::Error {
    bad(&e.to_string())
}

/// Check the magic and the class, then look `name` up in the image.
fn find<'data, R: ReadRef<'data>>(
    data: R,
    name: &str,
    cap: u64,
) -> io::Result<Option<&'data [u8]>> {
    if data.read_bytes_at(0, 4).ok() != Some(b"\x7fELF".as_slice()) {
        return Err(bad("no ELF magic"));
    }
    match data.read_bytes_at(4, 1).map_err(|()| bad("truncated"))? {
        [1] => find_in::<FileHeader32<Endianness>, R>(data, name, cap),
        [2] => find_in::<FileHeader64<Endianness>, R>(data, name, cap),
        _ => Err(bad("unknown ELF class")),
    }
}

/// The section lookup for one ELF class.
fn find_in<'data, Elf, R>(data: R, name: &str, cap: u64) -> io::Result<Option<&'data [u8]>>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let header = Elf::parse(data).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let sections = header.sections(endian, data).map_err(malformed)?;
    if sections.is_empty() {
        // Every kernel module and vmlinux has section headers: an image
        // without them is not one, rather than one without the section.
        return Err(bad("no section headers"));
    }
    let Some((_, found)) = sections.section_by_name(endian, name.as_bytes()) else {
        return Ok(None);
    };
    if let Some((_, size)) = found.file_range(endian) {
        if size > cap {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                msg::elf_section_too_large(name, cap),
            ));
        }
    }
    found.data(endian, data).map(Some).map_err(malformed)
}

/// A minimal ELF image for tests: a null section, `.shstrtab`, then each of
/// `sections` (name, contents) as `SHT_PROGBITS`, in the class and byte
/// order given (the host gcc only makes one kind). The section headers come
/// last, so cutting the image anywhere cuts them.
#[cfg(test)]
pub(crate) fn synthetic(is64: bool, big: bool, sections: &[(&str, &[u8])]) -> Vec<u8> {
    let word = |v: u64, out: &mut Vec<u8>| match (is64, big) {
        (true, true) => out.extend(v.to_be_bytes()),
        (true, false) => out.extend(v.to_le_bytes()),
        (false, true) => out.extend((v as u32).to_be_bytes()),
        (false, false) => out.extend((v as u32).to_le_bytes()),
    };
    let half = |v: u16, out: &mut Vec<u8>| {
        out.extend(if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let quad = |v: u32, out: &mut Vec<u8>| {
        out.extend(if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let ehsize: u64 = if is64 { 64 } else { 52 };
    let shentsize: u16 = if is64 { 64 } else { 40 };
    let mut strtab = b"\0.shstrtab\0".to_vec();
    let mut names = Vec::new();
    for (name, _) in sections {
        names.push(strtab.len() as u32);
        strtab.extend(name.as_bytes());
        strtab.push(0);
    }
    let mut body = strtab.clone();
    let mut offsets = Vec::new();
    for (_, contents) in sections {
        offsets.push(ehsize + body.len() as u64);
        body.extend(*contents);
    }
    let shoff = (ehsize + body.len() as u64 + 7) & !7;
    let shnum = 2 + sections.len() as u16;

    let mut out = b"\x7fELF".to_vec();
    out.extend([if is64 { 2 } else { 1 }, if big { 2 } else { 1 }, 1, 0]);
    out.extend([0u8; 8]);
    half(1, &mut out); // ET_REL
    half(0x3e, &mut out); // EM_X86_64
    quad(1, &mut out); // EV_CURRENT
    word(0, &mut out); // entry
    word(0, &mut out); // phoff
    word(shoff, &mut out);
    quad(0, &mut out); // flags
    half(ehsize as u16, &mut out);
    half(0, &mut out); // phentsize
    half(0, &mut out); // phnum
    half(shentsize, &mut out);
    half(shnum, &mut out);
    half(1, &mut out); // shstrndx
    assert_eq!(out.len() as u64, ehsize);
    out.extend(body);
    out.resize(shoff as usize, 0);
    let mut header = |name: u32, kind: u32, off: u64, size: u64| {
        quad(name, &mut out);
        quad(kind, &mut out);
        word(0, &mut out); // flags
        word(0, &mut out); // addr
        word(off, &mut out);
        word(size, &mut out);
        quad(0, &mut out); // link
        quad(0, &mut out); // info
        word(1, &mut out); // addralign
        word(0, &mut out); // entsize
    };
    header(0, 0, 0, 0);
    header(1, 3, ehsize, strtab.len() as u64); // SHT_STRTAB
    for ((name, off), (_, contents)) in names.iter().zip(&offsets).zip(sections) {
        header(*name, 1, *off, contents.len() as u64); // SHT_PROGBITS
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The message of an error, checked to be the reader's own frame.
    fn frame(e: &io::Error) -> String {
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        e.to_string()
    }

    #[rstest]
    #[case(true, false)]
    #[case(true, true)]
    #[case(false, false)]
    #[case(false, true)]
    fn finds_a_section_by_name(#[case] is64: bool, #[case] big: bool) {
        let elf = synthetic(is64, big, &[(".comment", b"GCC\0"), (".modinfo", b"a=b\0")]);
        assert_eq!(
            section(&elf, ".modinfo").unwrap(),
            Some(b"a=b\0".as_slice())
        );
        assert_eq!(
            section(&elf, ".comment").unwrap(),
            Some(b"GCC\0".as_slice())
        );
        assert_eq!(section(&elf, ".modinf").unwrap(), None);
        assert_eq!(section(&elf, ".text").unwrap(), None);
    }

    #[test]
    fn an_image_at_an_odd_address_reads_the_same() {
        // A decompressor's output or a slice of a larger buffer need not be
        // aligned; the reader must not care.
        let elf = synthetic(true, false, &[(".modinfo", b"version=1\0")]);
        let mut shifted = vec![0u8];
        shifted.extend(&elf);
        assert_eq!(
            section(&shifted[1..], ".modinfo").unwrap(),
            Some(b"version=1\0".as_slice())
        );
    }

    #[rstest]
    #[case::empty(b"".to_vec(), "no ELF magic")]
    #[case::text(b"hello world, this is not an ELF file at all".to_vec(), "no ELF magic")]
    #[case::magic_only(b"\x7fELF".to_vec(), "truncated")]
    #[case::bad_class(b"\x7fELF\x03\x01\x01\0\0\0\0\0\0\0\0\0".to_vec(), "unknown ELF class")]
    #[case::short_header(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec(), "Invalid ELF header size or alignment")]
    #[case::bad_order({ let mut v = b"\x7fELF\x02\x03\x01".to_vec(); v.resize(64, 0); v }, "Unsupported ELF header")]
    #[case::not_elf(vec![0x7f; 4096], "no ELF magic")]
    fn garbage_is_a_clear_error(#[case] data: Vec<u8>, #[case] why: &str) {
        let err = section(&data, ".modinfo").unwrap_err();
        assert_eq!(frame(&err), format!("not a valid ELF module: {why}"));
    }

    #[test]
    fn no_section_headers_is_an_error() {
        let mut elf = synthetic(true, false, &[(".modinfo", b"v=1\0")]);
        elf[0x28..0x30].copy_from_slice(&0u64.to_le_bytes()); // e_shoff
        let err = section(&elf, ".modinfo").unwrap_err();
        assert_eq!(frame(&err), "not a valid ELF module: no section headers");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for (is64, big) in [(true, false), (true, true), (false, false), (false, true)] {
            let elf = synthetic(is64, big, &[(".modinfo", b"version=2.0\0")]);
            for len in 0..elf.len() {
                let err = section(&elf[..len], ".modinfo").unwrap_err();
                assert!(
                    frame(&err).starts_with("not a valid ELF module: "),
                    "cut at {len}: {err}"
                );
            }
        }
    }

    #[test]
    fn hostile_headers_are_errors() {
        let sections: &[(&str, &[u8])] = &[(".modinfo", b"version=1\0")];
        // .modinfo's size far past the end of the file.
        let mut elf = synthetic(true, false, sections);
        let shoff = u64::from_le_bytes(elf[0x28..0x30].try_into().unwrap()) as usize;
        let size = shoff + 2 * 64 + 0x20;
        elf[size..size + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        frame(&section(&elf, ".modinfo").unwrap_err());
        // Its offset far past the end.
        let mut elf = synthetic(false, true, sections);
        let shoff = u32::from_be_bytes(elf[0x20..0x24].try_into().unwrap()) as usize;
        let off = shoff + 2 * 40 + 0x10;
        elf[off..off + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        frame(&section(&elf, ".modinfo").unwrap_err());
        // A huge section count.
        let mut elf = synthetic(true, false, sections);
        elf[0x3c..0x3e].copy_from_slice(&0xfff0u16.to_le_bytes());
        frame(&section(&elf, ".modinfo").unwrap_err());
        // The section-name table's index out of range.
        let mut elf = synthetic(false, false, sections);
        elf[0x32..0x34].copy_from_slice(&9u16.to_le_bytes());
        frame(&section(&elf, ".modinfo").unwrap_err());
        // A section header size that is not the class's.
        let mut elf = synthetic(true, false, sections);
        elf[0x3a..0x3c].copy_from_slice(&63u16.to_le_bytes());
        frame(&section(&elf, ".modinfo").unwrap_err());
    }

    #[test]
    fn a_name_past_the_name_table_is_skipped() {
        let mut elf = synthetic(true, false, &[(".junk", b"x"), (".modinfo", b"v=1\0")]);
        let shoff = u64::from_le_bytes(elf[0x28..0x30].try_into().unwrap()) as usize;
        let name = shoff + 2 * 64; // the third header: .junk
        elf[name..name + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            section(&elf, ".modinfo").unwrap(),
            Some(b"v=1\0".as_slice())
        );
    }

    #[test]
    fn reads_a_section_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vmlinux");
        let elf = synthetic(true, false, &[(".comment", b"clang version 16\0")]);
        std::fs::write(&path, &elf).unwrap();
        let got = file_section(&path, ".comment", 1 << 20).unwrap();
        assert_eq!(got.as_deref(), Some(b"clang version 16\0".as_slice()));
        assert_eq!(file_section(&path, ".modinfo", 1 << 20).unwrap(), None);
    }

    #[test]
    fn a_file_section_over_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vmlinux");
        std::fs::write(&path, synthetic(false, false, &[(".comment", &[b'x'; 64])])).unwrap();
        let err = file_section(&path, ".comment", 63).unwrap_err();
        assert_eq!(
            frame(&err),
            format!(
                "{}: ELF section .comment is larger than 63 bytes",
                path.display()
            )
        );
        assert!(file_section(&path, ".comment", 64).unwrap().is_some());
    }

    #[test]
    fn a_truncated_or_garbage_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vmlinux");
        let elf = synthetic(true, false, &[(".comment", b"GCC\0")]);
        for len in [0, 3, 10, 63, 64, elf.len() - 1] {
            std::fs::write(&path, &elf[..len]).unwrap();
            let err = file_section(&path, ".comment", 1 << 20).unwrap_err();
            let msg = frame(&err);
            assert!(
                msg.starts_with(&format!("{}: not a valid ELF module: ", path.display())),
                "cut at {len}: {msg}"
            );
        }
        std::fs::write(&path, b"#!/bin/sh\necho not a kernel\n").unwrap();
        let err = file_section(&path, ".comment", 1 << 20).unwrap_err();
        assert_eq!(
            frame(&err),
            format!("{}: not a valid ELF module: no ELF magic", path.display())
        );
    }

    #[test]
    fn a_fifo_or_missing_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("vmlinux");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::RWXU).unwrap();
        let err = file_section(&fifo, ".comment", 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let err = file_section(&dir.path().join("none"), ".comment", 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn reads_the_comment_of_this_test_binary() {
        // A real linked ELF: rustc and the linker leave a .comment.
        let exe = std::env::current_exe().unwrap();
        let comment = file_section(&exe, ".comment", 16 << 20).unwrap();
        assert!(comment.is_some_and(|c| !c.is_empty()));
    }
}
