//! End to end, with apt itself: our `.deb` replaces dkms in a throwaway
//! Debian 12 root, and Debian's own `*-dkms` packages are built by it.
//!
//! The root is `debootstrap --variant=minbase bookworm` (the base packages
//! are cached as a tarball in `tests/.cache/`, made once with
//! `--make-tarball` and unpacked with `--unpack-tarball` afterwards), with
//! /proc, /sys, /dev and /dev/pts mounted inside. Every mount is undone when
//! the test ends, however it ends (a guard's `Drop`), and mounts a crashed
//! earlier run left behind are undone at the start. The root's apt archive
//! directory is a bind mount of `tests/.cache/e2e-apt-archives/`, so later
//! runs download only what changed. The mirrors are the host's (its
//! /etc/apt/sources.list and sources.list.d), else deb.debian.org.
//!
//! Inside the root, with apt (the kernels are headers only: the chroot runs
//! on the host's kernel, whose version matches none of them):
//!  1. install the `.deb`; `dpkg -S /usr/sbin/dkms` names dkms-hook;
//!  2. install the newest `linux-headers-6.1.0-<N>-amd64`, then
//!     `v4l2loopback-dkms` and `acpi-call-dkms`: both modules are built and
//!     installed under `/lib/modules/<kver>/updates/dkms/` with a vermagic
//!     that starts with `<kver>`;
//!  3. install the second newest headers: both modules are built for it by
//!     the header_postinst hook;
//!  4. purge those headers and remove `/lib/modules/<kver>`: the builds for
//!     that kernel are pruned (by apt's post-invoke hook or `dkms-hook prune`);
//!  5. `dpkg-reconfigure v4l2loopback-dkms` rebuilds (make.log is rewritten);
//!  6. `apt-get purge v4l2loopback-dkms` leaves no build and no `.ko`;
//!  7. a `*-dkms` package whose module does not compile: apt fails, dpkg
//!     leaves the package half-configured, the other modules stay installed,
//!     and purging the package repairs everything.
//!
//! Slow (several minutes: debootstrap, apt downloads, two kernels' worth of
//! module builds), so it runs only when `DKMS_HOOK_E2E=1` or `CI` is set;
//! otherwise it prints "SKIPPED". It needs root. `DKMS_HOOK_E2E_DEB=<path>`
//! installs that `.deb` instead of building one. Each step prints its time.

mod droot;
mod pkg_common;

use droot::{
    base_tarball, clean_leftovers, host_sources, mirror_for, Root, APT, ROOT_PREFIX, SUITE,
};
use pkg_common::{in_ci, lock_work_dir, require_tools, timed, work_dir};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// The machine architecture as dkms names it.
const ARCH: &str = "x86_64";

/// The name and version of the local module package that does not compile.
const BROKEN: &str = "e2e-broken";
const BROKEN_VERSION: &str = "1.0";

/// Whether the test should run; prints why not.
fn enabled() -> bool {
    let e2e = std::env::var("DKMS_HOOK_E2E").is_ok_and(|v| v == "1");
    if !e2e && !in_ci() {
        eprintln!(
            "SKIPPED debian_root: slow end-to-end test; set DKMS_HOOK_E2E=1 (or CI) to run it"
        );
        return false;
    }
    if !nix::unistd::geteuid().is_root() {
        if in_ci() {
            panic!("debian_root: needs root (debootstrap, chroot, mount), but CI is set");
        }
        eprintln!("SKIPPED debian_root: needs root (debootstrap, chroot, mount)");
        return false;
    }
    let mut tools = vec!["debootstrap", "chroot", "mount", "umount", "dpkg-deb"];
    if std::env::var_os("DKMS_HOOK_E2E_DEB").is_none() {
        tools.extend(["dpkg-buildpackage", "dh"]);
    }
    require_tools(
        "debian_root",
        &tools,
        ".ci/run installs debootstrap, dpkg-dev, debhelper",
    )
}

/// `dkms status` lines.
impl Root {
    fn status(&self) -> Vec<String> {
        self.query("dkms status")
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

    /// Modification time of a file inside the root.
    fn mtime(&self, rel: &str) -> SystemTime {
        fs::metadata(self.path(rel))
            .and_then(|m| m.modified())
            .unwrap_or_else(|e| panic!("stat {rel}: {e}"))
    }
}

/// A `*-dkms` package, made with dpkg-deb, whose module has a syntax error.
/// Its maintainer scripts are what dh_dkms generates.
fn make_broken_deb(dir: &Path) -> PathBuf {
    let pkg = dir.join("pkg");
    let src = pkg.join(format!("usr/src/{BROKEN}-{BROKEN_VERSION}"));
    let debian = pkg.join("DEBIAN");
    for d in [&src, &debian] {
        fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir: {e}"));
    }
    let write = |p: PathBuf, text: &str, mode: u32| {
        fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
    };
    write(
        src.join("dkms.conf"),
        &format!(
            "PACKAGE_NAME=\"{BROKEN}\"\nPACKAGE_VERSION=\"{BROKEN_VERSION}\"\n\
             BUILT_MODULE_NAME[0]=\"e2e_broken\"\nDEST_MODULE_LOCATION[0]=\"/updates/dkms\"\n\
             AUTOINSTALL=\"yes\"\n"
        ),
        0o644,
    );
    write(src.join("Makefile"), "obj-m := e2e_broken.o\n", 0o644);
    write(
        src.join("e2e_broken.c"),
        "#include <linux/module.h>\nstatic int __init e2e_init(void) { return 0 }\n\
         module_init(e2e_init);\nMODULE_LICENSE(\"GPL\");\n",
        0o644,
    );
    write(
        debian.join("control"),
        &format!(
            "Package: {BROKEN}-dkms\nVersion: {BROKEN_VERSION}-1\nArchitecture: all\n\
             Maintainer: dkms-hook tests <tests@dkms-hook.invalid>\nDepends: dkms\n\
             Description: kernel module that does not compile (dkms-hook test)\n \
             Its source has a syntax error on purpose.\n"
        ),
        0o644,
    );
    write(
        debian.join("postinst"),
        &format!(
            "#!/bin/sh\nset -e\nDKMS_NAME={BROKEN}\nDKMS_PACKAGE_NAME=$DKMS_NAME-dkms\n\
             DKMS_VERSION={BROKEN_VERSION}\ncase \"$1\" in\n  configure)\n    \
             /usr/lib/dkms/common.postinst $DKMS_NAME $DKMS_VERSION /usr/share/$DKMS_PACKAGE_NAME \"\" $2\n    \
             ;;\nesac\n"
        ),
        0o755,
    );
    write(
        debian.join("prerm"),
        &format!(
            "#!/bin/sh\nset -e\nDKMS_NAME={BROKEN}\nDKMS_VERSION={BROKEN_VERSION}\n\
             case \"$1\" in\n  remove|upgrade|deconfigure)\n    \
             if [ \"$(dkms status -m $DKMS_NAME -v $DKMS_VERSION)\" ]; then\n      \
             dkms remove -m $DKMS_NAME -v $DKMS_VERSION --all\n    fi\n    ;;\nesac\n"
        ),
        0o755,
    );
    let deb = dir.join(format!("{BROKEN}-dkms_{BROKEN_VERSION}-1_all.deb"));
    pkg_common::run_ok(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&pkg)
            .arg(&deb),
    );
    deb
}

/// The newest and second newest `linux-headers-6.1.0-<N>-amd64` ABIs the
/// root's apt knows, as kernel versions (`6.1.0-<N>-amd64`).
fn newest_two_kernels(root: &Root) -> (String, String) {
    let out = root.ok(
        "apt-cache search --names-only '^linux-headers-6\\.1\\.0-[0-9]+-amd64$' \
         | awk '{print $1}' | sort -V | tail -n 2",
    );
    let ks: Vec<String> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("linux-headers-"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        ks.len(),
        2,
        "need two linux-headers-6.1.0-<N>-amd64 packages, found {ks:?}"
    );
    (ks[1].clone(), ks[0].clone())
}

#[test]
fn apt_in_a_debian_root() {
    if !enabled() {
        return;
    }
    let total = Instant::now();
    let _lock = lock_work_dir("e2e.lock");

    let deb = match std::env::var_os("DKMS_HOOK_E2E_DEB") {
        Some(p) => PathBuf::from(p),
        None => timed("step 0: build the .deb", pkg_common::build_deb),
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
        let archives = pkg_common::repo().join("tests/.cache/e2e-apt-archives");
        fs::create_dir_all(archives.join("partial"))
            .unwrap_or_else(|e| panic!("create {}: {e}", archives.display()));
        root.mount(
            &["--bind", &archives.to_string_lossy()],
            "/var/cache/apt/archives",
        );
        // Nothing may start services inside the root.
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

    timed("step 1e: apt-get install ./dkms-hook.deb", || {
        fs::copy(&deb, root.path(&format!("/tmp/{deb_name}")))
            .unwrap_or_else(|e| panic!("copy {}: {e}", deb.display()));
        root.ok(&format!("{APT} install /tmp/{deb_name}"));
        let owner = root.ok("dpkg -S /usr/sbin/dkms");
        assert_eq!(owner.trim(), "dkms-hook: /usr/sbin/dkms");
        // No upstream dkms: /usr/sbin/dkms is our ELF binary, not a script.
        let real = root.sh("dpkg-query -W -f='${Status}' dkms");
        assert!(
            real.code != 0 || !real.output.contains("ok installed"),
            "the dkms package is installed"
        );
        let magic = fs::read(root.path("/usr/sbin/dkms")).unwrap_or_default();
        assert!(
            magic.starts_with(b"\x7fELF"),
            "/usr/sbin/dkms is not our binary"
        );
        assert_eq!(root.ok("dkms --version").trim(), "dkms-3.4.3");
        assert!(
            root.path("/etc/systemd/system/multi-user.target.wants/dkms-hook.service")
                .symlink_metadata()
                .is_ok(),
            "dkms-hook.service is not enabled"
        );
    });

    let (k1, k2) = newest_two_kernels(&root);
    println!("kernels: newest {k1}, second {k2}");

    timed(&format!("step 2a: install linux-headers-{k1}"), || {
        root.ok(&format!("{APT} install linux-headers-{k1}"));
        assert!(root
            .path(&format!("/lib/modules/{k1}/build/include"))
            .is_dir());
    });
    timed("step 2b: install v4l2loopback-dkms acpi-call-dkms", || {
        let out = root.ok(&format!("{APT} install v4l2loopback-dkms acpi-call-dkms"));
        // The kernel has headers but no image (as in any chroot or container
        // build): pruning it as "no longer installed" would undo the builds.
        assert!(
            !out.contains(&format!("kernel {k1} is no longer installed")),
            "dkms-hook pruned {k1} during the apt run although its headers are installed"
        );
        root.assert_installed("v4l2loopback", "v4l2loopback", &k1);
        root.assert_installed("acpi-call", "acpi_call", &k1);
    });

    timed(
        &format!("step 3: install linux-headers-{k2}: built automatically"),
        || {
            root.ok(&format!("{APT} install linux-headers-{k2}"));
            root.assert_installed("v4l2loopback", "v4l2loopback", &k2);
            root.assert_installed("acpi-call", "acpi_call", &k2);
            root.assert_installed("v4l2loopback", "v4l2loopback", &k1);
        },
    );

    timed(
        &format!("step 4: remove {k2}: its builds are pruned"),
        || {
            let purge = root.ok(&format!(
                "{APT} purge linux-headers-{k2} linux-headers-{}-common",
                k2.trim_end_matches("-amd64")
            ));
            let pruned_by_apt = purge.contains(&format!("kernel {k2} is no longer installed"));
            println!("apt's post-invoke hook pruned {k2}: {pruned_by_apt}");
            root.ok(&format!("rm -rf /lib/modules/{k2}"));
            let prune = root.ok("dkms-hook prune");
            assert!(
                pruned_by_apt || prune.contains(&format!("kernel {k2} is no longer installed")),
                "neither apt's hook nor `dkms-hook prune` pruned {k2}"
            );
            root.assert_absent("v4l2loopback", "v4l2loopback", &k2);
            root.assert_absent("acpi-call", "acpi_call", &k2);
            root.assert_installed("v4l2loopback", "v4l2loopback", &k1);
            root.assert_installed("acpi-call", "acpi_call", &k1);
            assert_eq!(root.ok("dkms-hook prune").trim(), "Nothing to prune.");
        },
    );

    timed(
        "step 5: dpkg-reconfigure v4l2loopback-dkms rebuilds",
        || {
            let v = root.version_of("v4l2loopback");
            let log = format!("/var/lib/dkms/v4l2loopback/{v}/{k1}/{ARCH}/log/make.log");
            let before = root.mtime(&log);
            std::thread::sleep(Duration::from_millis(1100));
            let out = root.ok("dpkg-reconfigure v4l2loopback-dkms");
            assert!(
                out.contains("Building"),
                "dpkg-reconfigure did not build:\n{out}"
            );
            let after = root.mtime(&log);
            assert!(
                after > before,
                "{log} was not rewritten ({before:?} -> {after:?})"
            );
            root.assert_installed("v4l2loopback", "v4l2loopback", &k1);
        },
    );

    timed("step 6: apt-get purge v4l2loopback-dkms", || {
        root.ok(&format!("{APT} purge v4l2loopback-dkms"));
        assert!(
            !root.path("/var/lib/dkms/v4l2loopback").exists(),
            "/var/lib/dkms/v4l2loopback is still there"
        );
        let kos = root.ok("find /lib/modules -name 'v4l2loopback.ko*'");
        assert!(
            kos.trim().is_empty(),
            "v4l2loopback modules left behind:\n{kos}"
        );
        assert!(
            !root.status().iter().any(|l| l.starts_with("v4l2loopback/")),
            "dkms status still lists v4l2loopback"
        );
        root.assert_installed("acpi-call", "acpi_call", &k1);
    });

    timed("step 7: a module that does not compile", || {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let broken = make_broken_deb(tmp.path());
        let name = broken
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        fs::copy(&broken, root.path(&format!("/tmp/{name}")))
            .unwrap_or_else(|e| panic!("copy {name}: {e}"));
        let pkg = format!("{BROKEN}-dkms");

        // apt fails: dpkg reports the postinst's exit status and leaves the
        // package half-configured; the other modules are untouched.
        let install = root.sh(&format!("{APT} install /tmp/{name}"));
        assert_eq!(
            install.code, 100,
            "apt-get install of {name} did not fail as expected"
        );
        for want in [
            "Bad return status for module build on kernel",
            "installed e2e-broken-dkms package post-installation script subprocess returned error exit status 10",
            "E: Sub-process /usr/bin/dpkg returned an error code (1)",
        ] {
            assert!(install.output.contains(want), "apt output lacks `{want}`");
        }
        let state = root.ok(&format!("dpkg-query -W -f='${{Status}}' {pkg}"));
        assert_eq!(state.trim(), "install ok half-configured");
        let audit = root.ok("dpkg --audit");
        assert!(
            audit.contains(&pkg),
            "dpkg --audit does not name {pkg}:\n{audit}"
        );
        let log = root.ok(&format!(
            "find /var/lib/dkms/{BROKEN} -name make.log -exec cat {{}} +"
        ));
        assert!(
            log.contains("error"),
            "make.log does not show the compile error:\n{log}"
        );
        assert!(
            root.status()
                .iter()
                .any(|l| l == &format!("{BROKEN}/{BROKEN_VERSION}: added")),
            "{BROKEN} is not left registered (added)"
        );
        assert!(root.installed_ko(&k1, "e2e_broken").is_none());
        root.assert_installed("acpi-call", "acpi_call", &k1);
        root.sh("dkms-hook pending");

        // Configuring again fails the same way, and so does every later apt
        // run, which retries the configuration, until the package is removed.
        let again = root.sh("dpkg --configure -a");
        assert_eq!(
            again.code, 1,
            "dpkg --configure -a did not fail on a broken module"
        );
        let fix = root.sh(&format!("{APT} -f install"));
        assert_eq!(
            fix.code, 100,
            "apt-get -f install did not fail on a broken module"
        );
        assert!(fix.output.contains("1 not fully installed or removed."));

        // The repair: remove the package; dpkg's state is clean again.
        root.ok(&format!("{APT} purge {pkg}"));
        root.ok(&format!("{APT} -f install"));
        assert_eq!(root.ok("dpkg --audit").trim(), "");
        assert!(!root.path(&format!("/var/lib/dkms/{BROKEN}")).exists());
        root.assert_installed("acpi-call", "acpi_call", &k1);
    });

    println!(
        "total (before teardown): {:.1} s",
        total.elapsed().as_secs_f64()
    );
    drop(root);
    println!("total: {:.1} s", total.elapsed().as_secs_f64());
}
