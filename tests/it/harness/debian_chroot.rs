//! [`DebianChroot`], the throwaway Debian root the slow tier drives with
//! apt (`slow/debian_root.rs`, `slow/migration.rs`, `slow/trixie_real.rs`),
//! and what comes with it: whether such a test runs at all, the `.deb` it
//! installs, the host's apt mirrors, the cached debootstrap tarball, and
//! undoing every mount.
//!
//! The root is `debootstrap --variant=minbase <suite>` of a [`Release`]:
//! Debian 12 (bookworm) or Debian 13 (trixie). The base packages of each
//! release are cached as one tarball in `tests/.cache/`, made once with
//! `--make-tarball` and unpacked with `--unpack-tarball` afterwards, with
//! /proc, /sys, /dev and /dev/pts mounted inside. Every mount is undone when
//! the root is dropped, however the test ends, and mounts a crashed earlier
//! run left behind are undone at the start. The root's apt archive
//! directory is a bind mount of `tests/.cache/e2e-apt-archives/`, so later
//! runs download only what changed. The mirrors are the host's (its
//! /etc/apt/sources.list and sources.list.d), else deb.debian.org.
//!
//! These tests run only when `DKMS_HOOK_E2E=1` or `CI` is set, and need
//! root. `DKMS_HOOK_E2E_DEB=<path>` installs that `.deb` instead of building
//! one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

use super::{
    build_deb, in_ci, repo, require_tools, run_command, run_ok, skip_unless_ci, timed, work_dir,
    write_executable, write_file, Output, ARCH, BUILD_TIMEOUT,
};

/// The Debian release of a root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Debian 12, oldstable: kernels `6.1.0-<N>-amd64`, one ABI per point
    /// release, whose headers packages do not need the image.
    Bookworm,
    /// Debian 13, stable: kernels `6.12.<N>+deb13-amd64` (a `+` in the
    /// release), with `-cloud-amd64` and `-rt-amd64` flavours of each ABI;
    /// a headers package depends on its kernel's image.
    Trixie,
}

impl Release {
    /// The suite debootstrap and apt name it by.
    pub fn suite(self) -> &'static str {
        match self {
            Release::Bookworm => "bookworm",
            Release::Trixie => "trixie",
        }
    }
}

/// apt-get with the options every call uses.
pub const APT: &str =
    "apt-get -y -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3 --no-install-recommends";

/// Whether the Debian-root test `test` should run; prints why not (and
/// fails under CI when root or a tool is missing).
pub fn e2e_enabled(test: &str) -> bool {
    let e2e = std::env::var("DKMS_HOOK_E2E").is_ok_and(|v| v == "1");
    if !e2e && !in_ci() {
        eprintln!("SKIPPED {test}: slow end-to-end test; set DKMS_HOOK_E2E=1 (or CI) to run it");
        return false;
    }
    if !rustix::process::geteuid().is_root() {
        skip_unless_ci(test, "needs root (debootstrap, chroot, mount)");
        return false;
    }
    let mut tools = vec!["debootstrap", "chroot", "mount", "umount", "dpkg-deb"];
    if std::env::var_os("DKMS_HOOK_E2E_DEB").is_none() {
        tools.extend(["dpkg-buildpackage", "dh"]);
    }
    require_tools(
        test,
        &tools,
        ".ci/run installs debootstrap, dpkg-dev, debhelper",
    )
}

/// The `.deb` the Debian-root tests install: `DKMS_HOOK_E2E_DEB`, or the
/// one built from the repository (step 0).
pub fn e2e_deb() -> PathBuf {
    match std::env::var_os("DKMS_HOOK_E2E_DEB") {
        Some(p) => PathBuf::from(p),
        None => timed("step 0: build the .deb", build_deb),
    }
}

/// The `linux-headers-<abi>-common` package that goes with Debian 12
/// kernel `k`.
pub fn common_headers(k: &str) -> String {
    format!("linux-headers-{}-common", k.trim_end_matches("-amd64"))
}

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

/// Undo what a crashed earlier run left: unmount and remove the roots in
/// `base` whose names start with `prefix`.
fn clean_leftovers(base: &Path, prefix: &str) {
    let Ok(rd) = fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) {
            println!("removing leftover root {}", e.path().display());
            remove_root(&e.path());
        }
    }
}

/// The base system tarball of `suite`: made once with `debootstrap
/// --make-tarball`, then shared by every root of that release.
/// tests/roots/debian-root.sh (the roots of the checks run by hand) makes
/// and unpacks the same file.
fn base_tarball(suite: &str, mirror: &str) -> PathBuf {
    let cache = repo().join("tests/.cache");
    fs::create_dir_all(&cache).unwrap_or_else(|e| panic!("create tests/.cache: {e}"));
    let tarball = cache.join(format!("debootstrap-{suite}-minbase-amd64.tgz"));
    if tarball.is_file() {
        println!("reusing {}", tarball.display());
        return tarball;
    }
    let partial = cache.join(format!("debootstrap-{suite}-minbase-amd64.tgz.partial"));
    let work = tempfile::tempdir_in(&cache).unwrap_or_else(|e| panic!("tempdir: {e}"));
    let ok = Command::new("debootstrap")
        .args(["--variant=minbase", "--arch=amd64"])
        .arg(format!("--make-tarball={}", partial.display()))
        .arg(suite)
        .arg(work.path().join("target"))
        .arg(mirror)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "debootstrap --make-tarball failed");
    fs::rename(&partial, &tarball).unwrap_or_else(|e| panic!("rename tarball: {e}"));
    tarball
}

/// A Debian root with /proc, /sys and /dev mounted inside; everything is
/// unmounted and the directory removed when it is dropped.
pub struct DebianChroot {
    dir: PathBuf,
    release: Release,
}

impl Drop for DebianChroot {
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

impl DebianChroot {
    /// Steps 1a to 1d of every Debian-root test: a fresh root named
    /// `<prefix><pid>` under the work directory (after removing the
    /// `<prefix>*` roots a crashed run left), unpacked from the base
    /// tarball, with its mounts, no service starts (policy-rc.d), apt
    /// pointed at the host's mirrors, and `apt-get update` done.
    pub fn bootstrap(prefix: &str) -> DebianChroot {
        DebianChroot::bootstrap_release(prefix, Release::Bookworm)
    }

    /// [`DebianChroot::bootstrap`] of `release`. A release the host's
    /// sources do not name is fetched from the host's mirror of the
    /// release it runs (the same archive serves both), else from
    /// deb.debian.org. In a Debian 13 root `update-initramfs` is diverted
    /// to `true`: its kernels' headers pull in their images, and no root
    /// is ever booted from.
    pub fn bootstrap_release(prefix: &str, release: Release) -> DebianChroot {
        let suite = release.suite();
        let sources = host_sources();
        let host_suite = sources
            .iter()
            .map(|(_, s)| s.as_str())
            .find(|s| !s.contains('-'))
            .unwrap_or("bookworm")
            .to_string();
        let host_mirror = mirror_for(&sources, &host_suite, "http://deb.debian.org/debian");
        let host_security = mirror_for(
            &sources,
            &format!("{host_suite}-security"),
            "http://deb.debian.org/debian-security",
        );
        let mirror = mirror_for(&sources, suite, &host_mirror);
        let security = mirror_for(&sources, &format!("{suite}-security"), &host_security);
        let updates = mirror_for(&sources, &format!("{suite}-updates"), &mirror);
        println!(
            "mirrors: {mirror} ({suite}), {updates} ({suite}-updates), {security} ({suite}-security)"
        );

        let base = work_dir().join("e2e");
        fs::create_dir_all(&base).unwrap_or_else(|e| panic!("create {}: {e}", base.display()));
        timed("step 1a: clean up leftovers of earlier runs", || {
            clean_leftovers(&base, prefix)
        });
        let tarball = timed("step 1b: debootstrap base tarball", || {
            base_tarball(suite, &mirror)
        });

        // From here on, dropping the root undoes whatever was done.
        let root = DebianChroot {
            dir: base.join(format!("{prefix}{}", std::process::id())),
            release,
        };
        timed("step 1c: debootstrap --unpack-tarball", || {
            run_ok(
                Command::new("debootstrap")
                    .args(["--variant=minbase", "--arch=amd64"])
                    .arg(format!("--unpack-tarball={}", tarball.display()))
                    .arg(suite)
                    .arg(&root.dir)
                    .arg(&mirror),
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
            // Nothing may start services inside the root.
            write_executable(&root.path("/usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n");
            write_file(
                &root.path("/etc/apt/sources.list"),
                format!(
                    "deb {mirror} {suite} main\ndeb {updates} {suite}-updates main\n\
                     deb {security} {suite}-security main\n"
                ),
            );
            let _ = fs::remove_file(root.path("/etc/resolv.conf"));
            let _ = fs::copy("/etc/resolv.conf", root.path("/etc/resolv.conf"));
            if release == Release::Trixie {
                root.ok(
                    "dpkg-divert --local --rename --add /usr/sbin/update-initramfs \
                     && ln -s /bin/true /usr/sbin/update-initramfs",
                );
            }
            root.ok("apt-get -q update");
        });
        root
    }

    /// The packages to purge so that kernel `k` (one of
    /// [`DebianChroot::newest_kernels`]) is gone: Debian 12's headers and
    /// their common part; Debian 13's headers and image (the common part
    /// stays: the other flavours of the ABI share it).
    pub fn kernel_packages(&self, k: &str) -> String {
        match self.release {
            Release::Bookworm => format!("linux-headers-{k} {}", common_headers(k)),
            Release::Trixie => format!("linux-headers-{k} linux-image-{k}"),
        }
    }

    /// `rel` (absolute inside the root) as a host path.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel.trim_start_matches('/'))
    }

    /// The root directory on the host (what `--root` takes).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the host directory `dir` (absolute) visible at the same path
    /// inside the root (a bind mount, undone with the root): programs and
    /// paths compiled into the test build then work inside as outside.
    pub fn bind_host_dir(&self, dir: &Path) {
        self.mount(&["--bind", &dir.to_string_lossy()], &dir.to_string_lossy());
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

    /// Copies the host file `file` to `/tmp/<its name>` inside the root and
    /// returns that path as seen inside.
    pub fn copy_in(&self, file: &Path) -> String {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let inside = format!("/tmp/{name}");
        fs::copy(file, self.path(&inside))
            .unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
        inside
    }

    /// Run `script` with /bin/sh inside the root, stdout and stderr together,
    /// with a clean environment. Prints the command and its output.
    pub fn sh(&self, script: &str) -> Output {
        let r = self.run(script);
        println!("# {script}");
        for l in r.stdout.lines() {
            println!("    {l}");
        }
        println!("# exit status {}", r.code);
        r
    }

    /// `sh` without printing: for the queries behind assertions, which
    /// include the output in their failure message.
    pub fn query(&self, script: &str) -> String {
        succeeded(script, self.run(script))
    }

    /// Run `script` inside the root (see `sh`); its stderr goes to stdout.
    pub fn run(&self, script: &str) -> Output {
        let mut cmd = Command::new("/usr/sbin/chroot");
        cmd.arg(&self.dir)
            .args(["/bin/sh", "-c", &format!("exec 2>&1\n{script}")])
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .env("HOME", "/root")
            .env("DEBIAN_FRONTEND", "noninteractive");
        run_command(cmd, BUILD_TIMEOUT)
    }

    /// `sh`, which must succeed; returns the output.
    pub fn ok(&self, script: &str) -> String {
        succeeded(script, self.sh(script))
    }

    /// `N` kernels of the root's release whose headers apt can install, as
    /// kernel releases. Debian 12: the newest `N` ABIs
    /// (`6.1.0-<N>-amd64`), newest first. Debian 13: the newest ABI's
    /// `-amd64` and `-rt-amd64` flavours (`6.12.<N>+deb13-amd64`...: two
    /// kernels that share an ABI and most of their name, which a
    /// comparison of releases must keep apart), then the second newest
    /// ABI's `-amd64` when the archive still has one, else the newest
    /// `-cloud-amd64` (a kernel without V4L2: v4l2loopback's
    /// BUILD_EXCLUSIVE skips it).
    pub fn newest_kernels<const N: usize>(&self) -> [String; N] {
        let ks: Vec<String> = match self.release {
            Release::Bookworm => {
                let out = self.ok(&format!(
                    "apt-cache search --names-only '^linux-headers-6\\.1\\.0-[0-9]+-amd64$' \
                     | awk '{{print $1}}' | sort -V | tail -n {N}"
                ));
                let mut ks: Vec<String> = out
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("linux-headers-"))
                    .map(str::to_string)
                    .collect();
                ks.reverse();
                ks
            }
            Release::Trixie => {
                let out = self.ok(
                    "apt-cache search --names-only '^linux-headers-6\\.12\\.[0-9]+\\+deb13-amd64$' \
                     | awk '{print $1}' | sort -V | tail -n 2",
                );
                let mut abis: Vec<String> = out
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("linux-headers-"))
                    .filter_map(|k| k.strip_suffix("-amd64"))
                    .map(str::to_string)
                    .collect();
                abis.reverse();
                let newest = abis.first().unwrap_or_else(|| {
                    panic!("no linux-headers-6.12.<N>+deb13-amd64 package: {out}")
                });
                let third = match abis.get(1) {
                    Some(older) => format!("{older}-amd64"),
                    None => format!("{newest}-cloud-amd64"),
                };
                [
                    format!("{newest}-amd64"),
                    format!("{newest}-rt-amd64"),
                    third,
                ]
                .into_iter()
                .take(N)
                .collect()
            }
        };
        assert_eq!(
            ks.len(),
            N,
            "need {N} kernels of {:?} with headers, found {ks:?}",
            self.release
        );
        ks.try_into().expect("the length was checked")
    }

    /// `dkms status` lines (its stdout: Debian's dkms and ours may say
    /// different things on stderr).
    pub fn status(&self) -> Vec<String> {
        self.query("dkms status 2>/dev/null")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The registered version of module `m` (from `dkms status`).
    pub fn version_of(&self, m: &str) -> String {
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
    pub fn installed_ko(&self, k: &str, name: &str) -> Option<PathBuf> {
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
    #[track_caller]
    pub fn assert_installed(&self, m: &str, ko: &str, k: &str) {
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
    #[track_caller]
    pub fn assert_absent(&self, m: &str, ko: &str, k: &str) {
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

    /// Modification time of a file inside the root.
    pub fn mtime(&self, rel: &str) -> SystemTime {
        fs::metadata(self.path(rel))
            .and_then(|m| m.modified())
            .unwrap_or_else(|e| panic!("stat {rel}: {e}"))
    }
}

/// The output of `script`, which must have succeeded inside the root.
#[track_caller]
fn succeeded(script: &str, r: Output) -> String {
    assert_eq!(
        r.code, 0,
        "`{script}` failed inside the root:\n{}",
        r.stdout
    );
    r.stdout
}
