//! Module signing on Ubuntu, in a throwaway root (`dkms --root`): the MOK
//! pair is shim's (`/var/lib/shim-signed/mok/MOK.priv` and `MOK.der`), and
//! when it is missing `update-secureboot-policy --new-key` makes it, as
//! upstream DKMS does there.
//!
//! The root has an Ubuntu os-release, one kernel whose build directory is a
//! copy of the fake kernel (`tests/fixtures/fake-kernel`) with
//! CONFIG_MODULE_SIG_HASH in its configuration, and a small module. Stub
//! `kmodsign` (Ubuntu's sign-file) and `update-secureboot-policy` programs
//! come first in PATH and log how they were called. `try_sign_modules=true`
//! in framework.conf makes signing happen even where the test itself runs in
//! a container (which upstream treats as a chroot). The root is the
//! harness's [`TestRoot`]; the stubs and their log live beside it.

use std::fs;
use std::path::PathBuf;

use crate::harness::*;

const KVER: &str = "6.8.0-31-generic";
const KEY: &str = "/var/lib/shim-signed/mok/MOK.priv";
const CERT: &str = "/var/lib/shim-signed/mok/MOK.der";

const UBUNTU_OS_RELEASE: &str = "PRETTY_NAME=\"Ubuntu 24.04 LTS\"\nNAME=\"Ubuntu\"\n\
    VERSION_ID=\"24.04\"\nVERSION=\"24.04 LTS (Noble Numbat)\"\nVERSION_CODENAME=noble\n\
    ID=ubuntu\nID_LIKE=debian\n";

/// A stub of Ubuntu's `kmodsign`, with sign-file's arguments
/// (`HASH KEY CERT MODULE`): logs them and marks the module as signed.
const KMODSIGN: &str = r#"#!/bin/sh
echo "kmodsign $*" >> "$STUB_LOG"
[ -r "$2" ] && [ -r "$3" ] || { echo "kmodsign: cannot read key or certificate" >&2; exit 1; }
printf '~Module signature appended~\n' >> "$4"
"#;

/// A stub of shim-signed's `update-secureboot-policy`: logs its arguments
/// (and SHIM_NOTRIGGER); `--new-key` writes the MOK pair into the root.
const UPDATE_SECUREBOOT_POLICY: &str = r#"#!/bin/sh
echo "update-secureboot-policy $* SHIM_NOTRIGGER=${SHIM_NOTRIGGER-}" >> "$STUB_LOG"
if [ "$1" = --new-key ]; then
    mkdir -p "$STUB_ROOT/var/lib/shim-signed/mok"
    echo "private key" > "$STUB_ROOT/var/lib/shim-signed/mok/MOK.priv"
    echo "certificate" > "$STUB_ROOT/var/lib/shim-signed/mok/MOK.der"
fi
exit 0
"#;

/// A throwaway Ubuntu root with one signing-capable kernel and a module,
/// and the stubs in a `bin` directory beside it.
struct UbuntuRoot {
    root: TestRoot,
    _stubs: tempfile::TempDir,
    bin: PathBuf,
    log: PathBuf,
}

impl UbuntuRoot {
    fn new(with_update_secureboot_policy: bool) -> Self {
        let root = TestRoot::new();
        root.set_os_release(UBUNTU_OS_RELEASE);
        root.set_framework_conf("try_sign_modules=true\n");
        // The kernel, with a build directory that signs
        // (CONFIG_MODULE_SIG_HASH).
        root.add_fake_kernel(KVER, true, true);
        root.add_kernel_config(KVER, "CONFIG_MODULE_SIG=y");
        root.add_kernel_config(KVER, "CONFIG_MODULE_SIG_HASH=\"sha256\"");
        root.add_source_text(
            "signme",
            "1.0",
            &[
                (
                    "dkms.conf",
                    "PACKAGE_NAME=\"signme\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"signme\"\n\
                     DEST_MODULE_LOCATION[0]=\"/updates/dkms\"\nAUTOINSTALL=\"yes\"\n",
                ),
                ("Makefile", "obj-m += signme.o\n"),
                ("signme.c", "int signme_init(void)\n{\n\treturn 0;\n}\n"),
            ],
        );

        let stubs = tempfile::Builder::new()
            .prefix("dkms-ubuntu-stubs-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let base = stubs
            .path()
            .canonicalize()
            .unwrap_or_else(|e| panic!("canonicalize: {e}"));
        let bin = base.join("bin");
        write_executable(&bin.join("kmodsign"), KMODSIGN);
        if with_update_secureboot_policy {
            write_executable(
                &bin.join("update-secureboot-policy"),
                UPDATE_SECUREBOOT_POLICY,
            );
        }
        UbuntuRoot {
            root,
            _stubs: stubs,
            bin,
            log: base.join("stubs.log"),
        }
    }

    fn at(&self, p: &str) -> PathBuf {
        self.root.path(p)
    }

    /// `dkms --root <root> <args>` with the stubs first in PATH.
    fn dkms(&self, args: &[&str]) -> Output {
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display());
        self.root.dkms_env(
            args,
            &[
                ("PATH", &path),
                ("STUB_LOG", &self.log.to_string_lossy()),
                ("STUB_ROOT", &self.root.root().to_string_lossy()),
            ],
        )
    }

    fn stub_log(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The lines every signing build prints about the key pair.
    fn key_lines(&self) -> [String; 2] {
        [
            format!("Signing key: {}", self.at(KEY).display()),
            format!("Public certificate (MOK): {}", self.at(CERT).display()),
        ]
    }
}

#[test]
fn a_missing_shim_pair_is_made_by_update_secureboot_policy() {
    let t = UbuntuRoot::new(true);
    let r = t.dkms(&["build", "signme/1.0", "-k", KVER]);
    assert_eq!(r.code, 0, "{r}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    let generating =
        "Certificate or key are missing, generating them using update-secureboot-policy...";
    let at = lines
        .iter()
        .position(|l| *l == generating)
        .unwrap_or_else(|| panic!("no `{generating}`:\n{r}"));
    let [key, cert] = t.key_lines();
    assert_eq!(lines.get(at + 1).copied(), Some(key.as_str()), "{r}");
    assert_eq!(lines.get(at + 2).copied(), Some(cert.as_str()), "{r}");
    assert!(
        lines.contains(&format!("Sign command: {}", t.bin.join("kmodsign").display()).as_str()),
        "Ubuntu's kmodsign from PATH is not the sign command:\n{r}"
    );

    let log = t.stub_log();
    assert_eq!(
        log.first().map(String::as_str),
        Some("update-secureboot-policy --new-key SHIM_NOTRIGGER=y"),
        "update-secureboot-policy was not called with --new-key first: {log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("update-secureboot-policy --enroll-key")),
        "the new key was not offered for enrollment: {log:?}"
    );
    let built = "/var/lib/dkms/signme/1.0/build/signme.ko";
    let sign = format!(
        "kmodsign sha256 {} {} {}",
        t.at(KEY).display(),
        t.at(CERT).display(),
        t.at(built).display()
    );
    assert!(log.contains(&sign), "no `{sign}` in {log:?}\n{r}");
    assert!(t.at(KEY).is_file() && t.at(CERT).is_file());
    assert!(
        !t.at("/var/lib/dkms/mok.key").exists(),
        "dkms made its own key on Ubuntu"
    );
}

#[test]
fn an_existing_shim_pair_is_used_as_it_is() {
    let t = UbuntuRoot::new(true);
    t.root.write(KEY, "existing key\n");
    t.root.write(CERT, "existing certificate\n");
    let r = t.dkms(&["build", "signme/1.0", "-k", KVER]);
    assert_eq!(r.code, 0, "{r}");
    let [key, cert] = t.key_lines();
    assert!(r.stdout.lines().any(|l| l == key), "{r}");
    assert!(r.stdout.lines().any(|l| l == cert), "{r}");
    assert!(!r.stdout.contains("generating"), "{r}");
    let log = t.stub_log();
    assert!(
        !log.iter()
            .any(|l| l.starts_with("update-secureboot-policy")),
        "update-secureboot-policy ran although the pair exists: {log:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("kmodsign sha256 ")),
        "{log:?}"
    );
    assert_eq!(
        fs::read_to_string(t.at(KEY)).unwrap_or_default(),
        "existing key\n"
    );
}

#[test]
fn without_update_secureboot_policy_modules_are_not_signed() {
    let t = UbuntuRoot::new(false);
    let r = t.dkms(&["build", "signme/1.0", "-k", KVER]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout
            .lines()
            .any(|l| l == "Binary update-secureboot-policy not found, modules won't be signed"),
        "{r}"
    );
    assert!(
        !t.stub_log().iter().any(|l| l.starts_with("kmodsign")),
        "a module was signed without a key"
    );
    assert!(!t.at(KEY).exists());
}

#[test]
fn a_configured_key_wins_over_shims_on_ubuntu() {
    let t = UbuntuRoot::new(true);
    t.root.write("/etc/dkms/my.key", "key\n");
    t.root.write("/etc/dkms/my.der", "cert\n");
    t.root.set_framework_conf(
        "try_sign_modules=true\nmok_signing_key=/etc/dkms/my.key\nmok_certificate=/etc/dkms/my.der\n",
    );
    let r = t.dkms(&["build", "signme/1.0", "-k", KVER]);
    assert_eq!(r.code, 0, "{r}");
    let want = format!("Signing key: {}", t.at("/etc/dkms/my.key").display());
    assert!(r.stdout.lines().any(|l| l == want), "{r}");
    assert!(
        !t.stub_log()
            .iter()
            .any(|l| l.starts_with("update-secureboot-policy")),
        "update-secureboot-policy ran although a key is configured"
    );
}
