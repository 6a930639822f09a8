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
/// Panics if the file is not an ELF file with a `.modinfo`.
pub fn modinfo(path: &Path) -> Vec<(String, String)> {
    let data = read_module_bytes(path);
    let section = elf_section(&data, ".modinfo")
        .unwrap_or_else(|| panic!("{}: no .modinfo section in an ELF file", path.display()));
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

/// The bytes of section `name` in an ELF file, through the `object`
/// crate's general reader (the program reads sections with its low-level
/// one, src/observe/elf.rs, so the two do not share a mistake).
fn elf_section<'a>(data: &'a [u8], name: &str) -> Option<&'a [u8]> {
    use object::{Object, ObjectSection};
    object::File::parse(data)
        .ok()?
        .section_by_name(name)?
        .data()
        .ok()
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
