//! Checks the test harness itself: the fake kernel builds real-looking
//! modules, test roots have the expected layout, snapshots see changes.
//! None of this needs the dkms binaries to work.

use std::fs;

use crate::harness::*;

/// A scratch copy of a module fixture, outside any root.
fn scratch_copy(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("dkms-selftest-")
        .tempdir()
        .expect("tempdir");
    copy_tree(&module_fixture(fixture), dir.path());
    dir
}

#[test]
fn test_root_has_a_debian_layout() {
    let root = TestRoot::new();
    for d in [
        "/etc/dkms",
        "/var/lib/dkms",
        "/usr/src",
        "/lib/modules",
        "/boot",
        "/tmp",
    ] {
        assert!(root.path(d).is_dir(), "{d} missing");
    }
    let os = root.read("/etc/os-release");
    assert!(os.lines().any(|l| l == "ID=debian"), "{os}");
    assert!(os.lines().any(|l| l == "VERSION_ID=\"12\""), "{os}");
    assert_eq!(
        root.path("/var/lib/dkms/hello"),
        root.root().join("var/lib/dkms/hello")
    );
}

#[test]
fn fake_kernel_layout_follows_the_flags() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, true, true);
    root.add_fake_kernel(K2, false, false);

    for p in [
        "kernel",
        "modules.dep",
        "build/Makefile",
        "build/include",
        "build/.config",
        "build/include/config/auto.conf",
    ] {
        assert!(
            root.exists(&format!("/lib/modules/{K1}/{p}")),
            "{p} missing"
        );
    }
    assert!(root.exists(&format!("/boot/vmlinuz-{K1}")));
    assert_eq!(
        root.read(&format!(
            "/lib/modules/{K1}/build/include/config/kernel.release"
        )),
        format!("{K1}\n")
    );
    let auto = root.read(&format!("/lib/modules/{K1}/build/include/config/auto.conf"));
    for l in [
        "CONFIG_MODULES=y",
        "CONFIG_X86_64=y",
        "CONFIG_FAKE_FEATURE=m",
    ] {
        assert!(auto.lines().any(|x| x == l), "{l} not in auto.conf");
    }

    assert!(root.path(&format!("/lib/modules/{K2}")).is_dir());
    assert_eq!(
        root.list(&format!("/lib/modules/{K2}")),
        Vec::<String>::new()
    );
    assert!(!root.exists(&format!("/boot/vmlinuz-{K2}")));

    root.remove_kernel_image(K1);
    assert_eq!(
        root.list(&format!("/lib/modules/{K1}")),
        vec!["build".to_string()]
    );
    assert!(!root.exists(&format!("/boot/vmlinuz-{K1}")));
    root.remove_headers(K1);
    assert_eq!(
        root.list(&format!("/lib/modules/{K1}")),
        Vec::<String>::new()
    );
}

#[test]
fn fake_kernel_builds_hello_with_modinfo() {
    let root = TestRoot::with_kernel(K1);
    let src = scratch_copy("hello-1.0");
    let before = root.snapshot();

    let out = root.make_module(K1, src.path(), &["-j2"]);
    out.assert_ok();

    let ko = src.path().join("hello.ko");
    assert!(src.path().join("Module.symvers").is_file());
    let vermagic = modinfo_field(&ko, "vermagic").expect("vermagic");
    assert_eq!(
        vermagic,
        format!("{K1} SMP preempt mod_unload modversions ")
    );
    assert_eq!(modinfo_field(&ko, "version").as_deref(), Some("1.0"));
    assert_eq!(modinfo_field(&ko, "name").as_deref(), Some("hello"));
    let srcversion = modinfo_field(&ko, "srcversion").expect("srcversion");
    assert_eq!(srcversion.len(), 24);
    assert!(
        srcversion
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "{srcversion}"
    );

    // The build wrote only into M: the kernel tree and the rest of the root are untouched.
    root.assert_unchanged(&before, &[]);
}

#[test]
fn srcversion_follows_the_sources() {
    let one = build_fixture("hello-1.0", K1);
    let two = build_fixture("hello-2.0", K1);
    let again = build_fixture("hello-1.0", K2);
    let sv = |b: &Built| modinfo_field(&b.ko("hello"), "srcversion").expect("srcversion");
    assert_ne!(sv(&one), sv(&two));
    assert_eq!(sv(&one), sv(&again));
    assert_eq!(
        modinfo_field(&again.ko("hello"), "vermagic").expect("vermagic"),
        format!("{K2} SMP preempt mod_unload modversions ")
    );
}

#[test]
fn host_modinfo_agrees_with_the_harness() {
    let built = build_fixture("hello-2.0", K1);
    if !require_tools(
        "host_modinfo_agrees_with_the_harness",
        &["modinfo"],
        ".ci/run installs kmod",
    ) {
        return;
    }
    let mut cmd = std::process::Command::new("modinfo");
    cmd.args(["-F", "version"]).arg(built.ko("hello"));
    let out = run_command(cmd, RUN_TIMEOUT);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout.trim(), "2.0");
}

#[test]
fn debian_style_headers_build_through_the_symlink() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    root.add_headers_in_usr_src(K1);
    assert_eq!(
        root.read_link(&format!("/lib/modules/{K1}/build")),
        std::path::PathBuf::from(format!("../../../usr/src/linux-headers-{K1}"))
    );
    let src = scratch_copy("hello-1.0");
    root.make_module(K1, src.path(), &[]).assert_ok();
    assert!(modinfo_field(&src.path().join("hello.ko"), "vermagic")
        .expect("vermagic")
        .starts_with(K1));
    root.remove_headers(K1);
    assert!(!root.exists(&format!("/lib/modules/{K1}/build")));
    assert!(!root.exists(&format!("/usr/src/linux-headers-{K1}")));
}

#[test]
fn broken_module_fails_with_the_compiler_message() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, true, true);
    let src = scratch_copy("broken-1.0");
    let out = root.make_module(K1, src.path(), &[]);
    out.assert_failed();
    out.assert_stderr_contains("error:");
    assert!(!src.path().join("broken.ko").exists());
}

#[test]
fn multi_builds_two_modules_from_kbuild() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, true, true);
    let src = scratch_copy("multi-1.0");
    root.make_module(K1, src.path(), &["-j2", "modules"])
        .assert_ok();
    for name in ["multi_a", "multi_b"] {
        let ko = src.path().join(format!("{name}.ko"));
        assert_eq!(modinfo_field(&ko, "name").as_deref(), Some(name));
        assert_eq!(modinfo_field(&ko, "version").as_deref(), Some("1.0"));
    }
    // multi_b is linked from two objects.
    assert!(src.path().join("b_util.o").is_file());

    root.make_module(K1, src.path(), &["clean"]).assert_ok();
    assert!(!src.path().join("multi_a.ko").exists());
    assert!(!src.path().join("b_util.o").exists());
    assert!(src.path().join("multi_a.c").exists());
}

#[test]
fn patch_and_prebuild_fixtures_work_as_dkms_would_run_them() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, true, true);

    let patched = scratch_copy("patched-1.0");
    let mut patch = std::process::Command::new("sh");
    patch
        .arg("-c")
        .arg("patch -p1 < ./patches/fix.patch")
        .current_dir(patched.path());
    let st = run_command(patch, RUN_TIMEOUT);
    assert!(st.code == 0, "{}", st.stderr);
    root.make_module(K1, patched.path(), &[]).assert_ok();
    let ko = patched.path().join("patched.ko");
    assert_eq!(modinfo_field(&ko, "version").as_deref(), Some("1.0.1"));
    assert_eq!(modinfo_field(&ko, "patched").as_deref(), Some("yes"));

    let pre = scratch_copy("prebuild-1.0");
    root.make_module(K1, pre.path(), &[]).assert_failed();
    let mut configure = std::process::Command::new("./configure");
    configure.current_dir(pre.path());
    assert_eq!(run_command(configure, RUN_TIMEOUT).code, 0);
    root.make_module(K1, pre.path(), &[]).assert_ok();
    assert_eq!(
        modinfo_field(&pre.path().join("prebuild.ko"), "generated").as_deref(),
        Some("yes")
    );
}

#[test]
fn fixtures_have_the_promised_dkms_conf() {
    for (fixture, needle) in [
        ("hello-1.0", "PACKAGE_VERSION=\"1.0\""),
        ("hello-2.0", "PACKAGE_VERSION=\"2.0\""),
        ("broken-1.0", "AUTOINSTALL=\"yes\""),
        ("multi-1.0", "BUILT_MODULE_NAME[1]=\"multi_b\""),
        ("dep-1.0", "BUILD_DEPENDS=\"hello\""),
        ("excl-1.0", "BUILD_EXCLUSIVE_KERNEL=\"^9\\.9\\.\""),
        ("patched-1.0", "PATCH[0]=\"fix.patch\""),
        ("prebuild-1.0", "PRE_BUILD=\"configure\""),
    ] {
        let conf =
            fs::read_to_string(module_fixture(fixture).join("dkms.conf")).expect("dkms.conf");
        assert!(conf.contains(needle), "{fixture}: {needle} not in\n{conf}");
    }
}

#[test]
fn add_source_copies_fixtures_and_text() {
    let root = TestRoot::new();
    let p = root.add_source("prebuild-1.0");
    assert_eq!(p, root.path("/usr/src/prebuild-1.0"));
    assert!(p.join("dkms.conf").is_file());
    let mode = fs::metadata(p.join("configure"))
        .expect("configure")
        .permissions();
    assert!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o111 != 0,
        "configure lost its exec bit"
    );

    let q = root.add_source_text(
        "adhoc",
        "0.1",
        &[
            ("dkms.conf", "PACKAGE_NAME=adhoc\n"),
            ("sub/x.c", "int x;\n"),
            ("gen.sh", "#!/bin/sh\n"),
        ],
    );
    assert_eq!(root.read("/usr/src/adhoc-0.1/sub/x.c"), "int x;\n");
    assert!(
        std::os::unix::fs::PermissionsExt::mode(
            &fs::metadata(q.join("gen.sh"))
                .expect("gen.sh")
                .permissions()
        ) & 0o111
            != 0
    );
}

#[test]
fn snapshot_detects_changes() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, true, true);
    let before = root.snapshot();
    assert_eq!(before, root.snapshot());
    root.assert_unchanged(&before, &[]);

    root.write("/var/lib/dkms/hello/1.0/marker", "x");
    std::os::unix::fs::symlink("1.0", root.path("/var/lib/dkms/hello/kernel-x")).expect("symlink");
    root.write("/etc/os-release", "ID=fedora\n");
    let after = root.snapshot();
    let diff = diff_snapshots(&before, &after);
    assert!(
        diff.iter()
            .any(|d| d.starts_with("+ var/lib/dkms/hello/1.0/marker")),
        "{diff:?}"
    );
    assert!(
        diff.iter()
            .any(|d| d.starts_with("+ var/lib/dkms/hello/kernel-x")),
        "{diff:?}"
    );
    assert!(
        diff.iter().any(|d| d.starts_with("~ etc/os-release")),
        "{diff:?}"
    );
    assert_eq!(
        after.get(std::path::Path::new("var/lib/dkms/hello/kernel-x")),
        Some(&Node::Symlink("1.0".into()))
    );

    let r = std::panic::catch_unwind(|| root.assert_unchanged(&before, &[]));
    assert!(r.is_err(), "assert_unchanged missed a change");
    root.assert_unchanged(&after, &[]);
    // Ignored prefixes are left out of the comparison.
    root.write("/var/lib/dkms/.lock", "");
    root.assert_unchanged(&after, &["/var/lib/dkms/.lock"]);
}

#[test]
fn kernel_modules_can_be_planted_compressed() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    let built = build_fixture("hello-1.0", K1);
    root.add_kernel_module(K1, "kernel/drivers/misc/hello.ko.xz", &built.ko("hello"));
    root.add_kernel_module(K1, "kernel/drivers/misc/plain.ko", &built.ko("hello"));
    assert_eq!(
        root.installed_modules(K1),
        vec![
            "kernel/drivers/misc/hello.ko.xz",
            "kernel/drivers/misc/plain.ko"
        ]
    );
    let xz = root.path(&format!(
        "/lib/modules/{K1}/kernel/drivers/misc/hello.ko.xz"
    ));
    assert_eq!(
        fs::read(&xz).expect("read").get(..6),
        Some(&b"\xfd7zXZ\x00"[..])
    );
    assert_eq!(modinfo_field(&xz, "version").as_deref(), Some("1.0"));
}

#[test]
fn fake_sign_file_marks_modules_signed() {
    let built = build_fixture("hello-1.0", K1);
    let ko = built.ko("hello");
    assert!(!is_signed(&ko));
    let key = built.dir.path().join("k");
    fs::write(&key, "key").expect("write");
    let mut sign = std::process::Command::new(fake_kernel_dir().join("scripts/sign-file"));
    sign.arg("sha256").arg(&key).arg(&key).arg(&ko);
    let out = run_command(sign, RUN_TIMEOUT);
    assert!(out.code == 0, "{}", out.stderr);
    assert!(is_signed(&ko));
    assert_eq!(modinfo_field(&ko, "version").as_deref(), Some("1.0"));
}

#[test]
fn run_command_reports_codes_and_output() {
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
    let out = run_command(cmd, RUN_TIMEOUT);
    out.assert_code(3)
        .assert_stdout_contains("out")
        .assert_stderr_contains("err");
    assert_eq!(out.stdout_lines(), vec!["out"]);

    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "kill -TERM $$"]);
    assert_eq!(run_command(cmd, RUN_TIMEOUT).code, 128 + 15);
}

#[test]
#[should_panic(expected = "timed out")]
fn run_command_kills_a_hung_program() {
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("30");
    run_command(cmd, std::time::Duration::from_millis(200));
}

#[test]
fn run_command_does_not_wait_for_background_grandchildren() {
    let start = std::time::Instant::now();
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "sleep 30 & echo started"]);
    run_command(cmd, RUN_TIMEOUT)
        .assert_ok()
        .assert_stdout_contains("started");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn dkms_binaries_are_built_for_the_tests() {
    assert!(std::path::Path::new(env!("CARGO_BIN_EXE_dkms")).is_file());
    assert!(std::path::Path::new(env!("CARGO_BIN_EXE_dkms-hook")).is_file());
}
