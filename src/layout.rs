//! Where things live: the `--root` prefix and every name of the on-disk
//! layout, in one place. Upstream's layout (other tools read it) and our own
//! additions (the queue, the lock, temporary names) are both spelled here
//! and nowhere else; this module computes paths and never touches the disk.
//!
//! - `<dkms_tree>/<m>/<v>/source -> <source_tree>/<m>-<v>`
//! - `<dkms_tree>/<m>/<v>/build/` (upstream's build directory, `make.log`)
//! - `<dkms_tree>/<m>/<v>/<kver>/<arch>/module/<dest>.ko[.gz|.xz|.zst]`
//! - `<dkms_tree>/<m>/kernel-<kver>-<arch> -> <v>/<kver>/<arch>` ("installed")
//! - `<dkms_tree>/<m>/original_module/<kver>/<arch>/<file>` + `<file>.origin`
//! - `<dkms_tree>/.dkms-hook/{pending,failed,depmod-pending}/`, `<dkms_tree>/.dkms-hook.lock`
//! - `/usr/share/dkms-hook/prebuilt/<m>_<v>_<k>_<a>.json`: shipped by a
//!   binary module package (`dkms-hook package`), read by `dkms status`
//! - `<dkms_tree>/<m>/<v>/bmdeb/`: where `dkms mkbmdeb` leaves its package

use std::path::{Component, Path, PathBuf};

/// The root prefix (`/` normally). Absolute paths from configuration,
/// defaults and symlink targets are re-based under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
}

impl Default for Root {
    fn default() -> Self {
        Root {
            dir: PathBuf::from("/"),
        }
    }
}

impl Root {
    /// A root at `dir` (`/` means no prefix).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Root { dir: dir.into() }
    }

    /// The prefix directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when there is no prefix.
    pub fn is_slash(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// `p` (an absolute path as seen inside the root) as a path on this host.
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        let p = p.as_ref();
        if self.is_slash() {
            return p.to_path_buf();
        }
        let rel: PathBuf = p
            .components()
            .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
            .collect();
        self.dir.join(rel)
    }

    /// The inverse of [`Root::join`]: a host path under the root as the path
    /// seen inside it (used for symlink targets written into the trees).
    pub fn inside(&self, host: &Path) -> PathBuf {
        if self.is_slash() {
            return host.to_path_buf();
        }
        match host.strip_prefix(&self.dir) {
            Ok(rest) => Path::new("/").join(rest),
            Err(_) => host.to_path_buf(),
        }
    }

    /// Resolve the target of symlink `link` as the system inside the root
    /// would: absolute targets are re-based under the root, relative ones are
    /// taken from the link's directory. `None` if `link` is not a symlink.
    pub fn read_link(&self, link: &Path) -> Option<PathBuf> {
        let target = std::fs::read_link(link).ok()?;
        if target.is_absolute() {
            Some(self.join(&target))
        } else {
            Some(link.parent().unwrap_or(Path::new("/")).join(target))
        }
    }
}

/// Prefix of an unpublished build result: `<k>/.tmp_<arch>_XXXXXX`.
pub const TMP_BUILD: &str = ".tmp_";
/// Prefix of a build swapped out by a rebuild: `<k>/.old_<arch>_<pid>`.
pub const OLD_BUILD: &str = ".old_";
/// Infix of a file being placed atomically: `.<name>.dkms-XXXXXX`.
pub const PLACING: &str = ".dkms-";
/// Suffix of the file recording where an archived original came from.
pub const ORIGIN: &str = ".origin";
/// Prefix of the kernel links: `kernel-<kver>-<arch>`.
pub const KERNEL_LINK: &str = "kernel-";
/// The directory holding archived originals under `<dkms_tree>/<m>`.
pub const ORIGINAL_MODULE: &str = "original_module";
/// Directories under `<m>/<v>` that are not kernels (upstream's list for
/// "delete the version completely").
pub const NOT_KERNELS: &[&str] = &[
    "build",
    "tarball",
    "driver_disk",
    "rpm",
    "deb",
    "source",
    BMDEB,
];
/// The directory under `<m>/<v>` where `dkms mkbmdeb` (Debian's old
/// interface) leaves the binary module package it makes.
pub const BMDEB: &str = "bmdeb";
/// Where binary module packages ship the record of what they provide (as
/// seen inside the root): one JSON file per module, version, kernel and
/// arch, read by `dkms status` and the hooks on machines without the source.
pub const PREBUILT_DIR: &str = "/usr/share/dkms-hook/prebuilt";
/// The lock file that serialises publishers of one package repository.
pub const PUBLISH_LOCK: &str = ".dkms-hook-publish.lock";

/// The name of the record a binary module package of m/v for k/a ships in
/// [`PREBUILT_DIR`]. Readers trust the file's content, not its name; the
/// name only keeps two packages from shipping the same path.
pub fn prebuilt_file_name(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("{m}_{v}_{k}_{a}.json")
}

/// The three trees and every name under them, as host paths.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The `--root` prefix.
    pub root: Root,
    /// `dkms_tree`.
    pub dkms: PathBuf,
    /// `source_tree`.
    pub source: PathBuf,
    /// `install_tree`.
    pub install: PathBuf,
}

impl Layout {
    /// The default trees under `/nonexistent`: for tests whose World is
    /// built by hand and must never read the machine's trees.
    #[cfg(test)]
    pub fn nonexistent() -> Self {
        Layout {
            root: Root::new("/nonexistent"),
            dkms: "/nonexistent/var/lib/dkms".into(),
            source: "/nonexistent/usr/src".into(),
            install: "/nonexistent/lib/modules".into(),
        }
    }

    /// `<dkms_tree>/<m>`.
    pub fn module_dir(&self, m: &str) -> PathBuf {
        self.dkms.join(m)
    }

    /// `<dkms_tree>/<m>/<v>`.
    pub fn version_dir(&self, m: &str, v: &str) -> PathBuf {
        self.dkms.join(m).join(v)
    }

    /// `<dkms_tree>/<m>/<v>/source` (the link itself).
    pub fn source_link(&self, m: &str, v: &str) -> PathBuf {
        self.version_dir(m, v).join("source")
    }

    /// `<dkms_tree>/<m>/<v>/build`: upstream's build directory.
    pub fn build_dir(&self, m: &str, v: &str) -> PathBuf {
        self.version_dir(m, v).join("build")
    }

    /// `<source_tree>/<m>-<v>`.
    pub fn source_tree_dir(&self, m: &str, v: &str) -> PathBuf {
        self.source.join(format!("{m}-{v}"))
    }

    /// `<dkms_tree>/<m>/<v>/<k>`.
    pub fn kernel_dir(&self, m: &str, v: &str, k: &str) -> PathBuf {
        self.version_dir(m, v).join(k)
    }

    /// `<dkms_tree>/<m>/<v>/<k>/<a>`.
    pub fn base_dir(&self, m: &str, v: &str, k: &str, a: &str) -> PathBuf {
        self.version_dir(m, v).join(k).join(a)
    }

    /// `<dkms_tree>/<m>/kernel-<k>-<a>`.
    pub fn kernel_link(&self, m: &str, k: &str, a: &str) -> PathBuf {
        self.module_dir(m).join(kernel_link_name(k, a))
    }

    /// `<dkms_tree>/<m>/original_module`.
    pub fn originals_dir(&self, m: &str) -> PathBuf {
        self.module_dir(m).join(ORIGINAL_MODULE)
    }

    /// `<dkms_tree>/<m>/original_module/<k>/<a>`.
    pub fn original_dir(&self, m: &str, k: &str, a: &str) -> PathBuf {
        self.originals_dir(m).join(k).join(a)
    }

    /// `<install_tree>/<k>`.
    pub fn lib_tree(&self, k: &str) -> PathBuf {
        self.install.join(k)
    }

    /// `<dkms_tree>/.dkms-hook`: our state (queue, markers).
    pub fn hook_dir(&self) -> PathBuf {
        self.dkms.join(".dkms-hook")
    }

    /// Builds being deleted: renamed here first, so that a run killed
    /// while their files go leaves no half build in the tree (see
    /// `exec::gone`).
    pub fn gone_dir(&self) -> PathBuf {
        self.hook_dir().join("gone")
    }

    /// Deferred work records.
    pub fn pending_dir(&self) -> PathBuf {
        self.hook_dir().join("pending")
    }

    /// Failure records.
    pub fn failed_dir(&self) -> PathBuf {
        self.hook_dir().join("failed")
    }

    /// Records of kernels the boot guard keeps from booting.
    pub fn guard_dir(&self) -> PathBuf {
        self.hook_dir().join("guard")
    }

    /// The boot loader settings the boot guard changed.
    pub fn boot_change_file(&self) -> PathBuf {
        self.hook_dir().join("boot-change.json")
    }

    /// Markers of kernels whose depmod still has to run.
    pub fn depmod_pending_dir(&self) -> PathBuf {
        self.hook_dir().join("depmod-pending")
    }

    /// The writers' lock file.
    pub fn lock_file(&self) -> PathBuf {
        self.dkms.join(".dkms-hook.lock")
    }

    /// [`PREBUILT_DIR`] as a host path.
    pub fn prebuilt_dir(&self) -> PathBuf {
        self.root.join(PREBUILT_DIR)
    }

    /// `<dkms_tree>/<m>/<v>/bmdeb`: `dkms mkbmdeb`'s output directory.
    pub fn bmdeb_dir(&self, m: &str, v: &str) -> PathBuf {
        self.version_dir(m, v).join(BMDEB)
    }

    /// `<dkms_tree>/post_transaction.log`.
    pub fn post_transaction_log(&self) -> PathBuf {
        self.dkms.join("post_transaction.log")
    }
}

/// `kernel-<k>-<a>`.
pub fn kernel_link_name(k: &str, a: &str) -> String {
    format!("{KERNEL_LINK}{k}-{a}")
}

/// Upstream's kernel-dir glob `+([0-9]).*`: one or more digits, then a dot.
pub fn looks_like_kernel(name: &str) -> bool {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && name.as_bytes().get(digits) == Some(&b'.')
}

/// True if `name` is safe as a single path component for a module name,
/// version, kernel version or arch: not empty, not `.`/`..`, no `/`, no
/// whitespace or control characters, no leading `-`, and none of the
/// characters a shell gives meaning to (`` ; & | $ ` ' " \ < > ( ) { } * ? [ ] ! # ``),
/// nor a leading `~`.
/// The same rule holds for names from the command line and names read
/// from disk.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('-')
        && !name.starts_with('~')
        && !name
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control() || SHELL_SPECIAL.contains(c))
}

/// Characters a shell gives meaning to; never allowed in a name.
const SHELL_SPECIAL: &str = ";&|$`'\"\\<>(){}*?[]!#";

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/", "/var/lib/dkms", "/var/lib/dkms")]
    #[case("/tmp/r", "/var/lib/dkms", "/tmp/r/var/lib/dkms")]
    #[case("/tmp/r", "/", "/tmp/r")]
    fn join_rebases(#[case] root: &str, #[case] p: &str, #[case] want: &str) {
        assert_eq!(Root::new(root).join(p), PathBuf::from(want));
    }

    #[rstest]
    #[case("v4l2loopback", true)]
    #[case("0.12.7", true)]
    #[case("6.1.0-13-amd64", true)]
    #[case("5.14.0-427.el9.x86_64+debug", true)]
    #[case("a/b", false)]
    #[case("..", false)]
    #[case(".", false)]
    #[case("a b", false)]
    #[case("a\nb", false)]
    #[case("-rf", false)]
    #[case("", false)]
    #[case("6.1;reboot", false)]
    #[case("$(id)", false)]
    #[case("`id`", false)]
    #[case("a|b", false)]
    #[case("a&b", false)]
    #[case("a>b", false)]
    #[case("1.0~rc1", true)]
    #[case("~root", false)]
    fn safe_components(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(is_safe_component(s), ok);
    }

    #[test]
    fn kernel_dir_glob() {
        assert!(looks_like_kernel("6.1.0-56-amd64"));
        assert!(!looks_like_kernel("build"));
        assert!(!looks_like_kernel("build-6.1.0-x86_64"));
        assert!(!looks_like_kernel("6"));
    }
}
