//! End to end, with apt itself: our `.deb` replaces dkms in a throwaway
//! Debian root, and Debian's own `*-dkms` packages are built by it; once in
//! Debian 12 (bookworm, `apt_in_a_debian_root`) and once in Debian 13
//! (trixie, `apt_in_a_trixie_root`), from the same `.deb` built on the host.
//!
//! The root is a [`DebianChroot`] (`harness/debian_chroot.rs`): debootstrap
//! minbase of the release from a cached tarball (one per release), with
//! /proc, /sys, /dev and /dev/pts mounted inside, every mount undone however
//! the test ends, apt's archives cached in `tests/.cache/`, the host's
//! mirrors.
//!
//! Inside the root, with apt (the chroot runs on the host's kernel, whose
//! version matches none of the root's kernels; Debian 12's kernels are
//! headers only, Debian 13's headers pull in their images):
//!  1. install the `.deb`; `dpkg -S /usr/sbin/dkms` names dkms-hook; apt
//!     resolves its Depends from the release's own archive;
//!  2. install the headers of the newest kernel (Debian 12: the newest
//!     `linux-headers-6.1.0-<N>-amd64`; Debian 13: the newest
//!     `linux-headers-6.12.<N>+deb13-amd64`), then `v4l2loopback-dkms` and
//!     `acpi-call-dkms`: both modules are built and installed under
//!     `/lib/modules/<kver>/updates/dkms/` with a vermagic that starts with
//!     `<kver>`;
//!  3. install a second kernel's headers (Debian 12: the second newest ABI;
//!     Debian 13: the `-rt-amd64` flavour of the same ABI): both modules
//!     are built for it by the hooks;
//!  4. purge that kernel and remove `/lib/modules/<kver>`: its builds are
//!     gone (by its image's prerm hook, apt's post-invoke hook or
//!     `dkms-hook prune`), the other kernel's stay;
//!  5. `dpkg-reconfigure v4l2loopback-dkms` rebuilds (make.log is rewritten);
//!  6. `apt-get purge v4l2loopback-dkms` leaves no build and no `.ko`;
//!  7. a `*-dkms` package whose module does not compile: apt fails, dpkg
//!     leaves the package half-configured, the other modules stay installed,
//!     and purging the package repairs everything;
//!  8. (Debian 13) upstream's own test packages, as Debian 13 ships them:
//!     `dkms-test-dkms` is built and installed; `dkms-noautoinstall-test-dkms`
//!     is registered and not built; `dkms-replace-test-dkms` installs its
//!     `dkms_test` module over dkms-test-dkms's (the original is kept and
//!     shown), and purging it puts the original back byte for byte; every
//!     step leaves `dpkg --audit` clean.
//!
//! Slow (several minutes: debootstrap, apt downloads, two kernels' worth of
//! module builds), so it runs only when `DKMS_HOOK_E2E=1` or `CI` is set;
//! otherwise it prints "SKIPPED". It needs root. `DKMS_HOOK_E2E_DEB=<path>`
//! installs that `.deb` instead of building one. Each step prints its time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

/// Names of the root directories this test creates (and cleans up after a crash).
const ROOT_PREFIX: &str = "root-";

/// The name and version of the local module package that does not compile.
const BROKEN: &str = "e2e-broken";
const BROKEN_VERSION: &str = "1.0";

/// A `*-dkms` package, made with dpkg-deb, whose module has a syntax error.
/// Its maintainer scripts are what dh_dkms generates.
fn make_broken_deb(dir: &Path) -> PathBuf {
    let pkg = dir.join("pkg");
    let src = pkg.join(format!("usr/src/{BROKEN}-{BROKEN_VERSION}"));
    let debian = pkg.join("DEBIAN");
    write_file(
        &src.join("dkms.conf"),
        format!(
            "PACKAGE_NAME=\"{BROKEN}\"\nPACKAGE_VERSION=\"{BROKEN_VERSION}\"\n\
             BUILT_MODULE_NAME[0]=\"e2e_broken\"\nDEST_MODULE_LOCATION[0]=\"/updates/dkms\"\n\
             AUTOINSTALL=\"yes\"\n"
        ),
    );
    write_file(&src.join("Makefile"), "obj-m := e2e_broken.o\n");
    write_file(
        &src.join("e2e_broken.c"),
        "#include <linux/module.h>\nstatic int __init e2e_init(void) { return 0 }\n\
         module_init(e2e_init);\nMODULE_LICENSE(\"GPL\");\n",
    );
    write_file(
        &debian.join("control"),
        format!(
            "Package: {BROKEN}-dkms\nVersion: {BROKEN_VERSION}-1\nArchitecture: all\n\
             Maintainer: dkms-hook tests <tests@dkms-hook.invalid>\nDepends: dkms\n\
             Description: kernel module that does not compile (dkms-hook test)\n \
             Its source has a syntax error on purpose.\n"
        ),
    );
    write_executable(
        &debian.join("postinst"),
        format!(
            "#!/bin/sh\nset -e\nDKMS_NAME={BROKEN}\nDKMS_PACKAGE_NAME=$DKMS_NAME-dkms\n\
             DKMS_VERSION={BROKEN_VERSION}\ncase \"$1\" in\n  configure)\n    \
             /usr/lib/dkms/common.postinst $DKMS_NAME $DKMS_VERSION /usr/share/$DKMS_PACKAGE_NAME \"\" $2\n    \
             ;;\nesac\n"
        ),
    );
    write_executable(
        &debian.join("prerm"),
        format!(
            "#!/bin/sh\nset -e\nDKMS_NAME={BROKEN}\nDKMS_VERSION={BROKEN_VERSION}\n\
             case \"$1\" in\n  remove|upgrade|deconfigure)\n    \
             if [ \"$(dkms status -m $DKMS_NAME -v $DKMS_VERSION)\" ]; then\n      \
             dkms remove -m $DKMS_NAME -v $DKMS_VERSION --all\n    fi\n    ;;\nesac\n"
        ),
    );
    let deb = dir.join(format!("{BROKEN}-dkms_{BROKEN_VERSION}-1_all.deb"));
    run_ok(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&pkg)
            .arg(&deb),
    );
    deb
}

#[test]
fn apt_in_a_debian_root() {
    if e2e_enabled("debian_root") {
        apt_in(Release::Bookworm);
    }
}

#[test]
fn apt_in_a_trixie_root() {
    if e2e_enabled("trixie_root") {
        apt_in(Release::Trixie);
    }
}

/// The steps of the module header, in a root of `release`.
fn apt_in(release: Release) {
    let total = Instant::now();
    let _lock = lock_work_dir("e2e.lock");
    let _clock = tier_clock(format!("slow::debian_root ({})", release.suite()));

    let deb = e2e_deb();
    let root =
        DebianChroot::bootstrap_release(&format!("{ROOT_PREFIX}{}-", release.suite()), release);

    timed("step 1e: apt-get install ./dkms-hook.deb", || {
        let deb = root.copy_in(&deb);
        root.ok(&format!("{APT} install {deb}"));
        let owner = root.ok("dpkg -S /usr/sbin/dkms");
        assert_eq!(owner.trim(), "dkms-hook: /usr/sbin/dkms");
        // No upstream dkms: /usr/sbin/dkms is our ELF binary, not a script.
        let real = root.sh("dpkg-query -W -f='${Status}' dkms");
        assert!(
            real.code != 0 || !real.stdout.contains("ok installed"),
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

    let [k1, k2] = root.newest_kernels();
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
        // Compressed like the kernel's own modules: Debian 13's are .ko.xz,
        // Debian 12's plain .ko.
        let ext = match release {
            Release::Bookworm => "ko",
            Release::Trixie => "ko.xz",
        };
        for ko in ["v4l2loopback", "acpi_call"] {
            let file = root
                .installed_ko(&k1, ko)
                .unwrap_or_else(|| panic!("{ko} is not installed for {k1}"));
            assert_eq!(
                file.file_name().and_then(|n| n.to_str()),
                Some(format!("{ko}.{ext}").as_str()),
                "{} is not compressed like {k1}'s own modules",
                file.display()
            );
        }
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
            let purge = root.ok(&format!("{APT} purge {}", root.kernel_packages(&k2)));
            let pruned_by_apt = purge.contains(&format!("kernel {k2} is no longer installed"));
            println!("apt's post-invoke hook pruned {k2}: {pruned_by_apt}");
            root.ok(&format!("rm -rf /lib/modules/{k2}"));
            let prune = root.ok("dkms-hook prune");
            if release == Release::Bookworm {
                // Headers only: nothing ran a removal hook for k2.
                assert!(
                    pruned_by_apt || prune.contains(&format!("kernel {k2} is no longer installed")),
                    "neither apt's hook nor `dkms-hook prune` pruned {k2}"
                );
            }
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
        let broken = root.copy_in(&make_broken_deb(tmp.path()));
        let pkg = format!("{BROKEN}-dkms");

        // apt fails: dpkg reports the postinst's exit status and leaves the
        // package half-configured; the other modules are untouched.
        let install = root.sh(&format!("{APT} install {broken}"));
        assert_eq!(
            install.code, 100,
            "apt-get install of {broken} did not fail as expected"
        );
        for want in [
            "Bad return status for module build on kernel",
            "installed e2e-broken-dkms package post-installation script subprocess returned error exit status 10",
            "E: Sub-process /usr/bin/dpkg returned an error code (1)",
        ] {
            assert!(install.stdout.contains(want), "apt output lacks `{want}`");
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
        assert!(fix.stdout.contains("1 not fully installed or removed."));

        // The repair: remove the package; dpkg's state is clean again.
        root.ok(&format!("{APT} purge {pkg}"));
        root.ok(&format!("{APT} -f install"));
        assert_eq!(root.ok("dpkg --audit").trim(), "");
        assert!(!root.path(&format!("/var/lib/dkms/{BROKEN}")).exists());
        root.assert_installed("acpi-call", "acpi_call", &k1);
    });

    if release == Release::Trixie {
        upstream_test_packages(&root, &k1);
    }

    println!(
        "total (before teardown): {:.1} s",
        total.elapsed().as_secs_f64()
    );
    drop(root);
    println!("total: {:.1} s", total.elapsed().as_secs_f64());
}

/// The bytes of the installed `dkms_test` module of kernel `k`.
fn installed_dkms_test(root: &DebianChroot, k: &str) -> Vec<u8> {
    let ko = root
        .installed_ko(k, "dkms_test")
        .unwrap_or_else(|| panic!("dkms_test.ko is not installed for {k}"));
    fs::read(&ko).unwrap_or_else(|e| panic!("read {}: {e}", ko.display()))
}

/// The bytes of the one module file (`*.ko*`) dkms built for `m/v` on `k`.
fn built_module(root: &DebianChroot, m: &str, v: &str, k: &str) -> Vec<u8> {
    let dir = root.path(&format!("/var/lib/dkms/{m}/{v}/{k}/{ARCH}/module"));
    let files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".ko"))
        })
        .collect();
    assert_eq!(files.len(), 1, "{}: {files:?}", dir.display());
    fs::read(&files[0]).unwrap_or_else(|e| panic!("read {}: {e}", files[0].display()))
}

/// Step 8: upstream's test packages as Debian 13 ships them.
fn upstream_test_packages(root: &DebianChroot, k: &str) {
    let audit_clean = |when: &str| {
        assert_eq!(root.ok("dpkg --audit").trim(), "", "dpkg --audit {when}");
    };
    timed("step 8a: apt-get install dkms-test-dkms", || {
        root.ok(&format!("{APT} install dkms-test-dkms"));
        root.assert_installed("dkms_test", "dkms_test", k);
        audit_clean("after dkms-test-dkms");
    });
    timed(
        "step 8b: apt-get install dkms-noautoinstall-test-dkms",
        || {
            let out = root.ok(&format!("{APT} install dkms-noautoinstall-test-dkms"));
            assert!(
            out.contains(
                "Not building the dkms_noautoinstall_test module which does not have AUTOINSTALL enabled."
            ),
            "common.postinst did not say why it builds nothing"
        );
            assert!(
                root.status()
                    .contains(&"dkms_noautoinstall_test/1.0: added".to_string()),
                "dkms_noautoinstall_test is not registered (added)"
            );
            let kos =
                root.ok("find /lib/modules /var/lib/dkms -name 'dkms_noautoinstall_test.ko*'");
            assert!(
                kos.trim().is_empty(),
                "built although AUTOINSTALL is off:\n{kos}"
            );
            audit_clean("after dkms-noautoinstall-test-dkms");
        },
    );
    let own = built_module(root, "dkms_test", "1.0", k);
    assert_eq!(installed_dkms_test(root, k), own);
    timed("step 8c: apt-get install dkms-replace-test-dkms", || {
        root.ok(&format!("{APT} install dkms-replace-test-dkms"));
        let replacement = built_module(root, "dkms_replace_test", "2.0", k);
        assert_eq!(
            installed_dkms_test(root, k),
            replacement,
            "dkms_test.ko is not dkms_replace_test's"
        );
        let status = root.status();
        for want in [
            format!("dkms_replace_test/2.0, {k}, {ARCH}: installed (Original modules exist)"),
            format!(
                "dkms_test/1.0, {k}, {ARCH}: installed (Differences between built and installed modules)"
            ),
        ] {
            assert!(
                status.contains(&want),
                "no `{want}` in dkms status:\n{}",
                status.join("\n")
            );
        }
        audit_clean("after dkms-replace-test-dkms");
    });
    timed("step 8d: apt-get purge dkms-replace-test-dkms", || {
        root.ok(&format!("{APT} purge dkms-replace-test-dkms"));
        assert_eq!(
            installed_dkms_test(root, k),
            own,
            "dkms-test-dkms's module was not put back"
        );
        assert!(
            root.status()
                .contains(&format!("dkms_test/1.0, {k}, {ARCH}: installed")),
            "{:?}",
            root.status()
        );
        assert!(!root.path("/var/lib/dkms/dkms_replace_test").exists());
        audit_clean("after purging dkms-replace-test-dkms");
    });
    timed("step 8e: apt-get purge the test packages", || {
        root.ok(&format!(
            "{APT} purge dkms-noautoinstall-test-dkms dkms-test-dkms"
        ));
        let kos = root.ok("find /lib/modules -name 'dkms_*test*.ko*'");
        assert!(kos.trim().is_empty(), "left behind:\n{kos}");
        assert!(
            !root.status().iter().any(|l| l.starts_with("dkms_")),
            "{:?}",
            root.status()
        );
        audit_clean("after purging the test packages");
    });
}
