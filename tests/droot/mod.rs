//! Throwaway Debian roots for the slow end-to-end tests
//! (`tests/debian_root.rs`, `tests/fleet.rs`): `debootstrap
//! --variant=minbase` unpacked from a tarball cached in `tests/.cache/`,
//! /proc, /sys, /dev and /dev/pts mounted inside, apt's archive directory a
//! bind mount of `tests/.cache/e2e-apt-archives/` (so later runs download
//! only what changed), the host's mirrors. Every mount is undone when a
//! [`Root`] is dropped, however the test ends, and roots a crashed earlier
//! run left are removed by [`clean_leftovers`].
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
/// The Debian release of the root.
pub const SUITE: &str = "bookworm";

/// Names of the root directories this test creates (and cleans up after a crash).
pub const ROOT_PREFIX: &str = "root-";

/// apt-get with the options every call uses.
pub const APT: &str =
    "apt-get -y -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3 --no-install-recommends";

/// `(uri, suite)` of every enabled `deb` source of the host, from the one-line
/// and the deb822 formats.
pub fn host_sources() -> Vec<(String, String)> {
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
pub fn mirror_for(sources: &[(String, String)], suite: &str, default: &str) -> String {
    sources
        .iter()
        .find(|(_, s)| s == suite)
        .map(|(u, _)| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| default.to_string())
}

/// Mount points at or below `dir`, deepest first (from /proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
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
pub fn unmount_all(dir: &Path) -> bool {
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
pub fn remove_root(dir: &Path) {
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
pub struct Root {
    /// The root directory on the host.
    pub dir: PathBuf,
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
pub struct Ran {
    /// Exit status.
    pub code: i32,
    /// stdout and stderr together.
    pub output: String,
}

impl Root {
    /// `rel` (absolute inside the root) as a host path.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel.trim_start_matches('/'))
    }

    /// Mount inside the root: `mount ARGS... <root><target>`.
    pub fn mount(&self, args: &[&str], target: &str) {
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
    pub fn sh(&self, script: &str) -> Ran {
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
    pub fn query(&self, script: &str) -> String {
        let r = self.run(script);
        assert_eq!(
            r.code, 0,
            "`{script}` failed inside the root:\n{}",
            r.output
        );
        r.output
    }

    /// Run `script` inside the root (see `sh`).
    pub fn run(&self, script: &str) -> Ran {
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
    pub fn ok(&self, script: &str) -> String {
        let r = self.sh(script);
        assert_eq!(
            r.code, 0,
            "`{script}` failed inside the root:\n{}",
            r.output
        );
        r.output
    }
}

/// Undo what a crashed earlier run left: unmount and remove its roots.
pub fn clean_leftovers(base: &Path) {
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
pub fn base_tarball(mirror: &str) -> PathBuf {
    let cache = crate::pkg_common::repo().join("tests/.cache");
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

/// `(mirror, updates, security)`: the host's mirrors for the suite and its
/// -updates and -security suites, else Debian's.
pub fn mirrors() -> (String, String, String) {
    let sources = host_sources();
    let mirror = mirror_for(&sources, SUITE, "http://deb.debian.org/debian");
    let security = mirror_for(
        &sources,
        &format!("{SUITE}-security"),
        "http://deb.debian.org/debian-security",
    );
    let updates = mirror_for(&sources, &format!("{SUITE}-updates"), &mirror);
    (mirror, updates, security)
}

impl Root {
    /// A new root `<base>/<ROOT_PREFIX><name>` unpacked from `tarball`.
    pub fn unpack(base: &Path, name: &str, tarball: &Path, mirror: &str) -> Root {
        let dir = base.join(format!("{ROOT_PREFIX}{name}"));
        let root = Root { dir: dir.clone() };
        let out = Command::new("debootstrap")
            .args(["--variant=minbase", "--arch=amd64"])
            .arg(format!("--unpack-tarball={}", tarball.display()))
            .arg(SUITE)
            .arg(&dir)
            .arg(mirror)
            .output()
            .unwrap_or_else(|e| panic!("cannot run debootstrap: {e}"));
        assert!(
            out.status.success(),
            "debootstrap --unpack-tarball failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        root
    }

    /// Mount /proc, /sys, /dev, /dev/pts and the apt archive cache, forbid
    /// starting services, point apt at the mirrors and `apt-get update`.
    pub fn prepare_apt(&self, (mirror, updates, security): &(String, String, String)) {
        self.mount(&["-t", "proc", "proc"], "/proc");
        self.mount(&["--bind", "/sys"], "/sys");
        self.mount(&["--bind", "/dev"], "/dev");
        self.mount(&["--bind", "/dev/pts"], "/dev/pts");
        let archives = crate::pkg_common::repo().join("tests/.cache/e2e-apt-archives");
        fs::create_dir_all(archives.join("partial"))
            .unwrap_or_else(|e| panic!("create {}: {e}", archives.display()));
        self.mount(
            &["--bind", &archives.to_string_lossy()],
            "/var/cache/apt/archives",
        );
        let policy = self.path("/usr/sbin/policy-rc.d");
        fs::write(&policy, "#!/bin/sh\nexit 101\n").unwrap_or_else(|e| panic!("policy-rc.d: {e}"));
        fs::set_permissions(&policy, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod policy-rc.d: {e}"));
        fs::write(
            self.path("/etc/apt/sources.list"),
            format!(
                "deb {mirror} {SUITE} main\ndeb {updates} {SUITE}-updates main\n\
                 deb {security} {SUITE}-security main\n"
            ),
        )
        .unwrap_or_else(|e| panic!("sources.list: {e}"));
        let _ = fs::copy("/etc/resolv.conf", self.path("/etc/resolv.conf"));
        self.ok("apt-get -q update");
    }

    /// The newest `linux-headers-6.1.0-<N>-amd64` ABIs apt knows, newest
    /// first, as kernel versions (`6.1.0-<N>-amd64`).
    pub fn newest_kernels(&self) -> Vec<String> {
        let out = self.ok(
            "apt-cache search --names-only '^linux-headers-6\\.1\\.0-[0-9]+-amd64$' \
             | awk '{print $1}' | sort -V | tail -n 2",
        );
        let mut ks: Vec<String> = out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("linux-headers-"))
            .map(str::to_string)
            .collect();
        ks.reverse();
        ks
    }
}
