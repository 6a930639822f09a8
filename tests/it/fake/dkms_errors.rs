//! Fake-kernel tier: how `dkms` fails. Each test provokes one error through
//! the real binary against a throwaway root and checks upstream DKMS 3.4.3's
//! text and exit code — and that the failure changed nothing on disk.
//!
//! Paths in the binary's output are compared as seen inside the root (the
//! host prefix of the test root is stripped first).

use std::fs;
use std::path::Path;

use crate::harness::*;
use rstest::rstest;

/// `text` as seen inside the root, with progress dots folded.
fn norm(root: &TestRoot, text: &str) -> String {
    let prefix = root.root().display().to_string();
    let text = text.replace(&prefix, "");
    let done = regex::Regex::new(r"\.\.\.\.* done\.").expect("regex");
    let text = done.replace_all(&text, "... done.");
    let bad = regex::Regex::new(r"\.\.\.\.*\(bad exit status").expect("regex");
    bad.replace_all(&text, "...(bad exit status").into_owned()
}

fn err_text(root: &TestRoot, out: &Output) -> String {
    norm(root, &out.stderr)
}

fn out_text(root: &TestRoot, out: &Output) -> String {
    norm(root, &out.stdout)
}

/// Panics unless `text` holds `line` as a whole line.
#[track_caller]
fn assert_line(text: &str, line: &str, what: &Output) {
    assert!(
        text.lines().any(|l| l == line),
        "missing the line\n{line}\n---- in ----\n{text}\n{what}"
    );
}

/// Runs `dkms args`, expects exit `code` and exactly `stderr` (normalised),
/// and that nothing under the root changed.
#[track_caller]
fn fails_cleanly(root: &TestRoot, args: &[&str], code: i32, stderr: &str) -> Output {
    let before = root.snapshot();
    let out = root.dkms(args);
    out.assert_code(code);
    assert_eq!(err_text(root, &out), stderr, "{out}");
    root.assert_unchanged(&before, &[LOCK]);
    out
}

#[track_caller]
fn ok(root: &TestRoot, args: &[&str]) -> Output {
    let out = root.dkms(args);
    out.assert_ok();
    out
}

fn status(root: &TestRoot) -> Vec<String> {
    let out = ok(root, &["status"]);
    out.stdout.lines().map(str::to_string).collect()
}

fn root_with(fixtures: &[&str]) -> TestRoot {
    let root = TestRoot::with_kernel(K1);
    for f in fixtures {
        root.add_source(f);
    }
    root
}

const HELLO_C: &str =
    "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\nint bad_init(void) { return 0; }\n";

// ---------------------------------------------------------------------------
// dkms.conf problems
// ---------------------------------------------------------------------------

#[test]
fn add_without_dkms_conf_is_exit_4() {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "nocf",
        "1.0",
        &[("Makefile", "obj-m += nocf.o\n"), ("nocf.c", HELLO_C)],
    );
    for action in ["add", "build", "install"] {
        fails_cleanly(
            &root,
            &[action, "nocf/1.0", "-k", K1],
            4,
            "\nError! Could not locate dkms.conf file.\n\
             File: /usr/src/nocf-1.0/dkms.conf does not exist.\n",
        );
    }
}

/// hello/1.0 registered, then its dkms.conf deleted from the source.
fn root_that_lost_dkms_conf() -> TestRoot {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["add", "hello/1.0", "-k", K1]);
    fs::remove_file(root.path("/usr/src/hello-1.0/dkms.conf")).expect("rm");
    root
}

#[test]
fn registered_source_that_lost_its_dkms_conf_is_exit_4() {
    let root = root_that_lost_dkms_conf();
    for action in ["build", "install"] {
        let before = root.snapshot();
        let out = root.dkms(&[action, "hello/1.0", "-k", K1]);
        out.assert_code(4);
        assert!(
            err_text(&root, &out).starts_with("\nError! Could not locate dkms.conf file.\nFile: "),
            "{out}"
        );
        root.assert_unchanged(&before, &[LOCK]);
    }
}

#[test]
fn lost_dkms_conf_is_named_through_the_source_link() {
    let root = root_that_lost_dkms_conf();
    fails_cleanly(
        &root,
        &["build", "hello/1.0", "-k", K1],
        4,
        "\nError! Could not locate dkms.conf file.\n\
         File: /var/lib/dkms/hello/1.0/source/dkms.conf does not exist.\n",
    );
}

#[test]
fn source_directory_without_dkms_conf_is_not_a_module_version() {
    let root = TestRoot::with_kernel(K1);
    let dir = root.add_source_text("nocf", "1.0", &[("Makefile", "obj-m += nocf.o\n")]);
    let dir = dir.display().to_string();
    // Upstream reads the path as "<module>/<version>" with an empty module.
    fails_cleanly(
        &root,
        &["add", &dir],
        1,
        "\nError! Arguments <module> and <module-version> are not specified.\n\
         Usage: add <module>/<module-version> or\n       \
         add -m <module>/<module-version> or\n       \
         add -m <module> -v <module-version>\n",
    );
}

#[rstest]
#[case::no_package_name(
    "PACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"bad\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\n",
    &["dkms.conf: Error! No 'PACKAGE_NAME' directive specified."]
)]
#[case::no_package_version(
    "PACKAGE_NAME=\"bad\"\nBUILT_MODULE_NAME[0]=\"bad\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\n",
    &["dkms.conf: Error! No 'PACKAGE_VERSION' directive specified."]
)]
#[case::bad_dest_location(
    "PACKAGE_NAME=\"bad\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"bad\"\nDEST_MODULE_LOCATION[0]=\"/tmp\"\n",
    &["dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' does not begin with",
      "'/kernel', '/updates', or '/extra' in record #0."]
)]
#[case::no_dest_location(
    "PACKAGE_NAME=\"bad\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"bad\"\n",
    &["dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #0."]
)]
#[case::autoinstall_maybe(
    "PACKAGE_NAME=\"bad\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"bad\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nAUTOINSTALL=\"maybe\"\n",
    &["dkms.conf: Error! Unsupported AUTOINSTALL value 'maybe'"]
)]
#[case::built_name_ends_in_ko(
    "PACKAGE_NAME=\"bad\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"bad.ko\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\n",
    // DEST_MODULE_NAME defaults to BUILT_MODULE_NAME, so both are wrong.
    &["dkms.conf: Error! 'BUILT_MODULE_NAME' directive ends in '.o' or '.ko' in record #0.",
      "dkms.conf: Error! 'DEST_MODULE_NAME' directive ends in '.o' or '.ko' in record #0."]
)]
#[case::dest_name_ends_in_o(
    "PACKAGE_NAME=\"bad\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"bad\"\nDEST_MODULE_NAME[0]=\"bad.o\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\n",
    &["dkms.conf: Error! 'DEST_MODULE_NAME' directive ends in '.o' or '.ko' in record #0."]
)]
#[case::second_record_unnamed(
    "PACKAGE_NAME=\"bad\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"a\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nDEST_MODULE_LOCATION[1]=\"/kernel/extra\"\n",
    &["dkms.conf: Error! No 'BUILT_MODULE_NAME' directive specified for record #1."]
)]
#[case::duplicate_modules(
    "PACKAGE_NAME=\"bad\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"a\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nBUILT_MODULE_NAME[1]=\"a\"\nDEST_MODULE_LOCATION[1]=\"/kernel/extra\"\n",
    &["dkms.conf: Error! Duplicate module 'a' in 'BUILT_MODULE_NAME[1]'.",
      "dkms.conf: Error! Duplicate module 'a' in 'DEST_MODULE_NAME[1]'."]
)]
fn invalid_dkms_conf_is_exit_8(#[case] conf: &str, #[case] errors: &[&str]) {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "bad",
        "1.0",
        &[
            ("dkms.conf", conf),
            ("Makefile", "obj-m += bad.o\n"),
            ("bad.c", HELLO_C),
        ],
    );
    let mut want = String::new();
    for e in errors {
        want.push_str(e);
        want.push('\n');
    }
    want.push_str(
        "\nError! Bad conf file.\n\
         File: /usr/src/bad-1.0/dkms.conf does not represent a valid dkms.conf file.\n",
    );
    for action in ["add", "build", "install"] {
        fails_cleanly(&root, &[action, "bad/1.0", "-k", K1], 8, &want);
    }
    assert!(status(&root).is_empty());
}

// ---------------------------------------------------------------------------
// Names that could escape the trees
// ---------------------------------------------------------------------------

#[rstest]
#[case::slash_in_version("hello", "1.0/x", Some("hello-1.0/x"))]
#[case::dotdot_module("..", "1.0", Some("..-1.0"))]
#[case::dot_module(".", "1.0", Some(".-1.0"))]
#[case::dotdot_version("hello", "..", Some("hello-.."))]
#[case::space("he llo", "1.0", Some("he llo-1.0"))]
#[case::newline("hel\nlo", "1.0", Some("hel\nlo-1.0"))]
#[case::tab_in_version("hello", "1.\t0", Some("hello-1.\t0"))]
#[case::leading_dash_module("-x", "1.0", Some("-x-1.0"))]
#[case::leading_dash_version("hello", "-1.0", Some("hello--1.0"))]
#[case::empty_version_via_m_v("hello", "", None)]
fn unsafe_names_are_refused_and_write_nothing(
    #[case] module: &str,
    #[case] version: &str,
    #[case] plant: Option<&str>,
) {
    let root = TestRoot::with_kernel(K1);
    if let Some(dir) = plant {
        copy_tree(
            &module_fixture("hello-1.0"),
            &root.path(&format!("/usr/src/{dir}")),
        );
    }
    for action in ["add", "build", "install", "unbuild", "uninstall", "remove"] {
        let before = root.snapshot();
        let out = root.dkms(&[action, "-m", module, "-v", version, "-k", K1]);
        out.assert_failed();
        assert!(
            out.stderr.starts_with("\nError! "),
            "{action}: no clear error\n{out}"
        );
        root.assert_unchanged(&before, &[LOCK]);
    }
}

/// The number of components in an absolute path.
fn depth(p: &Path) -> usize {
    p.components().count().saturating_sub(1)
}

#[test]
fn dotdot_version_cannot_reach_outside_the_root() {
    let root = TestRoot::with_kernel(K1);
    // A module source outside the root that a `..` path would lead to.
    let outside = tempfile::Builder::new()
        .prefix("dkms-outside-")
        .tempdir()
        .expect("tempdir");
    copy_tree(&module_fixture("hello-1.0"), outside.path());
    fs::create_dir_all(root.path("/usr/src/hello-x")).expect("mkdir");
    let ups = "../".repeat(depth(&root.path("/var/lib/dkms/hello")) + 2);
    let target = outside.path().display().to_string();
    let version = format!("x/{ups}{}", target.trim_start_matches('/'));
    // Sanity: the path really leads there from both trees.
    assert_eq!(
        fs::canonicalize(root.path(&format!("/usr/src/hello-{version}"))).ok(),
        fs::canonicalize(outside.path()).ok()
    );
    let outside_before = snapshot_dir(outside.path());
    for action in ["add", "build", "install", "remove"] {
        let before = root.snapshot();
        let out = root.dkms(&[action, "-m", "hello", "-v", &version, "-k", K1]);
        out.assert_failed();
        assert!(out.stderr.starts_with("\nError! "), "{out}");
        root.assert_unchanged(&before, &[LOCK]);
        let diff = diff_snapshots(&outside_before, &snapshot_dir(outside.path()));
        assert!(
            diff.is_empty(),
            "{action} wrote outside the root:\n{}",
            diff.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Registration errors
// ---------------------------------------------------------------------------

#[test]
fn missing_source_directory_is_exit_2() {
    let root = TestRoot::with_kernel(K1);
    for action in ["add", "build", "install"] {
        fails_cleanly(
            &root,
            &[action, "nosuch/1.0", "-k", K1],
            2,
            "\nError! Could not find module source directory.\n\
             Directory: /usr/src/nosuch-1.0 does not exist.\n",
        );
    }
}

#[test]
fn adding_twice_is_exit_3() {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["add", "hello/1.0", "-k", K1]);
    fails_cleanly(
        &root,
        &["add", "hello/1.0", "-k", K1],
        3,
        "\nError! DKMS tree already contains: hello/1.0\n\
         You cannot add the same module/version combo more than once.\n",
    );
}

#[rstest]
#[case("uninstall")]
#[case("unbuild")]
#[case("remove")]
fn acting_on_a_module_that_is_not_added_is_exit_3(#[case] action: &str) {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["add", "hello/1.0", "-k", K1]);
    fails_cleanly(
        &root,
        &[action, "x/1", "-k", K1],
        3,
        "\nError! The module/version combo: x/1 is not located in the DKMS tree.\n",
    );
    // Another version of a registered module is not registered either.
    fails_cleanly(
        &root,
        &[action, "hello/2.0", "-k", K1],
        3,
        "\nError! The module/version combo: hello/2.0 is not located in the DKMS tree.\n",
    );
}

fn missing_args_text(usage: &str) -> String {
    format!(
        "\nError! Arguments <module> and <module-version> are not specified.\n\
         Usage: {usage} <module>/<module-version> or\n       \
         {usage} -m <module>/<module-version> or\n       \
         {usage} -m <module> -v <module-version>\n"
    )
}

#[rstest]
#[case::add("add")]
#[case::uninstall("uninstall")]
#[case::unbuild("unbuild")]
#[case::remove("remove")]
fn missing_module_or_version_is_exit_1(#[case] action: &str) {
    let root = root_with(&["hello-1.0"]);
    fails_cleanly(
        &root,
        &[action, "-m", "hello", "-k", K1],
        1,
        &missing_args_text(action),
    );
    fails_cleanly(
        &root,
        &[action, "-v", "1.0", "-k", K1],
        1,
        &missing_args_text(action),
    );
}

#[rstest]
#[case::build("build")]
#[case::install("install")]
fn missing_module_or_version_for_build_and_install_is_exit_1(#[case] action: &str) {
    let root = root_with(&["hello-1.0"]);
    let out = root.dkms(&[action, "-m", "hello", "-k", K1]);
    out.assert_code(1);
    assert!(
        out.stderr
            .starts_with("\nError! Arguments <module> and <module-version> are not specified.\n"),
        "{out}"
    );
}

#[rstest]
#[case::build("build")]
#[case::install("install")]
fn missing_module_or_version_for_build_and_install_names_add(#[case] action: &str) {
    let root = root_with(&["hello-1.0"]);
    fails_cleanly(
        &root,
        &[action, "-m", "hello", "-k", K1],
        1,
        &missing_args_text("add"),
    );
}

#[test]
fn broken_module_is_refused_with_exit_4() {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["add", "hello/1.0", "-k", K1]);
    fs::remove_dir_all(root.path("/usr/src/hello-1.0")).expect("rm");
    let want = "\nError! hello/1.0 is broken!\n\
                Missing the source directory or the symbolic link pointing to it.\n\
                Manual intervention is required!\n";
    for action in ["build", "install", "uninstall", "unbuild", "remove"] {
        fails_cleanly(&root, &[action, "hello/1.0", "-k", K1], 4, want);
    }
    let out = root.dkms(&["status"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hello/1.0: broken\n", "{out}");
    assert_eq!(
        out.stderr,
        "\nError! hello/1.0: Missing the module source directory or the symbolic link pointing to it.\n\
         Manual intervention is required!\n",
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// Kernel problems
// ---------------------------------------------------------------------------

#[test]
fn install_onto_a_kernel_without_module_directory_is_exit_6() {
    let kver = "6.1.0-99-nokernel";
    let root = root_with(&["hello-1.0"]);
    let headers = root.path(&format!("/usr/src/linux-headers-{kver}"));
    copy_tree(&fake_kernel_dir(), &headers);
    write_file(
        &headers.join("include/config/kernel.release"),
        format!("{kver}\n"),
    );
    let ksrc = headers.display().to_string();

    let out = root.dkms(&[
        "install",
        "hello/1.0",
        "-k",
        kver,
        "--kernelsourcedir",
        &ksrc,
    ]);
    out.assert_code(6);
    // Upstream builds first, then finds nowhere to install.
    assert_eq!(
        err_text(&root, &out),
        format!(
            "\nError! The directory /lib/modules/{kver} doesn't exist.\n\
             You cannot install a module onto a non-existent kernel.\n"
        ),
        "{out}"
    );
    assert!(!root.exists(&format!("/lib/modules/{kver}")));
    assert_eq!(status(&root), [format!("hello/1.0, {kver}, {ARCH}: built")]);

    // Once built, a second attempt fails the same way and changes nothing.
    fails_cleanly(
        &root,
        &[
            "install",
            "hello/1.0",
            "-k",
            kver,
            "--kernelsourcedir",
            &ksrc,
        ],
        6,
        &format!(
            "\nError! The directory /lib/modules/{kver} doesn't exist.\n\
             You cannot install a module onto a non-existent kernel.\n"
        ),
    );
}

#[test]
fn missing_headers_is_exit_21() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    root.add_source("hello-1.0");
    ok(&root, &["add", "hello/1.0", "-k", K1]);
    let want = format!(
        "\nError! Your kernel headers for kernel {K1} cannot be found at \
         /lib/modules/{K1}/build or /lib/modules/{K1}/source.\n\
         Please install your distribution's kernel headers package matching {K1}, or use the \
         --kernelsourcedir option to tell DKMS where it's located.\n"
    );
    for action in ["build", "install"] {
        fails_cleanly(&root, &[action, "hello/1.0", "-k", K1], 21, &want);
    }
    assert_eq!(status(&root), ["hello/1.0: added"]);
}

// ---------------------------------------------------------------------------
// Build failures
// ---------------------------------------------------------------------------

#[test]
fn failed_build_is_exit_10_and_shows_the_log() {
    let root = root_with(&["broken-1.0"]);
    ok(&root, &["add", "broken/1.0", "-k", K1]);
    let out = root.dkms(&["build", "broken/1.0", "-k", K1]);
    out.assert_code(10);
    let err = err_text(&root, &out);
    assert!(
        err.starts_with(&format!(
            "\nError! Bad return status for module build on kernel: {K1} ({ARCH})\n"
        )),
        "{out}"
    );
    let consult = err
        .lines()
        .find(|l| l.starts_with("Consult ") && l.ends_with("make.log for more information."))
        .unwrap_or_else(|| panic!("no Consult line\n{out}"));
    let log_path = consult
        .trim_start_matches("Consult ")
        .trim_end_matches(" for more information.");
    let log = root.read(log_path);
    assert!(
        log.starts_with(&format!(
            "DKMS (dkms-3.4.3) make.log for broken/1.0 for kernel {K1} ({ARCH})\n"
        )),
        "{log}"
    );
    assert!(log.contains("this_is_a_syntax_error"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("# exit code: ") && l != "# exit code: 0"),
        "{log}"
    );
    assert_line(&log_text_of(&log), GCC_ERROR, &out);
    let text = out_text(&root, &out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("Building module(s)...(bad exit status: ")),
        "{out}"
    );
    assert!(text.lines().any(|l| l == "Failed command:"), "{out}");
    assert!(!root.exists(&format!("/var/lib/dkms/broken/1.0/{K1}/{ARCH}/module")));
    assert_eq!(status(&root), ["broken/1.0: added"]);
    assert!(root.installed_modules(K1).is_empty());
}

/// gcc's message for broken.c (quotes are ASCII under LC_ALL=C).
const GCC_ERROR: &str = "error: expected ';' before 'this_is_a_syntax_error'";

/// make.log lines with gcc's `<file>:<line>:<col>: ` prefix stripped.
fn log_text_of(log: &str) -> String {
    log.lines()
        .map(|l| match l.find(": error: ") {
            Some(i) => &l[i + 2..],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn failed_build_report_is_upstreams_and_the_log_it_names_has_the_error() {
    let root = root_with(&["broken-1.0"]);
    let out = root.dkms(&["build", "broken/1.0", "-k", K1]);
    out.assert_code(10);
    // dkms prints upstream's two lines, no make.log tail (that is dkms-hook's).
    let log = "/var/lib/dkms/broken/1.0/build/make.log";
    assert_eq!(
        out.stderr,
        format!(
            "\nError! Bad return status for module build on kernel: {K1} ({ARCH})\nConsult {} for more information.\n",
            root.path(log).display()
        ),
        "{out}"
    );
    let text = log_text_of(&root.read(log));
    assert!(
        text.contains(GCC_ERROR),
        "make.log lacks gcc's error line:\n{text}"
    );
}

#[test]
fn failed_rebuild_keeps_the_installed_module() {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["install", "hello/1.0", "-k", K1]);
    let ko = format!("/lib/modules/{K1}/updates/dkms/hello.ko");
    let bytes = fs::read(root.path(&ko)).expect("installed");
    let conf = fs::read_to_string(module_fixture("hello-2.0").join("dkms.conf")).expect("conf");
    root.add_source_text(
        "hello",
        "2.0",
        &[
            ("dkms.conf", conf.as_str()),
            ("Makefile", "obj-m += hello.o\n"),
            (
                "hello.c",
                "#include <fake_module.h>\nint hello_init(void) { return 0 oops }\n",
            ),
        ],
    );
    let out = root.dkms(&["install", "hello/2.0", "-k", K1]);
    out.assert_code(10);
    assert!(
        err_text(&root, &out).contains(&format!(
            "Error! Bad return status for module build on kernel: {K1} ({ARCH})"
        )),
        "{out}"
    );
    assert_eq!(
        fs::read(root.path(&ko)).ok(),
        Some(bytes),
        "the working module was touched"
    );
    assert_eq!(root.installed_modules(K1), ["updates/dkms/hello.ko"]);
    assert_eq!(
        root.read_link(&format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}"))
            .to_string_lossy(),
        format!("1.0/{K1}/{ARCH}")
    );
    assert_eq!(
        status(&root),
        [
            format!("hello/1.0, {K1}, {ARCH}: installed"),
            "hello/2.0: added".to_string()
        ]
    );
}

// ---------------------------------------------------------------------------
// Command-line errors
// ---------------------------------------------------------------------------

#[test]
fn unknown_option_is_exit_2_with_usage() {
    let root = root_with(&["hello-1.0"]);
    let out = fails_cleanly(
        &root,
        &["status", "--bogus"],
        2,
        "\nError! Unknown option: --bogus\n",
    );
    assert!(out.stdout.starts_with("Usage: "), "{out}");
    assert!(
        out.stdout.lines().any(|l| l
            == "  [action]  = { add | remove | build | unbuild | install | uninstall | match |"),
        "{out}"
    );
    fails_cleanly(
        &root,
        &["add", "hello/1.0", "-x"],
        2,
        "\nError! Unknown option: -x\n",
    );
}

#[test]
fn two_actions_is_exit_4() {
    let root = root_with(&["hello-1.0"]);
    fails_cleanly(
        &root,
        &["add", "build", "hello/1.0", "-k", K1],
        4,
        "\nError! Cannot specify more than one action.\n",
    );
}

#[rstest]
#[case("add")]
#[case("build")]
#[case("install")]
fn all_is_refused_for_add_build_install(#[case] action: &str) {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["build", "hello/1.0", "-k", K1]);
    fails_cleanly(
        &root,
        &[action, "hello/1.0", "--all"],
        5,
        &format!("\nError! The action {action} does not support the --all parameter.\n"),
    );
}

#[test]
fn kernel_and_all_together_is_exit_2() {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["build", "hello/1.0", "-k", K1]);
    fails_cleanly(
        &root,
        &["remove", "hello/1.0", "-k", K1, "--all"],
        2,
        "\nError! You cannot specify a kernel version and also specify\n--all on the command line.\n",
    );
}

#[test]
fn no_action_prints_usage() {
    let root = root_with(&["hello-1.0"]);
    let out = fails_cleanly(
        &root,
        &["hello/1.0"],
        0,
        "\nError! Unknown action specified: \"\"\n",
    );
    assert!(out.stdout.starts_with("Usage: "), "{out}");
}

#[test]
fn nothing_is_written_when_a_failed_install_never_started() {
    // A failed add leaves no empty module directory behind.
    let root = TestRoot::with_kernel(K1);
    fails_cleanly(
        &root,
        &["install", "nosuch/1.0", "-k", K1],
        2,
        "\nError! Could not find module source directory.\n\
         Directory: /usr/src/nosuch-1.0 does not exist.\n",
    );
    assert!(!root.exists("/var/lib/dkms/nosuch"));
}
