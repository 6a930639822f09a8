//! Whether the kernel was built with clang, which makes upstream append
//! ` LLVM=1` to the make command: the `.comment` section of
//! `$kernel_source_dir/vmlinux` mentions clang, or (without a vmlinux) the
//! kernel config contains `CONFIG_CC_IS_CLANG=y`.

use std::path::Path;

use crate::observe::elf;

/// The most of a `.comment` section read: it names a few compilers.
const COMMENT_CAP: u64 = 16 << 20;

/// Upstream's clang test for the kernel at `kernel_source_dir`.
pub fn kernel_uses_clang(kernel_source_dir: &str, kernel_config: &str) -> bool {
    let vmlinux = Path::new(kernel_source_dir).join("vmlinux");
    if !kernel_source_dir.is_empty() && vmlinux.exists() {
        return elf_comment(&vmlinux).is_some_and(|c| contains(&c, b"clang"));
    }
    if !kernel_config.is_empty() {
        if let Ok(data) = crate::fs::read_regular(Path::new(kernel_config), 16 << 20) {
            return contains(&data, b"CONFIG_CC_IS_CLANG=y");
        }
    }
    false
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The bytes of the `.comment` section of an ELF file, or None when it is
/// not a readable ELF file or has no such section: such a vmlinux does not
/// say clang, which is all the caller asks (the reason goes to the debug
/// log).
fn elf_comment(path: &Path) -> Option<Vec<u8>> {
    elf::file_section(path, ".comment", COMMENT_CAP)
        .inspect_err(|e| log::debug!("no .comment read: {e}"))
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_flag_and_vmlinux_comment() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join(".config");
        std::fs::write(&cfg, "CONFIG_X=y\nCONFIG_CC_IS_CLANG=y\n").unwrap();
        let d = dir.path().to_str().unwrap();
        let c = cfg.to_str().unwrap();
        assert!(kernel_uses_clang(d, c));
        std::fs::write(&cfg, "CONFIG_CC_IS_GCC=y\n").unwrap();
        assert!(!kernel_uses_clang(d, c));
        assert!(!kernel_uses_clang(d, "/nonexistent/config"));
        // A vmlinux takes precedence: our own test binary is an ELF whose
        // .comment names the compilers that built it (rustc/gcc, not clang
        // in the normal case); a non-ELF vmlinux never says clang.
        std::fs::write(&cfg, "CONFIG_CC_IS_CLANG=y\n").unwrap();
        std::fs::write(dir.path().join("vmlinux"), b"not an elf").unwrap();
        assert!(!kernel_uses_clang(d, c));
        let exe = std::env::current_exe().unwrap();
        let comment = elf_comment(&exe).expect("test binary has a .comment section");
        std::fs::copy(&exe, dir.path().join("vmlinux")).unwrap();
        assert_eq!(kernel_uses_clang(d, c), contains(&comment, b"clang"));
    }
}
