//! Boot proof: a module that our `dkms` built for a real Debian kernel is
//! loaded by that very kernel.
//!
//! The test builds a hello module with `dkms --root <tmp> install` against
//! the installed headers `/usr/src/linux-headers-<K>`, packs it with a static
//! busybox into a tiny initramfs, boots `/boot/vmlinuz-<K>` (Debian's
//! `linux-image-<K>`) in qemu under TCG, and reads the serial console: the
//! init script runs `insmod` and prints its exit status, the module's line
//! in `/proc/modules`, and the module's `printk` line.
//!
//! KVM is never used: `/dev/kvm` exists on the CI machines but nested KVM
//! aborts or hangs. Without qemu, a busybox-static, cpio, or a kernel that
//! has both headers and an image, the test prints "skipped: ..." and passes,
//! except under CI (`CI` set), where `.ci/run` installs all of them and the
//! test fails instead.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::*;

/// The text the module's init function prints.
const HELLO_LINE: &str = "dkms-hook-boot-proof: hello loaded";

/// The init script prints this once it runs, then the guest's uptime.
const INIT_MARK: &str = "BOOT_PROOF_INIT_REACHED";

/// The init script prints this after its last check, before powering off.
const DONE_MARK: &str = "BOOT_PROOF_DONE";

/// How long the whole boot may take before qemu is killed. A quiet machine
/// needs about 5 s; a machine busy compiling in parallel several times that.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

/// The busybox applets the init script calls, linked to `/bin/busybox`.
const APPLETS: &[&str] = &[
    "sh", "mount", "mkdir", "cat", "echo", "grep", "insmod", "dmesg", "poweroff",
];

/// What the initramfs runs as PID 1. Printing the module's kernel line on
/// the console needs a console log level above `quiet`'s, so it is raised
/// before `insmod`; `dmesg` then shows the same line from the kernel log.
const INIT_SCRIPT: &str = r#"#!/bin/sh
export PATH=/bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "BOOT_PROOF_INIT_REACHED uptime=$(cat /proc/uptime)"
echo "kernel=$(cat /proc/sys/kernel/osrelease)"
echo 7 > /proc/sys/kernel/printk
insmod /hello.ko
echo "INSMOD_RC=$?"
echo "--- /proc/modules"
grep '^hello ' /proc/modules
echo "--- dmesg"
dmesg | grep dkms-hook-boot-proof
echo "--- tainted=$(cat /proc/sys/kernel/tainted)"
echo "BOOT_PROOF_DONE uptime=$(cat /proc/uptime)"
poweroff -f
"#;

/// Report a missing prerequisite: a skip message, or under CI a failure.
pub(super) fn missing(what: &str) {
    skip_unless_ci(
        "boot_qemu",
        &format!(
            "{what} (.ci/run installs qemu-system-x86, busybox-static, cpio and linux-image-<kver>)"
        ),
    );
}

/// The first executable named `name` on PATH (plus the sbin directories,
/// which a non-root PATH may lack).
pub(super) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The newest kernel with both an image `/boot/vmlinuz-<K>` and headers
/// `/usr/src/linux-headers-<K>`.
pub(super) fn newest_bootable_kernel() -> Option<String> {
    let mut kernels: Vec<String> = fs::read_dir("/boot")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_prefix("vmlinuz-").map(str::to_string))
        .filter(|k| headers_dir(k).join("Makefile").is_file())
        .filter(|k| fs::File::open(format!("/boot/vmlinuz-{k}")).is_ok())
        .collect();
    kernels.sort_by_key(|k| version_key(k));
    kernels.pop()
}

/// True when the ELF file at `path` has no program interpreter, i.e. runs
/// without a dynamic loader (busybox-static, not the dynamic busybox).
fn is_static_elf(path: &Path) -> bool {
    let Ok(data) = fs::read(path) else {
        return false;
    };
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 || data[5] != 1 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let mut phoff = [0u8; 8];
    phoff.copy_from_slice(&data[0x20..0x28]);
    let phoff = u64::from_le_bytes(phoff) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        // PT_INTERP is 3.
        data.get(o..o + 4)
            .is_some_and(|t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) != 3)
    })
}

/// A static busybox, where busybox-static installs it.
pub(super) fn static_busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| is_static_elf(p))
}

/// Build `dir/initrd.gz`: a gzip'd newc cpio of `dir/tree`, which holds
/// busybox with its applet links, the module and `/init`.
fn make_initramfs(dir: &Path, busybox: &Path, ko: &Path) -> PathBuf {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("bin")).expect("create initramfs bin");
    for d in ["proc", "sys", "dev"] {
        fs::create_dir_all(tree.join(d)).expect("create mount point");
    }
    fs::copy(busybox, tree.join("bin/busybox")).expect("copy busybox");
    for applet in APPLETS {
        symlink("busybox", tree.join("bin").join(applet)).expect("link applet");
    }
    fs::copy(ko, tree.join("hello.ko")).expect("copy hello.ko");
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
    assert!(st.success(), "building the initramfs failed: {st}");
    initrd
}

/// What one boot printed on its serial console, and how long it took.
pub(super) struct Boot {
    /// The console output, as text.
    pub(super) console: String,
    /// Exit status of qemu, or `None` when it was killed on timeout.
    pub(super) code: Option<i32>,
    /// Wall time from starting qemu until it exited or was killed.
    pub(super) total: Duration,
    /// Wall time from starting qemu until `/init` printed its mark.
    pub(super) to_init: Option<Duration>,
}

/// Boot `kernel` with `initrd` in qemu (TCG only), reading the serial
/// console from qemu's stdout until it exits or [`BOOT_TIMEOUT`] passes.
fn boot(qemu: &Path, kernel: &Path, initrd: &Path) -> Boot {
    boot_with(qemu, kernel, initrd, "", 512)
}

/// [`boot`] with `extra` appended to the kernel command line and `mem`
/// megabytes of memory.
pub(super) fn boot_with(qemu: &Path, kernel: &Path, initrd: &Path, extra: &str, mem: u32) -> Boot {
    let mut cmd = Command::new(qemu);
    cmd.args([
        "-machine",
        "accel=tcg",
        "-cpu",
        "max",
        "-smp",
        "1",
        "-m",
        &mem.to_string(),
    ])
    .args(["-nographic", "-no-reboot", "-nic", "none"])
    .arg("-kernel")
    .arg(kernel)
    .arg("-initrd")
    .arg(initrd)
    .args([
        "-append",
        format!("console=ttyS0 panic=-1 quiet {extra}").trim_end(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    eprintln!("boot_qemu: {cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", qemu.display()));

    let console = Arc::new(Mutex::new(Vec::<u8>::new()));
    let to_init = Arc::new(Mutex::new(None::<Duration>));
    let mut out = child.stdout.take().expect("qemu stdout");
    let reader = {
        let console = Arc::clone(&console);
        let to_init = Arc::clone(&to_init);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut c = console.lock().unwrap_or_else(|e| e.into_inner());
                c.extend_from_slice(&buf[..n]);
                let mut t = to_init.lock().unwrap_or_else(|e| e.into_inner());
                if t.is_none() && String::from_utf8_lossy(&c).contains(INIT_MARK) {
                    *t = Some(start.elapsed());
                }
            }
        })
    };
    let mut err = child.stderr.take().expect("qemu stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });

    let code = loop {
        if let Some(st) = child.try_wait().expect("wait for qemu") {
            break st.code();
        }
        if start.elapsed() > BOOT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let total = start.elapsed();
    let _ = reader.join();
    let stderr = err_reader.join().unwrap_or_default();
    let mut console = String::from_utf8_lossy(&console.lock().unwrap_or_else(|e| e.into_inner()))
        .replace('\r', "");
    if !stderr.is_empty() {
        console.push_str("\n--- qemu stderr ---\n");
        console.push_str(&String::from_utf8_lossy(&stderr));
    }
    let to_init = *to_init.lock().unwrap_or_else(|e| e.into_inner());
    Boot {
        console,
        code,
        total,
        to_init,
    }
}

#[test]
fn module_built_by_dkms_loads_in_booted_debian_kernel() {
    let Some(qemu) = find_program("qemu-system-x86_64") else {
        missing("qemu-system-x86_64 not found (apt-get install qemu-system-x86)");
        return;
    };
    let Some(busybox) = static_busybox() else {
        missing("no static /bin/busybox (apt-get install busybox-static)");
        return;
    };
    if find_program("cpio").is_none() {
        missing("cpio not found (apt-get install cpio)");
        return;
    }
    let Some(kver) = newest_bootable_kernel() else {
        missing(
            "no kernel with both /boot/vmlinuz-<K> and /usr/src/linux-headers-<K> (apt-get install linux-image-<K>)",
        );
        return;
    };
    eprintln!("boot_qemu: kernel {kver}");

    // Build and install the module with our dkms, for that kernel.
    let _clock = tier_clock("slow::boot_qemu");
    let root = TestRoot::new();
    root.add_real_kernel(&kver, Some(&headers_dir(&kver)));
    root.add_hello_printing(HELLO_LINE);
    let built = Instant::now();
    root.dkms(&["install", "-m", "hello", "-v", "1.0", "-k", &kver])
        .assert_ok();
    root.assert_installed_module(&kver, "hello");
    let ko = root.installed_ko(&kver, "hello");
    assert!(
        ko.is_file(),
        "{} missing: {:?}",
        ko.display(),
        list_tree(&root.path("/lib/modules"))
    );
    eprintln!(
        "boot_qemu: dkms install took {:.1} s",
        built.elapsed().as_secs_f64()
    );

    let work = tempfile::Builder::new()
        .prefix("dkms-boot-")
        .tempdir()
        .expect("tempdir");
    let initrd = make_initramfs(work.path(), &busybox, &ko);
    let kernel = PathBuf::from(format!("/boot/vmlinuz-{kver}"));
    let run = boot(&qemu, &kernel, &initrd);
    let to_init = run
        .to_init
        .map_or("never".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
    eprintln!(
        "boot_qemu: qemu exit {:?}; /init reached after {to_init}; whole boot {:.1} s",
        run.code,
        run.total.as_secs_f64()
    );
    let log = &run.console;

    assert!(
        run.code.is_some(),
        "qemu did not finish within {BOOT_TIMEOUT:?}; console:\n{log}"
    );
    assert!(
        log.contains(INIT_MARK),
        "the kernel never ran /init; console:\n{log}"
    );
    assert!(
        log.contains(&format!("kernel={kver}")),
        "the guest did not run kernel {kver}; console:\n{log}"
    );
    assert!(
        log.lines().any(|l| l.trim() == "INSMOD_RC=0"),
        "insmod /hello.ko failed; console:\n{log}"
    );
    assert!(
        log.lines().any(|l| l.starts_with("hello ")),
        "no `hello ` line from /proc/modules; console:\n{log}"
    );
    let dmesg = log
        .split_once("--- dmesg")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    assert!(
        dmesg.contains(HELLO_LINE),
        "the module's printk line is not in dmesg; console:\n{log}"
    );
    assert!(
        log.contains(DONE_MARK),
        "the init script did not finish; console:\n{log}"
    );
    eprintln!("boot_qemu: console:\n{log}");
}
