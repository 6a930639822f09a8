//! `dkms-hook sign` on the real-kernel tier: after a key rotation to a key
//! behind a passphrase, the kernel's own `sign-file` signs a real module
//! again with it (the passphrase from KBUILD_SIGN_PIN), the host's
//! `modinfo` names the new signer and serial, and `dkms status` stays true.
//!
//! Skipped without `/usr/src/linux-headers-6.1.0-*-amd64` unless `CI` is set.

use std::process::Command;

use crate::harness::*;

#[test]
fn sign_after_a_rotation_to_a_passphrase_key() {
    let Some(kernels) = require_real_kernels("sign_after_a_rotation_to_a_passphrase_key") else {
        return;
    };
    let k = kernels.last().expect("kernel");
    let root = TestRoot::new();
    root.add_real_kernel(k, Some(&headers_dir(k)));
    root.dkms(&["generate_mok"]).assert_ok();
    root.add_hello("1.0", false);
    root.dkms(&["install", "hello/1.0", "-k", k]).assert_ok();
    let ko = root.installed_ko(k, "hello");
    assert_eq!(
        host_modinfo_field(&ko, "signer").trim(),
        "DKMS module signing key"
    );

    // The new pair: an encrypted key.
    let key = root.path("/etc/dkms/new.key");
    let cert = root.path("/etc/dkms/new.der");
    run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-new",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-days",
                "30",
                "-subj",
                "/CN=Rotated module key",
                "-addext",
                "extendedKeyUsage=codeSigning",
                "-passout",
                "pass:rotate-me",
                "-outform",
                "DER",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    root.set_framework_conf(
        "mok_signing_key=/etc/dkms/new.key\nmok_certificate=/etc/dkms/new.der\n",
    );
    let before = std::fs::read(&ko).expect("ko");
    root.hook(&["sign", "hello/1.0", "-k", k]).assert_code(1);
    assert_eq!(
        std::fs::read(&ko).expect("ko"),
        before,
        "a failed sign changed the module"
    );

    let out = root.hook_env(
        &["sign", "hello/1.0", "-k", k],
        &[("KBUILD_SIGN_PIN", "rotate-me")],
    );
    out.assert_ok();
    assert_eq!(
        host_modinfo_field(&ko, "signer").trim(),
        "Rotated module key"
    );
    let serial = stdout_of(
        Command::new("openssl")
            .args(["x509", "-inform", "DER", "-noout", "-serial", "-in"])
            .arg(&cert),
    );
    let serial = serial.trim().trim_start_matches("serial=").to_uppercase();
    let sig_key: String = host_modinfo_field(&ko, "sig_key")
        .split_whitespace()
        .collect::<String>()
        .replace(':', "");
    assert_eq!(
        sig_key.trim_start_matches('0'),
        serial.trim_start_matches('0')
    );
    // One signature, not two stacked: the old one was taken off.
    let data = std::fs::read(&ko).expect("ko");
    let magic = b"~Module signature appended~\n";
    assert_eq!(data.windows(magic.len()).filter(|w| w == magic).count(), 1);
    assert_eq!(
        root.dkms(&["status"]).stdout.trim(),
        format!("hello/1.0, {k}, x86_64: installed")
    );
    let why = root.hook(&["why", "hello", "-k", k, "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&why.stdout).expect("json");
    assert_eq!(v["signature"]["configured_key"], true, "{why}");
    assert_eq!(v["signature"]["signer"], "Rotated module key");
}
