//! The hook suite on the real-kernel tier: `dkms-hook --root <tmp> <event>`
//! called as dpkg and apt call it, building a real module against the
//! Debian headers `.ci/run` installs (`/usr/src/linux-headers-6.1.0-*-amd64`,
//! the two newest), in a throwaway root whose `lib/modules/K/build` leads to
//! them. Checks the installed `.ko` (vermagic via `modinfo -F vermagic`,
//! modules.dep), `dkms status` and `dkms-hook pending`.
//!
//! Without headers these tests print "skipped: no real kernel headers",
//! except under CI (`CI` set), where that is a failure, as is having only
//! one kernel for the two-kernel test.

use std::fs;

use crate::harness::*;

/// `/boot/vmlinuz-K`, the IMAGE argument `/etc/kernel/*.d` scripts get.
fn image(k: &str) -> String {
    format!("/boot/vmlinuz-{k}")
}

/// `dkms status` lines.
fn status(root: &TestRoot) -> Vec<String> {
    let run = root.dkms(&["status"]);
    run.assert_ok();
    run.stdout_lines().iter().map(|s| s.to_string()).collect()
}

/// Register the real hello module (written by the harness) with `dkms add`.
fn add_hello(root: &TestRoot) {
    root.add_hello("1.0", false);
    root.dkms(&["add", "hello/1.0"]).assert_ok();
}

/// Panics unless hello/1.0 is installed for `k`: module built for `k`
/// (vermagic), in modules.dep, and `dkms status` says installed.
fn assert_hello_installed(root: &TestRoot, k: &str) {
    root.assert_installed_module(k, "hello");
    let magic = vermagic(&root.installed_ko(k, "hello"));
    assert!(magic.starts_with(&format!("{k} SMP")), "vermagic {magic:?}");
    let line = format!("hello/1.0, {k}, {ARCH}: installed");
    assert!(
        status(root).contains(&line),
        "status lacks {line:?}: {:?}",
        status(root)
    );
}

#[test]
fn real_postinst_without_headers_then_header_postinst_builds() {
    let Some(kernels) =
        require_real_kernels("real_postinst_without_headers_then_header_postinst_builds")
    else {
        return;
    };
    let k = kernels.last().expect("one kernel").clone();
    let root = TestRoot::new();
    root.add_real_kernel(&k, None);
    add_hello(&root);

    // The image package's postinst runs before linux-headers-K is unpacked.
    let run = root.hook(&["kernel-postinst", &k, &image(&k)]);
    run.assert_ok();
    let pkg = format!("linux-headers-{k}");
    assert!(
        run.stdout_lines()
            .iter()
            .any(|l| l.contains(k.as_str()) && l.contains(&pkg)),
        "no line names {k} and {pkg}\n{run}"
    );
    assert!(!root.installed_ko(&k, "hello").exists());
    let p = root.hook(&["pending"]);
    p.assert_ok();
    assert!(p.stdout.contains(&pkg), "pending lacks {k}\n{p}");

    // linux-headers-K arrives; its header_postinst.d hook finishes the work.
    root.add_real_kernel(&k, Some(&headers_dir(&k)));
    let run = root.hook(&["header-postinst", &k]);
    run.assert_ok();
    assert_hello_installed(&root, &k);
    let p = root.hook(&["pending"]);
    p.assert_ok();
    assert!(
        p.stdout.contains("Nothing is pending."),
        "still pending\n{p}"
    );

    // apt's post-invoke afterwards: nothing to do, nothing changes.
    let ko = fs::read(root.installed_ko(&k, "hello")).expect("installed module");
    let run = root.hook(&["apt-post-invoke"]);
    run.assert_ok();
    assert!(
        !run.stdout.contains("Autoinstall of module") && !run.stdout.contains("Building"),
        "apt-post-invoke did work\n{run}"
    );
    assert_eq!(
        fs::read(root.installed_ko(&k, "hello")).expect("installed module"),
        ko
    );
}

#[test]
fn real_two_kernels_postinst_then_prerm_of_one() {
    let Some(kernels) = require_two_real_kernels("real_two_kernels_postinst_then_prerm_of_one")
    else {
        return;
    };
    let root = TestRoot::new();
    for k in &kernels {
        root.add_real_kernel(k, Some(&headers_dir(k)));
    }
    add_hello(&root);
    for k in &kernels {
        root.hook(&["kernel-postinst", k, &image(k)]).assert_ok();
        assert_hello_installed(&root, k);
    }
    if kernels.len() < 2 {
        eprintln!(
            "real_two_kernels_postinst_then_prerm_of_one: only one kernel; prerm part skipped"
        );
        return;
    }
    let (k1, k2) = (&kernels[0], &kernels[1]);
    let k2_ko = fs::read(root.installed_ko(k2, "hello")).expect("k2 module");
    let k2_line = format!("hello/1.0, {k2}, {ARCH}: installed");

    root.hook(&["kernel-prerm", k1, &image(k1)]).assert_ok();

    assert!(!root.path(&format!("/var/lib/dkms/hello/1.0/{k1}")).exists());
    assert!(root
        .path(&format!("/var/lib/dkms/hello/kernel-{k1}-{ARCH}"))
        .symlink_metadata()
        .is_err());
    assert!(!root.installed_ko(k1, "hello").exists());
    assert_eq!(
        fs::read(root.installed_ko(k2, "hello")).expect("k2 module"),
        k2_ko
    );
    assert_eq!(status(&root), vec![k2_line]);
    assert_hello_installed(&root, k2);
}
