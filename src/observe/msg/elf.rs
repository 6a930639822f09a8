//! Ours: a module file that can't be read as one (ELF, decompression).

use std::path::Path;

/// Ours: the decompressor of a compressed module could not be started.
pub fn cannot_run(tool: &str, error: &dyn std::fmt::Display) -> String {
    format!("cannot run {tool}: {error}")
}

/// Ours: the decompressor of a compressed module failed.
pub fn decompress_failed(
    tool: &str,
    path: &Path,
    status: &dyn std::fmt::Display,
    stderr: &str,
) -> String {
    format!("{tool} -dc {} failed ({status}): {stderr}", path.display())
}

/// Ours: a module file the ELF reader can't make sense of (`what`: where
/// it stopped).
pub fn not_an_elf_module(what: &str) -> String {
    format!("not a valid ELF module: {what}")
}

/// Ours: an ELF section larger than its reader's cap (`cap` bytes).
pub fn elf_section_too_large(name: &str, cap: u64) -> String {
    format!("ELF section {name} is larger than {cap} bytes")
}
