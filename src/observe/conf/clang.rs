//! Whether the kernel was built with clang, which makes upstream append
//! ` LLVM=1` to the make command: the `.comment` section of
//! `$kernel_source_dir/vmlinux` mentions clang, or (without a vmlinux) the
//! kernel config contains `CONFIG_CC_IS_CLANG=y`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

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

/// The bytes of the `.comment` section of an ELF file (32/64-bit, either
/// byte order), or None when it is not ELF or has no such section.
fn elf_comment(path: &Path) -> Option<Vec<u8>> {
    let mut f = File::open(path).ok()?;
    let mut ident = [0u8; 64];
    f.read_exact(&mut ident).ok()?;
    if &ident[..4] != b"\x7fELF" {
        return None;
    }
    let wide = match ident[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match ident[5] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let rd = |b: &[u8], off: usize, len: usize| -> u64 {
        let s = &b[off..off + len];
        let mut v = 0u64;
        if big {
            for &x in s {
                v = (v << 8) | u64::from(x);
            }
        } else {
            for &x in s.iter().rev() {
                v = (v << 8) | u64::from(x);
            }
        }
        v
    };
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (
            rd(&ident, 0x28, 8),
            rd(&ident, 0x3a, 2),
            rd(&ident, 0x3c, 2),
            rd(&ident, 0x3e, 2),
        )
    } else {
        (
            rd(&ident, 0x20, 4),
            rd(&ident, 0x2e, 2),
            rd(&ident, 0x30, 2),
            rd(&ident, 0x32, 2),
        )
    };
    if shnum == 0 || shnum > 65_535 || shentsize < if wide { 64 } else { 40 } || shstrndx >= shnum {
        return None;
    }
    let mut table = vec![0u8; usize::try_from(shentsize * shnum).ok()?];
    f.seek(SeekFrom::Start(shoff)).ok()?;
    f.read_exact(&mut table).ok()?;
    // (name offset, file offset, size) of section i.
    let section = |i: u64| -> (u64, u64, u64) {
        let base = (i * shentsize) as usize;
        if wide {
            (
                rd(&table, base, 4),
                rd(&table, base + 0x18, 8),
                rd(&table, base + 0x20, 8),
            )
        } else {
            (
                rd(&table, base, 4),
                rd(&table, base + 0x10, 4),
                rd(&table, base + 0x14, 4),
            )
        }
    };
    let read_at = |f: &mut File, off: u64, size: u64| -> Option<Vec<u8>> {
        if size > 16 << 20 {
            return None;
        }
        let mut buf = vec![0u8; size as usize];
        f.seek(SeekFrom::Start(off)).ok()?;
        f.read_exact(&mut buf).ok()?;
        Some(buf)
    };
    let (_, stroff, strsize) = section(shstrndx);
    let names = read_at(&mut f, stroff, strsize)?;
    for i in 0..shnum {
        let (name, off, size) = section(i);
        let name = names.get(name as usize..)?;
        if name.starts_with(b".comment\0") {
            return read_at(&mut f, off, size);
        }
    }
    None
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
