//! A kernel module's metadata (`version`, `srcversion`, `vermagic`, ...)
//! read straight from its `.modinfo` ELF section ([`super::elf`]). Upstream
//! runs `modinfo` once per file; status and the install-time version check
//! look at many modules, so reading the section in-process keeps them fast.
//!
//! Also here: upstream's module version comparison
//! ([`compare_module_version`]), which decides whether an install would
//! downgrade the module the kernel already ships.

use std::cmp::Ordering;
use std::io;
use std::path::Path;
use std::process::Command;

use crate::child::Run;
use crate::observe::msg;

use crate::observe::elf;
use crate::observe::version::ver_cmp;

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
    let data = module_bytes(path)?;
    read_modinfo_bytes(&data)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// The ELF image of the module at `path`: the file itself, or its
/// contents decompressed with the distribution's `gzip`/`xz`/`zstd` when
/// its name says it is compressed.
pub fn module_bytes(path: &Path) -> io::Result<Vec<u8>> {
    match decompressor(path) {
        Some(tool) => decompress(tool, path),
        None => crate::fs::read_regular(path, 512 << 20),
    }
}

/// [`read_modinfo`] on an ELF image already in memory.
pub fn read_modinfo_bytes(data: &[u8]) -> io::Result<ModInfo> {
    Ok(elf::section(data, ".modinfo")?
        .map(parse_entries)
        .unwrap_or_default())
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
pub(crate) fn decompress(tool: &str, path: &Path) -> io::Result<Vec<u8>> {
    Command::new(tool)
        .arg("-dc")
        .arg("--")
        .arg(path)
        .run_stdout()
        .map_err(|e| match (&e.start, e.status) {
            (Some(start), _) => io::Error::new(start.kind(), msg::cannot_run(tool, start)),
            (None, status) => io::Error::new(
                io::ErrorKind::InvalidData,
                msg::decompress_failed(
                    tool,
                    path,
                    &status.unwrap_or_default(),
                    e.stderr_tail.trim(),
                ),
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{require_tools, skip_unless_ci};
    use rstest::rstest;
    use std::path::PathBuf;

    /// Compile `entries` into a relocatable object with the host gcc, each
    /// as a `.modinfo` string the way the kernel's MODULE_INFO does.
    /// `None` when there is no gcc: `test` is then skipped (outside CI) or
    /// fails (under CI).
    fn gcc_object(test: &str, dir: &Path, entries: &[&str]) -> Option<PathBuf> {
        if !require_tools(test, &["gcc"], ".ci/run installs gcc") {
            return None;
        }
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
            .expect("run gcc");
        assert!(status.success(), "gcc failed");
        Some(obj)
    }

    /// A minimal ELF image with `.shstrtab` and `.modinfo` sections, in
    /// the class and byte order given (the host gcc only makes one kind).
    fn synthetic_elf(is64: bool, big: bool, modinfo: &[u8]) -> Vec<u8> {
        elf::synthetic(is64, big, &[(".modinfo", modinfo)])
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
            "reads_gcc_built_object",
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
        let Some(obj) = gcc_object("object_without_modinfo_is_unversioned", dir.path(), &[]) else {
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
        let test = format!("reads_compressed_modules ({tool})");
        if !require_tools(&test, &[tool], ".ci/run installs gzip, xz-utils and zstd") {
            return;
        }
        let Some(obj) = gcc_object(&test, dir.path(), &["version=3.4", "srcversion=XYZ"]) else {
            return;
        };
        let packed = dir.path().join(format!("m.ko.{ext}"));
        let out = Command::new(tool)
            .arg("-c")
            .arg(&obj)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
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
        if !require_tools(
            "corrupt_compressed_module_is_an_error",
            &["gzip"],
            ".ci/run's Debian has it",
        ) {
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
        if let Some(obj) = gcc_object("truncation_never_panics", dir.path(), &["version=1"]) {
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
    fn a_cut_or_garbage_module_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.ko");
        let elf = synthetic_elf(true, false, b"version=1\0");
        for data in [&elf[..elf.len() - 1], &elf[..40], b"garbage".as_slice()] {
            std::fs::write(&path, data).unwrap();
            let err = read_modinfo(&path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            let prefix = format!("{}: not a valid ELF module: ", path.display());
            assert!(err.to_string().starts_with(&prefix), "{err}");
        }
    }

    #[test]
    fn missing_file_is_not_found() {
        let err = read_modinfo(Path::new("/nonexistent/dkms-hook-test.ko")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    /// A real module of an installed kernel (read only); `.ci/run`
    /// installs one.
    #[test]
    fn reads_a_real_module_if_present() {
        let paths = glob::glob("/lib/modules/*/kernel/**/*.ko*").expect("a valid pattern");
        let Some(path) = paths.flatten().next() else {
            skip_unless_ci(
                "reads_a_real_module_if_present",
                "no /lib/modules/*/kernel/**/*.ko* (.ci/run installs a linux-image)",
            );
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
