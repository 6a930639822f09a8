//! The packages built from the repository, shared by the packaging tier and
//! the Debian-root test: release binaries and the `.deb`, built in the clean
//! copy (see `repo_copy.rs`) and reused while the copied files are
//! unchanged; cargo's output (`cargo-target/`) is kept too, so an unchanged
//! tree costs no rebuild. Also the man pages as the packages generate them,
//! from the test build's binaries.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use super::{bin_dir, lock_work_dir, repo, run_ok, stdout_of, sync_copy, work_dir};

/// Serialises the copy and the builds between the tests of this process
/// (the lock file does it between processes).
static BUILD: Mutex<()> = Mutex::new(());

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

/// Runs `f`, printing how long `what` took (the slow tests report each step).
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

/// The two man pages as the packages build them (`debian/gen-manpages.sh`
/// on the test build's binaries): `(dkms.8, dkms-hook.8)`, roff source.
pub fn man_pages() -> (String, String) {
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    run_ok(
        Command::new("bash")
            .arg(repo().join("debian/gen-manpages.sh"))
            .arg(bin_dir())
            .arg(out.path()),
    );
    let page = |name: &str| {
        fs::read_to_string(out.path().join(name))
            .unwrap_or_else(|e| panic!("read generated {name}: {e}"))
    };
    (page("dkms.8"), page("dkms-hook.8"))
}
