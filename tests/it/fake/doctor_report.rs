//! `dkms-hook doctor`'s report: every word is for people (no names of the
//! program's own types), and without `--repair` it only looks, says what
//! `--repair` would do and ends with that exact command; `--check`, the old
//! way to only look, still works.

use std::os::unix::fs::symlink;

use crate::harness::*;

/// A word that looks like a Rust type or variant name (`HeadersMissing`).
fn type_names(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*\b").expect("regex");
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn pending_work_and_failures_are_worded_for_people() {
    let root = TestRoot::with_kernel(K1);
    // K4: installed, no headers yet.
    root.add_fake_kernel(K4, false, true);
    for m in ["dep", "broken"] {
        root.add_source(&format!("{m}-1.0"));
        root.dkms(&["add", &format!("{m}/1.0")]).assert_ok();
    }
    // dep waits for hello (not registered); broken fails to build.
    root.hook(&["kernel-postinst", K1]).assert_code(0);
    root.hook(&["kernel-postinst", K4]).assert_ok();

    let out = root.hook(&["doctor"]);
    out.assert_ok();
    let lines = out.stdout_lines();
    assert_eq!(
        lines[..2],
        [
            format!("pending: {K1} ({ARCH}): dep waits for BUILD_DEPENDS not registered with DKMS yet: hello"),
            format!("pending: {K4} ({ARCH}): waiting for the kernel headers (install linux-headers-{K4})"),
        ],
        "{out}"
    );
    let failed = format!("failed: broken/1.0 for {K1} ({ARCH}) (exit status 10); log: ");
    assert!(lines[2].starts_with(&failed), "{out}");
    assert!(lines[2].ends_with(".make.log"), "{out}");
    assert_eq!(
        lines[3..],
        [
            "secure boot: not available (no EFI firmware); modules load without a signature check.",
            "No leftovers from interrupted runs found.",
        ],
        "{out}"
    );
    // The root's random name is not ours to judge.
    let words = |s: &str| s.replace(&root.root().display().to_string(), "ROOT");
    assert_eq!(
        type_names(&words(&out.stdout)),
        Vec::<String>::new(),
        "{out}"
    );
    assert_eq!(
        type_names(&words(&out.stderr)),
        Vec::<String>::new(),
        "{out}"
    );
}

/// A root with hello/1.0 installed on K1 and two leftovers of interrupted
/// runs: a dangling kernel link and a temporary build result.
fn root_with_leftovers() -> (TestRoot, String, String) {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    let link = format!("/var/lib/dkms/hello/kernel-{K2}-{ARCH}");
    symlink(format!("1.0/{K2}/{ARCH}"), root.path(&link)).unwrap();
    let tmp = format!("/var/lib/dkms/hello/1.0/{K1}/.tmp_{ARCH}_x1y2z3");
    std::fs::create_dir_all(root.path(&tmp)).unwrap();
    (root, link, tmp)
}

#[test]
fn doctor_only_looks_and_ends_with_the_command_that_repairs() {
    let (root, link, tmp) = root_with_leftovers();
    let r = root.root().display().to_string();
    let before = root.snapshot();
    let want = vec![
        format!("found: leftover temporary build result: {r}{tmp} (--repair will remove it)"),
        format!(
            "found: dangling kernel link (its build is gone): {r}{link} (--repair will remove it)"
        ),
        "secure boot: not available (no EFI firmware); modules load without a signature check."
            .to_string(),
        format!("To repair what was found, run: dkms-hook --root {r} doctor --repair"),
    ];
    for args in [&["doctor"][..], &["doctor", "--check"][..]] {
        let out = root.hook(args);
        out.assert_code(1);
        assert_eq!(out.stdout_lines(), want, "{args:?}\n{out}");
        assert_eq!(out.stderr, "", "{args:?}");
        root.assert_unchanged(&before, &[]);
    }

    let out = root.hook(&["doctor", "--repair"]);
    out.assert_ok();
    assert_eq!(
        out.stdout_lines(),
        [
            format!("repaired: leftover temporary build result: {r}{tmp} (removed)"),
            format!("repaired: dangling kernel link (its build is gone): {r}{link} (removed)"),
            "secure boot: not available (no EFI firmware); modules load without a signature check."
                .to_string(),
        ],
        "{out}"
    );
    assert!(!root.exists(&link) && !root.exists(&tmp));
    assert!(root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")));

    let out = root.hook(&["doctor"]);
    out.assert_ok();
    assert_eq!(
        out.stdout_lines(),
        [
            "secure boot: not available (no EFI firmware); modules load without a signature check.",
            "No leftovers from interrupted runs found.",
        ],
        "{out}"
    );
}

#[test]
fn dkms_root_is_named_in_the_repair_command_and_check_conflicts_with_repair() {
    let (root, _, _) = root_with_leftovers();
    // DKMS_ROOT names the root, as --root does: the command says --root.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dkms-hook"));
    cmd.arg("doctor")
        .env("DKMS_ROOT", root.root())
        .env("LC_ALL", "C");
    let out = run_command(cmd, root.timeout());
    out.assert_code(1);
    let last = out.stdout_lines().last().map(|s| s.to_string());
    assert_eq!(
        last.as_deref(),
        Some(
            format!(
                "To repair what was found, run: dkms-hook --root {} doctor --repair",
                root.root().display()
            )
            .as_str()
        ),
        "{out}"
    );
    let out = root.hook(&["doctor", "--check", "--repair"]);
    out.assert_code(2);
    assert!(out.stderr.contains("cannot be used with"), "{out}");
}
