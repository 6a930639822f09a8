//! Every failure of a hook is remembered, or the hook says it could not
//! be: a module whose BUILD_DEPENDS failed, is not installed or forms a
//! cycle is a failure listed by `dkms-hook pending` and in `dkms status
//! --output json`'s `failed`, like a failed build; a record that cannot be
//! written (a full disk) is said in one loud line of the summary; a record
//! goes once the module is installed for the kernel (by a hook or by hand);
//! a depmod an interrupted run left due is listed until it has run.

use std::path::PathBuf;

use crate::harness::*;
use rstest::rstest;
use serde_json::Value;

/// The dkms.conf of `m`/1.0 with these BUILD_DEPENDS and AUTOINSTALL.
fn conf(m: &str, deps: &str, autoinstall: bool) -> String {
    let mut conf = format!(
        "PACKAGE_NAME=\"{m}\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"{m}\"\n\
         DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\n"
    );
    if !deps.is_empty() {
        conf.push_str(&format!("BUILD_DEPENDS=\"{deps}\"\n"));
    }
    if autoinstall {
        conf.push_str("AUTOINSTALL=\"yes\"\n");
    }
    conf
}

/// Sources of `m`/1.0 that compile, with these BUILD_DEPENDS and
/// AUTOINSTALL, added.
fn add_module(root: &TestRoot, m: &str, deps: &str, autoinstall: bool) {
    let c = format!(
        "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\nint {m}_init(void) {{ return 0; }}\n"
    );
    root.add_source_text(
        m,
        "1.0",
        &[
            ("dkms.conf", &conf(m, deps, autoinstall)),
            ("Makefile", &format!("obj-m += {m}.o\n")),
            (&format!("{m}.c"), &c),
        ],
    );
    root.dkms(&["add", &format!("{m}/1.0")]).assert_ok();
}

/// `dkms-hook pending`'s lines (exit 0 required).
fn pending(root: &TestRoot) -> Vec<String> {
    let out = root.hook(&["pending"]);
    out.assert_ok();
    out.stdout_lines().iter().map(|l| l.to_string()).collect()
}

/// `dkms status --output json`.
fn status_json(root: &TestRoot) -> Value {
    let out = root.dkms(&["status", "--output", "json"]);
    out.assert_ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"))
}

/// The `failed` entry of module `m`, if any.
fn failed_entry(root: &TestRoot, m: &str) -> Option<Value> {
    status_json(root)["failed"]
        .as_array()
        .expect("failed is a list")
        .iter()
        .find(|f| f["module"] == m)
        .cloned()
}

/// A time as the document writes it: `YYYY-MM-DDTHH:MM:SSZ`.
fn is_rfc3339(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 20 && s.as_bytes()[10] == b'T' && s.ends_with('Z') && s.as_bytes()[4] == b'-'
    })
}

/// The modules of a dependency failure, and the dependent that fails.
#[derive(Debug, Clone, Copy)]
enum DepFailure {
    /// ca needs cb, cb needs ca.
    Cycle,
    /// nb needs broken, whose build fails.
    FailedDependency,
    /// nn needs noauto: registered, AUTOINSTALL not set, never installed.
    NotAutoinstall,
}

impl DepFailure {
    /// Register the modules; returns the dependent and its reason.
    fn set_up(self, root: &TestRoot) -> (&'static str, &'static str) {
        match self {
            DepFailure::Cycle => {
                add_module(root, "ca", "cb", true);
                add_module(root, "cb", "ca", true);
                ("ca", "BUILD_DEPENDS cycle: ca -> cb -> ca")
            }
            DepFailure::FailedDependency => {
                root.add_source("broken-1.0");
                root.dkms(&["add", "broken/1.0"]).assert_ok();
                add_module(root, "nb", "broken", true);
                ("nb", "BUILD_DEPENDS not installed: broken (failed)")
            }
            DepFailure::NotAutoinstall => {
                add_module(root, "noauto", "", false);
                add_module(root, "nn", "noauto", true);
                (
                    "nn",
                    "BUILD_DEPENDS not installed: noauto (not installed, and not AUTOINSTALL)",
                )
            }
        }
    }
}

#[rstest]
#[case::cycle(DepFailure::Cycle)]
#[case::failed_dependency(DepFailure::FailedDependency)]
#[case::not_autoinstall(DepFailure::NotAutoinstall)]
fn a_dependency_failure_is_recorded_until_the_module_installs(#[case] case: DepFailure) {
    let root = TestRoot::with_kernel(K1);
    let (m, reason) = case.set_up(&root);

    // Not a critical module: reported in full, the package operation goes on.
    let out = root.hook(&["kernel-postinst", K1, &format!("/boot/vmlinuz-{K1}")]);
    out.assert_code(0);
    out.assert_stdout_contains(&format!(
        "\n  failed: {m}/1.0 for {K1} (exit 13): {reason}\n"
    ));

    let want = format!("{K1} ({ARCH}): {m}/1.0 failed (exit 13): {reason}");
    assert!(
        pending(&root).contains(&want),
        "pending lacks {want:?}: {:?}",
        pending(&root)
    );
    let f = failed_entry(&root, m).unwrap_or_else(|| panic!("{m} not in failed"));
    assert_eq!(
        (&f["version"], &f["kernel"], &f["arch"], &f["code"]),
        (
            &Value::from("1.0"),
            &Value::from(K1),
            &Value::from(ARCH),
            &Value::from(13)
        ),
        "{f}"
    );
    assert_eq!(f["reason"], reason, "{f}");
    assert!(
        f["log"].is_null(),
        "a dependency failure has no make.log: {f}"
    );
    assert!(is_rfc3339(&f["when"]), "{f}");

    // The dependency goes away from its dkms.conf: it installs, and its
    // record goes with the next hook run.
    root.write(&format!("/usr/src/{m}-1.0/dkms.conf"), conf(m, "", true));
    let out = root.hook(&["autoinstall", "-k", K1]);
    assert!(
        root.exists(&format!("/lib/modules/{K1}/updates/dkms/{m}.ko")),
        "{m} not installed\n{out}"
    );
    assert!(
        !pending(&root)
            .iter()
            .any(|l| l.contains(&format!("{m}/1.0"))),
        "{m}'s record is still there: {:?}",
        pending(&root)
    );
    assert_eq!(failed_entry(&root, m), None);
}

/// Where the record that cannot be written goes, and what fails.
#[derive(Debug, Clone, Copy)]
enum Unwritable {
    /// A failed build; `.dkms-hook/failed` is full.
    Failure,
    /// A BUILD_DEPENDS deferral; `.dkms-hook/pending` is full.
    Deferral,
}

#[rstest]
#[case::failure(Unwritable::Failure)]
#[case::deferral(Unwritable::Deferral)]
fn a_record_that_cannot_be_written_is_said_in_one_loud_line(#[case] case: Unwritable) {
    let root = TestRoot::with_kernel(K1);
    let (dir, m, code) = match case {
        Unwritable::Failure => {
            root.add_source("broken-1.0");
            root.dkms(&["add", "broken/1.0"]).assert_ok();
            ("failed", "broken", 0)
        }
        Unwritable::Deferral => {
            add_module(&root, "needy", "ghost", true);
            ("pending", "needy", 0)
        }
    };
    let at = root.path(&format!("/var/lib/dkms/.dkms-hook/{dir}"));
    let Some(_mount) = Tmpfs::mount_or_skip("unwritable record test", &at, "4k") else {
        return;
    };
    // Fill it: one page is all it has.
    std::fs::write(at.join(".filler"), vec![0u8; 4096]).expect("fill the tmpfs");

    let out = root.hook(&["kernel-postinst", K1, &format!("/boot/vmlinuz-{K1}")]);
    out.assert_code(code);
    let line = match case {
        Unwritable::Failure => format!(
            "dkms-hook: WARNING: could not record the failure of broken/1.0 for {K1} in {}: \
             No space left on device; `dkms-hook pending` will not show it",
            at.join(format!("broken@1.0@{K1}@{ARCH}.json")).display()
        ),
        Unwritable::Deferral => format!(
            "dkms-hook: WARNING: could not record that needy for {K1} waits for its BUILD_DEPENDS in {}: \
             No space left on device; `dkms-hook pending` will not show it",
            at.join(format!("{K1}@{ARCH}@needy.json")).display()
        ),
    };
    let lines = out.stdout_lines();
    let summary = lines
        .iter()
        .position(|l| *l == "dkms-hook summary:")
        .unwrap_or_else(|| panic!("no summary\n{out}"));
    assert_eq!(
        lines[summary..].iter().filter(|l| **l == line).count(),
        1,
        "the summary does not say once {line:?}\n{out}"
    );
    // What it says is true: nothing shows the module.
    assert!(
        !pending(&root).iter().any(|l| l.contains(m)),
        "{:?}",
        pending(&root)
    );
    assert_eq!(
        std::fs::read_dir(&at).expect("list").count(),
        1,
        "only the filler stays in {}",
        at.display()
    );
}

/// `broken/1.0` with a source that compiles.
fn repair_broken(root: &TestRoot) {
    root.write(
        "/usr/src/broken-1.0/broken.c",
        "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\nint broken_init(void) { return 0; }\n",
    );
}

#[test]
fn a_failure_record_goes_when_the_module_is_installed_by_hand() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("broken-1.0");
    root.dkms(&["add", "broken/1.0"]).assert_ok();
    root.hook(&["kernel-postinst", K1, &format!("/boot/vmlinuz-{K1}")])
        .assert_code(0);
    assert!(failed_entry(&root, "broken").is_some());
    let failed = "/var/lib/dkms/.dkms-hook/failed";
    assert_eq!(root.list(failed).len(), 2, "record and its make.log copy");

    repair_broken(&root);
    let out = root.dkms(&["install", "broken/1.0", "-k", K1]);
    out.assert_ok();
    // The text stays upstream's: nothing is said about the record.
    assert!(!out.stdout.contains("dkms-hook"), "{out}");
    assert!(!out.stderr.contains("dkms-hook"), "{out}");
    assert_eq!(pending(&root), ["Nothing is pending."]);
    assert_eq!(failed_entry(&root, "broken"), None);
    assert_eq!(root.list(failed), Vec::<String>::new());
}

#[test]
fn a_hook_that_finds_the_module_installed_drops_its_failure_record() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    root.hook(&["autoinstall", "-k", K1]).assert_ok();
    // A record an older run left (hello failed for K1 back then).
    let record = PathBuf::from(format!(
        "/var/lib/dkms/.dkms-hook/failed/hello@1.0@{K1}@{ARCH}.json"
    ));
    root.write(
        &record.to_string_lossy(),
        format!(
            "{{\"module\":\"hello\",\"version\":\"1.0\",\"kernel\":\"{K1}\",\"arch\":\"{ARCH}\",\"code\":10}}"
        ),
    );
    assert!(failed_entry(&root, "hello").is_some());

    root.hook(&["autoinstall", "-k", K1]).assert_ok();
    assert!(!root.exists(&record.to_string_lossy()));
    assert_eq!(pending(&root), ["Nothing is pending."]);
}

#[test]
fn a_depmod_left_due_is_listed_until_it_has_run() {
    let root = TestRoot::with_kernel(K1);
    // What an install killed between its marker and depmod leaves.
    let marker = format!("/var/lib/dkms/.dkms-hook/depmod-pending/{K1}");
    root.write(&marker, "");

    assert_eq!(
        pending(&root),
        [format!(
            "{K1}: depmod is still due (a run that changed its modules was interrupted); \
             the next dkms or dkms-hook run that changes the trees runs it, as does dkms-hook doctor"
        )]
    );
    let doc = status_json(&root);
    let p = doc["pending"].as_array().expect("pending");
    assert_eq!(p.len(), 1, "{doc:#}");
    assert_eq!(
        (&p[0]["kernel"], &p[0]["arch"], &p[0]["reason"]),
        (
            &Value::from(K1),
            &Value::from(ARCH),
            &Value::from("depmod-due")
        ),
        "{doc:#}"
    );
    assert!(
        p[0]["module"].is_null() && p[0]["detail"].is_null(),
        "{doc:#}"
    );
    assert!(is_rfc3339(&p[0]["since"]), "{doc:#}");
    // Filters apply: another kernel has nothing due.
    let other = root.dkms(&["status", "--output", "json", "-k", K2]);
    other.assert_ok();
    assert!(
        !other.stdout.contains("depmod-due"),
        "another kernel's entry\n{other}"
    );

    let check = root.hook(&["doctor", "--check"]);
    check.assert_code(1);
    check.assert_stdout_contains(&format!(
        "found: depmod of kernel {K1} is still due (a run that changed its modules was interrupted before it): {} (--repair will run depmod for {K1})\n",
        root.path(&marker).display()
    ));
    assert!(root.exists(&marker), "doctor --check repaired it");

    // doctor --repair runs it, and then nothing is due.
    let repair = root.hook(&["doctor", "--repair"]);
    repair.assert_ok();
    assert!(!repair.stdout.contains("depmod of kernel"), "{repair}");
    assert!(!root.exists(&marker));
    assert_eq!(pending(&root), ["Nothing is pending."]);
    assert_eq!(status_json(&root)["pending"], Value::Array(Vec::new()));
}

/// A dkms.conf the hooks cannot build from.
#[derive(Debug, Clone, Copy)]
enum BadConf {
    /// No module array at all (upstream: a warning, then nothing installed).
    ZeroModules,
    /// An error stops bash before the module arrays (the same, after
    /// bash's own message).
    ErrorBeforeTheModules,
    /// Not a valid dkms.conf (upstream's autoinstall dies on it).
    Unreadable,
}

impl BadConf {
    fn text(self) -> &'static str {
        match self {
            BadConf::ZeroModules => {
                "PACKAGE_NAME=\"zero\"\nPACKAGE_VERSION=\"1.0\"\nAUTOINSTALL=\"yes\"\n"
            }
            BadConf::ErrorBeforeTheModules => {
                "PACKAGE_NAME=\"zero\"\nPACKAGE_VERSION=\"1.0\"\nAUTOINSTALL=\"yes\"\n\
                 if [ \"$kernelver\" = x ; then\nBUILT_MODULE_NAME[0]=\"zero\"\n\
                 DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nfi\n"
            }
            BadConf::Unreadable => {
                "PACKAGE_NAME=\"zero\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"zero.ko\"\n\
                 DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nAUTOINSTALL=\"yes\"\n"
            }
        }
    }

    /// Why the hook says the module failed.
    fn reason(self) -> String {
        match self {
            BadConf::Unreadable => "Bad conf file.".into(),
            _ => format!(
                "zero/1.0: dkms.conf names no module to build (BUILT_MODULE_NAME and \
                 DEST_MODULE_LOCATION are empty); nothing would be installed for {K1}."
            ),
        }
    }
}

#[rstest]
#[case::zero_modules(BadConf::ZeroModules)]
#[case::error_before_the_modules(BadConf::ErrorBeforeTheModules)]
#[case::unreadable(BadConf::Unreadable)]
fn a_dkms_conf_that_builds_nothing_fails_the_module_in_the_hooks(#[case] case: BadConf) {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    // Valid when added; what it says for the kernel is what counts.
    add_module(&root, "zero", "", true);
    root.write("/usr/src/zero-1.0/dkms.conf", case.text());

    // Not a critical module: reported in full, the package operation goes on.
    let out = root.hook(&["kernel-postinst", K1, &format!("/boot/vmlinuz-{K1}")]);
    out.assert_code(0);
    out.assert_stdout_contains(&format!(
        "\nAutoinstall on {K1} failed for module(s) zero(8).\n"
    ));
    let reason = case.reason();
    out.assert_stdout_contains(&format!(
        "\n  failed: zero/1.0 for {K1} (exit 8): {reason}\n"
    ));
    out.assert_stderr_contains(&format!("Error! {reason}\n"));
    assert!(
        !out.stdout.contains("built and installed: zero"),
        "zero said installed\n{out}"
    );
    // The others are built all the same.
    out.assert_stdout_contains(&format!("  built and installed: hello for {K1}\n"));
    assert_eq!(
        root.list(&format!("/lib/modules/{K1}/updates/dkms")),
        ["hello.ko"]
    );
    assert!(!root.exists(&format!("/var/lib/dkms/zero/kernel-{K1}-{ARCH}")));

    let want = format!("{K1} ({ARCH}): zero/1.0 failed (exit 8): {reason}");
    assert!(pending(&root).contains(&want), "{:?}", pending(&root));
    let f = failed_entry(&root, "zero").expect("zero in failed");
    assert_eq!(
        (&f["code"], &f["reason"]),
        (&Value::from(8), &Value::from(reason))
    );
    assert!(f["log"].is_null(), "no build, no make.log: {f}");
}

#[test]
fn dkms_still_installs_a_module_of_zero_modules_as_upstream_does() {
    let root = TestRoot::with_kernel(K1);
    add_module(&root, "zero", "", true);
    root.write("/usr/src/zero-1.0/dkms.conf", BadConf::ZeroModules.text());
    let out = root.dkms(&["autoinstall", "-k", K1]);
    out.assert_ok();
    out.assert_stdout_contains(&format!(
        "Autoinstall on {K1} succeeded for module(s) zero."
    ));
    out.assert_stderr_contains("dkms.conf: Warning! Zero modules specified.");
    assert!(!out.stderr.contains("Error!"), "{out}");
}

#[test]
fn remove_says_so_when_a_failure_record_of_the_version_cannot_go() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    // The records' directory leads out of the dkms tree, where the confined
    // layer removes nothing (readers follow it, so the record is seen).
    let name = format!("hello@1.0@{K1}@{ARCH}.json");
    root.write(
        &format!("/elsewhere/{name}"),
        format!(
            "{{\"module\":\"hello\",\"version\":\"1.0\",\"kernel\":\"{K1}\",\"arch\":\"{ARCH}\",\"code\":10}}"
        ),
    );
    std::fs::create_dir_all(root.path("/var/lib/dkms/.dkms-hook")).unwrap();
    std::os::unix::fs::symlink(
        root.path("/elsewhere"),
        root.path("/var/lib/dkms/.dkms-hook/failed"),
    )
    .unwrap();
    assert!(failed_entry(&root, "hello").is_some());

    let out = root.dkms(&["remove", "hello/1.0", "--all"]);
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_contains(&format!("/var/lib/dkms/.dkms-hook/failed/{name}"));
    // The version is gone; the record it could not remove is still said.
    assert!(!root.exists("/var/lib/dkms/hello/1.0"));
    assert!(root.exists(&format!("/elsewhere/{name}")));
    assert!(failed_entry(&root, "hello").is_some());
}
