//! Reading modules: the `.modinfo` section straight from the ELF file (so
//! the fake tier needs no kmod), decompression of `.gz`/`.xz`/`.zst`
//! modules, the signature trailer, and the host's `modinfo` for what only
//! it computes (vermagic of real modules, signer, signature key).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::stdout_of;

/// The content of a module file, decompressed when its name ends in
/// `.gz`, `.xz` or `.zst` (with the host's gzip/xz/zstd).
pub fn read_module_bytes(path: &Path) -> Vec<u8> {
    let name = path.to_string_lossy();
    let tool = if name.ends_with(".gz") {
        Some("gzip")
    } else if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else {
        None
    };
    match tool {
        None => fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
        Some(tool) => {
            let out = Command::new(tool)
                .args(["-d", "-c", "-q"])
                .arg(path)
                .output()
                .unwrap_or_else(|e| panic!("run {tool}: {e}"));
            assert!(out.status.success(), "{tool} -d {} failed", path.display());
            out.stdout
        }
    }
}

/// All `key=value` entries of the `.modinfo` ELF section of a module
/// (compressed modules are decompressed first), in section order.
/// Panics if the file is not a 64-bit little-endian ELF with a `.modinfo`.
pub fn modinfo(path: &Path) -> Vec<(String, String)> {
    let data = read_module_bytes(path);
    let section = elf_section(&data, ".modinfo")
        .unwrap_or_else(|| panic!("{}: no .modinfo section in a 64-bit ELF", path.display()));
    section
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let s = String::from_utf8_lossy(s);
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// The first value of `key` in a module's `.modinfo` (like `modinfo -F key`).
pub fn modinfo_field(path: &Path, key: &str) -> Option<String> {
    modinfo(path)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// True if the module carries an appended signature (the kernel's
/// `~Module signature appended~\n` trailer).
pub fn is_signed(path: &Path) -> bool {
    read_module_bytes(path).ends_with(b"~Module signature appended~\n")
}

/// The bytes of section `name` in a 64-bit little-endian ELF file.
fn elf_section<'a>(data: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let u16_at = |o: usize| {
        data.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    if data.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = u64_at(0x28)?;
    let shentsize = u16_at(0x3a)?;
    let shnum = u16_at(0x3c)?;
    let shstrndx = u16_at(0x3e)?;
    let header = |i: usize| -> Option<(usize, usize, usize)> {
        let h = shoff + i * shentsize;
        Some((u32_at(h)?, u64_at(h + 0x18)?, u64_at(h + 0x20)?))
    };
    let (_, str_off, str_size) = header(shstrndx)?;
    let strtab = data.get(str_off..str_off + str_size)?;
    (0..shnum).find_map(|i| {
        let (name_off, off, size) = header(i)?;
        let rest = strtab.get(name_off..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        if &rest[..end] == name.as_bytes() {
            data.get(off..off + size)
        } else {
            None
        }
    })
}

/// kmod's `modinfo`, wherever this system keeps it.
fn modinfo_bin() -> PathBuf {
    for p in [
        "/usr/sbin/modinfo",
        "/sbin/modinfo",
        "/usr/bin/modinfo",
        "/bin/modinfo",
    ] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("modinfo")
}

/// `modinfo -F <field> <ko>` with the host's kmod, trimmed of the trailing
/// newline only; panics when modinfo fails.
pub fn host_modinfo_field(ko: &Path, field: &str) -> String {
    stdout_of(Command::new(modinfo_bin()).args(["-F", field]).arg(ko))
        .trim_end_matches('\n')
        .to_string()
}

/// `modinfo -F vermagic <ko>` (the host's kmod), trimmed of the trailing
/// newline only.
pub fn vermagic(ko: &Path) -> String {
    host_modinfo_field(ko, "vermagic")
}
