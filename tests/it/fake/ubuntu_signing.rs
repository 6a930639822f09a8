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
//! a container (which upstream treats as a chroot). Self-contained: nothing
//! here depends on the shared test helpers.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

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

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A throwaway Ubuntu root with one signing-capable kernel, a module, and
/// the stubs in `<tmp>/bin`.
struct UbuntuRoot {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    log: PathBuf,
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn write_exec(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("dir entry: {e}"));
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ft = entry
            .file_type()
            .unwrap_or_else(|e| panic!("file type: {e}"));
        if ft.is_dir() {
            copy_tree(&src, &dst);
        } else if ft.is_symlink() {
            let target = fs::read_link(&src).unwrap_or_else(|e| panic!("readlink: {e}"));
            std::os::unix::fs::symlink(target, &dst).unwrap_or_else(|e| panic!("symlink: {e}"));
        } else {
            fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        }
    }
}

impl UbuntuRoot {
    fn new(with_update_secureboot_policy: bool) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("dkms-ubuntu-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let base = tmp
            .path()
            .canonicalize()
            .unwrap_or_else(|e| panic!("canonicalize: {e}"));
        let root = base.join("root");
        let bin = base.join("bin");
        let log = base.join("stubs.log");
        let at = |p: &str| root.join(p.trim_start_matches('/'));
        for d in ["/var/lib/dkms", "/usr/src", "/tmp", "/etc/dkms"] {
            fs::create_dir_all(at(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
        }
        write(&at("/etc/os-release"), UBUNTU_OS_RELEASE);
        write(&at("/etc/dkms/framework.conf"), "try_sign_modules=true\n");

        // The kernel: image, module indexes and a build directory that
        // signs (CONFIG_MODULE_SIG_HASH).
        let lib = format!("/lib/modules/{KVER}");
        for f in [
            "modules.dep",
            "modules.order",
            "modules.builtin",
            "modules.builtin.modinfo",
        ] {
            write(&at(&format!("{lib}/{f}")), "");
        }
        fs::create_dir_all(at(&format!("{lib}/kernel"))).unwrap_or_else(|e| panic!("mkdir: {e}"));
        write(&at(&format!("/boot/vmlinuz-{KVER}")), "fake kernel image\n");
        let build = at(&format!("{lib}/build"));
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-kernel"),
            &build,
        );
        write(
            &build.join("include/config/kernel.release"),
            &format!("{KVER}\n"),
        );
        for f in [".config", "include/config/auto.conf"] {
            let p = build.join(f);
            let mut text = fs::read_to_string(&p).unwrap_or_default();
            text.push_str("CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH=\"sha256\"\n");
            write(&p, &text);
        }

        // The module.
        let src = at("/usr/src/signme-1.0");
        write(
            &src.join("dkms.conf"),
            "PACKAGE_NAME=\"signme\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"signme\"\n\
             DEST_MODULE_LOCATION[0]=\"/updates/dkms\"\nAUTOINSTALL=\"yes\"\n",
        );
        write(&src.join("Makefile"), "obj-m += signme.o\n");
        write(
            &src.join("signme.c"),
            "int signme_init(void)\n{\n\treturn 0;\n}\n",
        );

        write_exec(&bin.join("kmodsign"), KMODSIGN);
        if with_update_secureboot_policy {
            write_exec(
                &bin.join("update-secureboot-policy"),
                UPDATE_SECUREBOOT_POLICY,
            );
        }
        UbuntuRoot {
            _tmp: tmp,
            root,
            bin,
            log,
        }
    }

    fn at(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn dkms(&self, args: &[&str]) -> Ran {
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display());
        let out = Command::new(env!("CARGO_BIN_EXE_dkms"))
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(&self.root)
            .env("PATH", path)
            .env("LC_ALL", "C")
            .env("STUB_LOG", &self.log)
            .env("STUB_ROOT", &self.root)
            .env_remove("DKMS_ROOT")
            .env_remove("DKMS_LOG")
            .env_remove("TMPDIR")
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL")
            .output()
            .unwrap_or_else(|e| panic!("cannot run dkms: {e}"));
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
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
    write(&t.at(KEY), "existing key\n");
    write(&t.at(CERT), "existing certificate\n");
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
    write(&t.at("/etc/dkms/my.key"), "key\n");
    write(&t.at("/etc/dkms/my.der"), "cert\n");
    write(
        &t.at("/etc/dkms/framework.conf"),
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
