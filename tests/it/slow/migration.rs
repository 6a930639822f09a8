//! Switching between Debian's dkms and dkms-hook, both ways, with apt in a
//! throwaway Debian 12 root.
//!
//! 1. Debian's `dkms` with two kernels' headers (the third and second newest
//!    `linux-headers-6.1.0-<N>-amd64`), Debian's `v4l2loopback-dkms` and
//!    `acpi-call-dkms` built for both, and a local module `onek` built for
//!    the older kernel only; `dkms status` is recorded.
//! 2. `apt-get install ./dkms-hook.deb`: dkms is removed but not purged
//!    (`rc`), `dkms status` reads the same, and Debian's kernel hooks
//!    (`/etc/kernel/{postinst.d,header_postinst.d,prerm.d,install.d}/dkms`)
//!    are diverted out of the hook directories: `run-parts --test` lists only
//!    dkms-hook's shims.
//! 3. The older kernel is removed (its prerm.d hooks run as its image
//!    package's prerm runs them, then its headers are purged and its module
//!    directory goes): its builds are gone, the other kernel's stay, and
//!    `onek` stays registered as added.
//! 4. The newest kernel arrives (headers installed, postinst.d hooks run):
//!    both modules are built and installed for it.
//! 5. `/usr/lib/dkms/dkms-autopkgtest v4l2loopback-dkms` passes on both kernels.
//! 6. `apt-get install dkms` brings Debian's dkms back: dkms-hook is removed,
//!    the hooks are back in place with dkms's own content (no diversion is
//!    left), `dkms status` (Debian's dkms now) reads the same as before, and
//!    Debian's dkms builds `onek` for the newest kernel.
//!
//! Slow (debootstrap, apt downloads, module builds), so it runs only when
//! `DKMS_HOOK_E2E=1` or `CI` is set; otherwise it prints "SKIPPED". It needs
//! root. `DKMS_HOOK_E2E_DEB=<path>` installs that `.deb` instead of building
//! one. The helpers are copies of those of `tests/debian_root.rs` and
//! `tests/pkg_common` (this file stands alone), and share their caches: the
//! `.deb` build in `$CARGO_TARGET_TMPDIR/dkms-hook-pkg`, the debootstrap
//! tarball and apt's archives in `tests/.cache/`. Each step prints its time.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};

/// The Debian release of the root.
const SUITE: &str = "bookworm";

/// Names of the root directories this test creates (and cleans up after a crash).
const ROOT_PREFIX: &str = "migration-";

/// apt-get with the options every call uses.
const APT: &str = "apt-get -y -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3 --no-install-recommends";

/// The machine architecture as dkms names it.
const ARCH: &str = "x86_64";

/// Debian's dkms kernel hooks that must not run while dkms-hook is installed,
/// and where debian/preinst diverts them.
const DEBIAN_HOOKS: &[(&str, &str)] = &[
    (
        "/etc/kernel/postinst.d/dkms",
        "/etc/dkms/dkms-hook-diverted/kernel-postinst.d-dkms",
    ),
    (
        "/etc/kernel/header_postinst.d/dkms",
        "/etc/dkms/dkms-hook-diverted/kernel-header_postinst.d-dkms",
    ),
    (
        "/etc/kernel/prerm.d/dkms",
        "/etc/dkms/dkms-hook-diverted/kernel-prerm.d-dkms",
    ),
    (
        "/etc/kernel/install.d/dkms",
        "/etc/dkms/dkms-hook-diverted/kernel-install.d-dkms",
    ),
];

/// The local module that is built for one kernel only.
const ONEK: &str = "onek";

/// Whether the test should run; prints why not.
fn enabled() -> bool {
    let e2e = std::env::var("DKMS_HOOK_E2E").is_ok_and(|v| v == "1");
    if !e2e && !in_ci() {
        eprintln!("SKIPPED migration: slow end-to-end test; set DKMS_HOOK_E2E=1 (or CI) to run it");
        return false;
    }
    if !nix::unistd::geteuid().is_root() {
        if in_ci() {
            panic!("migration: needs root (debootstrap, chroot, mount), but CI is set");
        }
        eprintln!("SKIPPED migration: needs root (debootstrap, chroot, mount)");
        return false;
    }
    let mut tools = vec!["debootstrap", "chroot", "mount", "umount", "dpkg-deb"];
    if std::env::var_os("DKMS_HOOK_E2E_DEB").is_none() {
        tools.extend(["dpkg-buildpackage", "dh"]);
    }
    require_tools(
        "migration",
        &tools,
        ".ci/run installs debootstrap, dpkg-dev, debhelper",
    )
}

// ---------------------------------------------------------------------------
// Building the .deb: a copy of tests/pkg_common (same work directory, lock
// files and stamps, so the two share one build).
// ---------------------------------------------------------------------------

/// Serialises the copy and the builds between the tests of one process.
static BUILD: Mutex<()> = Mutex::new(());

/// Whether the tests run under CI, where a missing tool is a failure.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Whether `tool` is on PATH.
fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg("command -v \"$1\" >/dev/null 2>&1")
        .arg("sh")
        .arg(tool)
        .status()
        .is_ok_and(|s| s.success())
}

/// `true` when every tool is present. Otherwise print why `test` is skipped
/// and return `false`, or panic under CI.
fn require_tools(test: &str, tools: &[&str], hint: &str) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    if in_ci() {
        panic!(
            "{test}: {} not found, but CI is set ({hint})",
            missing.join(", ")
        );
    }
    eprintln!(
        "SKIPPED {test}: {} not found ({hint}; set CI to make this a failure)",
        missing.join(", ")
    );
    false
}

/// The repository this test binary was built from.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the copy, cargo's output and the packages live between runs.
fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dkms-hook-pkg")
}

/// The package version and file name of the `.deb`, from debian/changelog
/// and the build architecture.
fn deb_file_name() -> String {
    let changelog = fs::read_to_string(repo().join("debian/changelog"))
        .unwrap_or_else(|e| panic!("read debian/changelog: {e}"));
    let first = changelog.lines().next().unwrap_or_default();
    let version = first
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(v, _)| v.to_string())
        .unwrap_or_else(|| panic!("no version in debian/changelog: {first}"));
    let arch = stdout_of(Command::new("dpkg").arg("--print-architecture"))
        .trim()
        .to_string();
    format!("dkms-hook_{version}_{arch}.deb")
}

/// Run `cmd`, panicking with its output when it cannot start or fails.
fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// The stdout of a successful `cmd`.
fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&run_ok(cmd).stdout).into_owned()
}

/// The files git lists for the repository: tracked (and still present) plus
/// untracked files that are not ignored, sorted.
fn repo_files() -> Vec<PathBuf> {
    let out = run_ok(Command::new("git").arg("-C").arg(repo()).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    let mut files: Vec<PathBuf> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .filter(|p| repo().join(p).symlink_metadata().is_ok())
        .collect();
    files.sort();
    files.dedup();
    files
}

/// A hash of the names, modes and contents of `files`.
fn content_hash(files: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    for f in files {
        let path = repo().join(f);
        // Files that vanish meanwhile (someone is editing the tree) are skipped.
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap_or_default();
            h.update(target.to_string_lossy().as_bytes());
        } else if meta.is_file() {
            let Ok(data) = fs::read(&path) else {
                continue;
            };
            h.update((data.len() as u64).to_le_bytes());
            h.update(&data);
        }
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Holds the cross-process build lock (released when dropped).
struct WorkLock {
    _lock: nix::fcntl::Flock<fs::File>,
}

/// Take the lock file `name` in the work directory, which serialises work
/// there across processes (`flock`: released on exit, even after a crash).
fn lock_work_dir(name: &str) -> WorkLock {
    fs::create_dir_all(work_dir()).unwrap_or_else(|e| panic!("create work dir: {e}"));
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(work_dir().join(name))
        .unwrap_or_else(|e| panic!("open lock file: {e}"));
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive) {
        Ok(lock) => WorkLock { _lock: lock },
        Err((_, e)) => panic!("flock {name}: {e}"),
    }
}

/// The copy of the repository, up to date; returns its directory and the
/// content hash. Call with the build lock held.
fn sync_copy() -> (PathBuf, String) {
    let files = repo_files();
    let hash = content_hash(&files);
    let src = work_dir().join("src");
    let stamp = work_dir().join("src.hash");
    if src.is_dir() && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash) {
        return (src, hash);
    }
    let _ = fs::remove_file(&stamp);
    if src.exists() {
        fs::remove_dir_all(&src).unwrap_or_else(|e| panic!("remove old copy: {e}"));
    }
    fs::create_dir_all(&src).unwrap_or_else(|e| panic!("create copy dir: {e}"));
    // tar keeps modes, times and symlinks; unchanged times let cargo skip work.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg("set -o pipefail; tar -C \"$1\" --ignore-failed-read --null -T - -cf - | tar -C \"$2\" -xf -")
        .arg("sh")
        .arg(repo())
        .arg(&src)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run tar: {e}"));
    {
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("tar stdin"));
        for f in &files {
            stdin
                .write_all(f.to_string_lossy().as_bytes())
                .and_then(|_| stdin.write_all(&[0]))
                .unwrap_or_else(|e| panic!("write file list to tar: {e}"));
        }
    }
    let st = child.wait().unwrap_or_else(|e| panic!("tar: {e}"));
    assert!(st.success(), "copying the repository with tar failed: {st}");
    fs::write(&stamp, &hash).unwrap_or_else(|e| panic!("write stamp: {e}"));
    (src, hash)
}

/// Environment for nested cargo builds: cargo's output in the work
/// directory, and nothing inherited from the make or cargo running us.
fn cargo_env(cmd: &mut Command) -> &mut Command {
    let home_cargo = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin"))
        .filter(|p| p.is_dir());
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(c) = home_cargo {
        let mut p = c.into_os_string();
        p.push(":");
        p.push(&path);
        path = p;
    }
    cmd.env("CARGO_TARGET_DIR", work_dir().join("cargo-target"))
        .env("PATH", path)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
}

/// Print how long `what` took.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    println!("==> {what}");
    let r = f();
    println!("<== {what}: {:.1} s", start.elapsed().as_secs_f64());
    r
}

/// Build `dkms-hook_<version>_<arch>.deb` with
/// `dpkg-buildpackage -b -us -uc -d` in the copy, or reuse the one built
/// from identical files. Returns the path of the `.deb`.
fn build_deb() -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let _lock = lock_work_dir("build.lock");
    let (src, hash) = sync_copy();
    let deb = work_dir().join(deb_file_name());
    let stamp = work_dir().join("deb.hash");
    if deb.is_file() && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash) {
        println!("reusing {} (built from identical files)", deb.display());
        return deb;
    }
    let _ = fs::remove_file(&stamp);
    let _ = fs::remove_file(&deb);
    let log = work_dir().join("dpkg-buildpackage.log");
    let ok = timed("dpkg-buildpackage -b -us -uc -d", || {
        let log_file = fs::File::create(&log).unwrap_or_else(|e| panic!("create log: {e}"));
        let err_file = log_file
            .try_clone()
            .unwrap_or_else(|e| panic!("clone log: {e}"));
        cargo_env(&mut Command::new("dpkg-buildpackage"))
            .current_dir(&src)
            .args(["-b", "-us", "-uc", "-d"])
            .stdout(log_file)
            .stderr(err_file)
            .status()
            .unwrap_or_else(|e| panic!("cannot run dpkg-buildpackage: {e}"))
            .success()
    });
    if !ok || !deb.is_file() {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "dpkg-buildpackage did not produce {} (log {}):\n{}",
            deb.display(),
            log.display(),
            tail.join("\n")
        );
    }
    fs::write(&stamp, &hash).unwrap_or_else(|e| panic!("write stamp: {e}"));
    deb
}

// ---------------------------------------------------------------------------
// The Debian root: a copy of tests/debian_root.rs's helpers.
// ---------------------------------------------------------------------------

/// `(uri, suite)` of every enabled `deb` source of the host, from the one-line
/// and the deb822 formats.
fn host_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "sources" {
            for para in text.split("\n\n") {
                let field = |name: &str| -> Vec<String> {
                    para.lines()
                        .filter_map(|l| l.strip_prefix(&format!("{name}:")))
                        .flat_map(|v| v.split_whitespace().map(str::to_string))
                        .collect()
                };
                if !field("Types").iter().any(|t| t == "deb")
                    || field("Enabled").iter().any(|v| v == "no")
                {
                    continue;
                }
                for uri in field("URIs") {
                    for suite in field("Suites") {
                        out.push((uri.clone(), suite));
                    }
                }
            }
        } else if ext == "list" {
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("");
                let mut words = line.split_whitespace();
                if words.next() != Some("deb") {
                    continue;
                }
                let mut rest: Vec<&str> = words.collect();
                if rest.first().is_some_and(|w| w.starts_with('[')) {
                    let end = rest.iter().position(|w| w.ends_with(']')).unwrap_or(0);
                    rest.drain(..=end);
                }
                if let [uri, suite, ..] = rest.as_slice() {
                    out.push((uri.to_string(), suite.to_string()));
                }
            }
        }
    }
    out
}

/// The host's mirror for `suite`, or `default`.
fn mirror_for(sources: &[(String, String)], suite: &str, default: &str) -> String {
    sources
        .iter()
        .find(|(_, s)| s == suite)
        .map(|(u, _)| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| default.to_string())
}

/// Mount points at or below `dir`, deepest first (from /proc/self/mountinfo).
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| {
            PathBuf::from(
                p.replace("\\040", " ")
                    .replace("\\011", "\t")
                    .replace("\\012", "\n")
                    .replace("\\134", "\\"),
            )
        })
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    out.dedup();
    out
}

/// Unmount everything at or below `dir`; true when nothing is left.
fn unmount_all(dir: &Path) -> bool {
    for m in mounts_under(dir) {
        let ok = Command::new("umount")
            .arg("-R")
            .arg(&m)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-R").arg("-l").arg(&m).status();
        }
    }
    mounts_under(dir).is_empty()
}

/// Remove `dir` without ever crossing into a mount: refuse while anything
/// is mounted below it.
fn remove_root(dir: &Path) {
    if !unmount_all(dir) {
        eprintln!(
            "WARNING: leaving {} in place, still mounted: {:?}",
            dir.display(),
            mounts_under(dir)
        );
        return;
    }
    let _ = Command::new("rm")
        .arg("-rf")
        .arg("--one-file-system")
        .arg(dir)
        .status();
}

/// A Debian root with /proc, /sys and /dev mounted inside; everything is
/// unmounted and the directory removed when it is dropped.
struct Root {
    dir: PathBuf,
}

impl Drop for Root {
    fn drop(&mut self) {
        let start = Instant::now();
        // apt's archive directory is the cache: keep it, minus what is
        // obsolete. Nothing here may panic (this runs during unwinding too).
        let _ = Command::new("/usr/sbin/chroot")
            .arg(&self.dir)
            .args(["apt-get", "-q", "autoclean"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        remove_root(&self.dir);
        println!(
            "<== teardown (unmount, remove root): {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
}

/// The result of a command inside the root.
struct Ran {
    code: i32,
    output: String,
}

impl Root {
    /// `rel` (absolute inside the root) as a host path.
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel.trim_start_matches('/'))
    }

    /// Mount inside the root: `mount ARGS... <root><target>`.
    fn mount(&self, args: &[&str], target: &str) {
        let t = self.path(target);
        fs::create_dir_all(&t).unwrap_or_else(|e| panic!("mkdir {}: {e}", t.display()));
        let ok = Command::new("mount")
            .args(args)
            .arg(&t)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mount {args:?} {} failed", t.display());
    }

    /// Run `script` with /bin/sh inside the root, stdout and stderr together,
    /// with a clean environment. Prints the command and its output.
    fn sh(&self, script: &str) -> Ran {
        let r = self.run(script);
        println!("# {script}");
        for l in r.output.lines() {
            println!("    {l}");
        }
        println!("# exit status {}", r.code);
        r
    }

    /// `sh` without printing: for the queries behind assertions, which
    /// include the output in their failure message.
    fn query(&self, script: &str) -> String {
        let r = self.run(script);
        assert_eq!(
            r.code, 0,
            "`{script}` failed inside the root:\n{}",
            r.output
        );
        r.output
    }

    /// Run `script` inside the root (see `sh`).
    fn run(&self, script: &str) -> Ran {
        let out = Command::new("/usr/sbin/chroot")
            .arg(&self.dir)
            .args(["/bin/sh", "-c", &format!("exec 2>&1\n{script}")])
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .env("HOME", "/root")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run chroot: {e}"));
        Ran {
            code: out.status.code().unwrap_or(-1),
            output: String::from_utf8_lossy(&out.stdout).into_owned(),
        }
    }

    /// `sh`, which must succeed; returns the output.
    fn ok(&self, script: &str) -> String {
        let r = self.sh(script);
        assert_eq!(
            r.code, 0,
            "`{script}` failed inside the root:\n{}",
            r.output
        );
        r.output
    }

    /// `dkms status` lines.
    fn status(&self) -> Vec<String> {
        self.query("dkms status 2>/dev/null")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The registered version of module `m` (from `dkms status`).
    fn version_of(&self, m: &str) -> String {
        self.status()
            .iter()
            .find_map(|l| {
                l.strip_prefix(&format!("{m}/"))
                    .and_then(|r| r.split([',', ':']).next())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| panic!("{m} is not registered with dkms"))
    }

    /// The installed module file `<name>.ko*` for kernel `k`, if any.
    fn installed_ko(&self, k: &str, name: &str) -> Option<PathBuf> {
        let dir = self.path(&format!("/lib/modules/{k}/updates/dkms"));
        fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n == format!("{name}.ko") || n.starts_with(&format!("{name}.ko."))
                })
            })
    }

    /// Assert that module `m` (file `ko`) is built and installed for `k`
    /// with a vermagic for `k`.
    fn assert_installed(&self, m: &str, ko: &str, k: &str) {
        let status = self.status();
        let v = self.version_of(m);
        let line = format!("{m}/{v}, {k}, {ARCH}: installed");
        assert!(
            status.iter().any(|l| l.starts_with(&line)),
            "no `{line}` in dkms status:\n{}",
            status.join("\n")
        );
        let file = self
            .installed_ko(k, ko)
            .unwrap_or_else(|| panic!("{ko}.ko is not in /lib/modules/{k}/updates/dkms"));
        let inside = format!(
            "/{}",
            file.strip_prefix(&self.dir).unwrap_or(&file).display()
        );
        let vermagic = self.query(&format!("modinfo -F vermagic {inside}"));
        assert!(
            vermagic.starts_with(&format!("{k} ")),
            "{inside} has vermagic `{}`, not for {k}",
            vermagic.trim()
        );
    }

    /// Assert that nothing of module `m` is built or installed for `k`.
    fn assert_absent(&self, m: &str, ko: &str, k: &str) {
        let status = self.status();
        assert!(
            !status
                .iter()
                .any(|l| l.starts_with(&format!("{m}/")) && l.contains(&format!(", {k}, "))),
            "{m} still has an entry for {k}:\n{}",
            status.join("\n")
        );
        assert!(
            self.installed_ko(k, ko).is_none(),
            "{ko}.ko is still installed for {k}"
        );
        let tree = self.path(&format!("/var/lib/dkms/{m}"));
        if let Ok(rd) = fs::read_dir(&tree) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    name != format!("kernel-{k}-{ARCH}"),
                    "link {}/{name} is still there",
                    tree.display()
                );
                assert!(
                    !e.path().join(k).exists(),
                    "build {} is still there",
                    e.path().join(k).display()
                );
            }
        }
    }
}

/// Undo what a crashed earlier run left: unmount and remove its roots.
fn clean_leftovers(base: &Path) {
    let Ok(rd) = fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(ROOT_PREFIX) {
            println!("removing leftover root {}", e.path().display());
            remove_root(&e.path());
        }
    }
}

/// The base system tarball: made once with `debootstrap --make-tarball`.
fn base_tarball(mirror: &str) -> PathBuf {
    let cache = repo().join("tests/.cache");
    fs::create_dir_all(&cache).unwrap_or_else(|e| panic!("create tests/.cache: {e}"));
    let tarball = cache.join(format!("debootstrap-{SUITE}-minbase-amd64.tgz"));
    if tarball.is_file() {
        println!("reusing {}", tarball.display());
        return tarball;
    }
    let partial = cache.join(format!("debootstrap-{SUITE}-minbase-amd64.tgz.partial"));
    let work = tempfile::tempdir_in(&cache).unwrap_or_else(|e| panic!("tempdir: {e}"));
    let ok = Command::new("debootstrap")
        .args(["--variant=minbase", "--arch=amd64"])
        .arg(format!("--make-tarball={}", partial.display()))
        .arg(SUITE)
        .arg(work.path().join("target"))
        .arg(mirror)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "debootstrap --make-tarball failed");
    fs::rename(&partial, &tarball).unwrap_or_else(|e| panic!("rename tarball: {e}"));
    tarball
}

/// The three newest `linux-headers-6.1.0-<N>-amd64` ABIs the root's apt
/// knows, newest first, as kernel versions (`6.1.0-<N>-amd64`).
fn newest_three_kernels(root: &Root) -> (String, String, String) {
    let out = root.ok(
        "apt-cache search --names-only '^linux-headers-6\\.1\\.0-[0-9]+-amd64$' \
         | awk '{print $1}' | sort -V | tail -n 3",
    );
    let ks: Vec<String> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("linux-headers-"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        ks.len(),
        3,
        "need three linux-headers-6.1.0-<N>-amd64 packages, found {ks:?}"
    );
    (ks[2].clone(), ks[1].clone(), ks[0].clone())
}

/// The `linux-headers-<abi>-common` package that goes with kernel `k`.
fn common_headers(k: &str) -> String {
    format!("linux-headers-{}-common", k.trim_end_matches("-amd64"))
}

/// Write the sources of the local module `onek` (no AUTOINSTALL: it is
/// built only where someone builds it by hand).
fn write_onek(root: &Root) {
    let src = root.path(&format!("/usr/src/{ONEK}-1.0"));
    fs::create_dir_all(&src).unwrap_or_else(|e| panic!("mkdir {}: {e}", src.display()));
    let files = [
        (
            "dkms.conf",
            "PACKAGE_NAME=\"onek\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"onek\"\n\
             DEST_MODULE_LOCATION[0]=\"/updates/dkms\"\n",
        ),
        ("Makefile", "obj-m := onek.o\n"),
        (
            "onek.c",
            "#include <linux/module.h>\nstatic int __init onek_init(void) { return 0; }\n\
             static void __exit onek_exit(void) { }\nmodule_init(onek_init);\n\
             module_exit(onek_exit);\nMODULE_LICENSE(\"GPL\");\n",
        ),
    ];
    for (name, text) in files {
        fs::write(src.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }
}

/// `dkms status` lines, sorted (Debian's dkms and ours print the same set).
fn sorted_status(root: &Root) -> Vec<String> {
    let mut s = root.status();
    s.sort();
    s
}

/// The package state of `pkg` (`${db:Status-Abbrev}`, e.g. `ii ` or `rc `).
fn pkg_state(root: &Root, pkg: &str) -> String {
    root.run(&format!(
        "dpkg-query -W -f='${{db:Status-Abbrev}}' {pkg} 2>/dev/null"
    ))
    .output
    .trim()
    .to_string()
}

/// The executable files `run-parts` would run in `dir`.
fn hooks_run(root: &Root, dir: &str) -> Vec<String> {
    root.query(&format!("run-parts --test {dir}"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// The md5sums dpkg recorded for the conffiles of `pkg`, by path.
fn conffile_sums(root: &Root, pkg: &str) -> Vec<(String, String)> {
    root.query(&format!("dpkg-query -W -f='${{Conffiles}}\\n' {pkg}"))
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

fn assert_status_eq(what: &str, want: &[String], got: &[String]) {
    assert_eq!(
        want,
        got,
        "dkms status changed {what}:\n--- before\n{}\n--- after\n{}",
        want.join("\n"),
        got.join("\n")
    );
}

#[test]
fn switch_from_debian_dkms_and_back() {
    if !enabled() {
        return;
    }
    let total = Instant::now();
    let _lock = lock_work_dir("e2e.lock");

    let deb = match std::env::var_os("DKMS_HOOK_E2E_DEB") {
        Some(p) => PathBuf::from(p),
        None => timed("step 0: build the .deb", build_deb),
    };
    let deb_name = deb
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let sources = host_sources();
    let mirror = mirror_for(&sources, SUITE, "http://deb.debian.org/debian");
    let security = mirror_for(
        &sources,
        &format!("{SUITE}-security"),
        "http://deb.debian.org/debian-security",
    );
    let updates = mirror_for(&sources, &format!("{SUITE}-updates"), &mirror);
    println!(
        "mirrors: {mirror} ({SUITE}), {updates} ({SUITE}-updates), {security} ({SUITE}-security)"
    );

    let base = work_dir().join("e2e");
    fs::create_dir_all(&base).unwrap_or_else(|e| panic!("create {}: {e}", base.display()));
    timed("step 1a: clean up leftovers of earlier runs", || {
        clean_leftovers(&base)
    });
    let tarball = timed("step 1b: debootstrap base tarball", || {
        base_tarball(&mirror)
    });
    let dir = base.join(format!("{ROOT_PREFIX}{}", std::process::id()));
    let root = Root { dir: dir.clone() };
    timed("step 1c: debootstrap --unpack-tarball", || {
        let out = Command::new("debootstrap")
            .args(["--variant=minbase", "--arch=amd64"])
            .arg(format!("--unpack-tarball={}", tarball.display()))
            .arg(SUITE)
            .arg(&dir)
            .arg(&mirror)
            .output()
            .unwrap_or_else(|e| panic!("cannot run debootstrap: {e}"));
        assert!(
            out.status.success(),
            "debootstrap --unpack-tarball failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
    timed("step 1d: mount, configure apt, apt-get update", || {
        root.mount(&["-t", "proc", "proc"], "/proc");
        root.mount(&["--bind", "/sys"], "/sys");
        root.mount(&["--bind", "/dev"], "/dev");
        root.mount(&["--bind", "/dev/pts"], "/dev/pts");
        let archives = repo().join("tests/.cache/e2e-apt-archives");
        fs::create_dir_all(archives.join("partial"))
            .unwrap_or_else(|e| panic!("create {}: {e}", archives.display()));
        root.mount(
            &["--bind", &archives.to_string_lossy()],
            "/var/cache/apt/archives",
        );
        let policy = root.path("/usr/sbin/policy-rc.d");
        fs::write(&policy, "#!/bin/sh\nexit 101\n").unwrap_or_else(|e| panic!("policy-rc.d: {e}"));
        fs::set_permissions(&policy, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod policy-rc.d: {e}"));
        fs::write(
            root.path("/etc/apt/sources.list"),
            format!(
                "deb {mirror} {SUITE} main\ndeb {updates} {SUITE}-updates main\n\
                 deb {security} {SUITE}-security main\n"
            ),
        )
        .unwrap_or_else(|e| panic!("sources.list: {e}"));
        let _ = fs::copy("/etc/resolv.conf", root.path("/etc/resolv.conf"));
        root.ok("apt-get -q update");
    });

    // k_new arrives after the switch; k_mid and k_old are there before it,
    // and k_old is removed after it.
    let (k_new, k_mid, k_old) = newest_three_kernels(&root);
    println!("kernels: {k_old} and {k_mid} before the switch; {k_new} arrives after it");

    timed("step 2a: Debian's dkms and two kernels' headers", || {
        root.ok(&format!(
            "{APT} install dkms linux-headers-{k_old} linux-headers-{k_mid}"
        ));
        assert_eq!(
            root.ok("dpkg -S /usr/sbin/dkms").trim(),
            "dkms: /usr/sbin/dkms"
        );
        assert_eq!(pkg_state(&root, "dkms"), "ii");
    });
    timed(
        "step 2b: v4l2loopback-dkms, acpi-call-dkms (both kernels) and onek (one kernel)",
        || {
            // In a chroot, a first install builds for every kernel with headers.
            root.ok(&format!("{APT} install v4l2loopback-dkms acpi-call-dkms"));
            write_onek(&root);
            root.ok(&format!("dkms add -m {ONEK} -v 1.0"));
            root.ok(&format!("dkms install -m {ONEK} -v 1.0 -k {k_old}"));
            for k in [&k_old, &k_mid] {
                root.assert_installed("v4l2loopback", "v4l2loopback", k);
                root.assert_installed("acpi-call", "acpi_call", k);
            }
            root.assert_installed(ONEK, ONEK, &k_old);
            root.assert_absent(ONEK, ONEK, &k_mid);
        },
    );
    let before = sorted_status(&root);
    println!("dkms status (Debian's dkms):\n{}", before.join("\n"));
    let debian_sums = conffile_sums(&root, "dkms");

    timed(
        "step 3: apt-get install ./dkms-hook.deb replaces dkms",
        || {
            fs::copy(&deb, root.path(&format!("/tmp/{deb_name}")))
                .unwrap_or_else(|e| panic!("copy {}: {e}", deb.display()));
            root.ok(&format!("{APT} install /tmp/{deb_name}"));
            assert_eq!(
                root.ok("dpkg -S /usr/sbin/dkms").trim(),
                "dkms-hook: /usr/sbin/dkms"
            );
            assert_eq!(
                pkg_state(&root, "dkms"),
                "rc",
                "dkms is not removed-but-not-purged"
            );
            assert_eq!(pkg_state(&root, "dkms-hook"), "ii");
            assert_status_eq("by the switch to dkms-hook", &before, &sorted_status(&root));
            for (hook, diverted) in DEBIAN_HOOKS {
                assert!(
                    root.path(hook).symlink_metadata().is_err(),
                    "Debian's {hook} is still in place"
                );
                assert!(
                    root.path(diverted).is_file(),
                    "{hook} was not kept as {diverted}"
                );
                assert_eq!(
                    root.query(&format!("dpkg-divert --listpackage {hook}"))
                        .trim(),
                    "dkms-hook",
                    "{hook} is not diverted by dkms-hook"
                );
            }
            root.sh("dpkg-divert --list '*dkms*'");
            for (dir, shim) in [
                ("/etc/kernel/postinst.d", "dkms-hook"),
                ("/etc/kernel/header_postinst.d", "dkms-hook"),
                ("/etc/kernel/prerm.d", "dkms-hook"),
                ("/etc/kernel/preinst.d", "dkms-hook"),
            ] {
                let run = hooks_run(&root, dir);
                assert!(
                    run.iter().all(|h| !h.ends_with("/dkms")),
                    "run-parts still runs a Debian dkms hook in {dir}: {run:?}"
                );
                assert!(
                    run.contains(&format!("{dir}/{shim}")),
                    "run-parts does not run {dir}/{shim}: {run:?}"
                );
            }
        },
    );

    timed(&format!("step 4: remove kernel {k_old}"), || {
        // What linux-image-<k>'s prerm runs, then the headers go.
        root.ok(&format!(
            "run-parts --report --exit-on-error --arg={k_old} --arg=/boot/vmlinuz-{k_old} /etc/kernel/prerm.d"
        ));
        root.ok(&format!(
            "{APT} purge linux-headers-{k_old} {}",
            common_headers(&k_old)
        ));
        root.ok(&format!("rm -rf /lib/modules/{k_old}"));
        root.ok("dkms-hook prune");
        root.assert_absent("v4l2loopback", "v4l2loopback", &k_old);
        root.assert_absent("acpi-call", "acpi_call", &k_old);
        root.assert_absent(ONEK, ONEK, &k_old);
        root.assert_installed("v4l2loopback", "v4l2loopback", &k_mid);
        root.assert_installed("acpi-call", "acpi_call", &k_mid);
        let status = sorted_status(&root);
        assert!(
            status.contains(&format!("{ONEK}/1.0: added")),
            "{ONEK} is no longer registered (added) after its only kernel went:\n{}",
            status.join("\n")
        );
        // (The link is absolute: resolve it inside the root.)
        let source = root.run(&format!(
            "test -f /var/lib/dkms/{ONEK}/1.0/source/dkms.conf"
        ));
        assert_eq!(source.code, 0, "{ONEK}'s source link is gone");
    });

    timed(&format!("step 5: kernel {k_new} arrives"), || {
        root.ok(&format!("{APT} install linux-headers-{k_new}"));
        // What linux-image-<k>'s postinst runs.
        root.ok(&format!(
            "run-parts --report --exit-on-error --arg={k_new} --arg=/boot/vmlinuz-{k_new} /etc/kernel/postinst.d"
        ));
        for k in [&k_mid, &k_new] {
            root.assert_installed("v4l2loopback", "v4l2loopback", k);
            root.assert_installed("acpi-call", "acpi_call", k);
        }
        root.assert_absent(ONEK, ONEK, &k_new);
        assert!(sorted_status(&root).contains(&format!("{ONEK}/1.0: added")));
    });

    timed("step 6: dkms-autopkgtest v4l2loopback-dkms", || {
        let r = root.sh("/usr/lib/dkms/dkms-autopkgtest v4l2loopback-dkms");
        assert_eq!(r.code, 0, "dkms-autopkgtest failed");
        for k in [&k_mid, &k_new] {
            let pass = format!("I: PASS {k} (v4l2loopback-dkms)");
            assert!(
                r.output.lines().any(|l| l == pass),
                "dkms-autopkgtest did not report `{pass}`"
            );
        }
        assert!(!r.output.contains("I: FAIL"));
        assert!(
            !root.path("/etc/dkms/no-autoinstall").exists(),
            "dkms-autopkgtest left /etc/dkms/no-autoinstall behind"
        );
        assert_eq!(pkg_state(&root, "dkms-hook"), "ii");
    });
    let after = sorted_status(&root);
    println!("dkms status (dkms-hook):\n{}", after.join("\n"));

    timed(
        "step 7: apt-get install dkms brings Debian's dkms back",
        || {
            root.ok(&format!("{APT} install dkms"));
            assert_eq!(pkg_state(&root, "dkms"), "ii");
            assert_eq!(pkg_state(&root, "dkms-hook"), "rc");
            assert_eq!(
                root.ok("dpkg -S /usr/sbin/dkms").trim(),
                "dkms: /usr/sbin/dkms"
            );
            let left = root.query("dpkg-divert --list | grep -c dkms-hook || true");
            assert_eq!(left.trim(), "0", "diversions are left behind");
            assert!(!root.path("/etc/dkms/dkms-hook-diverted").exists());
            let sums = conffile_sums(&root, "dkms");
            for (hook, _) in DEBIAN_HOOKS {
                let meta = fs::metadata(root.path(hook))
                    .unwrap_or_else(|e| panic!("Debian's {hook} is not back: {e}"));
                assert!(
                    meta.permissions().mode() & 0o111 != 0,
                    "{hook} is not executable"
                );
                let md5 = root.query(&format!("md5sum {hook}"));
                let want = sums
                    .iter()
                    .chain(debian_sums.iter())
                    .find(|(p, _)| p == hook)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| panic!("{hook} is not a conffile of dkms"));
                assert!(
                    md5.starts_with(&want),
                    "{hook} differs from dkms's conffile ({md5} vs {want})"
                );
            }
            assert!(
                hooks_run(&root, "/etc/kernel/prerm.d")
                    .contains(&"/etc/kernel/prerm.d/dkms".into()),
                "Debian's prerm.d/dkms does not run again"
            );
            assert_status_eq(
                "by the switch back to Debian's dkms",
                &after,
                &sorted_status(&root),
            );
            // Debian's dkms works on the same tree.
            root.ok(&format!("dkms install -m {ONEK} -v 1.0 -k {k_new}"));
            root.assert_installed(ONEK, ONEK, &k_new);
        },
    );

    println!(
        "total (before teardown): {:.1} s",
        total.elapsed().as_secs_f64()
    );
    drop(root);
    println!("total: {:.1} s", total.elapsed().as_secs_f64());
}
