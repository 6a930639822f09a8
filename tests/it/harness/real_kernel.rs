//! The real-kernel side of [`TestRoot`]: the Debian kernel headers `.ci/run`
//! installs (`/usr/src/linux-headers-6.1.0-<N>-amd64`, the two newest; in
//! the Debian 13 root of `slow/trixie_real.rs`, two flavours of
//! `linux-headers-6.12.<N>+deb13-amd64`),
//! kernels in a root whose `build` link leads to them, a small real hello
//! module, and checks of what DKMS installed.
//!
//! Nothing here touches the machine's `/var/lib/dkms`, `/usr/src` or
//! `/lib/modules`; the headers under `/usr/src/linux-headers-*` are only read.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::{in_ci, list_tree, vermagic, write_file, TestRoot};

/// The module location DKMS uses on Debian, whatever dkms.conf says.
pub const DEBIAN_DEST: &str = "updates/dkms";

/// How long one `dkms` call may take once a root has a real kernel: real
/// builds (a Debian package's `configure` probing the kernel) take minutes.
pub const REAL_RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// Order kernel release names by their numeric parts (what `sort -V` does
/// for Debian's `6.1.0-<N>-amd64`).
pub fn version_key(kver: &str) -> Vec<u64> {
    kver.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Where Debian installs the headers for `kver`.
pub fn headers_dir(kver: &str) -> PathBuf {
    PathBuf::from(format!("/usr/src/linux-headers-{kver}"))
}

/// Whether `k` is the release of a Debian amd64 kernel the real tier
/// builds for: Debian 12's `6.1.0-<N>-amd64`, or Debian 13's
/// `6.12.<N>+deb13-amd64` and its `-cloud-amd64` and `-rt-amd64`
/// flavours (also with a point suffix, `+deb13.1`).
pub fn is_debian_kernel(k: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if let Some(abi) = k
        .strip_prefix("6.1.0-")
        .and_then(|r| r.strip_suffix("-amd64"))
    {
        return digits(abi);
    }
    let Some(rest) = k.strip_prefix("6.12.") else {
        return false;
    };
    let Some((patch, tail)) = rest.split_once("+deb13") else {
        return false;
    };
    let tail = tail
        .strip_prefix('.')
        .map(|t| t.trim_start_matches(|c: char| c.is_ascii_digit()))
        .unwrap_or(tail);
    digits(patch) && matches!(tail, "-amd64" | "-cloud-amd64" | "-rt-amd64")
}

/// The two newest Debian amd64 kernels whose headers are installed under
/// `/usr/src/linux-headers-<k>` ([`is_debian_kernel`]), oldest first;
/// flavours of one ABI in the order of their names.
pub fn installed_real_kernels() -> Vec<String> {
    let mut kernels: Vec<String> = fs::read_dir("/usr/src")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_prefix("linux-headers-").map(str::to_string))
                .filter(|k| is_debian_kernel(k))
                .filter(|k| headers_dir(k).join("Makefile").is_file())
                .collect()
        })
        .unwrap_or_default();
    kernels.sort_by(|a, b| version_key(a).cmp(&version_key(b)).then_with(|| a.cmp(b)));
    let skip = kernels.len().saturating_sub(2);
    kernels.split_off(skip)
}

/// The real kernels to test against, or `None` when there are none and the
/// test should be skipped. Under CI (`CI` set) missing headers fail the test.
pub fn require_real_kernels(test: &str) -> Option<Vec<String>> {
    let kernels = installed_real_kernels();
    if kernels.is_empty() {
        assert!(
            !in_ci(),
            "{test}: no /usr/src/linux-headers-<Debian amd64 kernel> installed, but CI is set: .ci/run must install them"
        );
        eprintln!("{test}: skipped: no real kernel headers");
        return None;
    }
    Some(kernels)
}

/// [`require_real_kernels`] for a test about two kernels: under CI both must
/// be there (`.ci/run` installs the two newest headers); elsewhere one is
/// enough and the test covers what one kernel allows.
pub fn require_two_real_kernels(test: &str) -> Option<Vec<String>> {
    let kernels = require_real_kernels(test)?;
    if kernels.len() < 2 {
        assert!(
            !in_ci(),
            "{test}: only {kernels:?} has headers installed, but CI is set: .ci/run must install the two newest linux-headers-6.1.0-*-amd64 (slow/trixie_real.rs: two 6.12 flavours)"
        );
        eprintln!("{test}: only one real kernel ({kernels:?}): the two-kernel part is skipped");
    }
    Some(kernels)
}

/// A relative symlink target that leads from directory `from` to the
/// absolute host path `to` by climbing all the way to `/` first. Used so
/// links inside a root reach the host's headers whether or not the tool
/// re-bases absolute link targets under the root.
fn relative_to_host(from: &Path, to: &Path) -> PathBuf {
    let depth = from
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    let mut rel = PathBuf::new();
    for _ in 0..depth {
        rel.push("..");
    }
    rel.join(to.strip_prefix("/").unwrap_or(to))
}

impl TestRoot {
    /// Adds a real kernel `kver`: its image (see
    /// [`TestRoot::install_kernel_image`]) and, with `headers`, a `build`
    /// link to them: `build -> /usr/src/linux-headers-<kver>`, and the root's
    /// own `usr/src/linux-headers-<kver>` leads to the host's headers, so
    /// the link works both when followed by the OS and when re-based under
    /// the root. The kernel's `.config` is copied to `boot/config-<kver>`.
    /// From then on a run may take [`REAL_RUN_TIMEOUT`].
    pub fn add_real_kernel(&self, kver: &str, headers: Option<&Path>) {
        self.install_kernel_image(kver);
        if let Some(h) = headers {
            let inside_headers = format!("/usr/src/linux-headers-{kver}");
            let in_root = self.path(&inside_headers);
            let parent = in_root.parent().expect("usr/src").to_path_buf();
            symlink(relative_to_host(&parent, h), &in_root).expect("link headers into root");
            symlink(
                &inside_headers,
                self.path(&format!("/lib/modules/{kver}/build")),
            )
            .expect("link build");
            let config = h.join(".config");
            if config.is_file() {
                fs::copy(&config, self.path(&format!("/boot/config-{kver}")))
                    .expect("copy .config");
            }
        }
        self.set_timeout(REAL_RUN_TIMEOUT);
    }

    /// Writes a real hello module's sources to `usr/src/hello-<version>`
    /// (it prints `hello: version <version> loaded`); with `broken` the C
    /// file has a syntax error.
    pub fn add_hello(&self, version: &str, broken: bool) -> PathBuf {
        let mut c = hello_c(version, &format!("hello: version {version} loaded"));
        if broken {
            c.push_str("\nstatic int broken(void) { return 0 }\n");
        }
        self.write_hello(version, &c)
    }

    /// Writes the real hello module 1.0 to `usr/src/hello-1.0`, printing
    /// `line` when loaded (what a booted kernel's log is searched for).
    pub fn add_hello_printing(&self, line: &str) -> PathBuf {
        self.write_hello("1.0", &hello_c("1.0", line))
    }

    fn write_hello(&self, version: &str, c: &str) -> PathBuf {
        let dest = self.path(&format!("/usr/src/hello-{version}"));
        write_file(
            &dest.join("dkms.conf"),
            format!(
                "PACKAGE_NAME=\"hello\"\nPACKAGE_VERSION=\"{version}\"\nBUILT_MODULE_NAME[0]=\"hello\"\nDEST_MODULE_LOCATION[0]=\"/updates/dkms\"\nAUTOINSTALL=\"yes\"\n"
            ),
        );
        write_file(&dest.join("Makefile"), "obj-m := hello.o\n");
        write_file(&dest.join("hello.c"), c);
        dest
    }

    /// Where DKMS installs `<module>.ko` for `kver` on Debian.
    pub fn installed_ko(&self, kver: &str, module: &str) -> PathBuf {
        self.path(&format!("/lib/modules/{kver}/{DEBIAN_DEST}/{module}.ko"))
    }

    /// The root's `modules.dep` for `kver` (empty when missing).
    pub fn modules_dep(&self, kver: &str) -> String {
        fs::read_to_string(self.path(&format!("/lib/modules/{kver}/modules.dep")))
            .unwrap_or_default()
    }

    /// Assert that `<module>.ko` is installed for `kver`, built for that
    /// kernel (vermagic), and listed in modules.dep.
    #[track_caller]
    pub fn assert_installed_module(&self, kver: &str, module: &str) {
        let ko = self.installed_ko(kver, module);
        assert!(
            ko.is_file(),
            "{} is missing; modules dir holds: {:?}",
            ko.display(),
            list_tree(&self.path("/lib/modules"))
        );
        let magic = vermagic(&ko);
        assert!(
            magic.starts_with(&format!("{kver} ")),
            "{}: vermagic {magic:?} does not start with {kver:?}",
            ko.display()
        );
        let dep = self.modules_dep(kver);
        let rel = format!("{DEBIAN_DEST}/{module}.ko");
        assert!(
            dep.lines().any(|l| l
                .split(':')
                .next()
                .is_some_and(|f| f == rel || f.ends_with(&format!("/{rel}")))),
            "modules.dep for {kver} does not list {rel}:\n{dep}"
        );
    }
}

/// The C source of the real hello module: prints `line` when loaded.
fn hello_c(version: &str, line: &str) -> String {
    format!(
        "// SPDX-License-Identifier: GPL-2.0\n\
         #include <linux/init.h>\n\
         #include <linux/module.h>\n\
         #include <linux/printk.h>\n\
         \n\
         static int __init hello_init(void)\n\
         {{\n\
         \tpr_info(\"{line}\\n\");\n\
         \treturn 0;\n\
         }}\n\
         \n\
         static void __exit hello_exit(void)\n\
         {{\n\
         \tpr_info(\"hello: unloaded\\n\");\n\
         }}\n\
         \n\
         module_init(hello_init);\n\
         module_exit(hello_exit);\n\
         MODULE_LICENSE(\"GPL\");\n\
         MODULE_VERSION(\"{version}\");\n\
         MODULE_DESCRIPTION(\"dkms-hook real-kernel test module\");\n"
    )
}
