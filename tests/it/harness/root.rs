//! [`TestRoot`], the one throwaway root every tier runs `dkms --root` and
//! `dkms-hook --root` against: its layout, kernels (fake ones here, real
//! ones in `real_kernel.rs`), module sources, and running the binaries.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{
    copy_tree, diff_snapshots, fake_kernel_dir, fake_make, make_executable, module_fixture,
    run_command, snapshot_dir, write_file, Node, Output, Snapshot, RUN_TIMEOUT,
};

/// A throwaway root directory laid out like a Debian 12 system, for running
/// `dkms --root` / `dkms-hook --root` against. Removed when dropped, unless
/// the environment variable `DKMS_TEST_KEEP` is set (then its path is printed).
pub struct TestRoot {
    /// The temporary directory that is the root.
    pub dir: tempfile::TempDir,
    root: PathBuf,
    /// How long one run of a binary may take, in milliseconds (longer once a
    /// real kernel is added: real builds take minutes). Atomic because tests
    /// share a root between threads.
    timeout_ms: AtomicU64,
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        if std::env::var_os("DKMS_TEST_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("DKMS_TEST_KEEP: test root kept at {}", self.root.display());
        }
    }
}

impl Default for TestRoot {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRoot {
    /// A new root with `etc/os-release` (Debian 12), `etc/dkms/`,
    /// `var/lib/dkms/`, `usr/src/`, `lib/modules/`, `boot/` and `tmp/`, and no
    /// kernels.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("dkms-root-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let t = TestRoot {
            dir,
            root,
            timeout_ms: AtomicU64::new(RUN_TIMEOUT.as_millis() as u64),
        };
        for d in [
            "etc/dkms",
            "var/lib/dkms",
            "usr/src",
            "lib/modules",
            "boot",
            "tmp",
        ] {
            fs::create_dir_all(t.root.join(d)).expect("mkdir");
        }
        t.set_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        );
        t
    }

    /// [`TestRoot::new`] plus one installed kernel `kver` with headers.
    pub fn with_kernel(kver: &str) -> Self {
        let t = Self::new();
        t.add_fake_kernel(kver, true, true);
        t
    }

    /// The root directory on the host (canonical path).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `p` (absolute as seen inside the root, e.g. `/var/lib/dkms/hello`, or
    /// relative) as a host path under the root.
    pub fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// True if `p` (inside the root) exists; a dangling symlink counts.
    pub fn exists(&self, p: &str) -> bool {
        fs::symlink_metadata(self.path(p)).is_ok()
    }

    /// The content of file `p` (inside the root) as text; panics if unreadable.
    pub fn read(&self, p: &str) -> String {
        let path = self.path(p);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// The target of symlink `p` (inside the root), unresolved.
    pub fn read_link(&self, p: &str) -> PathBuf {
        let path = self.path(p);
        fs::read_link(&path).unwrap_or_else(|e| panic!("readlink {}: {e}", path.display()))
    }

    /// Writes file `p` (inside the root), creating parent directories.
    pub fn write(&self, p: &str, content: impl AsRef<[u8]>) {
        write_file(&self.path(p), content);
    }

    /// Names in directory `p` (inside the root), sorted; empty if it does not exist.
    pub fn list(&self, p: &str) -> Vec<String> {
        let mut names: Vec<String> = match fs::read_dir(self.path(p)) {
            Ok(rd) => rd
                .map(|e| {
                    e.expect("dir entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// Replaces `etc/os-release`.
    pub fn set_os_release(&self, content: &str) {
        self.write("/etc/os-release", content);
    }

    /// Writes `etc/dkms/framework.conf`.
    pub fn set_framework_conf(&self, content: &str) {
        self.write("/etc/dkms/framework.conf", content);
    }

    /// Adds kernel `kver`. `installed`: the kernel image package is present —
    /// `lib/modules/K/kernel/`, empty `modules.dep`, `modules.order`,
    /// `modules.builtin`, `modules.builtin.modinfo` and `boot/vmlinuz-K`.
    /// `with_headers`: `lib/modules/K/build` is a copy of the fake kernel
    /// (see [`TestRoot::add_headers`]). Always creates `lib/modules/K/`.
    pub fn add_fake_kernel(&self, kver: &str, with_headers: bool, installed: bool) {
        fs::create_dir_all(self.path(&format!("/lib/modules/{kver}"))).expect("mkdir");
        if installed {
            self.install_kernel_image(kver);
        }
        if with_headers {
            self.add_headers(kver);
        }
    }

    /// The kernel image package of `kver` arrives: `lib/modules/K/kernel/`,
    /// the empty module indexes and `boot/vmlinuz-K`. Runs nothing.
    pub fn install_kernel_image(&self, kver: &str) {
        let lib = format!("/lib/modules/{kver}");
        fs::create_dir_all(self.path(&format!("{lib}/kernel"))).expect("mkdir");
        for f in [
            "modules.dep",
            "modules.order",
            "modules.builtin",
            "modules.builtin.modinfo",
        ] {
            self.write(&format!("{lib}/{f}"), "");
        }
        self.write(
            &format!("/boot/vmlinuz-{kver}"),
            format!("fake kernel image {kver}\n"),
        );
    }

    /// The kernel image package of `kver` is removed, as a package manager
    /// would: `lib/modules/K/kernel/`, the `modules.*` files and
    /// `boot/vmlinuz-K` go; `build` and anything dkms put there stay.
    pub fn remove_kernel_image(&self, kver: &str) {
        let lib = self.path(&format!("/lib/modules/{kver}"));
        let _ = fs::remove_dir_all(lib.join("kernel"));
        if let Ok(rd) = fs::read_dir(&lib) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with("modules.") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        let _ = fs::remove_file(self.path(&format!("/boot/vmlinuz-{kver}")));
    }

    /// The headers of `kver` arrive: copies the fake kernel to
    /// `lib/modules/K/build` (a real directory, so per-kernel config edits
    /// stay per kernel) and writes `include/config/kernel.release`.
    pub fn add_headers(&self, kver: &str) {
        let build = self.path(&format!("/lib/modules/{kver}/build"));
        copy_tree(&fake_kernel_dir(), &build);
        write_file(
            &build.join("include/config/kernel.release"),
            format!("{kver}\n"),
        );
    }

    /// Like [`TestRoot::add_headers`] but Debian-style: the tree goes to
    /// `usr/src/linux-headers-K` and `lib/modules/K/build` is a relative
    /// symlink to it (valid both inside the root and on the host).
    pub fn add_headers_in_usr_src(&self, kver: &str) {
        let dest = self.path(&format!("/usr/src/linux-headers-{kver}"));
        copy_tree(&fake_kernel_dir(), &dest);
        write_file(
            &dest.join("include/config/kernel.release"),
            format!("{kver}\n"),
        );
        let lib = self.path(&format!("/lib/modules/{kver}"));
        fs::create_dir_all(&lib).expect("mkdir");
        let _ = fs::remove_file(lib.join("build"));
        symlink(
            format!("../../../usr/src/linux-headers-{kver}"),
            lib.join("build"),
        )
        .expect("symlink");
    }

    /// The headers of `kver` are removed (`lib/modules/K/build`, and
    /// `usr/src/linux-headers-K` if present).
    pub fn remove_headers(&self, kver: &str) {
        let build = self.path(&format!("/lib/modules/{kver}/build"));
        if fs::symlink_metadata(&build)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
        {
            let _ = fs::remove_file(&build);
        } else {
            let _ = fs::remove_dir_all(&build);
        }
        let _ = fs::remove_dir_all(self.path(&format!("/usr/src/linux-headers-{kver}")));
    }

    /// Appends `line` to the kernel configuration of `kver`'s build tree
    /// (`.config` and `include/config/auto.conf`), as a kernel built with
    /// that option would have it.
    pub fn add_kernel_config(&self, kver: &str, line: &str) {
        let build = self.path(&format!("/lib/modules/{kver}/build"));
        for f in [".config", "include/config/auto.conf"] {
            let p = build.join(f);
            let mut text =
                fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            text.push_str(line);
            text.push('\n');
            write_file(&p, text);
        }
    }

    /// Puts a module file into `lib/modules/K/<rel>` (e.g.
    /// `kernel/drivers/misc/hello.ko.xz`), copied from `ko`; compressed with
    /// the host tool when `rel` ends in `.gz`/`.xz`/`.zst` (this is also how
    /// a test makes the kernel's modules look compressed).
    pub fn add_kernel_module(&self, kver: &str, rel: &str, ko: &Path) {
        let dest = self.path(&format!(
            "/lib/modules/{kver}/{}",
            rel.trim_start_matches('/')
        ));
        let data = fs::read(ko).unwrap_or_else(|e| panic!("read {}: {e}", ko.display()));
        let tool = [(".gz", "gzip"), (".xz", "xz"), (".zst", "zstd")]
            .into_iter()
            .find(|(ext, _)| rel.ends_with(ext));
        match tool {
            None => write_file(&dest, data),
            Some((_, tool)) => {
                let mut cmd = Command::new(tool);
                cmd.args(["-c", "-q"]).arg(ko).stdout(Stdio::piped());
                let out = cmd.output().unwrap_or_else(|e| panic!("run {tool}: {e}"));
                assert!(out.status.success(), "{tool} {} failed", ko.display());
                write_file(&dest, out.stdout);
            }
        }
    }

    /// Copies `tests/fixtures/modules/<fixture>` to `usr/src/<fixture>` and
    /// returns that host path.
    pub fn add_source(&self, fixture: &str) -> PathBuf {
        let dest = self.path(&format!("/usr/src/{fixture}"));
        copy_tree(&module_fixture(fixture), &dest);
        dest
    }

    /// Copies the module source tree `src` (e.g. a Debian package's) to
    /// `usr/src/<name>-<version>` and returns that host path.
    pub fn add_source_tree(&self, src: &Path, name: &str, version: &str) -> PathBuf {
        let dest = self.path(&format!("/usr/src/{name}-{version}"));
        copy_tree(src, &dest);
        dest
    }

    /// Creates `usr/src/<name>-<version>/` holding `files` (relative path,
    /// content) and returns that host path. Files named `*.sh` or
    /// `configure` are made executable.
    pub fn add_source_text(&self, name: &str, version: &str, files: &[(&str, &str)]) -> PathBuf {
        let dest = self.path(&format!("/usr/src/{name}-{version}"));
        fs::create_dir_all(&dest).expect("mkdir");
        for (rel, content) in files {
            let p = dest.join(rel);
            write_file(&p, content);
            if rel.ends_with(".sh") || rel.ends_with("configure") {
                make_executable(&p);
            }
        }
        dest
    }

    /// How long one run of a binary against this root may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    /// Lets one run of a binary against this root take up to `timeout`.
    pub fn set_timeout(&self, timeout: Duration) {
        self.timeout_ms
            .store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// The command that runs `bin` against this root: `--root <root>` first,
    /// `LC_ALL=C`, `DKMS_LOG`/`DKMS_ROOT`/`TMPDIR` removed, cwd = the root.
    pub fn command(&self, bin: &str, args: &[&str]) -> Command {
        self.command_under(&[], bin, args)
    }

    /// [`TestRoot::command`] run by another program: `wrapper` is that
    /// program and its arguments (e.g. `strace -f -o LOG`); `bin` and its
    /// arguments follow them.
    pub fn command_under(&self, wrapper: &[&str], bin: &str, args: &[&str]) -> Command {
        let mut cmd = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut c = Command::new(program);
                c.args(wrapper_args).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(&self.root)
            .env("LC_ALL", "C")
            .env_remove("LANG")
            .env_remove("DKMS_LOG")
            .env_remove("DKMS_ROOT")
            .env_remove("TMPDIR")
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL");
        cmd
    }

    /// Runs `dkms --root <root> <args>`.
    pub fn dkms(&self, args: &[&str]) -> Output {
        self.dkms_env(args, &[])
    }

    /// Runs `dkms --root <root> <args>` with extra environment variables.
    pub fn dkms_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_dkms"), args);
        cmd.envs(env.iter().copied());
        run_command(cmd, self.timeout())
    }

    /// Runs `dkms-hook --root <root> <args>`.
    pub fn hook(&self, args: &[&str]) -> Output {
        self.hook_env(args, &[])
    }

    /// Runs `dkms-hook --root <root> <args>` with extra environment variables.
    pub fn hook_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_dkms-hook"), args);
        cmd.envs(env.iter().copied());
        run_command(cmd, self.timeout())
    }

    /// Runs the fake kernel's make for `kver` (its `lib/modules/K/build`) on
    /// `module_dir`, like dkms's default MAKE does.
    pub fn make_module(&self, kver: &str, module_dir: &Path, extra: &[&str]) -> Output {
        fake_make(
            &self.path(&format!("/lib/modules/{kver}/build")),
            module_dir,
            kver,
            extra,
        )
    }

    /// Everything under the root; see [`Snapshot`].
    pub fn snapshot(&self) -> Snapshot {
        snapshot_dir(&self.root)
    }

    /// Everything under `p` (inside the root), keyed relative to `p`.
    pub fn snapshot_of(&self, p: &str) -> Snapshot {
        snapshot_dir(&self.path(p))
    }

    /// Panics, listing the differences, unless the root is exactly as
    /// `before` except for paths starting with one of `ignore` (root-relative,
    /// e.g. `"var/lib/dkms/.lock"`).
    #[track_caller]
    pub fn assert_unchanged(&self, before: &Snapshot, ignore: &[&str]) {
        let keep = |s: &Snapshot| -> Snapshot {
            s.iter()
                .filter(|(p, _)| {
                    !ignore
                        .iter()
                        .any(|i| p.starts_with(i.trim_start_matches('/')))
                })
                .map(|(p, n)| (p.clone(), n.clone()))
                .collect()
        };
        let diff = diff_snapshots(&keep(before), &keep(&self.snapshot()));
        assert!(diff.is_empty(), "the root changed:\n{}", diff.join("\n"));
    }

    /// The `.ko` files under `lib/modules/K` (relative to it, sorted),
    /// compressed ones included — what is "installed" for that kernel.
    pub fn installed_modules(&self, kver: &str) -> Vec<String> {
        let base = self.path(&format!("/lib/modules/{kver}"));
        if !base.exists() {
            return Vec::new();
        }
        snapshot_dir(&base)
            .into_iter()
            .filter(|(p, n)| {
                let s = p.to_string_lossy();
                !s.starts_with("build/")
                    && !s.starts_with("source/")
                    && (s.ends_with(".ko")
                        || s.ends_with(".ko.gz")
                        || s.ends_with(".ko.xz")
                        || s.ends_with(".ko.zst"))
                    && matches!(n, Node::File { .. } | Node::Symlink(_))
            })
            .map(|(p, _)| p.to_string_lossy().into_owned())
            .collect()
    }
}
