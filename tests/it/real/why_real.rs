//! `dkms-hook why` on the real-kernel tier: the causes real headers,
//! real modules and the real kmod tools produce — a module built for the
//! other installed kernel (vermagic), a blacklist (checked against
//! `modprobe --use-blacklist --dry-run`), the kernel's own module winning
//! in a `modules.dep` written by the real depmod with a depmod.d override
//! (checked against `modprobe --dry-run`), and a build that fails.
//!
//! Skipped without `/usr/src/linux-headers-6.1.0-*-amd64` unless `CI` is set.

use std::process::Command;

use crate::harness::*;

/// A root with real kernel `k` (headers linked in) and the real hello/1.0
/// installed for it by dkms.
fn installed(k: &str) -> TestRoot {
    let root = TestRoot::new();
    root.add_real_kernel(k, Some(&headers_dir(k)));
    root.add_hello("1.0", false);
    root.dkms(&["install", "hello/1.0", "-k", k]).assert_ok();
    root.assert_installed_module(k, "hello");
    root
}

fn why(root: &TestRoot, k: &str) -> Output {
    root.hook(&["why", "hello", "-k", k])
}

/// The failed check line and the cause line of a `why` that says no.
#[track_caller]
fn assert_cause(out: &Output, line: &str, cause: &str) {
    out.assert_code(1);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("✘ ") && l.contains(line)),
        "no failed check line with {line:?}\n{out}"
    );
    let c = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Cause: "))
        .unwrap_or_else(|| panic!("no cause\n{out}"));
    assert!(c.contains(cause), "{c:?} lacks {cause:?}\n{out}");
}

/// What `modprobe --dry-run --verbose` would insert for hello on `k` in
/// the root (with its modprobe.d, and the blacklist when `blacklist`).
fn modprobe_would_insert(root: &TestRoot, k: &str, blacklist: bool) -> String {
    let mut cmd = Command::new("modprobe");
    cmd.args(["-n", "-v", "-d"])
        .arg(root.root())
        .args(["-S", k, "-C"])
        .arg(root.path("/etc/modprobe.d"));
    if blacklist {
        cmd.arg("-b");
    }
    cmd.arg("hello");
    stdout_of(&mut cmd)
}

#[test]
fn a_real_module_that_would_load() {
    let Some(kernels) = require_real_kernels("a_real_module_that_would_load") else {
        return;
    };
    let k = kernels.last().expect("kernel");
    let root = installed(k);
    let out = why(&root, k);
    out.assert_ok();
    assert!(
        out.stdout.contains(&format!("✔ vermagic: vermagic is {k}")),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("✔ modules.dep: modules.dep lists updates/dkms/hello.ko"),
        "{out}"
    );
}

#[test]
fn vermagic_of_the_other_installed_kernel() {
    let Some(kernels) = require_two_real_kernels("vermagic_of_the_other_installed_kernel") else {
        return;
    };
    if kernels.len() < 2 {
        return;
    }
    let (old, new) = (&kernels[0], &kernels[1]);
    let root = installed(new);
    root.add_real_kernel(old, Some(&headers_dir(old)));
    root.dkms(&["build", "hello/1.0", "-k", old]).assert_ok();
    // The module built for the old kernel ends up where the new one looks.
    let other = std::fs::read(root.path(&format!(
        "/var/lib/dkms/hello/1.0/{old}/x86_64/module/hello.ko"
    )))
    .expect("read");
    assert_eq!(vermagic_of(&other), *old);
    root.write(
        &format!("/var/lib/dkms/hello/1.0/{new}/x86_64/module/hello.ko"),
        &other,
    );
    root.write(&format!("/lib/modules/{new}/updates/dkms/hello.ko"), &other);
    let out = why(&root, new);
    assert_cause(
        &out,
        &format!("vermagic is {old}, not {new}"),
        &format!("built for kernel {old}"),
    );
}

/// The release in a module's vermagic, read by the host's modinfo.
fn vermagic_of(ko: &[u8]) -> String {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("m.ko");
    std::fs::write(&p, ko).expect("write");
    vermagic(&p)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_blacklist_that_modprobe_honours() {
    let Some(kernels) = require_real_kernels("a_blacklist_that_modprobe_honours") else {
        return;
    };
    let k = kernels.last().expect("kernel");
    let root = installed(k);
    assert!(
        modprobe_would_insert(&root, k, true).contains("hello.ko"),
        "modprobe would not load it before the blacklist"
    );
    root.write("/etc/modprobe.d/local.conf", "blacklist hello\n");
    assert_eq!(modprobe_would_insert(&root, k, true).trim(), "");
    let out = why(&root, k);
    assert_cause(
        &out,
        "blacklisted: /etc/modprobe.d/local.conf:1 says `blacklist hello`",
        "is blacklisted by line 1 of /etc/modprobe.d/local.conf",
    );
}

#[test]
fn the_kernels_own_module_wins_in_real_modules_dep() {
    let Some(kernels) = require_real_kernels("the_kernels_own_module_wins_in_real_modules_dep")
    else {
        return;
    };
    let k = kernels.last().expect("kernel");
    let root = installed(k);
    // The kernel package brings its own hello.ko back (a real module), and
    // a depmod.d override prefers it; the real depmod indexes the root
    // with that configuration.
    let ours = root.installed_ko(k, "hello");
    root.write(
        &format!("/lib/modules/{k}/kernel/drivers/misc/hello.ko"),
        std::fs::read(&ours).expect("read"),
    );
    root.write(
        "/etc/depmod.d/prefer-kernel.conf",
        "override hello * kernel/drivers/misc\n",
    );
    run_ok(
        Command::new("depmod")
            .arg("-b")
            .arg(root.root())
            .arg("-C")
            .arg(root.path("/etc/depmod.d"))
            .arg(k),
    );
    assert!(
        root.modules_dep(k)
            .lines()
            .any(|l| l.starts_with("kernel/drivers/misc/hello.ko:")),
        "{}",
        root.modules_dep(k)
    );
    assert!(modprobe_would_insert(&root, k, false).contains("kernel/drivers/misc/hello.ko"));
    let out = why(&root, k);
    assert_cause(
        &out,
        "modules.dep lists kernel/drivers/misc/hello.ko, not updates/dkms/hello.ko",
        "/etc/depmod.d/prefer-kernel.conf:1 says `override hello * kernel/drivers/misc`",
    );
}

#[test]
fn a_real_build_failure_quotes_the_compiler() {
    let Some(kernels) = require_real_kernels("a_real_build_failure_quotes_the_compiler") else {
        return;
    };
    let k = kernels.last().expect("kernel");
    let root = TestRoot::new();
    root.add_real_kernel(k, Some(&headers_dir(k)));
    root.add_hello("1.0", true);
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    root.hook(&["autoinstall", "-k", k]).assert_code(11);
    let out = why(&root, k);
    assert_cause(
        &out,
        &format!("the build of hello/1.0 for {k} failed"),
        "does not compile",
    );
    assert!(
        out.stdout.contains("error:"),
        "no compiler error quoted\n{out}"
    );
    assert!(
        out.stdout.contains(&format!(
            "Fix: less /var/lib/dkms/.dkms-hook/failed/hello@1.0@{k}@x86_64.make.log"
        )),
        "{out}"
    );
}
