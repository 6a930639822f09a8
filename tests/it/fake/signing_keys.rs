//! The signing key pair on the fake-kernel tier: the hooks and `dkms-hook
//! sign` never replace or complete a key or certificate that exists (they
//! fail with what to do), while `dkms` does what upstream's does, a new pair
//! over the half that exists; `dkms-hook sign` passes a PKCS#11 URI to
//! sign-file as written, and a key's passphrase through KBUILD_SIGN_PIN.

use std::process::Command;

use super::why::{rotate_key, signing_root, status_signature, K};
use crate::harness::*;

const KEY: &str = "/var/lib/dkms/mok.key";
const CERT: &str = "/var/lib/dkms/mok.pub";

#[test]
fn a_key_without_its_certificate_is_kept_by_the_hooks_and_replaced_by_dkms() {
    let Some(root) = signing_root() else { return };
    let key = std::fs::read(root.path(KEY)).expect("key");
    std::fs::remove_file(root.path(CERT)).expect("rm cert");
    // sign: an error that says what to do, nothing signed.
    let before = root.snapshot();
    let out = root.hook(&["sign", "--all"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("the key is kept and nothing is signed"),
        "{out}"
    );
    root.assert_unchanged(&before, &["var/lib/dkms/.dkms-hook.lock"]);
    // The hooks: the same, the key untouched.
    root.dkms(&["unbuild", "hello/1.0", "-k", K]).assert_ok();
    let out = root.hook(&["autoinstall", "-k", K]);
    out.assert_code(11);
    assert!(
        out.stderr.contains("exists but its certificate")
            && out.stderr.contains("openssl req -new -x509 -key"),
        "{out}"
    );
    assert_eq!(std::fs::read(root.path(KEY)).expect("key"), key);
    assert!(!root.exists(CERT));
    // dkms: upstream's way, a new pair, and the module signed with it.
    root.dkms(&["unbuild", "hello/1.0", "-k", K]).assert_ok();
    let out = root.dkms(&["install", "hello/1.0", "-k", K]);
    out.assert_ok();
    assert!(
        !out.stdout.contains("not found and can't be generated"),
        "{out}"
    );
    assert!(root.exists(CERT), "dkms made no certificate\n{out}");
    assert_ne!(std::fs::read(root.path(KEY)).expect("key"), key);
    assert_eq!(status_signature(&root)["signed"], true);
}

#[test]
fn a_certificate_without_its_key_is_kept_by_the_hooks_and_replaced_by_dkms() {
    let Some(root) = signing_root() else { return };
    let cert = std::fs::read(root.path(CERT)).expect("cert");
    std::fs::remove_file(root.path(KEY)).expect("rm key");
    let out = root.hook(&["sign", "hello"]);
    out.assert_code(1);
    assert!(out.stderr.contains("exists but its key"), "{out}");
    assert_eq!(std::fs::read(root.path(CERT)).expect("cert"), cert);
    assert!(!root.exists(KEY));
    root.dkms(&["unbuild", "hello/1.0", "-k", K]).assert_ok();
    let out = root.dkms(&["install", "hello/1.0", "-k", K]);
    out.assert_ok();
    assert!(root.exists(KEY), "dkms made no key\n{out}");
    assert_ne!(std::fs::read(root.path(CERT)).expect("cert"), cert);
}

#[test]
fn a_key_that_cannot_be_written_is_upstreams_one_line() {
    let Some(root) = signing_root() else { return };
    root.set_framework_conf(
        "mok_signing_key=/no/such/dir/k.key\nmok_certificate=/no/such/dir/k.der\n",
    );
    root.dkms(&["unbuild", "hello/1.0", "-k", K]).assert_ok();
    let out = root.dkms(&["build", "hello/1.0", "-k", K]);
    out.assert_ok();
    let want = format!(
        "Key file {} not found and can't be generated, modules won't be signed",
        root.path("/no/such/dir/k.key").display()
    );
    assert!(out.stdout.lines().any(|l| l == want), "{out}");
}

#[test]
fn sign_without_any_key_says_how_to_make_one() {
    let Some(root) = signing_root() else { return };
    std::fs::remove_file(root.path(KEY)).expect("rm key");
    std::fs::remove_file(root.path(CERT)).expect("rm cert");
    let out = root.hook(&["sign", "hello/1.0"]);
    out.assert_code(1);
    assert!(out.stderr.contains("dkms generate_mok"), "{out}");
    assert!(!root.exists(KEY), "sign made a key");
}

#[test]
fn sign_of_nothing_installed_is_an_error() {
    let Some(root) = signing_root() else { return };
    let out = root.hook(&["sign", "nosuch"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("nosuch: nothing is installed to sign."),
        "{out}"
    );
    root.hook(&["sign"]).assert_code(2);
}

#[test]
fn a_passphrase_comes_from_kbuild_sign_pin() {
    let Some(root) = signing_root() else { return };
    // An encrypted key and its certificate, configured.
    let key = root.path("/etc/dkms/pin.key");
    let cert = root.path("/etc/dkms/pin.der");
    run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-new",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-days",
                "1",
                "-subj",
                "/CN=PIN key",
                "-passout",
                "pass:s3cret",
                "-outform",
                "DER",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    root.set_framework_conf(
        "sign_file=/usr/local/bin/sign-file\nmok_signing_key=/etc/dkms/pin.key\nmok_certificate=/etc/dkms/pin.der\n",
    );
    let ko = root.path(&format!("/lib/modules/{K}/updates/dkms/hello.ko"));
    let before = std::fs::read(&ko).expect("ko");
    let out = root.hook(&["sign", "hello/1.0", "-k", K]);
    out.assert_code(1);
    assert_eq!(
        std::fs::read(&ko).expect("ko"),
        before,
        "a failed sign changed the module"
    );
    let out = root.hook_env(
        &["sign", "hello/1.0", "-k", K],
        &[("KBUILD_SIGN_PIN", "s3cret")],
    );
    out.assert_ok();
    assert!(out.stdout.contains("(\"PIN key\""), "{out}");
    assert_eq!(status_signature(&root)["configured_key"], true);
}

#[test]
fn a_pkcs11_uri_goes_to_sign_file_as_written() {
    let Some(root) = signing_root() else { return };
    // A sign-file that records the key it is given, then signs with the
    // pair on disk (no token here).
    write_executable(
        &root.path("/usr/local/bin/token-sign-file"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$2\" > {log}\nexec {sign} \"$1\" {key} \"$3\" \"$4\"\n",
            log = root.path("/tmp/key-arg").display(),
            sign = root.path("/usr/local/bin/sign-file").display(),
            key = root.path(KEY).display(),
        ),
    );
    let uri = "pkcs11:token=dkms;object=signing-key;type=private";
    root.set_framework_conf(&format!(
        "sign_file=/usr/local/bin/token-sign-file\nmok_signing_key=\"{uri}\"\n"
    ));
    let out = root.hook(&["sign", "hello/1.0", "-k", K]);
    out.assert_ok();
    assert_eq!(root.read("/tmp/key-arg").trim(), uri);
}

#[test]
fn sign_keeps_the_compression() {
    if !require_tools("sign compression", &["xz"], ".ci/run installs xz-utils") {
        return;
    }
    let Some(root) = signing_root() else { return };
    let own = build_fixture("hello-1.0", K);
    root.add_kernel_module(K, "kernel/drivers/misc/other.ko.xz", &own.ko("hello"));
    root.dkms(&["unbuild", "hello/1.0", "-k", K]).assert_ok();
    root.dkms(&["install", "hello/1.0", "-k", K]).assert_ok();
    let ko = format!("/lib/modules/{K}/updates/dkms/hello.ko.xz");
    assert!(root.exists(&ko));
    rotate_key(&root);
    assert_eq!(status_signature(&root)["configured_key"], false);
    root.hook(&["sign", "--all"]).assert_ok();
    assert_eq!(
        &std::fs::read(root.path(&ko)).expect("ko")[..6],
        b"\xfd7zXZ\0"
    );
    assert_eq!(status_signature(&root)["configured_key"], true);
    let status = root.dkms(&["status", "hello"]);
    assert_eq!(
        status.stdout.trim(),
        format!("hello/1.0, {K}, x86_64: installed")
    );
}
