//! `dkms-hook why` on the fake-kernel tier: one throwaway root per cause,
//! each built to show that one cause (everything else in it would let the
//! module load), asserting the failed check's line, the cause and the exit
//! status. Everything `why` reads comes from the root: its `/proc` and
//! `/sys` describe a running kernel, `/dev/kmsg` is a file holding the
//! kernel's log lines, `/sys/firmware/efi/efivars` holds shim's MOK
//! variables.

use std::path::Path;

use crate::harness::*;

pub(super) const K: &str = "6.1.0-90-fake";
const K2: &str = "6.1.0-89-fake";

/// A root with kernel K and hello/1.0 installed for it.
fn installed() -> TestRoot {
    let root = TestRoot::with_kernel(K);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K]).assert_ok();
    root
}

/// The root's running kernel is K: osrelease, no module loaded, an empty
/// kernel log, a plain command line.
fn running(root: &TestRoot) {
    root.write("/proc/sys/kernel/osrelease", format!("{K}\n"));
    root.write("/proc/modules", "");
    root.write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro quiet\n");
    root.write("/dev/kmsg", "");
}

fn why(root: &TestRoot, args: &[&str]) -> Output {
    let mut a = vec!["why"];
    a.extend_from_slice(args);
    root.hook(&a)
}

/// `why` fails (exit 1) with `line` among the check lines and `cause` in
/// the cause line.
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
        .unwrap_or_else(|| panic!("no cause line\n{out}"));
    assert!(c.contains(cause), "cause {c:?} lacks {cause:?}\n{out}");
}

/// The line starting with `Fix: `.
fn fix(out: &Output) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Fix: "))
        .unwrap_or_else(|| panic!("no fix line\n{out}"))
        .to_string()
}

#[test]
fn a_module_that_would_load_passes_every_check() {
    let root = installed();
    running(&root);
    let out = why(&root, &["hello"]);
    out.assert_ok();
    assert!(
        out.stdout.contains("hello would load on 6.1.0-90-fake"),
        "{out}"
    );
    assert!(!out.stdout.contains("✘"), "{out}");
    for check in [
        "registered",
        "built",
        "installed",
        "modules.dep",
        "vermagic",
        "modprobe.d",
        "depends",
        "signature",
        "compression",
        "loaded",
        "kernel log",
    ] {
        assert!(
            out.stdout.contains(&format!("✔ {check}: ")),
            "no passed {check}\n{out}"
        );
    }
    // Only reads.
    let before = root.snapshot();
    why(&root, &["hello", "--output", "json"]).assert_ok();
    root.assert_unchanged(&before, &[]);
}

#[test]
fn json_gives_the_checks_and_the_cause_as_data() {
    let root = installed();
    root.write("/etc/modprobe.d/no-hello.conf", "blacklist hello\n");
    let out = why(&root, &["hello", "-k", K, "--output", "json"]);
    out.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["module"], "hello");
    assert_eq!(v["dkms_module"], "hello");
    assert_eq!(v["version"], "1.0");
    assert_eq!(v["kernel"], K);
    assert_eq!(v["loads"], false);
    assert_eq!(v["running"], false);
    assert_eq!(v["cause"]["check"], "modprobe.d");
    assert_eq!(
        v["file"],
        format!("/lib/modules/{K}/updates/dkms/hello.ko").as_str()
    );
    assert_eq!(v["signature"]["signed"], false);
    let checks = v["checks"].as_array().expect("checks");
    assert_eq!(checks[0]["check"], "registered");
    assert_eq!(checks[0]["result"], "pass");
    let bl = checks
        .iter()
        .find(|c| c["check"] == "modprobe.d")
        .expect("modprobe.d check");
    assert_eq!(bl["result"], "fail");
}

#[test]
fn not_registered_names_similar_modules_sources_and_packages() {
    let root = installed();
    root.add_source_text(
        "widget",
        "2.0",
        &[(
            "dkms.conf",
            "PACKAGE_NAME=widget\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=widget\nDEST_MODULE_LOCATION[0]=/updates\n",
        )],
    );
    root.write(
        "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
        "Package: widget-dkms\nVersion: 2.0-1\n\nPackage: other\n",
    );
    let out = why(&root, &["widget", "-k", K]);
    assert_cause(
        &out,
        "no module named widget is registered",
        "dkms does not know",
    );
    assert!(
        out.stdout.contains("sources not registered: widget/2.0"),
        "{out}"
    );
    assert!(
        out.stdout.contains("packages that provide it: widget-dkms"),
        "{out}"
    );
    assert_eq!(
        fix(&out),
        format!("dkms --root {} add widget/2.0", root.root().display())
    );
    let out = why(&root, &["helo", "-k", K]);
    assert_cause(
        &out,
        "similar names: hello",
        "dkms does not know a module named helo",
    );
}

#[test]
fn missing_headers_name_the_package() {
    let root = TestRoot::new();
    root.add_fake_kernel(K, false, true);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        &format!("not built: the headers of {K} are not installed"),
        "cannot be built",
    );
    assert_eq!(fix(&out), format!("apt-get install linux-headers-{K}"));
}

#[test]
fn build_exclusive_names_the_rule() {
    let root = TestRoot::with_kernel(K);
    root.add_source("excl-1.0");
    root.dkms(&["add", "excl/1.0"]).assert_ok();
    let out = why(&root, &["excl", "-k", K]);
    assert_cause(
        &out,
        "its dkms.conf rules it out (BUILD_EXCLUSIVE_KERNEL=\"^9\\.9\\.\")",
        "is not for 6.1.0-90-fake",
    );
}

#[test]
fn build_depends_waiting_names_the_dependency() {
    let root = TestRoot::with_kernel(K);
    root.add_source("dep-1.0");
    root.dkms(&["add", "dep/1.0"]).assert_ok();
    root.hook(&["autoinstall", "-k", K]).assert_ok();
    let out = why(&root, &["dep", "-k", K]);
    assert_cause(
        &out,
        "waits for modules it is built against: hello",
        "not registered",
    );
}

#[test]
fn autoinstall_off_says_so() {
    let root = TestRoot::with_kernel(K);
    root.add_source_text(
        "manual",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=manual\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=manual\nDEST_MODULE_LOCATION[0]=/updates\n",
            ),
            ("Makefile", "obj-m := manual.o\n"),
            ("manual.c", "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\n"),
        ],
    );
    root.dkms(&["add", "manual/1.0"]).assert_ok();
    let out = why(&root, &["manual", "-k", K]);
    assert_cause(&out, "has AUTOINSTALL off", "AUTOINSTALL=\"yes\"");
    assert_eq!(
        fix(&out),
        format!(
            "dkms --root {} install manual/1.0 -k {K}",
            root.root().display()
        )
    );
}

#[test]
fn a_failed_build_quotes_its_log() {
    let root = TestRoot::with_kernel(K);
    root.add_source("broken-1.0");
    root.dkms(&["add", "broken/1.0"]).assert_ok();
    root.hook(&["autoinstall", "-k", K]).assert_code(11);
    let out = why(&root, &["broken", "-k", K]);
    assert_cause(
        &out,
        "the build of broken/1.0 for 6.1.0-90-fake failed",
        "does not compile",
    );
    assert!(
        out.stdout
            .contains("/var/lib/dkms/.dkms-hook/failed/broken@1.0@6.1.0-90-fake@x86_64.make.log"),
        "{out}"
    );
    assert!(
        out.stdout.contains("this_is_a_syntax_error"),
        "no log tail\n{out}"
    );
}

#[test]
fn a_failed_dkms_build_quotes_the_build_directorys_log() {
    let root = TestRoot::with_kernel(K);
    root.add_source("broken-1.0");
    root.dkms(&["build", "broken/1.0", "-k", K]).assert_code(10);
    let out = why(&root, &["broken", "-k", K]);
    assert_cause(
        &out,
        "/var/lib/dkms/broken/1.0/build/make.log",
        "does not compile",
    );
}

#[test]
fn built_but_not_installed() {
    let root = TestRoot::with_kernel(K);
    root.add_source("hello-1.0");
    root.dkms(&["build", "hello/1.0", "-k", K]).assert_ok();
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "is built for 6.1.0-90-fake but not installed",
        "was not installed",
    );
}

#[test]
fn an_installed_file_that_is_not_the_built_one() {
    let root = installed();
    let ko = format!("/lib/modules/{K}/updates/dkms/hello.ko");
    let mut data = std::fs::read(root.path(&ko)).expect("read");
    data.extend(b"junk");
    root.write(&ko, data);
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(&out, "is not the file dkms built", "not the one dkms built");
}

#[test]
fn modules_dep_without_the_module_asks_for_depmod() {
    let root = installed();
    root.write(&format!("/lib/modules/{K}/modules.dep"), "");
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "modules.dep does not list updates/dkms/hello.ko",
        "depmod has not run",
    );
    assert!(fix(&out).starts_with("depmod -b "), "{out}");
}

#[test]
fn the_kernels_own_module_winning_is_named_with_the_override() {
    let root = installed();
    let own = format!("/lib/modules/{K}/kernel/drivers/misc/hello.ko");
    root.write(
        &own,
        std::fs::read(root.path(&format!("/lib/modules/{K}/updates/dkms/hello.ko"))).expect("read"),
    );
    root.write(
        "/etc/depmod.d/prefer-kernel.conf",
        "# ours\noverride hello * kernel/drivers/misc\n",
    );
    root.write(
        &format!("/lib/modules/{K}/modules.dep"),
        "kernel/drivers/misc/hello.ko:\n",
    );
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "modules.dep lists kernel/drivers/misc/hello.ko, not updates/dkms/hello.ko",
        "/etc/depmod.d/prefer-kernel.conf:2 says `override hello * kernel/drivers/misc`",
    );
    assert!(
        fix(&out).contains("line 2 of /etc/depmod.d/prefer-kernel.conf"),
        "{out}"
    );
}

#[test]
fn another_updates_directory_winning_is_named() {
    let root = installed();
    let ko = root.path(&format!("/lib/modules/{K}/updates/dkms/hello.ko"));
    root.write(
        &format!("/lib/modules/{K}/updates/hello.ko"),
        std::fs::read(ko).expect("read"),
    );
    root.write(
        &format!("/lib/modules/{K}/modules.dep"),
        "updates/hello.ko:\n",
    );
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "modules.dep lists updates/hello.ko, not updates/dkms/hello.ko",
        "another module directory takes precedence",
    );
}

#[test]
fn vermagic_of_another_kernel() {
    let root = installed();
    root.add_fake_kernel(K2, true, true);
    root.dkms(&["build", "hello/1.0", "-k", K2]).assert_ok();
    let other = std::fs::read(root.path(&format!(
        "/var/lib/dkms/hello/1.0/{K2}/x86_64/module/hello.ko"
    )))
    .expect("read");
    root.write(
        &format!("/var/lib/dkms/hello/1.0/{K}/x86_64/module/hello.ko"),
        &other,
    );
    root.write(&format!("/lib/modules/{K}/updates/dkms/hello.ko"), &other);
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        &format!("vermagic is {K2}, not {K}"),
        &format!("built for kernel {K2}"),
    );
}

#[test]
fn blacklisted_in_lib_modprobe_d() {
    let root = installed();
    root.write("/lib/modprobe.d/50-hello.conf", "# no\nblacklist hello\n");
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "blacklisted: /lib/modprobe.d/50-hello.conf:2 says `blacklist hello`",
        "is blacklisted by line 2 of /lib/modprobe.d/50-hello.conf",
    );
}

#[test]
fn an_etc_file_of_the_same_name_hides_the_lib_one() {
    let root = installed();
    root.write("/lib/modprobe.d/50-hello.conf", "blacklist hello\n");
    root.write("/etc/modprobe.d/50-hello.conf", "# local: hello is fine\n");
    why(&root, &["hello", "-k", K]).assert_ok();
}

#[test]
fn install_redirected_to_bin_false_in_run_modprobe_d() {
    let root = installed();
    root.write("/run/modprobe.d/hello.conf", "install hello /bin/false\n");
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "redirected: /run/modprobe.d/hello.conf:1 says `install hello /bin/false`",
        "does nothing instead of loading hello",
    );
}

#[test]
fn blacklisted_on_the_kernel_command_line() {
    let root = installed();
    running(&root);
    root.write("/proc/cmdline", "ro module_blacklist=foo,hello\n");
    let out = why(&root, &["hello"]);
    assert_cause(
        &out,
        "the kernel command line blacklists hello",
        "module_blacklist=",
    );
}

#[test]
fn missing_depends_are_named() {
    let root = TestRoot::with_kernel(K);
    root.add_source_text(
        "needy",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=needy\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=needy\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n",
            ),
            ("Makefile", "obj-m := needy.o\n"),
            (
                "needy.c",
                "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\nFAKE_MODULE_INFO(depends, \"nosuchdep\");\n",
            ),
        ],
    );
    root.dkms(&["install", "needy/1.0", "-k", K]).assert_ok();
    let out = why(&root, &["needy", "-k", K]);
    assert_cause(
        &out,
        "nosuchdep not available for 6.1.0-90-fake",
        "Unknown symbol",
    );
}

#[test]
fn a_compression_the_kernel_cannot_read() {
    if !require_tools("why compression", &["xz"], ".ci/run installs xz-utils") {
        return;
    }
    let root = TestRoot::with_kernel(K);
    // The kernel's own modules are xz-compressed: dkms compresses ours so.
    let own = build_fixture("hello-1.0", K);
    root.add_kernel_module(K, "kernel/drivers/misc/other.ko.xz", &own.ko("hello"));
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K]).assert_ok();
    assert!(root.exists(&format!("/lib/modules/{K}/updates/dkms/hello.ko.xz")));
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "xz-compressed, but 6.1.0-90-fake is configured without CONFIG_MODULE_COMPRESS_XZ",
        "cannot decompress it",
    );
    root.add_kernel_config(K, "CONFIG_MODULE_COMPRESS_XZ=y");
    let out = why(&root, &["hello", "-k", K]);
    out.assert_ok();
    assert!(out.stdout.contains("✔ compression: xz-compressed"), "{out}");
}

#[test]
fn a_loaded_copy_that_is_not_the_file_on_disk() {
    let root = installed();
    running(&root);
    root.write(
        "/proc/modules",
        "hello 16384 0 - Live 0x0000000000000000 (O)\n",
    );
    root.write("/sys/module/hello/srcversion", "0123456789ABCDEF01234567\n");
    let out = why(&root, &["hello"]);
    assert_cause(
        &out,
        "srcversion 0123456789ABCDEF01234567",
        "reload or a reboot",
    );
    assert_eq!(fix(&out), "modprobe -r hello && modprobe hello");
}

#[test]
fn the_kernels_refusal_is_quoted() {
    let root = installed();
    running(&root);
    root.write(
        "/dev/kmsg",
        "6,1,100,-;Linux version 6.1.0\n4,2,200,-;hello: Unknown symbol fake_helper (err -2)\n",
    );
    let out = why(&root, &["hello"]);
    assert_cause(
        &out,
        "the kernel refused the module",
        "the kernel refused to load",
    );
    assert!(
        out.stdout
            .contains("The kernel said:\n    hello: Unknown symbol fake_helper (err -2)"),
        "{out}"
    );
}

#[test]
fn a_bad_module_name_is_a_usage_error() {
    let root = installed();
    let out = why(&root, &["../x", "-k", K]);
    out.assert_code(2);
}

// ---- signatures -------------------------------------------------------

/// A sign-file that makes a real PKCS#7 signature with openssl and lays
/// it out as the kernel's sign-file does (a passphrase from
/// KBUILD_SIGN_PIN).
pub(super) const SIGN_FILE: &str = r#"#!/bin/sh
set -e
hash=$1 key=$2 cert=$3 mod=$4
t=$(mktemp -d)
openssl x509 -inform DER -in "$cert" -out "$t/c.pem"
set -- -passin pass:
[ -z "${KBUILD_SIGN_PIN+x}" ] || set -- -passin env:KBUILD_SIGN_PIN
openssl cms -sign -binary -noattr -nocerts -nosmimecap -md "$hash" -in "$mod" \
	-signer "$t/c.pem" -inkey "$key" "$@" -outform DER -out "$t/sig"
len=$(wc -c < "$t/sig")
cat "$t/sig" >> "$mod"
printf '\000\000\002\000\000\000\000\000' >> "$mod"
printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((len>>24&255)) $((len>>16&255)) $((len>>8&255)) $((len&255)))" >> "$mod"
printf '~Module signature appended~\n' >> "$mod"
rm -rf "$t"
"#;

/// A key rotation: the pair in /var/lib/dkms is moved aside (old.key,
/// old.pub) and `dkms generate_mok` makes a new one.
pub(super) fn rotate_key(root: &TestRoot) {
    for (from, to) in [("mok.key", "old.key"), ("mok.pub", "old.pub")] {
        std::fs::rename(
            root.path(&format!("/var/lib/dkms/{from}")),
            root.path(&format!("/var/lib/dkms/{to}")),
        )
        .expect("mv");
    }
    root.dkms(&["generate_mok"]).assert_ok();
}

/// A root whose kernel K signs modules (the openssl sign-file above,
/// framework.conf's sign_file) and enforces signatures as the running
/// kernel (`module.sig_enforce`), EFI with Secure Boot on, hello/1.0
/// installed and signed with a fresh `dkms generate_mok` pair.
pub(super) fn signing_root() -> Option<TestRoot> {
    if !require_tools("why signatures", &["openssl"], ".ci/run installs openssl") {
        return None;
    }
    let root = TestRoot::with_kernel(K);
    root.add_kernel_config(K, "CONFIG_MODULE_SIG=y");
    root.add_kernel_config(K, "CONFIG_MODULE_SIG_HASH=\"sha256\"");
    write_executable(&root.path("/usr/local/bin/sign-file"), SIGN_FILE);
    root.set_framework_conf("sign_file=/usr/local/bin/sign-file\n");
    root.dkms(&["generate_mok"]).assert_ok();
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K]).assert_ok();
    running(&root);
    root.write("/sys/module/module/parameters/sig_enforce", "Y\n");
    root.write(
        "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c6b8a0b8c",
        [6, 0, 0, 0, 1],
    );
    Some(root)
}

/// shim's variable `name` holding `certs` (efivarfs: 4 bytes of
/// attributes, then the EFI_SIGNATURE_LISTs).
pub(super) fn mok_var(root: &TestRoot, name: &str, certs: &[&Path]) {
    let mut data = vec![7, 0, 0, 0];
    for c in certs {
        let der = std::fs::read(c).expect("read cert");
        let size = 16 + der.len();
        data.extend([
            0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b,
            0xf0, 0x72,
        ]);
        data.extend(((28 + size) as u32).to_le_bytes());
        data.extend(0u32.to_le_bytes());
        data.extend((size as u32).to_le_bytes());
        data.extend([0u8; 16]);
        data.extend(der);
    }
    root.write(
        &format!("/sys/firmware/efi/efivars/{name}-605dab50-e046-4300-abb6-3dd810dd8b23"),
        data,
    );
}

#[test]
fn an_unsigned_module_where_signatures_are_enforced() {
    let Some(root) = signing_root() else { return };
    // A module installed before the key existed: unsigned.
    let ko = format!("/lib/modules/{K}/updates/dkms/hello.ko");
    let built = format!("/var/lib/dkms/hello/1.0/{K}/x86_64/module/hello.ko");
    let data = std::fs::read(root.path(&ko)).expect("read");
    let plain = data[..data.len() - 28].to_vec();
    let n = plain.len();
    let sig_len = u32::from_be_bytes(plain[n - 4..].try_into().expect("4 bytes")) as usize;
    let unsigned = data[..n - 12 - sig_len].to_vec();
    root.write(&ko, &unsigned);
    root.write(&built, &unsigned);
    let out = why(&root, &["hello"]);
    assert_cause(
        &out,
        "not signed, and the kernel requires a valid signature (module.sig_enforce)",
        "this one is not signed",
    );
    assert_eq!(
        fix(&out),
        format!(
            "dkms-hook --root {} sign hello/1.0 -k {K}",
            root.root().display()
        )
    );
}

#[test]
fn signed_with_the_configured_key_that_is_not_enrolled() {
    let Some(root) = signing_root() else { return };
    let out = why(&root, &["hello"]);
    assert_cause(
        &out,
        "signed by \"DKMS module signing key\"",
        "signed with the configured key, but that key is not enrolled",
    );
    assert_eq!(fix(&out), "mokutil --import /var/lib/dkms/mok.pub");
    let v: serde_json::Value =
        serde_json::from_str(&why(&root, &["hello", "--output", "json"]).stdout).expect("json");
    assert_eq!(v["signature"]["signed"], true);
    assert_eq!(v["signature"]["signer"], "DKMS module signing key");
    assert_eq!(v["signature"]["configured_key"], true);
    assert_eq!(v["signature"]["trust"], "untrusted");
    assert_eq!(v["signature"]["hash"], "sha256");
    // The key id is the certificate's serial number, as modinfo shows it.
    let serial = stdout_of(
        std::process::Command::new("openssl")
            .args(["x509", "-inform", "DER", "-noout", "-serial", "-in"])
            .arg(root.path("/var/lib/dkms/mok.pub")),
    );
    let serial = serial
        .trim()
        .trim_start_matches("serial=")
        .trim_start_matches("00");
    let key_id = v["signature"]["key_id"]
        .as_str()
        .expect("key id")
        .replace(':', "");
    assert_eq!(key_id, serial.to_uppercase());
}

#[test]
fn a_key_waiting_for_enrolment_at_the_next_reboot() {
    let Some(root) = signing_root() else { return };
    mok_var(&root, "MokNew", &[&root.path("/var/lib/dkms/mok.pub")]);
    let out = why(&root, &["hello"]);
    assert_cause(
        &out,
        "waits to be enrolled at the next reboot",
        "next reboot",
    );
}

#[test]
fn a_key_enrolled_with_mok_is_trusted() {
    let Some(root) = signing_root() else { return };
    mok_var(&root, "MokListRT", &[&root.path("/var/lib/dkms/mok.pub")]);
    // Another module's signature refusal (it names no module) is not
    // this one's.
    root.write(
        "/dev/kmsg",
        "5,7,900,-;Loading of module with unavailable key is rejected\n",
    );
    let out = why(&root, &["hello"]);
    out.assert_ok();
    assert!(
        out.stdout.contains("that key is enrolled with MOK"),
        "{out}"
    );
    assert!(out.stdout.contains("✔ kernel log: "), "{out}");
}

#[test]
fn a_key_in_the_kernels_keyring_is_trusted() {
    let Some(root) = signing_root() else { return };
    let skid = stdout_of(
        std::process::Command::new("openssl")
            .args([
                "x509",
                "-inform",
                "DER",
                "-noout",
                "-ext",
                "subjectKeyIdentifier",
                "-in",
            ])
            .arg(root.path("/var/lib/dkms/mok.pub")),
    );
    let skid = skid
        .lines()
        .last()
        .expect("skid")
        .trim()
        .replace(':', "")
        .to_lowercase();
    root.write(
        "/proc/keys",
        format!("0a8e5e35 I------     1 perm 1f030000     0     0 asymmetri DKMS module signing key: {skid}: X509.rsa 4f4a6b33 []\n"),
    );
    let out = why(&root, &["hello"]);
    out.assert_ok();
    assert!(out.stdout.contains("the kernel trusts that key"), "{out}");
}

#[test]
fn after_a_key_rotation_sign_makes_the_module_load_again() {
    let Some(root) = signing_root() else { return };
    // The old pair goes; a new one is made and enrolled.
    rotate_key(&root);
    mok_var(&root, "MokListRT", &[&root.path("/var/lib/dkms/mok.pub")]);
    let out = why(&root, &["hello"]);
    assert_cause(
        &out,
        "the kernel does not trust that key",
        "sign it again with the configured key",
    );
    assert_eq!(
        fix(&out),
        format!(
            "dkms-hook --root {} sign hello/1.0 -k {K}",
            root.root().display()
        )
    );
    let signed = root.hook(&["sign", "hello/1.0", "-k", K]);
    signed.assert_ok();
    assert!(
        signed.stdout.contains(&format!(
            "signed /lib/modules/{K}/updates/dkms/hello.ko (\"DKMS module signing key\""
        )),
        "{signed}"
    );
    why(&root, &["hello"]).assert_ok();
    // The records stay true: built and installed copies are the same.
    let status = root.dkms(&["status"]);
    assert_eq!(
        status.stdout.trim(),
        format!("hello/1.0, {K}, x86_64: installed")
    );
    let sig = status_signature(&root);
    assert_eq!(sig["signed"], true);
    assert_eq!(sig["configured_key"], true);
}

/// The `signature` of hello's record in `dkms status --output json`.
pub(super) fn status_signature(root: &TestRoot) -> serde_json::Value {
    let out = root.dkms(&["status", "--output", "json"]);
    out.assert_ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    v["modules"][0]["signature"].clone()
}

#[test]
fn status_json_says_who_signed_each_installed_module() {
    let Some(root) = signing_root() else { return };
    let sig = status_signature(&root);
    assert_eq!(sig["signed"], true, "{sig}");
    assert_eq!(sig["signer"], "DKMS module signing key");
    assert_eq!(sig["configured_key"], true);
    let key_id = sig["key_id"].as_str().expect("key id").to_string();
    let why_json: serde_json::Value =
        serde_json::from_str(&why(&root, &["hello", "--output", "json"]).stdout).expect("json");
    assert_eq!(why_json["signature"]["key_id"], key_id.as_str());
    // Another configured key: the module's key is no longer the configured one.
    rotate_key(&root);
    let sig = status_signature(&root);
    assert_eq!(sig["signed"], true);
    assert_eq!(sig["configured_key"], false);
    // Added but not installed: no signature object.
    let root = installed();
    root.dkms(&["uninstall", "hello/1.0", "-k", K]).assert_ok();
    assert!(status_signature(&root).is_null());
    // Installed unsigned.
    let root = installed();
    let sig = status_signature(&root);
    assert_eq!(sig["signed"], false);
    assert!(sig["signer"].is_null() && sig["key_id"].is_null(), "{sig}");
}

#[test]
fn another_kernel_requires_signatures_by_its_configuration() {
    let root = installed();
    // Not the running kernel: its configuration decides.
    why(&root, &["hello", "-k", K]).assert_ok();
    root.write(
        "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c6b8a0b8c",
        [6, 0, 0, 0, 1],
    );
    why(&root, &["hello", "-k", K]).assert_ok();
    root.add_kernel_config(K, "CONFIG_MODULE_SIG=y");
    root.add_kernel_config(K, "CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT=y");
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "not signed, and the kernel requires a valid signature (Secure Boot)",
        "this one is not signed",
    );
    root.write(
        "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c6b8a0b8c",
        [6, 0, 0, 0, 0],
    );
    why(&root, &["hello", "-k", K]).assert_ok();
    root.add_kernel_config(K, "CONFIG_MODULE_SIG_FORCE=y");
    let out = why(&root, &["hello", "-k", K]);
    assert_cause(
        &out,
        "requires a valid signature (CONFIG_MODULE_SIG_FORCE)",
        "this one is not signed",
    );
}
