//! One module file as the kernel and `modprobe` see it: how it is
//! compressed (by its first bytes, not its name), its `.modinfo`
//! (vermagic, srcversion, depends) and its appended signature. What `why`,
//! `status --output json` and `sign` read.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::observe::modinfo::{self, ModInfo};
use crate::observe::signature::{self, Signature};

/// The compression of a module file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain ELF file.
    None,
    /// gzip.
    Gzip,
    /// xz.
    Xz,
    /// zstd.
    Zstd,
}

impl Compression {
    /// Judged by the file's first bytes.
    pub fn of_head(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// Its name in messages and JSON (`none`, `gzip`, `xz`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }

    /// The program that decompresses it.
    fn tool(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Xz => Some("xz"),
            Compression::Zstd => Some("zstd"),
        }
    }

    /// The kernel configuration option that makes a kernel (and the tools
    /// built for it) handle modules compressed this way.
    pub fn config_option(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("CONFIG_MODULE_COMPRESS_GZIP"),
            Compression::Xz => Some("CONFIG_MODULE_COMPRESS_XZ"),
            Compression::Zstd => Some("CONFIG_MODULE_COMPRESS_ZSTD"),
        }
    }
}

/// What one module file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// Where it is (host path).
    pub path: PathBuf,
    /// How it is compressed.
    pub compression: Compression,
    /// Its `.modinfo`.
    pub modinfo: ModInfo,
    /// Its signature.
    pub signature: Signature,
}

impl ModuleFile {
    /// Read the module at `path`.
    pub fn read(path: &Path) -> io::Result<ModuleFile> {
        let compression = Compression::of_head(&head(path)?);
        let data = match compression.tool() {
            Some(tool) => modinfo::decompress(tool, path)?,
            None => crate::fs::read_regular(path, 512 << 20)?,
        };
        let info = modinfo::read_modinfo_bytes(&data)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(ModuleFile {
            path: path.to_path_buf(),
            compression,
            modinfo: info,
            signature: signature::read(&data),
        })
    }

    /// The release the module was built for: `vermagic`'s first word.
    pub fn vermagic_release(&self) -> Option<&str> {
        self.modinfo.vermagic()?.split_whitespace().next()
    }

    /// The modules it needs (`depends=`), in order.
    pub fn depends(&self) -> Vec<String> {
        self.modinfo
            .get("depends")
            .unwrap_or("")
            .split(',')
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The first bytes of a regular file.
fn head(path: &Path) -> io::Result<Vec<u8>> {
    let f = crate::fs::open_regular(path)?;
    let mut buf = Vec::with_capacity(8);
    f.take(8).read_to_end(&mut buf)?;
    Ok(buf)
}

/// A module name as the kernel compares them: `-` and `_` are the same.
pub fn normalized(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a file name: `hello.ko.xz` is `hello`.
pub fn name_of_file(file: &str) -> Option<&str> {
    let base = file.rsplit('/').next()?;
    [".ko", ".ko.gz", ".ko.xz", ".ko.zst"]
        .iter()
        .find_map(|s| base.strip_suffix(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_by_magic_and_names() {
        assert_eq!(Compression::of_head(b"\x7fELF"), Compression::None);
        assert_eq!(Compression::of_head(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::of_head(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Compression::Xz
        );
        assert_eq!(
            Compression::of_head(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(name_of_file("kernel/a/hello.ko.xz"), Some("hello"));
        assert_eq!(name_of_file("hello.ko"), Some("hello"));
        assert_eq!(name_of_file("hello.o"), None);
        assert_eq!(normalized("acpi-call"), "acpi_call");
    }
}
