//! Boot proof of `dkms-hook why` on a signature the kernel refuses: our
//! `dkms` builds the hello module for the newest real kernel and signs it
//! with its own key (`dkms generate_mok`), which that kernel does not
//! trust. The kernel boots in qemu with `module.sig_enforce=1` from an
//! initramfs that holds the root's dkms state and module tree, a static
//! busybox, and `dkms-hook` with the libraries it links. `insmod` must fail
//! ("Key was rejected by service"), and `dkms-hook why hello` on the booted
//! machine must name the signature as the cause and quote the kernel's
//! refusal from its log.
//!
//! Like `boot_qemu`, KVM is never used, and without qemu, a static busybox,
//! cpio or a kernel with both image and headers the test is skipped, except
//! under CI.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::boot_qemu::{boot_with, find_program, missing, newest_bootable_kernel, static_busybox};
use crate::harness::*;

/// The applets the init script calls.
const APPLETS: &[&str] = &["sh", "mount", "mkdir", "cat", "echo", "insmod", "poweroff"];

/// What the initramfs runs as PID 1.
const INIT_SCRIPT: &str = r#"#!/bin/sh
export PATH=/bin:/usr/sbin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
k=$(cat /proc/sys/kernel/osrelease)
echo "BOOT_PROOF_INIT_REACHED uptime=$(cat /proc/uptime)"
echo "kernel=$k"
echo "sig_enforce=$(cat /sys/module/module/parameters/sig_enforce)"
insmod /lib/modules/$k/updates/dkms/hello.ko
echo "INSMOD_RC=$?"
echo "--- why"
dkms-hook why hello
echo "WHY_RC=$?"
echo "--- why json"
dkms-hook why hello --output json
echo "--- end"
echo "BOOT_PROOF_DONE uptime=$(cat /proc/uptime)"
poweroff -f
"#;

/// Copy `from` (a directory tree of the root, or a file) into `tree` at
/// the same path inside; links are copied as links.
fn copy_into(root: &TestRoot, inside: &str, tree: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg("--parents")
        .arg(inside.trim_start_matches('/'))
        .arg(tree)
        .current_dir(root.root())
        .status()
        .expect("run cp");
    assert!(status.success(), "cp {inside} failed");
}

/// The shared libraries `bin` needs (as `ldd` lists them).
fn libraries(bin: &Path) -> Vec<PathBuf> {
    stdout_of(Command::new("ldd").arg(bin))
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(PathBuf::from)
        })
        .collect()
}

/// The initramfs: busybox, dkms-hook (stripped) and its libraries, the
/// root's `/etc`, dkms tree, module source and the kernel's module tree
/// (without its `build` link), and `/init`.
fn make_initramfs(dir: &Path, busybox: &Path, root: &TestRoot, k: &str) -> PathBuf {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("bin")).expect("mkdir bin");
    fs::create_dir_all(tree.join("usr/sbin")).expect("mkdir sbin");
    fs::copy(busybox, tree.join("bin/busybox")).expect("copy busybox");
    for a in APPLETS {
        symlink("busybox", tree.join("bin").join(a)).expect("applet");
    }
    let hook = PathBuf::from(env!("CARGO_BIN_EXE_dkms-hook"));
    let dest = tree.join("usr/sbin/dkms-hook");
    let st = Command::new("strip")
        .arg("-o")
        .arg(&dest)
        .arg(&hook)
        .status()
        .expect("run strip");
    assert!(st.success(), "strip dkms-hook failed");
    for lib in libraries(&hook) {
        let to = tree.join(lib.strip_prefix("/").expect("absolute"));
        fs::create_dir_all(to.parent().expect("parent")).expect("mkdir lib");
        fs::copy(&lib, &to).unwrap_or_else(|e| panic!("copy {}: {e}", lib.display()));
    }
    for inside in ["/etc", "/var/lib/dkms", "/usr/src/hello-1.0"] {
        copy_into(root, inside, &tree);
    }
    for entry in fs::read_dir(root.path(&format!("/lib/modules/{k}"))).expect("modules dir") {
        let name = entry.expect("entry").file_name();
        if name != "build" && name != "source" {
            copy_into(
                root,
                &format!("/lib/modules/{k}/{}", name.to_string_lossy()),
                &tree,
            );
        }
    }
    write_executable(&tree.join("init"), INIT_SCRIPT);
    let initrd = dir.join("initrd.gz");
    let st = Command::new("sh")
        .arg("-c")
        .arg("set -e; find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0 | gzip -1 > \"$1\"")
        .arg("sh")
        .arg(&initrd)
        .current_dir(&tree)
        .status()
        .expect("run find | cpio | gzip");
    assert!(st.success(), "building the initramfs failed");
    initrd
}

/// The lines between `--- from` and the next `--- ` line of the console.
fn part<'a>(log: &'a str, from: &str) -> &'a str {
    let start = log
        .find(&format!("--- {from}\n"))
        .map(|i| i + from.len() + 5);
    let Some(start) = start else { return "" };
    let rest = &log[start..];
    &rest[..rest.find("\n--- ").unwrap_or(rest.len())]
}

#[test]
fn why_names_the_signature_the_booted_kernel_refused() {
    let Some(qemu) = find_program("qemu-system-x86_64") else {
        missing("qemu-system-x86_64 not found (apt-get install qemu-system-x86)");
        return;
    };
    let Some(busybox) = static_busybox() else {
        missing("no static /bin/busybox (apt-get install busybox-static)");
        return;
    };
    if find_program("cpio").is_none() || find_program("strip").is_none() {
        missing("cpio or strip not found (apt-get install cpio binutils)");
        return;
    }
    let Some(k) = newest_bootable_kernel() else {
        missing("no kernel with both /boot/vmlinuz-<K> and /usr/src/linux-headers-<K>");
        return;
    };
    let _clock = tier_clock("slow::boot_why_qemu");
    let root = TestRoot::new();
    root.add_real_kernel(&k, Some(&headers_dir(&k)));
    root.dkms(&["generate_mok"]).assert_ok();
    root.add_hello("1.0", false);
    root.dkms(&["install", "hello/1.0", "-k", &k]).assert_ok();
    let ko = root.installed_ko(&k, "hello");
    assert_eq!(
        host_modinfo_field(&ko, "signer").trim(),
        "DKMS module signing key",
        "the module is not signed with our key"
    );

    let work = tempfile::Builder::new()
        .prefix("dkms-boot-why-")
        .tempdir()
        .expect("tempdir");
    let initrd = make_initramfs(work.path(), &busybox, &root, &k);
    let kernel = PathBuf::from(format!("/boot/vmlinuz-{k}"));
    let run = boot_with(&qemu, &kernel, &initrd, "module.sig_enforce=1", 1024);
    let log = &run.console;
    eprintln!(
        "boot_why_qemu: qemu exit {:?} after {:.1} s",
        run.code,
        run.total.as_secs_f64()
    );
    assert!(run.code.is_some(), "qemu did not finish; console:\n{log}");
    assert!(log.contains(&format!("kernel={k}")), "console:\n{log}");
    assert!(log.contains("sig_enforce=Y"), "console:\n{log}");
    assert!(
        log.contains("Key was rejected by service"),
        "insmod was not refused for the key; console:\n{log}"
    );
    assert!(
        !log.lines().any(|l| l.trim() == "INSMOD_RC=0"),
        "console:\n{log}"
    );

    let why = part(log, "why");
    assert!(
        log.lines().any(|l| l.trim() == "WHY_RC=1"),
        "console:\n{log}"
    );
    assert!(
        why.lines().any(
            |l| l.starts_with("✘ signature: signed by \"DKMS module signing key\"")
                && l.contains("the kernel does not trust that key")
                && l.contains("(module.sig_enforce)")
        ),
        "why did not fail the signature; console:\n{log}"
    );
    let cause = why
        .lines()
        .find(|l| l.starts_with("Cause: "))
        .unwrap_or_else(|| panic!("no cause; console:\n{log}"));
    assert!(
        cause.contains("signed with the configured key, but that key is not enrolled"),
        "{cause}\nconsole:\n{log}"
    );
    assert!(
        why.contains("The kernel said:\n    Loading of module with unavailable key is rejected"),
        "the kernel's refusal is not quoted; console:\n{log}"
    );
    assert!(
        why.contains("Fix: mokutil --import /var/lib/dkms/mok.pub"),
        "console:\n{log}"
    );
    assert!(
        why.contains("✘ kernel log: the kernel refused the module (1 line(s) below)"),
        "a refusal repeated by the loader is quoted once; console:\n{log}"
    );
    let json = part(log, "why json");
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("why json: {e}\n{json}"));
    assert_eq!(v["running"], true);
    assert_eq!(v["cause"]["check"], "signature");
    assert_eq!(v["signature"]["trust"], "untrusted");
    eprintln!("boot_why_qemu: why on the booted kernel:\n{why}");
}
