//! A kernel module's metadata (`version`, `srcversion`, `vermagic`, ...)
//! read straight from its `.modinfo` ELF section. Upstream runs `modinfo`
//! once per file; status and the install-time version check look at many
//! modules, so reading the section in-process keeps them fast.
//!
//! Also here: upstream's module version comparison
//! ([`compare_module_version`]), which decides whether an install would
//! downgrade the module the kernel already ships.

use std::cmp::Ordering;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::observe::version::ver_cmp;
use crate::text;

/// The `key=value` entries of a module's `.modinfo` section, in file order.
/// Keys may repeat (`alias`, `depends`, `parm`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// Every entry as `(key, value)`; an entry without `=` has an empty value.
    pub fields: Vec<(String, String)>,
}

/// What upstream's `get_module_verinfo` extracts from a module: the first
/// word of `version`, and `srcversion` (or, for old modules without one,
/// the obsolete checksum: the second word of `version`). Both may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerInfo {
    /// First word of the (last) `version` entry; empty if none.
    pub version: String,
    /// `srcversion`'s first word, else the `version` checksum word; may be empty.
    pub srcversion: String,
}

impl ModInfo {
    /// The first value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The module's `version` entry, verbatim (see [`ModInfo::verinfo`] for
    /// the word upstream prints and compares).
    pub fn version(&self) -> Option<&str> {
        self.get("version")
    }

    /// The `srcversion` entry: a checksum of the module's sources.
    pub fn srcversion(&self) -> Option<&str> {
        self.get("srcversion")
    }

    /// The `vermagic` entry: the kernel release and build flags the module
    /// was compiled for.
    pub fn vermagic(&self) -> Option<&str> {
        self.get("vermagic")
    }

    /// Upstream's `get_module_verinfo` on this module: it reads `modinfo`'s
    /// output line by line, splits each line into words, and for every
    /// `version:` line takes words 1 and 2 (version and checksum), for every
    /// `srcversion:` line word 1 — so the last such line wins.
    pub fn verinfo(&self) -> VerInfo {
        let mut version = String::new();
        let mut checksum = String::new();
        let mut srcversion = String::new();
        for (key, value) in &self.fields {
            let mut words = value.split([' ', '\t', '\n']).filter(|w| !w.is_empty());
            match key.as_str() {
                "version" => {
                    version = words.next().unwrap_or_default().to_string();
                    checksum = words.next().unwrap_or_default().to_string();
                }
                "srcversion" => srcversion = words.next().unwrap_or_default().to_string(),
                _ => {}
            }
        }
        if srcversion.is_empty() {
            srcversion = checksum;
        }
        VerInfo {
            version,
            srcversion,
        }
    }
}

/// Outcome of [`compare_module_version`], named after upstream's output
/// strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionCmp {
    /// `==`: same version and same srcversion (or checksum).
    Same,
    /// `=`: same version, different srcversion.
    SameVersionOtherSrc,
    /// `>`: the first module is newer than the second.
    Newer,
    /// `<`: the first module is older (or the versions only differ in
    /// ways `VER` ignores, like `1.01` vs `1.1`).
    Older,
    /// `?`: cannot be determined. Upstream cannot actually reach this (a
    /// module `modinfo` cannot read looks unversioned), and neither does
    /// [`compare_module_version`]; callers that fail to read a module get
    /// upstream's behaviour by comparing [`ModInfo::default`] instead.
    Unknown,
}

/// Upstream's `compare_module_version`: equal version words give
/// [`VersionCmp::Same`] or [`VersionCmp::SameVersionOtherSrc`] depending on
/// srcversion; otherwise the `VER` keys of the version words decide.
pub fn compare_module_version(a: &ModInfo, b: &ModInfo) -> VersionCmp {
    let (a, b) = (a.verinfo(), b.verinfo());
    if a.version == b.version {
        if a.srcversion == b.srcversion {
            VersionCmp::Same
        } else {
            VersionCmp::SameVersionOtherSrc
        }
    } else if ver_cmp(&a.version, &b.version) == Ordering::Greater {
        VersionCmp::Newer
    } else {
        VersionCmp::Older
    }
}

/// Read the `.modinfo` of the module at `path`. `.ko.gz`, `.ko.xz` and
/// `.ko.zst` files are decompressed first with the distribution's own
/// `gzip`/`xz`/`zstd`. A valid ELF file without a `.modinfo` section yields
/// an empty [`ModInfo`] (an unversioned module, as upstream sees it);
/// anything that is not a well-formed ELF file is an `InvalidData` error.
pub fn read_modinfo(path: &Path) -> io::Result<ModInfo> {
    let data = match decompressor(path) {
        Some(tool) => decompress(tool, path)?,
        None => crate::fs::read_regular(path, 512 << 20)?,
    };
    read_modinfo_bytes(&data)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// [`read_modinfo`] on an ELF image already in memory.
pub fn read_modinfo_bytes(data: &[u8]) -> io::Result<ModInfo> {
    let elf = Elf::parse(data)?;
    let Some(section) = elf.find_section(".modinfo")? else {
        return Ok(ModInfo::default());
    };
    Ok(parse_entries(section))
}

/// Split a `.modinfo` section into its NUL-separated `key=value` entries,
/// skipping the padding between them.
fn parse_entries(section: &[u8]) -> ModInfo {
    let fields = section
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            match entry.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (entry.into_owned(), String::new()),
            }
        })
        .collect();
    ModInfo { fields }
}

/// The tool that decompresses `path`, judged by its file name.
fn decompressor(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy();
    if name.ends_with(".gz") {
        Some("gzip")
    } else if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else {
        None
    }
}

/// `tool -dc path` into memory.
fn decompress(tool: &str, path: &Path) -> io::Result<Vec<u8>> {
    let out = Command::new(tool)
        .arg("-dc")
        .arg("--")
        .arg(path)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| io::Error::new(e.kind(), text::cannot_run(tool, &e)))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            text::decompress_failed(tool, path, &out.status, msg.trim()),
        ));
    }
    Ok(out.stdout)
}

/// Shorthand for the error every malformed input maps to.
fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, text::not_an_elf_module(what))
}

/// `SHT_NOBITS`: a section that occupies no bytes in the file.
const SHT_NOBITS: u32 = 8;
/// `SHN_XINDEX`: the real string-table index lives in section 0's `sh_link`.
const SHN_XINDEX: u16 = 0xffff;

/// A bounds-checked view of an ELF image: just enough to walk the section
/// headers (ELF32/ELF64, either byte order).
struct Elf<'a> {
    data: &'a [u8],
    is64: bool,
    big: bool,
    shoff: usize,
    shentsize: usize,
    shnum: usize,
    shstrndx: usize,
}

/// The parts of a section header this module needs.
struct Section {
    name: u32,
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
}

impl<'a> Elf<'a> {
    /// Validate the ELF header and locate the section header table.
    fn parse(data: &'a [u8]) -> io::Result<Self> {
        if data.len() < 16 || &data[..4] != b"\x7fELF" {
            return Err(bad("no ELF magic"));
        }
        let is64 = match data[4] {
            1 => false,
            2 => true,
            _ => return Err(bad("unknown ELF class")),
        };
        let big = match data[5] {
            1 => false,
            2 => true,
            _ => return Err(bad("unknown byte order")),
        };
        let mut elf = Elf {
            data,
            is64,
            big,
            shoff: 0,
            shentsize: 0,
            shnum: 0,
            shstrndx: 0,
        };
        let (shoff, rest) = if is64 {
            (elf.u64_at(0x28)?, 0x3a)
        } else {
            (u64::from(elf.u32_at(0x20)?), 0x2e)
        };
        elf.shoff = usize::try_from(shoff).map_err(|_| bad("section header offset"))?;
        elf.shentsize = usize::from(elf.u16_at(rest)?);
        let shnum = elf.u16_at(rest + 2)?;
        let shstrndx = elf.u16_at(rest + 4)?;
        if elf.shoff == 0 {
            return Err(bad("no section headers"));
        }
        if elf.shentsize < if is64 { 0x40 } else { 0x28 } {
            return Err(bad("section header size"));
        }
        // Section 0 holds the real count and string-table index when they
        // do not fit the header fields.
        elf.shnum = 1;
        let zero = elf.section(0)?;
        elf.shnum = if shnum == 0 {
            usize::try_from(zero.size).map_err(|_| bad("section count"))?
        } else {
            usize::from(shnum)
        };
        elf.shstrndx = if shstrndx == SHN_XINDEX {
            zero.link as usize
        } else {
            usize::from(shstrndx)
        };
        let table = elf
            .shnum
            .checked_mul(elf.shentsize)
            .and_then(|n| n.checked_add(elf.shoff));
        if !matches!(table, Some(end) if end <= data.len()) {
            return Err(bad("section header table is truncated"));
        }
        Ok(elf)
    }

    /// `len` bytes at `off`, or an error if they are not all in the file.
    fn bytes(&self, off: usize, len: usize) -> io::Result<&'a [u8]> {
        let end = off.checked_add(len).ok_or_else(|| bad("offset overflow"))?;
        self.data.get(off..end).ok_or_else(|| bad("truncated"))
    }

    fn u16_at(&self, off: usize) -> io::Result<u16> {
        let b: [u8; 2] = self
            .bytes(off, 2)?
            .try_into()
            .map_err(|_| bad("truncated"))?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32_at(&self, off: usize) -> io::Result<u32> {
        let b: [u8; 4] = self
            .bytes(off, 4)?
            .try_into()
            .map_err(|_| bad("truncated"))?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64_at(&self, off: usize) -> io::Result<u64> {
        let b: [u8; 8] = self
            .bytes(off, 8)?
            .try_into()
            .map_err(|_| bad("truncated"))?;
        Ok(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// An address-sized field (`Elf32_Off`/`Elf64_Off`, `..._Xword`).
    fn word_at(&self, off: usize) -> io::Result<u64> {
        if self.is64 {
            self.u64_at(off)
        } else {
            self.u32_at(off).map(u64::from)
        }
    }

    /// Section header number `i`.
    fn section(&self, i: usize) -> io::Result<Section> {
        if i >= self.shnum {
            return Err(bad("section index out of range"));
        }
        let base = i
            .checked_mul(self.shentsize)
            .and_then(|o| o.checked_add(self.shoff))
            .ok_or_else(|| bad("offset overflow"))?;
        let (offset, size, link) = if self.is64 {
            (0x18, 0x20, 0x28)
        } else {
            (0x10, 0x14, 0x18)
        };
        Ok(Section {
            name: self.u32_at(base)?,
            kind: self.u32_at(base + 4)?,
            offset: self.word_at(base + offset)?,
            size: self.word_at(base + size)?,
            link: self.u32_at(base + link)?,
        })
    }

    /// The bytes a section occupies in the file (empty for `SHT_NOBITS`).
    fn contents(&self, s: &Section) -> io::Result<&'a [u8]> {
        if s.kind == SHT_NOBITS {
            return Ok(&[]);
        }
        let off = usize::try_from(s.offset).map_err(|_| bad("section offset"))?;
        let len = usize::try_from(s.size).map_err(|_| bad("section size"))?;
        self.bytes(off, len)
    }

    /// The contents of the first section called `name`, if any.
    fn find_section(&self, name: &str) -> io::Result<Option<&'a [u8]>> {
        let strtab = self.contents(&self.section(self.shstrndx)?)?;
        for i in 1..self.shnum {
            let s = self.section(i)?;
            let start = s.name as usize;
            let Some(rest) = strtab.get(start..) else {
                continue;
            };
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            if &rest[..end] == name.as_bytes() {
                return self.contents(&s).map(Some);
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::path::PathBuf;

    /// Compile `entries` into a relocatable object with the host gcc, each
    /// as a `.modinfo` string the way the kernel's MODULE_INFO does.
    /// `None` when no C compiler is available.
    fn gcc_object(dir: &Path, entries: &[&str]) -> Option<PathBuf> {
        let mut c = String::new();
        for (i, e) in entries.iter().enumerate() {
            c.push_str(&format!(
                "static const char e{i}[] __attribute__((section(\".modinfo\"), used, aligned(1))) = \"{e}\";\n"
            ));
        }
        c.push_str("int dkms_test_fn(void) { return 42; }\n");
        let src = dir.join("m.c");
        std::fs::write(&src, c).unwrap();
        let obj = dir.join("m.ko");
        let status = Command::new("gcc")
            .arg("-c")
            .arg("-o")
            .arg(&obj)
            .arg(&src)
            .status()
            .ok()?;
        assert!(status.success(), "gcc failed");
        Some(obj)
    }

    /// A minimal ELF image with `.shstrtab` and `.modinfo` sections, in
    /// the class and byte order given (the host gcc only makes one kind).
    fn synthetic_elf(is64: bool, big: bool, modinfo: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let put16 = |out: &mut Vec<u8>, v: u16| {
            out.extend(if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let put32 = |out: &mut Vec<u8>, v: u32| {
            out.extend(if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let putw = |out: &mut Vec<u8>, v: u64| {
            if is64 {
                out.extend(if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                })
            } else {
                let v = v as u32;
                out.extend(if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                })
            }
        };
        let ehsize: u64 = if is64 { 64 } else { 52 };
        let shentsize: u16 = if is64 { 64 } else { 40 };
        let strtab = b"\0.shstrtab\0.modinfo\0";
        let strtab_off = ehsize;
        let modinfo_off = strtab_off + strtab.len() as u64;
        let shoff = (modinfo_off + modinfo.len() as u64 + 7) & !7;

        out.extend(b"\x7fELF");
        out.extend([if is64 { 2 } else { 1 }, if big { 2 } else { 1 }, 1, 0]);
        out.extend([0u8; 8]);
        put16(&mut out, 1); // ET_REL
        put16(&mut out, 0x3e);
        put32(&mut out, 1);
        putw(&mut out, 0); // entry
        putw(&mut out, 0); // phoff
        putw(&mut out, shoff);
        put32(&mut out, 0);
        put16(&mut out, ehsize as u16);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, shentsize);
        put16(&mut out, 3);
        put16(&mut out, 1);
        assert_eq!(out.len() as u64, ehsize);
        out.extend(strtab);
        out.extend(modinfo);
        out.resize(shoff as usize, 0);
        let section = |out: &mut Vec<u8>, name: u32, kind: u32, off: u64, size: u64| {
            put32(out, name);
            put32(out, kind);
            putw(out, 0); // flags
            putw(out, 0); // addr
            putw(out, off);
            putw(out, size);
            put32(out, 0); // link
            put32(out, 0); // info
            putw(out, 1); // addralign
            putw(out, 0); // entsize
        };
        section(&mut out, 0, 0, 0, 0);
        section(&mut out, 1, 3, strtab_off, strtab.len() as u64);
        section(&mut out, 11, 1, modinfo_off, modinfo.len() as u64);
        out
    }

    fn info(pairs: &[(&str, &str)]) -> ModInfo {
        ModInfo {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn reads_gcc_built_object() {
        let dir = tempfile::tempdir().unwrap();
        let Some(obj) = gcc_object(
            dir.path(),
            &[
                "version=1.2",
                "license=GPL",
                "srcversion=ABCDEF0123456789",
                "alias=pci:v1",
                "alias=pci:v2",
                "vermagic=6.1.0-9-amd64 SMP mod_unload",
            ],
        ) else {
            return;
        };
        let m = read_modinfo(&obj).unwrap();
        assert_eq!(m.version(), Some("1.2"));
        assert_eq!(m.srcversion(), Some("ABCDEF0123456789"));
        assert_eq!(m.vermagic(), Some("6.1.0-9-amd64 SMP mod_unload"));
        assert_eq!(m.get("license"), Some("GPL"));
        assert_eq!(m.get("alias"), Some("pci:v1"));
        assert_eq!(m.fields.iter().filter(|(k, _)| k == "alias").count(), 2);
        assert_eq!(m.get("nope"), None);
    }

    #[test]
    fn object_without_modinfo_is_unversioned() {
        let dir = tempfile::tempdir().unwrap();
        let Some(obj) = gcc_object(dir.path(), &[]) else {
            return;
        };
        let m = read_modinfo(&obj).unwrap();
        assert!(m.fields.is_empty());
        assert_eq!(m.verinfo(), VerInfo::default());
    }

    #[rstest]
    #[case("gzip", "gz")]
    #[case("xz", "xz")]
    #[case("zstd", "zst")]
    fn reads_compressed_modules(#[case] tool: &str, #[case] ext: &str) {
        let dir = tempfile::tempdir().unwrap();
        let Some(obj) = gcc_object(dir.path(), &["version=3.4", "srcversion=XYZ"]) else {
            return;
        };
        let packed = dir.path().join(format!("m.ko.{ext}"));
        let Ok(out) = Command::new(tool).arg("-c").arg(&obj).output() else {
            return; // tool not installed
        };
        assert!(out.status.success());
        std::fs::write(&packed, out.stdout).unwrap();
        let m = read_modinfo(&packed).unwrap();
        assert_eq!(m.version(), Some("3.4"));
        assert_eq!(m.srcversion(), Some("XYZ"));
    }

    #[test]
    fn corrupt_compressed_module_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.ko.gz");
        std::fs::write(&p, b"not gzip at all").unwrap();
        if Command::new("gzip").arg("--version").output().is_err() {
            return;
        }
        assert!(read_modinfo(&p).is_err());
    }

    #[rstest]
    #[case(true, false)]
    #[case(true, true)]
    #[case(false, false)]
    #[case(false, true)]
    fn reads_every_class_and_byte_order(#[case] is64: bool, #[case] big: bool) {
        let elf = synthetic_elf(is64, big, b"version=2.0\0\0\0srcversion=S1\0noequals\0");
        let m = read_modinfo_bytes(&elf).unwrap();
        assert_eq!(
            m,
            info(&[("version", "2.0"), ("srcversion", "S1"), ("noequals", "")])
        );
    }

    #[rstest]
    #[case(b"".to_vec())]
    #[case(b"hello world, this is not an ELF file at all".to_vec())]
    #[case(b"\x7fELF".to_vec())]
    #[case(b"\x7fELF\x03\x01\x01\0\0\0\0\0\0\0\0\0".to_vec())]
    #[case(vec![0x7f; 4096])]
    fn garbage_is_invalid_data(#[case] data: Vec<u8>) {
        let err = read_modinfo_bytes(&data).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn truncation_never_panics() {
        for (is64, big) in [(true, false), (false, true)] {
            let elf = synthetic_elf(is64, big, b"version=2.0\0");
            for len in 0..elf.len() {
                let r = read_modinfo_bytes(&elf[..len]);
                assert!(r.is_err(), "truncated to {len} bytes should fail");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        if let Some(obj) = gcc_object(dir.path(), &["version=1"]) {
            let data = std::fs::read(obj).unwrap();
            for len in 0..data.len() {
                let _ = read_modinfo_bytes(&data[..len]);
            }
        }
    }

    #[test]
    fn hostile_offsets_are_errors() {
        let mut elf = synthetic_elf(true, false, b"version=1\0");
        // Point .modinfo's size far past the end of the file.
        let shoff = u64::from_le_bytes(elf[0x28..0x30].try_into().unwrap()) as usize;
        let size_field = shoff + 2 * 64 + 0x20;
        elf[size_field..size_field + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read_modinfo_bytes(&elf).is_err());
        // A huge section count.
        let mut elf = synthetic_elf(true, false, b"version=1\0");
        elf[0x3c..0x3e].copy_from_slice(&0xfff0u16.to_le_bytes());
        assert!(read_modinfo_bytes(&elf).is_err());
        // String table index out of range.
        let mut elf = synthetic_elf(false, false, b"version=1\0");
        elf[0x32..0x34].copy_from_slice(&9u16.to_le_bytes());
        assert!(read_modinfo_bytes(&elf).is_err());
    }

    #[test]
    fn missing_file_is_not_found() {
        let err = read_modinfo(Path::new("/nonexistent/dkms-hook-test.ko")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    /// A real module of the running system, if any is installed.
    #[test]
    fn reads_a_real_module_if_present() {
        let Ok(paths) = glob::glob("/lib/modules/*/kernel/**/*.ko*") else {
            return;
        };
        let Some(path) = paths.flatten().next() else {
            return;
        };
        let m = read_modinfo(&path).unwrap();
        assert!(m.vermagic().is_some(), "{} has no vermagic", path.display());
    }

    #[rstest]
    #[case(&[("version", "1.0"), ("srcversion", "A")], &[("version", "1.0"), ("srcversion", "A")], VersionCmp::Same)]
    #[case(&[("version", "1.0"), ("srcversion", "A")], &[("version", "1.0"), ("srcversion", "B")], VersionCmp::SameVersionOtherSrc)]
    #[case(&[("version", "1.0.1")], &[("version", "1.0")], VersionCmp::Newer)]
    #[case(&[("version", "0.12.7")], &[("version", "0.12.10")], VersionCmp::Older)]
    #[case(&[("version", "1.01")], &[("version", "1.1")], VersionCmp::Older)]
    #[case(&[], &[], VersionCmp::Same)]
    #[case(&[("version", "1.0")], &[], VersionCmp::Newer)]
    #[case(&[], &[("version", "1.0")], VersionCmp::Older)]
    #[case(&[("version", "2.0 CHK1")], &[("version", "2.0 CHK2")], VersionCmp::SameVersionOtherSrc)]
    #[case(&[("version", "2.0 CHK1"), ("srcversion", "S")], &[("version", "2.0 CHK2"), ("srcversion", "S")], VersionCmp::Same)]
    #[case(&[("version", "2.0 extra words")], &[("version", "2.0")], VersionCmp::SameVersionOtherSrc)]
    #[case(&[("version", "1"), ("version", "3")], &[("version", "2")], VersionCmp::Newer)]
    fn compares_like_upstream(
        #[case] a: &[(&str, &str)],
        #[case] b: &[(&str, &str)],
        #[case] want: VersionCmp,
    ) {
        assert_eq!(compare_module_version(&info(a), &info(b)), want);
    }

    #[test]
    fn verinfo_takes_words() {
        let m = info(&[("version", "  4.5-rc1   ABC  "), ("srcversion", "")]);
        assert_eq!(
            m.verinfo(),
            VerInfo {
                version: "4.5-rc1".into(),
                srcversion: "ABC".into()
            }
        );
    }
}
