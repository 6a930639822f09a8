//! `dkms-hook doctor` on Secure Boot and the signing key, from the EFI
//! variables under the root: enabled or not, the configured certificate
//! enrolled with shim, waiting for enrolment at the next reboot, or
//! neither (with the exact command that enrols it); nothing about MOK on a
//! machine without EFI.

use super::why::{mok_var, signing_root};
use crate::harness::*;

/// doctor's lines about Secure Boot and the key.
fn secure_boot_lines(root: &TestRoot) -> Vec<String> {
    let out = root.hook(&["doctor"]);
    out.assert_ok();
    out.stdout
        .lines()
        .filter(|l| l.starts_with("secure boot:") || l.starts_with("module signing key:"))
        .map(str::to_string)
        .collect()
}

#[test]
fn without_efi_nothing_is_said_about_mok() {
    let Some(root) = signing_root() else { return };
    std::fs::remove_dir_all(root.path("/sys/firmware")).expect("rm efi");
    let out = root.hook(&["doctor"]);
    out.assert_ok();
    assert!(
        out.stdout
            .contains("secure boot: not available (no EFI firmware)"),
        "{out}"
    );
    assert!(
        !out.stdout.contains("mokutil") && !out.stdout.contains("MOK"),
        "{out}"
    );
}

#[test]
fn secure_boot_off_says_so() {
    let Some(root) = signing_root() else { return };
    root.write(
        "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c6b8a0b8c",
        [6, 0, 0, 0, 0],
    );
    assert_eq!(
        secure_boot_lines(&root),
        ["secure boot: disabled; modules load without a signature check."]
    );
}

#[test]
fn the_key_not_enrolled_pending_and_enrolled() {
    let Some(root) = signing_root() else { return };
    let lines = secure_boot_lines(&root);
    assert_eq!(
        lines[0],
        "secure boot: enabled; modules must be signed with an enrolled key."
    );
    assert_eq!(
        lines[1],
        "module signing key: not enrolled. Enrol it with: mokutil --import /var/lib/dkms/mok.pub (then reboot and confirm in MokManager)"
    );
    mok_var(&root, "MokNew", &[&root.path("/var/lib/dkms/mok.pub")]);
    assert!(
        secure_boot_lines(&root)[1]
            .starts_with("module signing key: waits for enrolment at the next reboot"),
        "{:?}",
        secure_boot_lines(&root)
    );
    std::fs::remove_file(
        root.path("/sys/firmware/efi/efivars/MokNew-605dab50-e046-4300-abb6-3dd810dd8b23"),
    )
    .expect("rm MokNew");
    mok_var(&root, "MokListRT", &[&root.path("/var/lib/dkms/mok.pub")]);
    assert_eq!(
        secure_boot_lines(&root)[1],
        "module signing key: enrolled (/var/lib/dkms/mok.pub)"
    );
}
