//! Fake-kernel tier: upstream's force lists
//! (`/usr/share/dkms/modules_to_force_install`) and framework.conf's
//! `build_environment`.

use crate::harness::*;

/// A kernel that already ships hello 2.0 refuses our 1.0 unless forced.
fn root_with_newer_in_kernel() -> TestRoot {
    let root = TestRoot::with_kernel(K1);
    let built = build_fixture("hello-2.0", K1);
    root.add_kernel_module(K1, "kernel/drivers/misc/hello.ko", &built.ko("hello"));
    root.add_source("hello-1.0");
    root
}

#[test]
fn version_check_refuses_without_a_force_list() {
    let root = root_with_newer_in_kernel();
    let out = root.dkms(&["install", "hello/1.0", "-k", K1]);
    out.assert_code(6);
    out.assert_stderr_contains("is not newer than what is already found in kernel");
}

#[test]
fn force_list_installs_like_force() {
    let root = root_with_newer_in_kernel();
    root.write(
        "/usr/share/dkms/modules_to_force_install/local",
        "other hello\n",
    );
    let out = root.dkms(&["install", "hello/1.0", "-k", K1]);
    out.assert_ok()
        .assert_stdout_contains("Forcing installation of hello");
    let ko = root.path(&format!("/lib/modules/{K1}/updates/dkms/hello.ko"));
    assert_eq!(modinfo_field(&ko, "version").as_deref(), Some("1.0"));
}

#[test]
fn version_override_entry_skips_only_the_version_check() {
    let root = root_with_newer_in_kernel();
    root.write(
        "/usr/share/dkms/modules_to_force_install/local",
        "hello_version-override\n",
    );
    let out = root.dkms(&["install", "hello/1.0", "-k", K1]);
    out.assert_ok()
        .assert_stdout_contains("Forcing version override of hello");
    assert!(root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")));
}

#[test]
fn build_environment_reaches_make() {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "envmod",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=envmod\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=envmod\nDEST_MODULE_LOCATION[0]=/extra\n",
            ),
            ("Makefile", "obj-m += envmod.o\n"),
            (
                "envmod.c",
                "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\n#ifdef FROM_BUILD_ENV\nFAKE_MODULE_INFO(fromenv, \"yes\");\n#endif\n",
            ),
        ],
    );
    root.write("/etc/dkms/build.env", "EXTRA_CFLAGS=-DFROM_BUILD_ENV\n");
    root.set_framework_conf("build_environment=/etc/dkms/build.env\n");
    root.dkms(&["build", "envmod/1.0", "-k", K1]).assert_ok();
    let ko = root.path(&format!(
        "/var/lib/dkms/envmod/1.0/{K1}/{ARCH}/module/envmod.ko"
    ));
    assert_eq!(modinfo_field(&ko, "fromenv").as_deref(), Some("yes"));
}
