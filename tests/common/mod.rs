//! The integration-test harness: a throwaway root directory with fake
//! kernels and module sources, and helpers that run the real `dkms` and
//! `dkms-hook` binaries against it with `--root`.
//!
//! Each test binary does `mod common;` and uses the part it needs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// A kernel release the tests use; chosen so it never matches a real kernel.
pub const K1: &str = "6.1.0-90-fake";
/// A second kernel release, newer than [`K1`].
pub const K2: &str = "6.1.0-91-fake";
/// The architecture the binaries detect on the test host.
pub const ARCH: &str = std::env::consts::ARCH;

/// How long one run of a binary may take before the harness kills it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// `tests/fixtures` in the source tree.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// The fake kernel build tree (`tests/fixtures/fake-kernel`), a stand-in for
/// `/lib/modules/K/build` whose Makefile compiles modules with the host gcc.
pub fn fake_kernel_dir() -> PathBuf {
    fixtures_dir().join("fake-kernel")
}

/// A test module source tree, `tests/fixtures/modules/<name>` (e.g. `hello-1.0`).
pub fn module_fixture(name: &str) -> PathBuf {
    fixtures_dir().join("modules").join(name)
}

/// The result of running a program: exit code (128+N when killed by signal
/// N) and its output as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// What was run, for failure messages.
    pub command: String,
    /// Exit code; 128+signal if the process was killed by a signal.
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "exit code: {}", self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

impl Output {
    /// Panics (showing stdout and stderr) unless the exit code is 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    /// Panics (showing stdout and stderr) unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    /// Panics unless the exit code is not 0.
    #[track_caller]
    pub fn assert_failed(&self) -> &Self {
        assert_ne!(self.code, 0, "expected a failure\n{self}");
        self
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    /// Panics if stderr is not empty.
    #[track_caller]
    pub fn assert_stderr_empty(&self) -> &Self {
        assert!(self.stderr.is_empty(), "stderr not empty\n{self}");
        self
    }

    /// stdout as lines.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// stderr as lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// Runs `cmd` with stdin closed, collecting its output; kills its whole
/// process group and panics if it runs longer than `timeout`.
pub fn run_command(mut cmd: Command, timeout: Duration) -> Output {
    let command = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(());
        status
    });
    if rx.recv_timeout(timeout).is_err() {
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = waiter.join();
        panic!("{command} timed out after {timeout:?}");
    }
    let status = waiter
        .join()
        .expect("waiter thread")
        .expect("wait for child");
    // Grandchildren left in the background could hold the pipes open.
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let stdout = String::from_utf8_lossy(&out_thread.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_thread.join().expect("stderr reader")).into_owned();
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Output {
        command,
        code,
        stdout,
        stderr,
    }
}

/// One entry of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file: SHA-256 of its content and its permission bits.
    File {
        /// Hex SHA-256 of the content.
        sha256: String,
        /// `mode & 0o7777`.
        mode: u32,
    },
    /// A symbolic link and its (unresolved) target.
    Symlink(PathBuf),
    /// Anything else (fifo, socket, device).
    Other,
}

/// Every path under a root (relative to it, without a leading `/`) and what
/// is there. Compare two with `==` or [`diff_snapshots`].
pub type Snapshot = BTreeMap<PathBuf, Node>;

/// Human-readable differences between two snapshots (empty when equal).
pub fn diff_snapshots(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (p, n) in before {
        match after.get(p) {
            None => out.push(format!("- {} ({n:?})", p.display())),
            Some(m) if m != n => out.push(format!("~ {}: {n:?} -> {m:?}", p.display())),
            Some(_) => {}
        }
    }
    for (p, n) in after {
        if !before.contains_key(p) {
            out.push(format!("+ {} ({n:?})", p.display()));
        }
    }
    out
}

/// A snapshot of everything under `dir` (symlinks are not followed).
pub fn snapshot_dir(dir: &Path) -> Snapshot {
    let mut map = Snapshot::new();
    walk(dir, dir, &mut map);
    map
}

fn walk(base: &Path, dir: &Path, map: &mut Snapshot) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(base).expect("under base").to_path_buf();
        let meta = fs::symlink_metadata(&path).expect("lstat");
        let ft = meta.file_type();
        if ft.is_symlink() {
            map.insert(rel, Node::Symlink(fs::read_link(&path).expect("readlink")));
        } else if ft.is_dir() {
            map.insert(rel, Node::Dir);
            walk(base, &path, map);
        } else if ft.is_file() {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let sha256 = format!("{:x}", Sha256::digest(&data));
            map.insert(
                rel,
                Node::File {
                    sha256,
                    mode: meta.permissions().mode() & 0o7777,
                },
            );
        } else {
            map.insert(rel, Node::Other);
        }
    }
}

/// Copies the tree `from` into `to` (created), keeping symlinks as symlinks
/// and file permissions.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read_dir {}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let ft = entry.file_type().expect("file type");
        if ft.is_symlink() {
            symlink(fs::read_link(&src).expect("readlink"), &dst).expect("symlink");
        } else if ft.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        }
    }
}

/// Writes `content` to `path`, creating parent directories.
pub fn write_file(path: &Path, content: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Makes `path` executable (mode 0755).
pub fn make_executable(path: &Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

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
/// Panics if the file is not a 64-bit little-endian ELF with a `.modinfo`.
pub fn modinfo(path: &Path) -> Vec<(String, String)> {
    let data = read_module_bytes(path);
    let section = elf_section(&data, ".modinfo")
        .unwrap_or_else(|| panic!("{}: no .modinfo section in a 64-bit ELF", path.display()));
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

/// The bytes of section `name` in a 64-bit little-endian ELF file.
fn elf_section<'a>(data: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let u16_at = |o: usize| {
        data.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    if data.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = u64_at(0x28)?;
    let shentsize = u16_at(0x3a)?;
    let shnum = u16_at(0x3c)?;
    let shstrndx = u16_at(0x3e)?;
    let header = |i: usize| -> Option<(usize, usize, usize)> {
        let h = shoff + i * shentsize;
        Some((u32_at(h)?, u64_at(h + 0x18)?, u64_at(h + 0x20)?))
    };
    let (_, str_off, str_size) = header(shstrndx)?;
    let strtab = data.get(str_off..str_off + str_size)?;
    (0..shnum).find_map(|i| {
        let (name_off, off, size) = header(i)?;
        let rest = strtab.get(name_off..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        if &rest[..end] == name.as_bytes() {
            data.get(off..off + size)
        } else {
            None
        }
    })
}

/// Runs the fake kernel's make for an external module: `make -C <kernel_dir>
/// M=<module_dir> KERNELRELEASE=<kver> <extra...>`.
pub fn fake_make(kernel_dir: &Path, module_dir: &Path, kver: &str, extra: &[&str]) -> Output {
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(kernel_dir)
        .arg(format!("M={}", module_dir.display()))
        .arg(format!("KERNELRELEASE={kver}"))
        .args(extra)
        .env("LC_ALL", "C")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL");
    run_command(cmd, RUN_TIMEOUT)
}

/// Modules compiled from a fixture by [`build_fixture`], in a scratch
/// directory outside any test root.
pub struct Built {
    /// The scratch copy of the fixture, holding the `.ko` files.
    pub dir: tempfile::TempDir,
    /// The make run.
    pub output: Output,
}

impl Built {
    /// The path of `<name>.ko` in the scratch directory.
    pub fn ko(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.ko"))
    }
}

/// Compiles `tests/fixtures/modules/<fixture>` for `kver` with the fake
/// kernel, in a scratch copy (applying no patches and running no scripts).
/// Panics if the build fails. Use it to make "original" in-kernel modules.
pub fn build_fixture(fixture: &str, kver: &str) -> Built {
    let dir = tempfile::Builder::new()
        .prefix("dkms-ko-")
        .tempdir()
        .expect("tempdir");
    copy_tree(&module_fixture(fixture), dir.path());
    let output = fake_make(&fake_kernel_dir(), dir.path(), kver, &[]);
    output.assert_ok();
    Built { dir, output }
}

/// A throwaway root directory laid out like a Debian 12 system, for running
/// `dkms --root` / `dkms-hook --root` against. Removed when dropped, unless
/// the environment variable `DKMS_TEST_KEEP` is set (then its path is printed).
pub struct TestRoot {
    /// The temporary directory that is the root.
    pub dir: tempfile::TempDir,
    root: PathBuf,
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
        let t = TestRoot { dir, root };
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

    /// Appends `line` (e.g. `CONFIG_MODULE_SIG_HASH="sha256"`) to both
    /// `.config` and `include/config/auto.conf` of `kver`'s headers.
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

    /// The command that runs `bin` against this root: `--root <root>` first,
    /// `LC_ALL=C`, `DKMS_LOG`/`DKMS_ROOT`/`TMPDIR` removed, cwd = the root.
    pub fn command(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
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
        run_command(cmd, RUN_TIMEOUT)
    }

    /// Runs `dkms-hook --root <root> <args>`.
    pub fn hook(&self, args: &[&str]) -> Output {
        self.hook_env(args, &[])
    }

    /// Runs `dkms-hook --root <root> <args>` with extra environment variables.
    pub fn hook_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_dkms-hook"), args);
        cmd.envs(env.iter().copied());
        run_command(cmd, RUN_TIMEOUT)
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

/// Differences between two path -> description maps, one line each:
/// `missing`, `differs` or `extra` (used to compare a run's final state with
/// a reference run's).
pub fn diff_states(
    want: &BTreeMap<PathBuf, String>,
    got: &BTreeMap<PathBuf, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (p, v) in want {
        match got.get(p) {
            None => out.push(format!("missing {} ({v})", p.display())),
            Some(g) if g != v => out.push(format!("differs {}: want {v}, got {g}", p.display())),
            Some(_) => {}
        }
    }
    for (p, v) in got {
        if !want.contains_key(p) {
            out.push(format!("extra {} ({v})", p.display()));
        }
    }
    out
}
