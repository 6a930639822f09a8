//! Fake-kernel tier: the upstream actions that work on a whole kernel —
//! `autoinstall`, `kernel_preinst`, `kernel_postinst`, `kernel_prerm` —
//! and `match`, driven through the real `dkms` binary.

use crate::harness::*;

fn status(root: &TestRoot) -> Vec<String> {
    root.dkms(&["status"])
        .assert_ok()
        .stdout_lines()
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn installed_line(m: &str, k: &str) -> String {
    format!("{m}/1.0, {k}, {ARCH}: installed")
}

#[test]
fn autoinstall_installs_autoinstall_modules_in_dependency_order_and_reports_like_upstream() {
    let root = TestRoot::with_kernel(K1);
    for f in ["dep-1.0", "hello-1.0", "excl-1.0"] {
        root.add_source(f);
        let (m, v) = f.split_once('-').unwrap();
        root.dkms(&["add", &format!("{m}/{v}"), "-k", K1])
            .assert_ok();
    }
    let out = root.dkms(&["autoinstall", "-k", K1]);
    out.assert_ok();
    let lines = out.stdout_lines();
    let pos = |m: &str| {
        lines
            .iter()
            .position(|l| *l == format!("Autoinstall of module {m}/1.0 for kernel {K1} ({ARCH})"))
            .unwrap_or_else(|| panic!("no autoinstall line for {m}:\n{out}"))
    };
    assert!(
        pos("hello") < pos("dep"),
        "hello must be installed before dep:\n{out}"
    );
    assert!(
        lines.contains(&format!("Autoinstall on {K1} succeeded for module(s) hello dep.").as_str()),
        "{out}"
    );
    assert!(
        lines.contains(&format!("Autoinstall on {K1} was skipped for module(s) excl.").as_str()),
        "{out}"
    );
    // Like upstream, depmod runs after each install.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("Running depmod"))
            .count(),
        2,
        "{out}"
    );
    let st = status(&root);
    assert!(
        st.contains(&installed_line("hello", K1)) && st.contains(&installed_line("dep", K1)),
        "{st:?}"
    );
    assert!(st.contains(&"excl/1.0: added".to_string()), "{st:?}");
    // A second run builds nothing; like upstream it re-checks only the
    // BUILD_EXCLUSIVE module, which is never installed.
    let again = root.dkms(&["autoinstall", "-k", K1]);
    again.assert_ok();
    assert!(!again.stdout.contains("Building module(s)"), "{again}");
    assert!(
        !again.stdout.contains("Autoinstall of module hello"),
        "{again}"
    );
    assert!(!again.stdout.contains("Running depmod"), "{again}");
}

#[test]
fn autoinstall_failure_is_exit_11_with_upstreams_lines() {
    let root = TestRoot::with_kernel(K1);
    for f in ["broken-1.0", "hello-1.0"] {
        root.add_source(f);
        let (m, v) = f.split_once('-').unwrap();
        root.dkms(&["add", &format!("{m}/{v}"), "-k", K1])
            .assert_ok();
    }
    let out = root.dkms(&["autoinstall", "-k", K1]);
    out.assert_code(11);
    out.assert_stdout_contains(&format!(
        "Autoinstall on {K1} failed for module(s) broken(10)."
    ));
    out.assert_stderr_contains("Error! One or more modules failed to install during autoinstall.");
    out.assert_stderr_contains("Refer to previous errors for more information.");
    assert!(status(&root).contains(&installed_line("hello", K1)));
}

#[test]
fn no_autoinstall_flag_disables_autoinstall() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0", "-k", K1]).assert_ok();
    root.write("/etc/dkms/no-autoinstall", "");
    let out = root.dkms(&["autoinstall", "-k", K1]);
    out.assert_ok()
        .assert_stdout_contains("Automatic installation of modules has been disabled.");
    assert_eq!(status(&root), vec!["hello/1.0: added".to_string()]);
}

#[test]
fn kernel_postinst_then_prerm_round_trip() {
    let root = TestRoot::with_kernel(K1);
    root.add_fake_kernel(K2, true, true);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0", "-k", K1]).assert_ok();
    root.dkms(&["kernel_postinst", "-k", K1]).assert_ok();
    root.dkms(&["kernel_postinst", "-k", K2]).assert_ok();
    assert!(root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")));
    let out = root.dkms(&["kernel_prerm", "-k", K1]);
    out.assert_ok();
    assert!(
        out.stderr.contains(&format!(
            "dkms: removing module hello/1.0 for kernel {K1} ({ARCH})"
        )),
        "{out}"
    );
    assert!(!root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")));
    assert!(!root.exists(&format!("/var/lib/dkms/hello/1.0/{K1}")));
    assert!(!root.exists(&format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}")));
    assert_eq!(status(&root), vec![installed_line("hello", K2)]);
}

#[test]
fn kernel_preinst_removes_only_autoinstall_modules() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.add_source_text(
        "manual",
        "1.0",
        &[
            ("dkms.conf", "PACKAGE_NAME=manual\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=manual\nDEST_MODULE_LOCATION[0]=/extra\n"),
            ("Makefile", "obj-m += manual.o\n"),
            ("manual.c", "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\n"),
        ],
    );
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    root.dkms(&["install", "manual/1.0", "-k", K1]).assert_ok();
    root.dkms(&["kernel_preinst", "-k", K1]).assert_ok();
    assert_eq!(
        status(&root),
        vec!["hello/1.0: added".to_string(), installed_line("manual", K1)]
    );
}

#[test]
fn kernel_actions_need_exactly_one_kernel() {
    let root = TestRoot::with_kernel(K1);
    for action in ["kernel_preinst", "kernel_postinst", "kernel_prerm"] {
        let out = root.dkms(&[action]);
        out.assert_code(4);
        out.assert_stderr_contains(&format!(
            "Error! The action {action} requires exactly one kernel version parameter on the command line."
        ));
    }
}

#[test]
fn match_installs_on_a_kernel_what_the_template_kernel_has() {
    let root = TestRoot::with_kernel(K1);
    root.add_fake_kernel(K2, true, true);
    root.add_source("hello-1.0");
    root.add_source("multi-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    root.dkms(&["add", "multi/1.0", "-k", K1]).assert_ok();
    let out = root.dkms(&["match", "--templatekernel", K1, "-k", K2]);
    out.assert_ok();
    out.assert_stdout_contains(&format!("Matching modules in kernel: {K2} ({ARCH})"));
    out.assert_stdout_contains(&format!("to the configuration of kernel: {K1} ({ARCH})"));
    out.assert_stdout_contains("Module:  hello");
    let st = status(&root);
    assert!(st.contains(&installed_line("hello", K2)), "{st:?}");
    // multi was not installed on the template kernel, so it is not matched.
    assert!(st.contains(&"multi/1.0: added".to_string()), "{st:?}");

    let same = root.dkms(&["match", "--templatekernel", K1, "-k", K1]);
    same.assert_code(2).assert_stderr_contains(
        "Error! The templatekernel and the specified kernel version are the same.",
    );
    let none = root.dkms(&["match", "-k", K2]);
    none.assert_code(1)
        .assert_stderr_contains("Error! Invalid number of parameters passed.");
}
