//! A full install tree (SPEC "Beyond upstream" 2: a failed install never
//! removes the module that worked before). `lib/modules/K/updates` is a
//! 600 KiB tmpfs: hello/1.0 fits, a hello/2.0 carrying a 1 MiB table does
//! not. The failed install must say `No space left on device`, keep the old
//! module byte for byte, leave no temporary file, and keep status at 1.0.
//!
//! Needs root and a working `mount`; otherwise the test is skipped with a
//! message, unless the environment variable `CI` is set (then it fails).

use std::path::PathBuf;

use crate::harness::*;

/// Size of the tmpfs mounted on the install location.
const TMPFS_SIZE: &str = "600k";
/// Bytes of the table that makes hello/2.0 too big for it.
const BIG_TABLE: usize = 1024 * 1024;

/// hello/2.0 whose module carries a `BIG_TABLE`-byte initialised table.
fn add_big_hello(root: &TestRoot) {
    let c = format!(
        "#include <fake_module.h>\n\nFAKE_MODULE_VERSION(\"2.0\");\nFAKE_MODULE_LICENSE(\"GPL\");\n\
         FAKE_MODULE_DESCRIPTION(\"hello test module, too big for the disk\");\n\n\
         __attribute__((used)) static const unsigned char big_table[{BIG_TABLE}] = {{ 1, 2, 3 }};\n\n\
         int hello_init(void)\n{{\n\treturn big_table[0] - 1;\n}}\n"
    );
    root.add_source_text(
        "hello",
        "2.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=\"hello\"\nPACKAGE_VERSION=\"2.0\"\nBUILT_MODULE_NAME[0]=\"hello\"\n\
                 DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nAUTOINSTALL=\"yes\"\n",
            ),
            ("Makefile", "obj-m += hello.o\n"),
            ("hello.c", &c),
        ],
    );
}

#[test]
fn install_on_a_full_disk_fails_clearly_and_keeps_the_old_module() {
    let root = TestRoot::with_kernel(K1);
    let updates = root.path(&format!("/lib/modules/{K1}/updates"));
    let Some(_mount) = Tmpfs::mount_or_skip("full-disk test", &updates, TMPFS_SIZE) else {
        return;
    };
    root.add_source("hello-1.0");
    add_big_hello(&root);

    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    let ko = format!("/lib/modules/{K1}/updates/dkms/hello.ko");
    let old = std::fs::read(root.path(&ko)).expect("hello 1.0 installed");

    // The new module really is bigger than the disk.
    root.dkms(&["build", "hello/2.0", "-k", K1]).assert_ok();
    let built = root.path(&format!(
        "/var/lib/dkms/hello/2.0/{K1}/{ARCH}/module/hello.ko"
    ));
    let size = std::fs::metadata(&built).expect("hello 2.0 built").len();
    assert!(size > 600 * 1024, "hello 2.0 is only {size} bytes");

    let out = root.dkms(&["install", "hello/2.0", "-k", K1]);
    out.assert_failed();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("No space left on device"),
        "the error does not name the cause\n{out}"
    );
    assert!(out.stderr.contains("Error!"), "no error line\n{out}");

    assert_eq!(
        std::fs::read(root.path(&ko)).expect("old module still there"),
        old,
        "the old module changed"
    );
    assert_eq!(
        root.list(&format!("/lib/modules/{K1}/updates/dkms")),
        vec!["hello.ko".to_string()],
        "temporary files left next to the module"
    );
    let status = root.dkms(&["status"]);
    status.assert_ok();
    status.assert_stdout_contains(&format!("hello/1.0, {K1}, {ARCH}: installed\n"));
    status.assert_stdout_contains(&format!("hello/2.0, {K1}, {ARCH}: built\n"));
    assert_eq!(
        root.read_link(&format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}")),
        PathBuf::from(format!("1.0/{K1}/{ARCH}"))
    );
    // The failure leaves no leftovers for doctor either.
    root.hook(&["doctor"])
        .assert_stdout_contains("No leftovers from interrupted runs found.");
}
