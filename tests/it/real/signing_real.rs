//! Module signing on the real-kernel tier: `dkms generate_mok` makes a
//! private key only root can read and a DER certificate for code signing; a
//! real module built against the Debian headers is signed with that key,
//! using the kernel's `sign-file` and its `CONFIG_MODULE_SIG_HASH`; and
//! `dkms-hook doctor` reports the key and how to enrol it.
//!
//! Skipped without `/usr/src/linux-headers-6.1.0-*-amd64` unless `CI` is set.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;
use rstest::rstest;

/// The certificate's subject CN that `generate_mok` writes (upstream's).
const CN: &str = "DKMS module signing key";

fn openssl_x509(cert: &Path, args: &[&str]) -> String {
    stdout_of(
        Command::new("openssl")
            .args(["x509", "-inform", "DER", "-in"])
            .arg(cert)
            .arg("-noout")
            .args(args),
    )
}

/// `modinfo -F <field>` of the host's kmod (signer and key are computed
/// from the signature, not read from `.modinfo`), without trailing blanks.
fn signature_field(ko: &Path, field: &str) -> String {
    host_modinfo_field(ko, field).trim_end().to_string()
}

/// `CONFIG_MODULE_SIG_HASH` of the real kernel, unquoted.
fn kernel_sig_hash(kver: &str) -> String {
    let config = std::fs::read_to_string(headers_dir(kver).join(".config")).expect("read .config");
    config
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_MODULE_SIG_HASH="))
        .map(|v| v.trim_matches('"').to_string())
        .expect("the Debian kernel signs modules")
}

/// `mok.key` is 0600 and `mok.pub` a DER certificate for code signing.
fn assert_key_pair(root: &TestRoot) -> PathBuf {
    let key = root.path("/var/lib/dkms/mok.key");
    let cert = root.path("/var/lib/dkms/mok.pub");
    let mode = std::fs::metadata(&key)
        .expect("mok.key exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "mok.key mode {mode:o}");
    let text = openssl_x509(&cert, &["-text"]);
    assert!(text.contains("Code Signing"), "no codeSigning EKU:\n{text}");
    assert!(text.contains(&format!("CN = {CN}")), "subject:\n{text}");
    cert
}

#[test]
fn generate_mok_creates_a_private_key_and_a_code_signing_certificate() {
    let root = TestRoot::new();
    let run = root.dkms(&["generate_mok"]);
    run.assert_ok();
    assert!(
        !run.stdout.contains("PRIVATE KEY") && !run.stderr.contains("PRIVATE KEY"),
        "the key was printed\n{run}"
    );
    assert_key_pair(&root);
    // A second call keeps the existing pair.
    let before = std::fs::read(root.path("/var/lib/dkms/mok.key")).expect("read key");
    root.dkms(&["generate_mok"]).assert_ok();
    assert_eq!(
        std::fs::read(root.path("/var/lib/dkms/mok.key")).expect("read key"),
        before
    );
}

/// With `debian_kbuild`, the root has Debian's `/usr/lib/linux-kbuild-6.1`
/// (where SPEC says `sign-file` is looked up first); without it dkms falls
/// back to `<install_tree>/<K>/build/scripts/sign-file`.
#[rstest]
fn installed_module_is_signed_with_our_key(#[values(true, false)] debian_kbuild: bool) {
    let Some(kernels) = require_real_kernels("installed_module_is_signed_with_our_key") else {
        return;
    };
    let k = kernels.last().expect("a kernel").clone();
    let root = TestRoot::new();
    root.add_real_kernel(&k, Some(&headers_dir(&k)));
    let short = k.split('.').take(2).collect::<Vec<_>>().join(".");
    let kbuild = PathBuf::from(format!("/usr/lib/linux-kbuild-{short}"));
    let expected_sign_file = if debian_kbuild {
        assert!(
            kbuild.join("scripts/sign-file").is_file(),
            "{} missing",
            kbuild.display()
        );
        let inside = root.path(&kbuild.display().to_string());
        std::fs::create_dir_all(inside.parent().expect("parent")).expect("mkdir");
        symlink(&kbuild, &inside).expect("link kbuild into the root");
        inside.join("scripts/sign-file")
    } else {
        root.path(&format!("/lib/modules/{k}/build/scripts/sign-file"))
    };
    root.dkms(&["generate_mok"]).assert_ok();
    let cert = assert_key_pair(&root);
    root.add_hello("1.0", false);

    let run = root.dkms(&["install", "-m", "hello", "-v", "1.0", "-k", &k]);
    run.assert_ok();
    assert!(
        run.stdout
            .contains(&format!("Sign command: {}", expected_sign_file.display())),
        "sign-file not taken from {}\n{run}",
        expected_sign_file.display()
    );
    assert!(
        !run.stdout.contains("PRIVATE KEY"),
        "the key was printed\n{run}"
    );

    let ko = root.installed_ko(&k, "hello");
    let data = std::fs::read(&ko).expect("read installed module");
    assert!(
        data.ends_with(b"~Module signature appended~\n"),
        "{} carries no appended signature",
        ko.display()
    );
    let subject = openssl_x509(
        &cert,
        &["-subject", "-nameopt", "utf8,sep_comma_plus,space_eq"],
    );
    let cn = subject
        .trim()
        .split("CN = ")
        .nth(1)
        .expect("subject has a CN")
        .split(',')
        .next()
        .expect("CN value")
        .to_string();
    assert_eq!(cn, CN);
    assert_eq!(signature_field(&ko, "signer"), cn);
    assert_eq!(signature_field(&ko, "sig_hashalgo"), kernel_sig_hash(&k));
    // The signature names our certificate: modinfo shows its serial number.
    let serial = openssl_x509(&cert, &["-serial"]);
    let serial = serial
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_uppercase();
    let sig_key = signature_field(&ko, "sig_key")
        .replace(':', "")
        .to_ascii_uppercase();
    assert_eq!(
        sig_key.trim_start_matches('0'),
        serial.trim_start_matches('0'),
        "signed with another key"
    );
    // The copy in the dkms tree is the same signed module.
    let built = root.path(&format!(
        "/var/lib/dkms/hello/1.0/{k}/x86_64/module/hello.ko"
    ));
    assert_eq!(std::fs::read(&built).expect("read built module"), data);
}

/// `dkms-hook doctor` reports the key; with mokutil saying it is
/// not enrolled, it prints the exact enrolment command (a stub mokutil
/// stands in for the real one, which needs EFI variables).
#[test]
fn doctor_reports_the_signing_key_and_how_to_enrol_it() {
    let root = TestRoot::new();
    root.dkms(&["generate_mok"]).assert_ok();
    let doctor = |path: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dkms-hook"));
        cmd.arg("--root")
            .arg(root.root())
            .args(["doctor"])
            .env("PATH", path)
            .env("LC_ALL", "C")
            .env_remove("DKMS_ROOT");
        run_command(cmd, RUN_TIMEOUT).stdout
    };

    let host_path = std::env::var("PATH").unwrap_or_default();
    let stub_dir = tempfile::tempdir().expect("tempdir");
    let stub = stub_dir.path().join("mokutil");
    write_executable(
        &stub,
        "#!/bin/sh\ncase \"$1\" in\n--sb-state) echo 'SecureBoot enabled' ;;\n--test-key) echo \"$2 is not enrolled\"; exit 1 ;;\nesac\n",
    );

    let with_stub = format!("{}:{host_path}", stub_dir.path().display());

    // No EFI firmware: Secure Boot cannot be on; no enrolment advice.
    let no_efi = doctor(&with_stub);
    assert!(
        no_efi.contains("secure boot: not available (no EFI firmware)"),
        "{no_efi}"
    );
    assert!(!no_efi.contains("mokutil --import"), "{no_efi}");

    // EFI with Secure Boot off: no advice either.
    let var = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c6b8a0b8c";
    let efivar = root.path(var);
    std::fs::create_dir_all(efivar.parent().expect("parent")).expect("mkdir efivars");
    std::fs::write(&efivar, [6, 0, 0, 0, 0]).expect("write efivar");
    let off = doctor(&with_stub);
    assert!(off.contains("secure boot: disabled"), "{off}");
    assert!(!off.contains("mokutil --import"), "{off}");

    // Secure Boot on, key not enrolled: say how to enrol it.
    std::fs::write(&efivar, [6, 0, 0, 0, 1]).expect("write efivar");
    let on = doctor(&with_stub);
    assert!(on.contains("secure boot: enabled"), "{on}");
    assert!(
        on.contains("module signing key: not enrolled")
            && on.contains("Enrol it with: mokutil --import /var/lib/dkms/mok.pub"),
        "{on}"
    );
    assert!(!on.contains("PRIVATE KEY"), "{on}");

    // Without mokutil the same: the enrolment is read from the EFI
    // variables, not from mokutil.
    let bare_dir = tempfile::tempdir().expect("tempdir");
    let without = doctor(&bare_dir.path().display().to_string());
    assert!(
        without.contains("module signing key: not enrolled") && without.contains("mok.pub"),
        "{without}"
    );
}
