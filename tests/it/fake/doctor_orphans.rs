//! `dkms-hook doctor` and module files no dkms record claims: in
//! `updates/dkms` they are reported and `--repair` removes them (then
//! depmod); a file a record, a binary module package or a dpkg package
//! claims, anything outside `updates/dkms`, and a copy of an installed
//! module's build are never removed; on Fedora, whose `extra` the
//! distribution's packages share, they are only reported.

use crate::harness::*;

const SECURE_BOOT: &str =
    "secure boot: not available (no EFI firmware); modules load without a signature check.";

/// The root's path, as doctor prints paths under it.
fn r(root: &TestRoot) -> String {
    root.root().display().to_string()
}

/// Registers and installs `name`/1.0 (a one-module source) for K1.
fn install_small(root: &TestRoot, name: &str) {
    root.add_source_text(
        name,
        "1.0",
        &[
            (
                "dkms.conf",
                &format!(
                    "PACKAGE_NAME=\"{name}\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"{name}\"\n\
                     DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nAUTOINSTALL=\"yes\"\n"
                ),
            ),
            ("Makefile", &format!("obj-m += {name}.o\n")),
            (
                &format!("{name}.c"),
                &format!(
                    "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\nint {name}_init(void) {{ return 0; }}\n"
                ),
            ),
        ],
    );
    root.dkms(&["install", &format!("{name}/1.0"), "-k", K1])
        .assert_ok();
}

/// `dkms build --force` of an installed module whose source no longer
/// builds: the build and its link go, the installed file stays.
fn fail_forced_rebuild(root: &TestRoot) {
    let mk = root.path("/usr/src/hello-1.0/Makefile");
    let mut text = std::fs::read_to_string(&mk).unwrap();
    text.push_str("this line is not make\n");
    std::fs::write(&mk, text).unwrap();
    root.dkms(&["build", "hello/1.0", "-k", K1, "--force"])
        .assert_code(10);
}

/// modules.dep rewritten after the test planted files, as depmod would.
fn fresh_modules_dep(root: &TestRoot, k: &str) {
    let dep = format!("/lib/modules/{k}/modules.dep");
    let text = root.read(&dep);
    std::thread::sleep(std::time::Duration::from_millis(20));
    root.write(&dep, text);
}

#[test]
fn a_failed_forced_build_leaves_a_module_file_that_repair_removes() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    fail_forced_rebuild(&root);
    let r = r(&root);
    let ko = format!("/lib/modules/{K1}/updates/dkms/hello.ko");
    let link = format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}");
    let orphan = format!(
        "module file in updates/dkms of kernel {K1} that no dkms module or module package claims: {r}{ko}"
    );

    let before = root.snapshot();
    let out = root.hook(&["doctor"]);
    out.assert_code(1);
    assert_eq!(
        out.stdout_lines(),
        [
            format!("found: dangling kernel link (its build is gone): {r}{link} (--repair will remove it)"),
            format!("found: {orphan} (--repair will remove it, then run depmod for {K1})"),
            SECURE_BOOT.to_string(),
            format!("To repair what was found, run: dkms-hook --root {r} doctor --repair"),
        ],
        "{out}"
    );
    root.assert_unchanged(&before, &[]);

    let out = root.hook(&["doctor", "--repair"]);
    out.assert_ok();
    assert_eq!(
        out.stdout_lines(),
        [
            format!("repaired: dangling kernel link (its build is gone): {r}{link} (removed)"),
            format!("repaired: {orphan} (removed; depmod runs for {K1} below)"),
            "Running depmod... done.".to_string(),
            SECURE_BOOT.to_string(),
        ],
        "{out}"
    );
    assert!(!root.exists(&ko) && !root.exists(&link));
    assert_eq!(root.installed_modules(K1), Vec::<String>::new());
    let status = root.dkms(&["status"]);
    assert_eq!(status.stdout, "hello/1.0: added\n", "{status}");
    root.hook(&["doctor"])
        .assert_ok()
        .assert_stdout_contains("No leftovers from interrupted runs found.");
}

#[test]
fn a_module_file_whose_dkms_tree_was_deleted_by_hand_is_removed_and_others_stay() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    install_small(&root, "ghost");
    std::fs::remove_dir_all(root.path("/var/lib/dkms/ghost")).unwrap();
    let r = r(&root);
    let ghost = format!("/lib/modules/{K1}/updates/dkms/ghost.ko");

    let out = root.hook(&["doctor", "--repair"]);
    out.assert_ok();
    assert_eq!(
        out.stdout_lines()[0],
        format!(
            "repaired: module file in updates/dkms of kernel {K1} that no dkms module or module package claims: {r}{ghost} (removed; depmod runs for {K1} below)"
        ),
        "{out}"
    );
    assert_eq!(
        root.installed_modules(K1),
        ["updates/dkms/hello.ko"],
        "the claimed module stays"
    );
    assert_eq!(
        root.dkms(&["status"]).stdout,
        format!("hello/1.0, {K1}, {ARCH}: installed\n")
    );
}

#[test]
fn files_claimed_by_a_record_or_a_package_and_files_elsewhere_stay() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    let lib = format!("/lib/modules/{K1}");
    // A binary module package's file and its record.
    root.write(
        &format!("{lib}/updates/dkms/packaged.ko"),
        "packaged module",
    );
    root.write(
        &format!("/usr/share/dkms-hook/prebuilt/packaged_1.0_{K1}_{ARCH}.json"),
        format!(
            r#"{{"module":"packaged","version":"1.0","kernel":"{K1}","arch":"{ARCH}","package":"packaged-modules-{K1}","files":["{lib}/updates/dkms/packaged.ko"]}}"#
        ),
    );
    // A file a dpkg package lists (upstream's mkbmdeb packages install there).
    root.write(&format!("{lib}/updates/dkms/fromdeb.ko"), "a deb's module");
    root.write(
        &format!("/var/lib/dpkg/info/fromdeb-modules-{K1}.list"),
        format!("/.\n/lib\n{lib}/updates/dkms\n{lib}/updates/dkms/fromdeb.ko\n"),
    );
    // Outside updates/dkms, or not directly in it, or not a module.
    for f in [
        "extra/other.ko",
        "kernel/drivers/misc/theirs.ko",
        "updates/dkms/sub/deep.ko",
        "updates/dkms/README",
    ] {
        root.write(&format!("{lib}/{f}"), "not ours");
    }
    fresh_modules_dep(&root, K1);
    let before = root.snapshot();
    for args in [&["doctor"][..], &["doctor", "--repair"][..]] {
        let out = root.hook(args);
        out.assert_ok();
        assert_eq!(
            out.stdout_lines(),
            [SECURE_BOOT, "No leftovers from interrupted runs found."],
            "{args:?}\n{out}"
        );
    }
    root.assert_unchanged(&before, &[LOCK]);
}

#[test]
fn an_unclaimed_copy_of_an_installed_build_is_left_in_place() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    let copy = format!("/lib/modules/{K1}/updates/dkms/hello-old.ko");
    std::fs::copy(
        root.path(&format!(
            "/var/lib/dkms/hello/1.0/{K1}/{ARCH}/module/hello.ko"
        )),
        root.path(&copy),
    )
    .unwrap();
    fresh_modules_dep(&root, K1);
    let r = r(&root);
    let before = root.snapshot();
    let out = root.hook(&["doctor", "--repair"]);
    out.assert_code(1);
    assert_eq!(
        out.stdout_lines(),
        [
            format!(
                "needs attention: module file no dkms record claims for kernel {K1}, byte for byte the build of hello/1.0 for kernel {K1}, which is installed: {r}{copy}"
            ),
            format!(
                "  Left in place, since dkms uses that build. If kernel {K1} must not load it, remove it by hand, then run depmod for {K1}."
            ),
            SECURE_BOOT.to_string(),
        ],
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);
}

#[test]
fn on_fedora_an_unclaimed_file_in_extra_is_reported_and_never_removed() {
    let root = TestRoot::with_kernel(K1);
    root.set_os_release("NAME=\"Fedora Linux\"\nVERSION_ID=40\nID=fedora\n");
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    let lib = format!("/lib/modules/{K1}");
    assert!(root.exists(&format!("{lib}/extra/hello.ko")));
    // A kmod package's files: not named like a dkms module, or in a subdirectory.
    root.write(
        &format!("{lib}/extra/kmodpkg.ko"),
        "a kmod package's module",
    );
    root.write(
        &format!("{lib}/extra/hello/hello.ko"),
        "a kmod package's module",
    );
    fail_forced_rebuild(&root);
    fresh_modules_dep(&root, K1);
    let r = r(&root);
    let link = format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}");
    let out = root.hook(&["doctor", "--repair"]);
    out.assert_code(1);
    assert_eq!(
        out.stdout_lines(),
        [
            format!("repaired: dangling kernel link (its build is gone): {r}{link} (removed)"),
            format!(
                "needs attention: module file in extra of kernel {K1}, named like a dkms module, that no dkms record claims: {r}{lib}/extra/hello.ko"
            ),
            format!(
                "  Left in place: extra is shared with the distribution's module packages. If no package owns it (rpm -qf {lib}/extra/hello.ko), remove it, then run depmod for {K1}."
            ),
            SECURE_BOOT.to_string(),
        ],
        "{out}"
    );
    for f in ["extra/hello.ko", "extra/kmodpkg.ko", "extra/hello/hello.ko"] {
        assert!(root.exists(&format!("{lib}/{f}")), "{f} was removed");
    }
}
