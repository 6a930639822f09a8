//! Switching between Debian's dkms and dkms-hook, both ways, with apt in a
//! throwaway Debian root: Debian 12's dkms 3.0.10
//! (`switch_from_debian_dkms_and_back`) and Debian 13's dkms 3.2.2
//! (`switch_from_trixie_dkms_and_back`).
//!
//! 1. Debian's `dkms` with two kernels' headers (Debian 12: the third and
//!    second newest `linux-headers-6.1.0-<N>-amd64`; Debian 13: the second
//!    newest 6.12 ABI's `-amd64` and the newest ABI's `-rt-amd64`, whose
//!    headers pull in their images), Debian's `v4l2loopback-dkms` and
//!    `acpi-call-dkms` built for both, and a local module `onek` built for
//!    the older kernel only; `dkms status` is recorded.
//! 2. `apt-get install ./dkms-hook.deb`: dkms is removed but not purged
//!    (`rc`), `dkms status` reads the same, and Debian's kernel hooks
//!    (`/etc/kernel/{postinst.d,header_postinst.d,prerm.d,install.d}/dkms`)
//!    are diverted out of the hook directories (Debian 13 ships
//!    `{postinst,header_postinst,preinst,prerm}.d/dkms`): `run-parts
//!    --test` lists only dkms-hook's shims.
//! 3. The older kernel is removed (its prerm.d hooks run as its image
//!    package's prerm runs them, then its headers are purged and its module
//!    directory goes): its builds are gone, the other kernel's stay, and
//!    `onek` stays registered as added.
//! 4. The newest kernel arrives (headers installed, postinst.d hooks run;
//!    Debian 13: the newest ABI's `-amd64`, a sibling of the `-rt-amd64`
//!    kernel): both modules are built and installed for it.
//! 5. `/usr/lib/dkms/dkms-autopkgtest v4l2loopback-dkms` passes on both kernels.
//! 6. `apt-get install dkms` brings Debian's dkms back: dkms-hook is removed,
//!    the hooks are back in place with dkms's own content (no diversion is
//!    left), `dkms status` (Debian's dkms now) reads the same as before, and
//!    Debian's dkms builds `onek` for the newest kernel.
//!
//! Slow (debootstrap, apt downloads, module builds), so it runs only when
//! `DKMS_HOOK_E2E=1` or `CI` is set; otherwise it prints "SKIPPED". It needs
//! root. `DKMS_HOOK_E2E_DEB=<path>` installs that `.deb` instead of building
//! one. The root is the harness's [`DebianChroot`], as in `debian_root.rs`,
//! with the same caches: the `.deb` build in
//! `$CARGO_TARGET_TMPDIR/dkms-hook-pkg`, the debootstrap tarball and apt's
//! archives in `tests/.cache/`. Each step prints its time.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use crate::harness::*;

/// Names of the root directories this test creates (and cleans up after a crash).
const ROOT_PREFIX: &str = "migration-";

/// Debian 13's dkms kernel hooks (conffiles) that must not run while
/// dkms-hook is installed, and where debian/preinst diverts them.
const TRIXIE_HOOKS: &[(&str, &str)] = &[
    (
        "/etc/kernel/postinst.d/dkms",
        "/etc/dkms/dkms-hook-diverted/kernel-postinst.d-dkms",
    ),
    (
        "/etc/kernel/header_postinst.d/dkms",
        "/etc/dkms/dkms-hook-diverted/kernel-header_postinst.d-dkms",
    ),
    (
        "/etc/kernel/preinst.d/dkms",
        "/etc/dkms/dkms-hook-diverted/kernel-preinst.d-dkms",
    ),
    (
        "/etc/kernel/prerm.d/dkms",
        "/etc/dkms/dkms-hook-diverted/kernel-prerm.d-dkms",
    ),
];

/// Debian 12's dkms kernel hooks that must not run while dkms-hook is
/// installed, and where debian/preinst diverts them.
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

/// Write the sources of the local module `onek` (no AUTOINSTALL: it is
/// built only where someone builds it by hand).
fn write_onek(root: &DebianChroot) {
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
        write_file(&root.path(&format!("/usr/src/{ONEK}-1.0/{name}")), text);
    }
}

/// `dkms status` lines, sorted (Debian's dkms and ours print the same set).
fn sorted_status(root: &DebianChroot) -> Vec<String> {
    let mut s = root.status();
    s.sort();
    s
}

/// The package state of `pkg` (`${db:Status-Abbrev}`, e.g. `ii ` or `rc `).
fn pkg_state(root: &DebianChroot, pkg: &str) -> String {
    root.run(&format!(
        "dpkg-query -W -f='${{db:Status-Abbrev}}' {pkg} 2>/dev/null"
    ))
    .stdout
    .trim()
    .to_string()
}

/// The executable files `run-parts` would run in `dir`.
fn hooks_run(root: &DebianChroot, dir: &str) -> Vec<String> {
    root.query(&format!("run-parts --test {dir}"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// The md5sums dpkg recorded for the conffiles of `pkg`, by path.
fn conffile_sums(root: &DebianChroot, pkg: &str) -> Vec<(String, String)> {
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
    if e2e_enabled("migration") {
        switch_from(Release::Bookworm);
    }
}

#[test]
fn switch_from_trixie_dkms_and_back() {
    if e2e_enabled("trixie_migration") {
        switch_from(Release::Trixie);
    }
}

/// The steps of the module header, from and back to `release`'s dkms.
fn switch_from(release: Release) {
    let total = Instant::now();
    let _lock = lock_work_dir("e2e.lock");
    let _clock = tier_clock(format!("slow::migration ({})", release.suite()));

    let deb = e2e_deb();
    let root =
        DebianChroot::bootstrap_release(&format!("{ROOT_PREFIX}{}-", release.suite()), release);
    let hooks = match release {
        Release::Bookworm => DEBIAN_HOOKS,
        Release::Trixie => TRIXIE_HOOKS,
    };
    // Debian 13's headers pull in the image, whose maintainer scripts run
    // the kernel hooks themselves; Debian 12's are run by hand as the
    // image's scripts would.
    let by_hand = release == Release::Bookworm;

    // k_new arrives after the switch; k_mid and k_old are there before it,
    // and k_old is removed after it.
    let [k_new, k_mid, k_old] = root.newest_kernels();
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
            let deb = root.copy_in(&deb);
            root.ok(&format!("{APT} install {deb}"));
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
            for (hook, diverted) in hooks {
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
        if by_hand {
            root.ok(&format!(
                "run-parts --report --exit-on-error --arg={k_old} --arg=/boot/vmlinuz-{k_old} /etc/kernel/prerm.d"
            ));
        }
        root.ok(&format!("{APT} purge {}", root.kernel_packages(&k_old)));
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
        if by_hand {
            root.ok(&format!(
                "run-parts --report --exit-on-error --arg={k_new} --arg=/boot/vmlinuz-{k_new} /etc/kernel/postinst.d"
            ));
        }
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
                r.stdout.lines().any(|l| l == pass),
                "dkms-autopkgtest did not report `{pass}`"
            );
        }
        assert!(!r.stdout.contains("I: FAIL"));
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
            for (hook, _) in hooks {
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
