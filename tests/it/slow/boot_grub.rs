//! The boot guard on a booted Debian 12, with GRUB's own choice of kernel:
//! a critical module that fails to build for a new kernel keeps the machine
//! on the old one, and the fix lets it boot the new one.
//!
//! The work is `tests/boot/grub-guard.sh` (its header lists the steps; it
//! shares the base root and apt cache of `tests/boot/systemd-boot.sh`):
//! kernel N with the critical module e2e-crit, `apt-get install
//! linux-image-M linux-headers-M` while e2e-crit does not compile (and a
//! module that is not critical fails too): apt exits 0, M's initramfs is
//! there, `dpkg --audit` is empty, `grub-editenv list` shows next_entry =
//! N's menu entry id; a real GRUB (grub-mkrescue) boots N with e2e_crit
//! loaded. Then the module is fixed, `dkms-hook autoinstall -k M` lifts the
//! guard, and GRUB boots M with e2e_crit loaded.
//!
//! Slow (two TCG boots and a kernel install, about 5 minutes with warm
//! caches on two CPUs), so it runs only when `DKMS_HOOK_E2E=1` or `CI` is
//! set. Needs root, debootstrap, qemu-system-x86_64, mke2fs, zstd and
//! GRUB's tools (grub-common, grub-pc-bin, xorriso, mtools); under CI a
//! missing one is a failure.

use super::boot_systemd::run_script;
use crate::harness::{e2e_deb, e2e_enabled, lock_work_dir, require_tools, tier_clock, timed};

#[test]
fn grub_boots_the_old_kernel_until_the_critical_module_builds_for_the_new_one() {
    if !(e2e_enabled("boot_grub")
        && require_tools(
            "boot_grub",
            &[
                "unshare",
                "mke2fs",
                "zstd",
                "qemu-system-x86_64",
                "grub-mkrescue",
                "xorriso",
                "mformat",
                "grub-editenv",
                "grub-script-check",
            ],
            ".ci/run installs qemu-system-x86, grub-common, grub-pc-bin, xorriso and mtools",
        ))
    {
        return;
    }
    // The cache of the base root is shared with boot_systemd.
    let _lock = lock_work_dir("boot-systemd.lock");
    let _clock = tier_clock("slow::boot_grub");
    let deb = e2e_deb();
    let run = timed("tests/boot/grub-guard.sh", || {
        run_script("tests/boot/grub-guard.sh", &deb, &[])
    });
    let failed: Vec<&str> = run
        .out
        .lines()
        .filter(|l| l.starts_with("FAIL point"))
        .collect();
    assert!(failed.is_empty(), "the script's checks failed:\n{failed:?}");
    assert_eq!(run.code, Some(0), "the script failed");
    assert!(run.out.lines().any(|l| l == "RESULT: PASS"));
    let (n, m) = (run.kernel("N"), run.kernel("M"));

    // The upgrade: apt is fine, the boot is guarded.
    run.assert_pass("apt-get exits 0");
    run.assert_pass(&format!("the initramfs of M={m} exists"));
    run.assert_pass("dpkg --audit is empty");
    run.assert_pass("the summary names the failure of e2e-plain");
    run.assert_pass(&format!("grub-editenv list: next_entry is N={n}'s entry"));
    // GRUB's choice: N, with the critical module.
    run.assert_line("guarded", &format!("uname-r {n}"));
    run.assert_line("guarded", "lsmod e2e_crit ");
    // The fix lifts the guard; GRUB's choice: M, with the module.
    run.assert_pass("the guard was lifted");
    run.assert_pass("grub-editenv list: no next_entry");
    run.assert_line("fixed", &format!("uname-r {m}"));
    run.assert_line("fixed", "lsmod e2e_crit ");
    run.assert_line("fixed", &format!("vermagic e2e_crit {m} "));
}
