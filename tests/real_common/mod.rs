//! Shared helpers for the real-kernel test tier: throwaway roots whose
//! `lib/modules/<kver>/build` points at the Debian kernel headers installed
//! on the machine (by `.ci/run`), running the real `dkms` binary with
//! `--root`, and reading what it produced.
//!
//! Nothing here touches the machine's `/var/lib/dkms`, `/usr/src` or
//! `/lib/modules`; the headers under `/usr/src/linux-headers-*` are only read.
#![allow(dead_code)]

use std::fmt;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The architecture every real kernel in this tier is built for.
pub const ARCH: &str = "x86_64";

/// The module location DKMS uses on Debian, whatever dkms.conf says.
pub const DEBIAN_DEST: &str = "updates/dkms";

/// How long one `dkms` call may take before the test kills it.
const DKMS_TIMEOUT: Duration = Duration::from_secs(900);

/// The repository checkout (where Cargo.toml is).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when running under CI, where missing prerequisites are failures.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Order `6.1.0-<N>-amd64` kernel names by their numeric parts (what
/// `sort -V` does for these names).
fn version_key(kver: &str) -> Vec<u64> {
    kver.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The two newest Debian 12 amd64 kernels whose headers are installed under
/// `/usr/src/linux-headers-6.1.0-<N>-amd64`, oldest first.
pub fn installed_real_kernels() -> Vec<String> {
    let mut kernels: Vec<String> = fs::read_dir("/usr/src")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_prefix("linux-headers-").map(str::to_string))
                .filter(|k| {
                    k.starts_with("6.1.0-")
                        && k.ends_with("-amd64")
                        && k["6.1.0-".len()..k.len() - "-amd64".len()]
                            .chars()
                            .all(|c| c.is_ascii_digit())
                })
                .filter(|k| headers_dir(k).join("Makefile").is_file())
                .collect()
        })
        .unwrap_or_default();
    kernels.sort_by_key(|k| version_key(k));
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
            "{test}: no /usr/src/linux-headers-6.1.0-*-amd64 installed, but CI is set: .ci/run must install them"
        );
        eprintln!("{test}: skipped: no real kernel headers");
        return None;
    }
    Some(kernels)
}

/// Where Debian installs the headers for `kver`.
pub fn headers_dir(kver: &str) -> PathBuf {
    PathBuf::from(format!("/usr/src/linux-headers-{kver}"))
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

/// What one `dkms` call did.
pub struct Run {
    /// The command line, for messages.
    pub cmd: String,
    /// Exit status (-1 when killed by a signal).
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Run {
    /// Panic with the whole transcript unless the exit status is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit status\n{self}");
        self
    }

    /// Panic with the whole transcript unless the call succeeded.
    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// Non-empty stdout lines, as printed.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}\n(exit {})", self.cmd, self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        writeln!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// A throwaway root: `etc/os-release` saying Debian, `etc/dkms/`,
/// `var/lib/dkms`, `usr/src`, `boot`, and one `lib/modules/<kver>/` per kernel
/// added with [`TestRoot::add_kernel`]. Removed when dropped.
pub struct TestRoot {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl TestRoot {
    /// A fresh root with the Debian skeleton.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("dkms-real-")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().canonicalize().expect("canonical tempdir");
        for d in [
            "etc/dkms",
            "var/lib/dkms",
            "usr/src",
            "boot",
            "lib/modules",
            "tmp",
        ] {
            fs::create_dir_all(path.join(d)).expect("create root skeleton");
        }
        fs::write(
            path.join("etc/os-release"),
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        )
        .expect("write os-release");
        TestRoot { dir, path }
    }

    /// The root directory on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `inside` (an absolute path as seen inside the root) on the host.
    pub fn join(&self, inside: &str) -> PathBuf {
        self.path.join(inside.trim_start_matches('/'))
    }

    /// A kernel directory `lib/modules/<kver>/` with `kernel/`, an empty
    /// `modules.dep` (so depmod runs) and the other files depmod reads, plus
    /// `boot/vmlinuz-<kver>`. With `headers`, `build` links to them:
    /// `build -> /usr/src/linux-headers-<kver>`, and the root's own
    /// `usr/src/linux-headers-<kver>` leads to the host's headers, so the
    /// link works both when followed by the OS and when re-based under the
    /// root. The kernel's `.config` is copied to `boot/config-<kver>`.
    pub fn add_kernel(&self, kver: &str, headers: Option<&Path>) {
        let kdir = self.join(&format!("/lib/modules/{kver}"));
        fs::create_dir_all(kdir.join("kernel")).expect("create kernel dir");
        for f in [
            "modules.dep",
            "modules.order",
            "modules.builtin",
            "modules.builtin.modinfo",
        ] {
            fs::write(kdir.join(f), "").expect("write depmod input");
        }
        fs::write(self.join(&format!("/boot/vmlinuz-{kver}")), "").expect("write vmlinuz");
        if let Some(h) = headers {
            let inside_headers = format!("/usr/src/linux-headers-{kver}");
            let in_root = self.join(&inside_headers);
            let parent = in_root.parent().expect("usr/src").to_path_buf();
            symlink(relative_to_host(&parent, h), &in_root).expect("link headers into root");
            symlink(&inside_headers, kdir.join("build")).expect("link build");
            let config = h.join(".config");
            if config.is_file() {
                fs::copy(&config, self.join(&format!("/boot/config-{kver}")))
                    .expect("copy .config");
            }
        }
    }

    /// Copy a module source tree to `usr/src/<name>-<version>` in the root.
    pub fn add_source(&self, src: &Path, name: &str, version: &str) -> PathBuf {
        let dest = self.join(&format!("/usr/src/{name}-{version}"));
        copy_tree(src, &dest);
        dest
    }

    /// Write the hello module's sources to `usr/src/hello-<version>`; with
    /// `broken` the C file has a syntax error.
    pub fn add_hello(&self, version: &str, broken: bool) -> PathBuf {
        let dest = self.join(&format!("/usr/src/hello-{version}"));
        fs::create_dir_all(&dest).expect("create hello source dir");
        fs::write(
            dest.join("dkms.conf"),
            format!(
                "PACKAGE_NAME=\"hello\"\nPACKAGE_VERSION=\"{version}\"\nBUILT_MODULE_NAME[0]=\"hello\"\nDEST_MODULE_LOCATION[0]=\"/updates/dkms\"\nAUTOINSTALL=\"yes\"\n"
            ),
        )
        .expect("write dkms.conf");
        fs::write(dest.join("Makefile"), "obj-m := hello.o\n").expect("write Makefile");
        let mut c = format!(
            "// SPDX-License-Identifier: GPL-2.0\n\
             #include <linux/init.h>\n\
             #include <linux/module.h>\n\
             #include <linux/printk.h>\n\
             \n\
             static int __init hello_init(void)\n\
             {{\n\
             \tpr_info(\"hello: version {version} loaded\\n\");\n\
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
        );
        if broken {
            c.push_str("\nstatic int broken(void) { return 0 }\n");
        }
        fs::write(dest.join("hello.c"), c).expect("write hello.c");
        dest
    }

    /// Run `dkms --root <root> <args...>`.
    pub fn dkms(&self, args: &[&str]) -> Run {
        self.run(env!("CARGO_BIN_EXE_dkms"), "dkms", args)
    }

    /// Run `dkms-hook --root <root> <args...>`.
    #[allow(dead_code)]
    pub fn hook(&self, args: &[&str]) -> Run {
        self.run(env!("CARGO_BIN_EXE_dkms-hook"), "dkms-hook", args)
    }

    /// Run `bin --root <root> <args...>` with a clean environment (no
    /// DKMS_*, make job variables, locale or TMPDIR from the caller) and a
    /// time limit, collecting its output.
    fn run(&self, bin: &str, name: &str, args: &[&str]) -> Run {
        let log_dir = self.dir.path().join(".run");
        fs::create_dir_all(&log_dir).expect("create run log dir");
        let out_path = log_dir.join("stdout");
        let err_path = log_dir.join("stderr");
        let out = fs::File::create(&out_path).expect("stdout file");
        let err = fs::File::create(&err_path).expect("stderr file");
        let mut cmd = Command::new(bin);
        cmd.arg("--root").arg(&self.path).args(args);
        for v in [
            "DKMS_ROOT",
            "DKMS_LOG",
            "LANG",
            "TMPDIR",
            "MAKEFLAGS",
            "MFLAGS",
            "MAKELEVEL",
        ] {
            cmd.env_remove(v);
        }
        cmd.env("LC_ALL", "C")
            .current_dir(&self.path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let shown = format!("{name} --root {} {}", self.path.display(), args.join(" "));
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for the child") {
                break st;
            }
            if start.elapsed() > DKMS_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{shown}: no exit after {DKMS_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let run = Run {
            cmd: shown,
            code: status.code().unwrap_or(-1),
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        };
        eprintln!(
            "{} -> exit {} in {:.1} s",
            run.cmd,
            run.code,
            start.elapsed().as_secs_f64()
        );
        run
    }

    /// Where DKMS installs `<module>.ko` for `kver` on Debian.
    pub fn installed_ko(&self, kver: &str, module: &str) -> PathBuf {
        self.join(&format!("/lib/modules/{kver}/{DEBIAN_DEST}/{module}.ko"))
    }

    /// The root's `modules.dep` for `kver`.
    pub fn modules_dep(&self, kver: &str) -> String {
        fs::read_to_string(self.join(&format!("/lib/modules/{kver}/modules.dep")))
            .unwrap_or_default()
    }

    /// Assert that `<module>.ko` is installed for `kver`, built for that
    /// kernel (vermagic), and listed in modules.dep.
    pub fn assert_installed_module(&self, kver: &str, module: &str) {
        let ko = self.installed_ko(kver, module);
        assert!(
            ko.is_file(),
            "{} is missing; modules dir holds: {:?}",
            ko.display(),
            list_tree(&self.join("/lib/modules"))
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

impl Default for TestRoot {
    fn default() -> Self {
        Self::new()
    }
}

/// Every path under `dir`, relative to it, sorted (for failure messages).
pub fn list_tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(base).unwrap_or(&p).display().to_string());
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(base, &p, out);
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Copy a directory tree (files, dirs, symlinks as symlinks).
pub fn copy_tree(src: &Path, dest: &Path) {
    fs::create_dir_all(dest).expect("create copy destination");
    for e in fs::read_dir(src).expect("read source dir").flatten() {
        let ty = e.file_type().expect("file type");
        let to = dest.join(e.file_name());
        if ty.is_dir() {
            copy_tree(&e.path(), &to);
        } else if ty.is_symlink() {
            symlink(fs::read_link(e.path()).expect("read link"), &to).expect("copy symlink");
        } else {
            fs::copy(e.path(), &to).expect("copy file");
        }
    }
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

/// `modinfo -F vermagic <ko>`, trimmed of the trailing newline only.
pub fn vermagic(ko: &Path) -> String {
    let out = Command::new(modinfo_bin())
        .args(["-F", "vermagic"])
        .arg(ko)
        .output()
        .unwrap_or_else(|e| panic!("cannot run modinfo (install kmod): {e}"));
    assert!(
        out.status.success(),
        "modinfo {} failed: {}",
        ko.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim_end_matches('\n')
        .to_string()
}

/// The cache that `tests/real/fetch-sources.sh` fills.
pub fn source_cache() -> PathBuf {
    std::env::var_os("DKMS_HOOK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("tests/.cache"))
}

/// A Debian `*-dkms` package unpacked from the archive: its source dir and
/// the name and version its dkms.conf declares.
pub struct DebianSource {
    /// `.../usr/src/<name>-<version>` in the cache.
    pub dir: PathBuf,
    /// PACKAGE_NAME.
    pub name: String,
    /// PACKAGE_VERSION.
    pub version: String,
}

/// The value of a plain `KEY=value` / `KEY="value"` line in a dkms.conf.
fn conf_value(conf: &str, key: &str) -> Option<String> {
    conf.lines().find_map(|l| {
        let v = l.trim().strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

fn find_source(pkg: &str) -> Option<DebianSource> {
    let usr_src = source_cache().join("src").join(pkg).join("usr/src");
    let dir = fs::read_dir(&usr_src)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("dkms.conf").is_file())?;
    let conf = fs::read_to_string(dir.join("dkms.conf")).ok()?;
    let name = conf_value(&conf, "PACKAGE_NAME")?;
    let version = conf_value(&conf, "PACKAGE_VERSION")?;
    Some(DebianSource { dir, name, version })
}

/// Serialises calls to fetch-sources.sh from parallel tests of one binary
/// (the script also takes a file lock against other processes).
static FETCH: Mutex<()> = Mutex::new(());

/// The unpacked source of Debian package `pkg` (e.g. `tp-smapi-dkms`),
/// running `tests/real/fetch-sources.sh` first if the cache lacks it.
pub fn debian_source(pkg: &str) -> DebianSource {
    if let Some(s) = find_source(pkg) {
        return s;
    }
    {
        let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
        if find_source(pkg).is_none() {
            let script = repo_dir().join("tests/real/fetch-sources.sh");
            let st = Command::new("bash")
                .arg(&script)
                .stdout(Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                st.success(),
                "{} failed ({st}); it needs the Debian archive (apt-get download)",
                script.display()
            );
        }
    }
    let s = find_source(pkg).unwrap_or_else(|| {
        panic!(
            "fetch-sources.sh ran but {pkg} is not in {}",
            source_cache().display()
        )
    });
    let dirname = s
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert_eq!(
        dirname,
        format!("{}-{}", s.name, s.version),
        "{pkg}: source dir name does not match its dkms.conf"
    );
    s
}
