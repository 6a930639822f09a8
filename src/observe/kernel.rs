//! Facts about one kernel under an install tree: where its headers are,
//! what its configuration says, which compression its modules use, whether
//! it is still installed. Every path here is a host path (already re-based
//! under `--root` by the caller); nothing here writes.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::layout::Root;
use crate::observe::version::sort_v_cmp;
use crate::text;

/// One kernel release as DKMS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// The release string (`uname -r` form), e.g. `6.1.0-9-amd64`.
    pub version: String,
    /// The modules tree holding `<version>/` (`/lib/modules` normally).
    pub install_tree: PathBuf,
    /// The kernel headers / build tree: `<install_tree>/<version>/build`
    /// unless `--kernelsourcedir` overrode it.
    pub source_dir: PathBuf,
}

impl Kernel {
    /// The kernel `kver` under `install_tree`; `source_dir_override` is
    /// `--kernelsourcedir` (upstream then uses it for every kernel).
    pub fn new(install_tree: &Path, kver: &str, source_dir_override: Option<&Path>) -> Kernel {
        let source_dir = match source_dir_override {
            Some(dir) => dir.to_path_buf(),
            None => install_tree.join(kver).join("build"),
        };
        Kernel {
            version: kver.to_string(),
            install_tree: install_tree.to_path_buf(),
            source_dir,
        }
    }

    /// Like [`Kernel::new`], for a tree inside `root`: the `build` link
    /// usually points at an absolute path (`/usr/src/linux-headers-K`),
    /// which must be followed inside the root rather than on the host.
    /// With `root` = `/` this is exactly [`Kernel::new`].
    pub fn rooted(
        root: &Root,
        install_tree: &Path,
        kver: &str,
        source_dir_override: Option<&Path>,
    ) -> Kernel {
        let mut k = Kernel::new(install_tree, kver, source_dir_override);
        if source_dir_override.is_none() && !root.is_slash() {
            // Follow a bounded chain of links so a loop cannot hang us.
            for _ in 0..16 {
                match root.read_link(&k.source_dir) {
                    Some(target) => k.source_dir = target,
                    None => break,
                }
            }
        }
        k
    }

    /// `<install_tree>/<version>`: the kernel's modules directory.
    pub fn modules_dir(&self) -> PathBuf {
        self.install_tree.join(&self.version)
    }

    /// Upstream's `_check_kernel_dir`: the headers are usable when
    /// `<source_dir>/include` exists.
    pub fn has_headers(&self) -> bool {
        self.source_dir.join("include").exists()
    }

    /// The kernel configuration upstream reads (`kernel_config`):
    /// `include/config/auto.conf` in the source dir if present, else `.config`.
    pub fn config_path(&self) -> PathBuf {
        let auto = self.source_dir.join("include/config/auto.conf");
        if auto.exists() {
            auto
        } else {
            self.source_dir.join(".config")
        }
    }

    /// The value of `name` (e.g. `CONFIG_MODULE_SIG_HASH`) in
    /// [`Kernel::config_path`], surrounding double quotes removed; `None`
    /// when unset or the file is missing.
    pub fn config_value(&self, name: &str) -> Option<String> {
        config_file_value(&self.config_path(), name)
    }

    /// Upstream's BUILD_EXCLUSIVE_CONFIG test `grep -q "^NAME=[ym]"` on
    /// [`Kernel::config_path`]. Upstream skips the whole check when the
    /// file does not exist; callers test `config_path().exists()` first.
    pub fn config_enabled(&self, name: &str) -> bool {
        config_file_enables(&self.config_path(), name)
    }

    /// Upstream's `set_module_suffix`: the compression suffix (`""`,
    /// `".gz"`, `".xz"`, `".zst"`) the kernel's own modules use, found by
    /// looking for any `*.ko.gz`, `*.ko.xz`, `*.ko.zst` under the modules
    /// directory. Upstream's later checks overwrite earlier ones, so zst
    /// beats xz beats gz. Symlinks (`build`, `source`) are not followed.
    pub fn module_suffix(&self) -> &'static str {
        let (mut xz, mut gz) = (false, false);
        let mut stack = vec![self.modules_dir()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.as_bytes();
                if name.ends_with(b".ko.zst") {
                    return ".zst";
                }
                xz |= name.ends_with(b".ko.xz");
                gz |= name.ends_with(b".ko.gz");
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
        if xz {
            ".xz"
        } else if gz {
            ".gz"
        } else {
            ""
        }
    }

    /// Whether the kernel is still installed, for `prune`: its
    /// `<modules_dir>/kernel` directory exists or `boot_dir/vmlinuz-K` does.
    pub fn is_installed(&self, boot_dir: &Path) -> bool {
        self.modules_dir().join("kernel").is_dir()
            || boot_dir.join(format!("vmlinuz-{}", self.version)).exists()
    }

    /// Whether `<install_tree>/<version>` is a directory; upstream refuses
    /// to install onto a kernel without one.
    pub fn dir_exists(&self) -> bool {
        self.modules_dir().is_dir()
    }
}

/// What one run knows about a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFacts {
    /// Where its modules and headers are.
    pub kernel: Kernel,
    /// `<install_tree>/<k>` is a directory.
    pub dir: bool,
    /// The headers are usable (`<source_dir>/include` exists).
    pub headers: bool,
    /// The image is installed (`<k>/kernel` or `/boot/vmlinuz-<k>`).
    pub image: bool,
    /// `<install_tree>/<k>/modules.dep` exists.
    pub modules_dep: bool,
    /// The kernel configuration used (`--config`, auto.conf or .config).
    pub config: PathBuf,
    /// The compression suffix its modules use.
    pub suffix: &'static str,
    /// `/boot/System.map-<k>` as a host path, when it exists.
    pub system_map: Option<PathBuf>,
}

impl KernelFacts {
    /// Observe `kernel` (`root` locates `/boot`; `config` is `--config`).
    pub fn observe(kernel: Kernel, root: &Root, config: Option<&Path>) -> KernelFacts {
        let boot = root.join("/boot");
        let map = boot.join(format!("System.map-{}", kernel.version));
        KernelFacts {
            dir: kernel.dir_exists(),
            headers: kernel.has_headers(),
            image: kernel.is_installed(&boot),
            modules_dep: kernel.modules_dir().join("modules.dep").is_file(),
            config: config
                .map(Path::to_path_buf)
                .unwrap_or_else(|| kernel.config_path()),
            suffix: kernel.module_suffix(),
            system_map: map.is_file().then_some(map),
            kernel,
        }
    }

    /// The release string.
    pub fn version(&self) -> &str {
        &self.kernel.version
    }
}

/// The kernels present under `install_tree`: the names of its
/// subdirectories (links to directories count), in `sort -V` order. Names
/// that are not valid UTF-8 are skipped.
pub fn list_kernels(install_tree: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(install_tree) else {
        return Vec::new();
    };
    let mut kernels: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    kernels.sort_by(|a, b| sort_v_cmp(a, b));
    kernels
}

/// The package a user installs to get the headers for `kver`, named for
/// messages. `distribution` is upstream's `running_distribution` (the
/// os-release `ID`, or the first `ID_LIKE` word).
pub fn headers_package(distribution: &str, kver: &str) -> String {
    let d = distribution.to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| d.starts_with(p));
    if starts(&["debian", "ubuntu"]) {
        format!("linux-headers-{kver}")
    } else if starts(&["fedora", "rhel", "centos", "ovm", "rocky", "almalinux"]) || d == "ol" {
        format!("kernel-devel-{kver}")
    } else if starts(&["sles", "suse", "opensuse"]) {
        // SUSE names the package after the flavour: 6.4.0-150600.23.7-default.
        let flavour = kver
            .rsplit('-')
            .next()
            .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_alphabetic()));
        format!("kernel-{}-devel", flavour.unwrap_or("default"))
    } else if d.starts_with("arch") {
        // Arch's variant kernels end in their name: 6.6.31-1-lts, 6.9.1-zen1-1-zen.
        match kver.rsplit('-').next() {
            Some(v @ ("lts" | "zen" | "hardened" | "rt")) => format!("linux-{v}-headers"),
            _ => "linux-headers".to_string(),
        }
    } else {
        text::headers_package_unknown(kver)
    }
}

/// The running kernel's release (`uname -r`), without spawning a process.
pub fn running_kernel() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// The machine architecture (`uname -m`), without spawning a process.
pub fn machine_arch() -> String {
    rustix::system::uname()
        .machine()
        .to_string_lossy()
        .into_owned()
}

/// The value of the last `name=...` line of a kconfig-style file (as if
/// the file were sourced), surrounding double quotes removed.
pub fn config_file_value(file: &Path, name: &str) -> Option<String> {
    let data = crate::fs::read_regular(file, 16 << 20).ok()?;
    let text = String::from_utf8_lossy(&data);
    let mut found = None;
    for line in text.lines() {
        if let Some(value) = line
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
        {
            found = Some(value);
        }
    }
    let value = found?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some(value.to_string())
}

/// Upstream's `grep -q "^NAME=[ym]" file`: true when some line sets `name`
/// to a value starting with `y` or `m`.
pub fn config_file_enables(file: &Path, name: &str) -> bool {
    let Ok(data) = crate::fs::read_regular(file, 16 << 20) else {
        return false;
    };
    let prefix = [name.as_bytes(), b"="].concat();
    data.split(|&b| b == b'\n').any(|line| {
        line.strip_prefix(&prefix[..])
            .is_some_and(|v| matches!(v.first(), Some(b'y' | b'm')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn touch(p: &Path) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"").unwrap();
    }

    #[test]
    fn source_dir_defaults_to_build_link() {
        let k = Kernel::new(Path::new("/lib/modules"), "6.1.0-9-amd64", None);
        assert_eq!(
            k.source_dir,
            PathBuf::from("/lib/modules/6.1.0-9-amd64/build")
        );
        let k = Kernel::new(
            Path::new("/lib/modules"),
            "6.1.0-9-amd64",
            Some(Path::new("/src/linux")),
        );
        assert_eq!(k.source_dir, PathBuf::from("/src/linux"));
    }

    #[test]
    fn rooted_follows_absolute_build_link_inside_root() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let headers = t.path().join("usr/src/linux-headers-6.1.0-9-amd64");
        fs::create_dir_all(headers.join("include")).unwrap();
        let kdir = t.path().join("lib/modules/6.1.0-9-amd64");
        fs::create_dir_all(&kdir).unwrap();
        std::os::unix::fs::symlink("/usr/src/linux-headers-6.1.0-9-amd64", kdir.join("build"))
            .unwrap();
        let k = Kernel::rooted(&root, &t.path().join("lib/modules"), "6.1.0-9-amd64", None);
        assert_eq!(k.source_dir, headers);
        assert!(k.has_headers());
        // With an explicit source dir nothing is re-based.
        let k = Kernel::rooted(
            &root,
            &t.path().join("lib/modules"),
            "6.1.0-9-amd64",
            Some(Path::new("/x")),
        );
        assert_eq!(k.source_dir, PathBuf::from("/x"));
    }

    #[test]
    fn headers_and_config() {
        let t = tempfile::tempdir().unwrap();
        let k = Kernel::new(t.path(), "6.1.0-9-amd64", None);
        assert!(!k.has_headers());
        assert_eq!(k.config_path(), k.source_dir.join(".config"));
        assert_eq!(k.config_value("CONFIG_MODULE_SIG_HASH"), None);

        fs::create_dir_all(k.source_dir.join("include")).unwrap();
        assert!(k.has_headers());
        fs::write(
            k.source_dir.join(".config"),
            "# CONFIG_FOO is not set\nCONFIG_MODULE_SIG_HASH=\"sha512\"\nCONFIG_CC_IS_CLANG=y\nCONFIG_M=m\n",
        )
        .unwrap();
        assert_eq!(
            k.config_value("CONFIG_MODULE_SIG_HASH").as_deref(),
            Some("sha512")
        );
        assert_eq!(k.config_value("CONFIG_CC_IS_CLANG").as_deref(), Some("y"));
        assert_eq!(k.config_value("CONFIG_CC"), None);
        assert_eq!(k.config_value("CONFIG_FOO"), None);
        assert!(k.config_enabled("CONFIG_CC_IS_CLANG"));
        assert!(k.config_enabled("CONFIG_M"));
        assert!(!k.config_enabled("CONFIG_FOO"));
        assert!(!k.config_enabled("CONFIG_MODULE_SIG_HASH"));

        // auto.conf, once generated, takes precedence over .config.
        let auto = k.source_dir.join("include/config/auto.conf");
        touch(&auto);
        fs::write(
            &auto,
            "CONFIG_MODULE_SIG_HASH=sha256\nCONFIG_MODULE_SIG_KEY=\"certs/signing_key.pem\"\n",
        )
        .unwrap();
        assert_eq!(k.config_path(), auto);
        assert_eq!(
            k.config_value("CONFIG_MODULE_SIG_HASH").as_deref(),
            Some("sha256")
        );
        assert_eq!(
            k.config_value("CONFIG_MODULE_SIG_KEY").as_deref(),
            Some("certs/signing_key.pem")
        );
        assert!(!k.config_enabled("CONFIG_CC_IS_CLANG"));
    }

    #[rstest]
    #[case(&[], "")]
    #[case(&["kernel/drivers/a.ko"], "")]
    #[case(&["kernel/drivers/net/a.ko.gz"], ".gz")]
    #[case(&["kernel/a.ko.xz", "kernel/b/c.ko.gz"], ".xz")]
    #[case(&["kernel/a.ko.gz", "kernel/x/y/z/deep.ko.zst", "kernel/b.ko.xz"], ".zst")]
    #[case(&["updates/dkms/m.ko.zst"], ".zst")]
    #[case(&["kernel/a.ko.gzip", "kernel/notes.xz", "kernel/ko.zst.txt"], "")]
    fn module_suffix_follows_the_kernel(#[case] files: &[&str], #[case] want: &str) {
        let t = tempfile::tempdir().unwrap();
        let k = Kernel::new(t.path(), "6.1.0-9-amd64", None);
        fs::create_dir_all(k.modules_dir()).unwrap();
        for f in files {
            touch(&k.modules_dir().join(f));
        }
        assert_eq!(k.module_suffix(), want);
    }

    #[test]
    fn module_suffix_does_not_follow_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let headers = t.path().join("headers");
        touch(&headers.join("scripts/x.ko.zst"));
        let k = Kernel::new(&t.path().join("modules"), "6.1.0-9-amd64", None);
        touch(&k.modules_dir().join("kernel/a.ko.xz"));
        std::os::unix::fs::symlink(&headers, k.modules_dir().join("build")).unwrap();
        std::os::unix::fs::symlink(&headers, k.modules_dir().join("source")).unwrap();
        assert_eq!(k.module_suffix(), ".xz");
        assert_eq!(Kernel::new(t.path(), "absent", None).module_suffix(), "");
    }

    #[test]
    fn installed_and_present() {
        let t = tempfile::tempdir().unwrap();
        let boot = t.path().join("boot");
        fs::create_dir_all(&boot).unwrap();
        let tree = t.path().join("lib/modules");
        let k = Kernel::new(&tree, "6.1.0-9-amd64", None);
        assert!(!k.dir_exists());
        assert!(!k.is_installed(&boot));

        fs::create_dir_all(k.modules_dir().join("updates/dkms")).unwrap();
        assert!(k.dir_exists());
        assert!(
            !k.is_installed(&boot),
            "leftover dkms modules alone do not make a kernel installed"
        );

        touch(&boot.join("vmlinuz-6.1.0-9-amd64"));
        assert!(k.is_installed(&boot));
        fs::remove_file(boot.join("vmlinuz-6.1.0-9-amd64")).unwrap();
        fs::create_dir_all(k.modules_dir().join("kernel")).unwrap();
        assert!(k.is_installed(&boot));
    }

    #[test]
    fn lists_kernels_in_version_order() {
        let t = tempfile::tempdir().unwrap();
        for d in [
            "6.1.0-9-amd64",
            "6.1.0-55-amd64",
            "5.10.0-28-amd64",
            "6.12.9+bpo-amd64",
            "6.12.118+deb13-amd64",
            "6.12.118+deb13-rt-amd64",
            "6.12.43+deb13-amd64",
            "6.8.0-51-generic",
            "6.8.0-51-lowlatency",
        ] {
            fs::create_dir_all(t.path().join(d)).unwrap();
        }
        touch(&t.path().join("not-a-kernel.txt"));
        std::os::unix::fs::symlink(
            t.path().join("6.1.0-55-amd64"),
            t.path().join("6.1.0-56-amd64"),
        )
        .unwrap();
        std::os::unix::fs::symlink(t.path().join("gone"), t.path().join("6.1.0-1-amd64")).unwrap();
        assert_eq!(
            list_kernels(t.path()),
            [
                "5.10.0-28-amd64",
                "6.1.0-9-amd64",
                "6.1.0-55-amd64",
                "6.1.0-56-amd64",
                "6.8.0-51-generic",
                "6.8.0-51-lowlatency",
                "6.12.9+bpo-amd64",
                "6.12.43+deb13-amd64",
                "6.12.118+deb13-amd64",
                "6.12.118+deb13-rt-amd64",
            ]
        );
        assert!(list_kernels(&t.path().join("missing")).is_empty());
    }

    #[rstest]
    #[case("debian", "6.1.0-9-amd64", "linux-headers-6.1.0-9-amd64")]
    #[case("ubuntu", "6.8.0-31-generic", "linux-headers-6.8.0-31-generic")]
    #[case("ubuntu", "6.8.0-51-lowlatency", "linux-headers-6.8.0-51-lowlatency")]
    #[case("debian", "6.12.118+deb13-amd64", "linux-headers-6.12.118+deb13-amd64")]
    #[case(
        "debian",
        "6.12.118+deb13-rt-amd64",
        "linux-headers-6.12.118+deb13-rt-amd64"
    )]
    #[case(
        "debian",
        "6.12.118+deb13-cloud-amd64",
        "linux-headers-6.12.118+deb13-cloud-amd64"
    )]
    #[case(
        "fedora",
        "6.8.9-300.fc40.x86_64",
        "kernel-devel-6.8.9-300.fc40.x86_64"
    )]
    #[case("rhel", "5.14.0-427.el9.x86_64", "kernel-devel-5.14.0-427.el9.x86_64")]
    #[case(
        "centos",
        "5.14.0-427.el9.x86_64",
        "kernel-devel-5.14.0-427.el9.x86_64"
    )]
    #[case("suse", "6.4.0-150600.23.7-default", "kernel-default-devel")]
    #[case("opensuse", "6.4.0-150600.23.7-azure", "kernel-azure-devel")]
    #[case("sles", "6.4.0-150600.23.7", "kernel-default-devel")]
    #[case("arch", "6.9.1-arch1-1", "linux-headers")]
    #[case("arch", "6.6.31-1-lts", "linux-lts-headers")]
    #[case("gentoo", "6.6.30-gentoo", "kernel headers for 6.6.30-gentoo")]
    fn headers_package_names(#[case] distro: &str, #[case] kver: &str, #[case] want: &str) {
        assert_eq!(headers_package(distro, kver), want);
    }

    #[test]
    fn uname_facts() {
        assert!(!running_kernel().is_empty());
        assert!(!machine_arch().is_empty());
        assert!(!running_kernel().contains('\n'));
    }

    /// Debian's real headers, read-only, when installed (`.ci/run` installs
    /// them).
    #[test]
    fn real_debian_headers_if_present() {
        let dirs: Vec<_> = glob::glob("/usr/src/linux-headers-6.1.0-*-amd64")
            .expect("a valid pattern")
            .flatten()
            .collect();
        if dirs.is_empty() {
            crate::test_support::skip_unless_ci(
                "real_debian_headers_if_present",
                "no /usr/src/linux-headers-6.1.0-*-amd64 (.ci/run installs two)",
            );
            return;
        }
        for dir in dirs {
            let kver = dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("linux-headers-")
                .to_string();
            let k = Kernel::new(Path::new("/lib/modules"), &kver, Some(&dir));
            assert!(k.has_headers(), "{}", dir.display());
            assert!(k.config_path().exists());
            assert_eq!(
                k.config_value("CONFIG_MODULE_SIG_HASH").as_deref(),
                Some("sha256")
            );
            assert!(k.config_enabled("CONFIG_MODULES"));
            assert!(!k.config_enabled("CONFIG_CC_IS_CLANG"));
            assert!(k.config_value("CONFIG_MODULE_SIG_KEY").is_some());
        }
    }
}
