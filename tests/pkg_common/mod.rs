//! Shared by `tests/packaging.rs` and `tests/debian_root.rs`: a clean copy of
//! the repository and the packages built from it.
//!
//! Packages are never built in the working tree. The files git knows about
//! (tracked, plus untracked ones that are not ignored) are copied, with their
//! modes and times, to `$CARGO_TARGET_TMPDIR/dkms-hook-pkg/src`, and the
//! builds run there. Both the copy and the `.deb` are kept between runs and
//! reused while the content hash of those files is unchanged; cargo's output
//! (`cargo-target/`) is kept too, so an unchanged tree costs no rebuild.
//! One lock file serialises builds across test processes.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};

/// Serialises the copy and the builds between the tests of one process.
static BUILD: Mutex<()> = Mutex::new(());

/// Whether the tests run under CI, where a missing tool is a failure.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
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
pub fn require_tools(test: &str, tools: &[&str], hint: &str) -> bool {
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
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the copy, cargo's output and the packages live between runs.
pub fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dkms-hook-pkg")
}

/// The package version and file name of the `.deb`, from debian/changelog
/// and the build architecture.
pub fn deb_file_name() -> String {
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
pub fn run_ok(cmd: &mut Command) -> Output {
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
pub fn stdout_of(cmd: &mut Command) -> String {
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
pub struct WorkLock {
    _lock: nix::fcntl::Flock<fs::File>,
}

/// Take the lock file `name` in the work directory, which serialises work
/// there across processes (`flock`: released on exit, even after a crash).
pub fn lock_work_dir(name: &str) -> WorkLock {
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
pub fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    println!("==> {what}");
    let r = f();
    println!("<== {what}: {:.1} s", start.elapsed().as_secs_f64());
    r
}

/// The copy of the repository with release binaries built in
/// `cargo-target/release` (a no-op when they are current). Returns
/// `(source copy, directory of the binaries)`.
pub fn release_build() -> (PathBuf, PathBuf) {
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let _lock = lock_work_dir("build.lock");
    let (src, _) = sync_copy();
    timed("cargo build --release --locked (package binaries)", || {
        run_ok(
            cargo_env(&mut Command::new("cargo"))
                .current_dir(&src)
                .args([
                    "build",
                    "--release",
                    "--locked",
                    "--bin",
                    "dkms",
                    "--bin",
                    "dkms-hook",
                ]),
        );
    });
    (src, work_dir().join("cargo-target/release"))
}

/// Build `dkms-hook_<version>_<arch>.deb` with
/// `dpkg-buildpackage -b -us -uc -d` in the copy, or reuse the one built
/// from identical files. Returns the path of the `.deb`.
pub fn build_deb() -> PathBuf {
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
