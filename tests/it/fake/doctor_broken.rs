//! `dkms-hook doctor` and broken modules. One whose source is gone: doctor
//! says how to keep it and what forgetting it does; `--repair` forgets it
//! (originals back, its module files and links gone, depmod, its dkms tree
//! entry and records deleted) and leaves the other versions alone. One
//! whose source cannot be examined, or is not a directory, is left alone;
//! one whose source link is missing gets the command that adds it again.

use std::os::unix::fs::symlink;

use crate::harness::*;

const SECURE_BOOT: &str =
    "secure boot: not available (no EFI firmware); modules load without a signature check.";

/// Where K1 ships its own hello module.
const ORIGINAL: &str = "kernel/drivers/misc/hello.ko";

#[test]
fn a_broken_module_whose_source_is_gone_is_explained_then_forgotten_by_repair() {
    let root = TestRoot::with_kernel(K1);
    root.add_fake_kernel(K2, true, true);
    let original = b"the kernel's own hello module".to_vec();
    root.write(&format!("/lib/modules/{K1}/{ORIGINAL}"), &original);
    root.add_source("hello-1.0");
    for k in [K1, K2] {
        root.dkms(&["install", "hello/1.0", "-k", k]).assert_ok();
    }
    assert!(root.exists(&format!(
        "/var/lib/dkms/hello/original_module/{K1}/{ARCH}/hello.ko"
    )));
    // A failure record of hello/1.0 (as a hook would leave it).
    root.write(
        &format!("/var/lib/dkms/.dkms-hook/failed/hello@1.0@{K2}@{ARCH}.json"),
        format!(
            r#"{{"module":"hello","version":"1.0","kernel":"{K2}","arch":"{ARCH}","code":10,"log":""}}"#
        ),
    );
    std::fs::remove_dir_all(root.path("/usr/src/hello-1.0")).unwrap();
    // dkms itself refuses it, as upstream does.
    root.dkms(&["remove", "hello/1.0", "--all"]).assert_code(4);

    let r = root.root().display().to_string();
    let vd = format!("{r}/var/lib/dkms/hello/1.0");
    let head = format!("hello/1.0 is broken, its source /usr/src/hello-1.0 is gone: {vd}");
    let archived = format!(
        "original module archived when broken hello/1.0 was installed for kernel {K1}: {r}/var/lib/dkms/hello/original_module/{K1}/{ARCH}/hello.ko"
    );
    let file = |k: &str| {
        format!(
            "module file of broken hello/1.0, installed for kernel {k} ({ARCH}): {r}/lib/modules/{k}/updates/dkms/hello.ko"
        )
    };
    let link = |k: &str| {
        format!("kernel link of broken hello/1.0: {r}/var/lib/dkms/hello/kernel-{k}-{ARCH}")
    };
    let entry =
        format!("dkms tree entry of broken hello/1.0 (its builds, logs and source link): {vd}");
    let repair = format!("dkms-hook --root {r} doctor --repair");

    let before = root.snapshot();
    let out = root.hook(&["doctor"]);
    out.assert_code(1);
    assert_eq!(
        out.stdout_lines(),
        [
            format!("found: {head}"),
            "  To keep hello/1.0: reinstall the package that installed /usr/src/hello-1.0 (dpkg -S /usr/src/hello-1.0 names it; for hello-dkms: apt-get install --reinstall hello-dkms), or put the source back at /usr/src/hello-1.0.".to_string(),
            format!("  To forget hello/1.0 (dkms remove refuses a broken module): {repair} does what the lines below say."),
            format!("found: {archived} (--repair will put it back to /lib/modules/{K1}/{ORIGINAL}, then run depmod for {K1})"),
            format!("found: {} (--repair will remove it, then run depmod for {K1})", file(K1)),
            format!("found: {} (--repair will remove it)", link(K1)),
            format!("found: {} (--repair will remove it, then run depmod for {K2})", file(K2)),
            format!("found: {} (--repair will remove it)", link(K2)),
            format!("found: {entry} (--repair will delete it with its pending and failure records)"),
            format!("failed: hello/1.0 for {K2} ({ARCH}) (exit status 10)"),
            SECURE_BOOT.to_string(),
            format!("To repair what was found, run: {repair}"),
        ],
        "{out}"
    );
    root.assert_unchanged(&before, &[]);

    let out = root.hook(&["doctor", "--repair"]);
    out.assert_ok();
    assert_eq!(
        out.stdout_lines(),
        [
            format!("forgetting: {head}"),
            format!("repaired: {archived} (put back to /lib/modules/{K1}/{ORIGINAL}; depmod runs for {K1} below)"),
            format!("repaired: {} (removed; depmod runs for {K1} below)", file(K1)),
            format!("repaired: {} (removed)", link(K1)),
            format!("repaired: {} (removed; depmod runs for {K2} below)", file(K2)),
            format!("repaired: {} (removed)", link(K2)),
            format!("repaired: {entry} (deleted, with its pending and failure records)"),
            "Running depmod... done.".to_string(),
            "Running depmod... done.".to_string(),
            SECURE_BOOT.to_string(),
        ],
        "{out}"
    );
    assert_eq!(
        std::fs::read(root.path(&format!("/lib/modules/{K1}/{ORIGINAL}"))).unwrap(),
        original,
        "the original is back"
    );
    assert_eq!(root.installed_modules(K1), [ORIGINAL]);
    assert_eq!(root.installed_modules(K2), Vec::<String>::new());
    assert!(
        !root.exists("/var/lib/dkms/hello"),
        "{:?}",
        root.list("/var/lib/dkms/hello")
    );
    assert_eq!(
        root.list("/var/lib/dkms/.dkms-hook/failed"),
        Vec::<String>::new()
    );
    let status = root.dkms(&["status"]);
    status.assert_ok();
    assert_eq!(status.stdout, "", "{status}");
    root.hook(&["doctor"])
        .assert_ok()
        .assert_stdout_contains("No leftovers from interrupted runs found.");
}

#[test]
fn forgetting_a_broken_version_keeps_the_installed_one() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.add_source("hello-2.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    root.dkms(&["install", "hello/2.0", "-k", K1]).assert_ok();
    let ko = format!("/lib/modules/{K1}/updates/dkms/hello.ko");
    let installed = std::fs::read(root.path(&ko)).unwrap();
    std::fs::remove_dir_all(root.path("/usr/src/hello-1.0")).unwrap();
    let r = root.root().display().to_string();
    let out = root.hook(&["doctor", "--repair"]);
    out.assert_ok();
    assert_eq!(
        out.stdout_lines(),
        [
            format!("forgetting: hello/1.0 is broken, its source /usr/src/hello-1.0 is gone: {r}/var/lib/dkms/hello/1.0"),
            format!("repaired: dkms tree entry of broken hello/1.0 (its builds, logs and source link): {r}/var/lib/dkms/hello/1.0 (deleted, with its pending and failure records)"),
            SECURE_BOOT.to_string(),
        ],
        "{out}"
    );
    assert_eq!(std::fs::read(root.path(&ko)).unwrap(), installed);
    assert_eq!(
        root.dkms(&["status"]).stdout,
        format!("hello/2.0, {K1}, {ARCH}: installed\n")
    );
}

#[test]
fn a_broken_module_whose_source_is_not_certainly_gone_is_left_alone() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    std::fs::remove_dir_all(root.path("/usr/src/hello-1.0")).unwrap();
    let r = root.root().display().to_string();
    let link = root.path("/var/lib/dkms/hello/1.0/source");
    let vd = format!("{r}/var/lib/dkms/hello/1.0");

    // A loop of links stands for a source that cannot be examined now (an
    // unmounted file system, a permission): the error is not "not found".
    symlink("loop", root.path("/usr/src/loop")).unwrap();
    std::fs::remove_file(&link).unwrap();
    symlink("/usr/src/loop/hello-1.0", &link).unwrap();
    let before = root.snapshot();
    let out = root.hook(&["doctor", "--repair"]);
    out.assert_code(1);
    assert_eq!(
        out.stdout_lines(),
        [
            format!("needs attention: hello/1.0 is broken, its source /usr/src/loop/hello-1.0 cannot be read (Too many levels of symbolic links): {vd}"),
            "  Left alone: --repair forgets a module only when its source is certainly gone. Run doctor again once /usr/src/loop/hello-1.0 can be read.".to_string(),
            SECURE_BOOT.to_string(),
        ],
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);

    // A file where the source directory should be.
    root.write("/usr/src/hello-1.0", "not a directory");
    std::fs::remove_file(&link).unwrap();
    symlink("/usr/src/hello-1.0", &link).unwrap();
    let before = root.snapshot();
    let out = root.hook(&["doctor", "--repair"]);
    out.assert_code(1);
    assert_eq!(
        out.stdout_lines(),
        [
            format!("needs attention: hello/1.0 is broken, its source /usr/src/hello-1.0 is not a directory: {vd}"),
            "  Left alone: --repair forgets a module only when its source is certainly gone. Put the source directory back at /usr/src/hello-1.0, or remove what is there and run doctor again.".to_string(),
            SECURE_BOOT.to_string(),
        ],
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);
}

#[test]
fn a_missing_source_link_gets_the_command_that_adds_it_again() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    std::fs::remove_file(root.path("/var/lib/dkms/hello/1.0/source")).unwrap();
    let r = root.root().display().to_string();
    let before = root.snapshot();
    let out = root.hook(&["doctor", "--repair"]);
    out.assert_code(1);
    assert_eq!(
        out.stdout_lines(),
        [
            format!("needs attention: hello/1.0 is broken, the link to its source /usr/src/hello-1.0 is missing: {r}/var/lib/dkms/hello/1.0/source"),
            format!("  To repair it: dkms --root {r} add hello/1.0 (links the source again)."),
            SECURE_BOOT.to_string(),
        ],
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    root.hook(&["doctor"]).assert_ok();
    assert_eq!(
        root.dkms(&["status"]).stdout,
        format!("hello/1.0, {K1}, {ARCH}: installed\n")
    );
}
