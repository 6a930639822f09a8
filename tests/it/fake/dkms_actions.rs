//! Fake-kernel tier: every `dkms` action run end to end through the real
//! binary against a throwaway root (`--root`), checking what a user would
//! see — the text upstream DKMS 3.4.3 prints, exit codes, and the files that
//! appear in and vanish from the dkms tree and `/lib/modules`.
//!
//! Paths in the binary's output are compared as seen inside the root: the
//! host prefix of the test root is stripped before comparing, so
//! `/tmp/dkms-root-X/lib/modules/K` and `/lib/modules/K` both read as the
//! latter (upstream has no `--root`, so either spelling is acceptable).

use std::fs;

use crate::harness::*;
use rstest::rstest;

/// A line of 64 dashes: upstream's make.log step separator.
const DASHES: &str = "----------------------------------------------------------------";

/// `text` as seen inside the root: the host prefix stripped from paths and
/// progress dots folded (`Building module(s)...... done.` reads as
/// `Building module(s)... done.`, whatever the build took).
fn norm(root: &TestRoot, text: &str) -> String {
    let prefix = root.root().display().to_string();
    let text = text.replace(&prefix, "");
    let dots = regex::Regex::new(r"\.\.\.\.* done\.").expect("regex");
    dots.replace_all(&text, "... done.").into_owned()
}

/// stdout of `out`, normalised with [`norm`].
fn out_text(root: &TestRoot, out: &Output) -> String {
    norm(root, &out.stdout)
}

/// stderr of `out`, normalised with [`norm`].
fn err_text(root: &TestRoot, out: &Output) -> String {
    norm(root, &out.stderr)
}

/// Panics unless `text` holds `block` as consecutive whole lines.
#[track_caller]
fn assert_block(text: &str, block: &[&str], what: &Output) {
    let lines: Vec<&str> = text.lines().collect();
    let found = block.is_empty()
        || lines
            .windows(block.len())
            .any(|w| w.iter().zip(block).all(|(a, b)| a == b));
    assert!(
        found,
        "missing the lines\n{}\n---- in ----\n{text}\n{what}",
        block.join("\n")
    );
}

/// Panics unless `text` has `line` as a whole line.
#[track_caller]
fn assert_line(text: &str, line: &str, what: &Output) {
    assert_block(text, &[line], what);
}

/// `dkms status` (with extra args) as lines; asserts exit 0 and no stderr.
#[track_caller]
fn status(root: &TestRoot, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["status"];
    args.extend_from_slice(extra);
    let out = root.dkms(&args);
    out.assert_ok().assert_stderr_empty();
    out.stdout.lines().map(str::to_string).collect()
}

/// Runs `dkms args` and asserts exit 0.
#[track_caller]
fn ok(root: &TestRoot, args: &[&str]) -> Output {
    let out = root.dkms(args);
    out.assert_ok();
    out
}

/// A root with kernel [`K1`] (installed, with headers) and `fixtures` copied
/// into `usr/src`.
fn root_with(fixtures: &[&str]) -> TestRoot {
    let root = TestRoot::with_kernel(K1);
    for f in fixtures {
        root.add_source(f);
    }
    root
}

/// `lib/modules/K/modules.dep` as text.
fn modules_dep(root: &TestRoot, k: &str) -> String {
    root.read(&format!("/lib/modules/{k}/modules.dep"))
}

fn built_line(m: &str, v: &str, k: &str, state: &str) -> String {
    format!("{m}/{v}, {k}, {ARCH}: {state}")
}

// ---------------------------------------------------------------------------
// The basic life cycle
// ---------------------------------------------------------------------------

#[test]
fn hello_round_trip_add_build_install_uninstall_unbuild_remove() {
    let root = root_with(&["hello-1.0"]);
    let ko = format!("/lib/modules/{K1}/updates/dkms/hello.ko");
    let base = format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}");

    // add
    let out = ok(&root, &["add", "hello/1.0", "-k", K1]);
    assert_eq!(
        out_text(&root, &out),
        "Creating symlink /var/lib/dkms/hello/1.0/source -> /usr/src/hello-1.0\n",
        "{out}"
    );
    assert_eq!(
        root.read_link("/var/lib/dkms/hello/1.0/source")
            .to_string_lossy(),
        "/usr/src/hello-1.0"
    );
    assert_eq!(status(&root, &[]), ["hello/1.0: added"]);

    // build
    let out = ok(&root, &["build", "hello/1.0", "-k", K1]);
    assert_line(&out_text(&root, &out), "Building module(s)... done.", &out);
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "built")]
    );
    assert!(root.path(&format!("{base}/module/hello.ko")).is_file());
    assert!(!root.exists(&ko), "build must not install");
    let log = root.read(&format!("{base}/log/make.log"));
    let first = log.lines().next().unwrap_or("");
    assert_eq!(
        first,
        format!("DKMS (dkms-3.4.3) make.log for hello/1.0 for kernel {K1} ({ARCH})")
    );
    let command = log
        .lines()
        .find(|l| l.starts_with("# command: make -j"))
        .unwrap_or_else(|| panic!("no make command in make.log:\n{log}"));
    assert!(
        command.contains(&format!("KERNELRELEASE={K1}")),
        "{command}"
    );
    assert!(log.lines().any(|l| l == "# exit code: 0"), "{log}");
    assert!(
        log.lines().any(|l| l.starts_with("# elapsed time: ")),
        "{log}"
    );
    assert!(log.lines().any(|l| l == DASHES), "{log}");
    let leftovers: Vec<String> = root
        .list("/var/lib/dkms/hello/1.0")
        .into_iter()
        .filter(|n| n.starts_with("build"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "build dirs left behind: {leftovers:?}"
    );

    // install
    let out = ok(&root, &["install", "hello/1.0", "-k", K1]);
    let text = out_text(&root, &out);
    assert_block(
        &text,
        &[&format!("Installing {ko}"), "Running depmod... done."],
        &out,
    );
    assert!(root.path(&ko).is_file());
    let vermagic = modinfo_field(&root.path(&ko), "vermagic").unwrap_or_default();
    assert!(
        vermagic.starts_with(&format!("{K1} ")),
        "vermagic {vermagic:?}"
    );
    assert_eq!(
        modinfo_field(&root.path(&ko), "version").as_deref(),
        Some("1.0")
    );
    assert_eq!(
        root.read_link(&format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}"))
            .to_string_lossy(),
        format!("1.0/{K1}/{ARCH}")
    );
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "installed")]
    );
    assert_eq!(root.installed_modules(K1), ["updates/dkms/hello.ko"]);

    // uninstall
    let out = ok(&root, &["uninstall", "hello/1.0", "-k", K1]);
    assert_eq!(
        out_text(&root, &out),
        format!(
            "Module hello/1.0 for kernel {K1} ({ARCH}):\n\
             Before uninstall, this module version was ACTIVE on this kernel.\n\
             Deleting {ko}\n\
             Running depmod... done.\n"
        ),
        "{out}"
    );
    assert!(!root.exists(&ko));
    assert!(
        !root.exists(&format!("/lib/modules/{K1}/updates")),
        "empty updates/dkms directories are removed"
    );
    assert!(!root.exists(&format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}")));
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "built")]
    );

    // unbuild
    let out = ok(&root, &["unbuild", "hello/1.0", "-k", K1]);
    assert_eq!(
        out_text(&root, &out),
        format!("Module hello/1.0 is not installed for kernel {K1} ({ARCH}). Skipping...\n"),
        "{out}"
    );
    assert!(!root.exists(&format!("/var/lib/dkms/hello/1.0/{K1}")));
    assert_eq!(status(&root, &[]), ["hello/1.0: added"]);

    // remove
    let out = ok(&root, &["remove", "hello/1.0", "-k", K1]);
    assert_eq!(
        out_text(&root, &out),
        format!(
            "Module hello/1.0 is not installed for kernel {K1} ({ARCH}). Skipping...\n\
             Module hello/1.0 is not built for kernel {K1} ({ARCH}). Skipping...\n\
             \n\
             Deleting module hello/1.0 completely from the DKMS tree.\n"
        ),
        "{out}"
    );
    assert!(!root.exists("/var/lib/dkms/hello"));
    assert!(status(&root, &[]).is_empty());
    assert!(
        root.path("/usr/src/hello-1.0/dkms.conf").is_file(),
        "sources stay"
    );
}

#[test]
fn build_implies_add() {
    let root = root_with(&["hello-1.0"]);
    let out = ok(&root, &["build", "hello/1.0", "-k", K1]);
    assert_eq!(
        out_text(&root, &out),
        "Creating symlink /var/lib/dkms/hello/1.0/source -> /usr/src/hello-1.0\n\
         \n\
         The kernel is built without module signing facility, modules won't be signed\n\
         \n\
         Building module(s)... done.\n",
        "{out}"
    );
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "built")]
    );
}

#[test]
fn install_implies_add_and_build() {
    let root = root_with(&["hello-1.0"]);
    let out = ok(&root, &["install", "hello/1.0", "-k", K1]);
    let text = out_text(&root, &out);
    assert_line(
        &text,
        "Creating symlink /var/lib/dkms/hello/1.0/source -> /usr/src/hello-1.0",
        &out,
    );
    assert_line(&text, "Building module(s)... done.", &out);
    assert_block(
        &text,
        &[
            &format!("Installing /lib/modules/{K1}/updates/dkms/hello.ko"),
            "Running depmod... done.",
        ],
        &out,
    );
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "installed")]
    );
}

#[test]
fn second_build_and_install_are_skipped_with_upstreams_message() {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["build", "hello/1.0", "-k", K1]);
    let before = root.snapshot();
    let out = ok(&root, &["build", "hello/1.0", "-k", K1]);
    assert_eq!(
        out.stdout,
        format!(
            "Module hello/1.0 already built for kernel {K1} ({ARCH}), skip. \
             You may override by specifying --force.\n"
        ),
        "{out}"
    );
    out.assert_stderr_empty();
    root.assert_unchanged(&before, &[LOCK]);

    ok(&root, &["install", "hello/1.0", "-k", K1]);
    let before = root.snapshot();
    let out = ok(&root, &["install", "hello/1.0", "-k", K1]);
    assert_eq!(
        out.stdout,
        format!(
            "Module hello/1.0 already installed on kernel {K1} ({ARCH}), skip. \
             You may override by specifying --force.\n"
        ),
        "{out}"
    );
    out.assert_stderr_empty();
    root.assert_unchanged(&before, &[LOCK]);
}

#[test]
fn force_rebuilds_and_reinstalls() {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["build", "hello/1.0", "-k", K1]);
    let base = format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}");
    root.write(&format!("{base}/marker"), "old build\n");

    let out = ok(&root, &["build", "hello/1.0", "-k", K1, "--force"]);
    let text = out_text(&root, &out);
    assert_line(&text, "Building module(s)... done.", &out);
    assert!(!text.contains("already built"), "{out}");
    assert!(
        !root.exists(&format!("{base}/marker")),
        "the old build was replaced"
    );
    assert!(root.path(&format!("{base}/module/hello.ko")).is_file());
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "built")]
    );

    ok(&root, &["install", "hello/1.0", "-k", K1]);
    let out = ok(&root, &["install", "hello/1.0", "-k", K1, "--force"]);
    let text = out_text(&root, &out);
    assert_line(
        &text,
        "Before uninstall, this module version was ACTIVE on this kernel.",
        &out,
    );
    assert_line(
        &text,
        &format!("Installing /lib/modules/{K1}/updates/dkms/hello.ko"),
        &out,
    );
    assert!(!text.contains("already installed"), "{out}");
    assert!(root
        .path(&format!("/lib/modules/{K1}/updates/dkms/hello.ko"))
        .is_file());
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "installed")]
    );
}

#[test]
fn repeated_k_installs_for_two_kernels_and_remove_all_takes_both_away() {
    let root = root_with(&["hello-1.0"]);
    root.add_fake_kernel(K2, true, true);
    let out = ok(&root, &["install", "hello/1.0", "-k", K1, "-k", K2]);
    for k in [K1, K2] {
        let ko = root.path(&format!("/lib/modules/{k}/updates/dkms/hello.ko"));
        assert!(ko.is_file(), "{k}: not installed\n{out}");
        let vermagic = modinfo_field(&ko, "vermagic").unwrap_or_default();
        assert!(
            vermagic.starts_with(&format!("{k} ")),
            "{k}: vermagic {vermagic:?}"
        );
    }
    assert_eq!(
        status(&root, &[]),
        [
            built_line("hello", "1.0", K1, "installed"),
            built_line("hello", "1.0", K2, "installed"),
        ]
    );

    let out = ok(&root, &["remove", "hello/1.0", "--all"]);
    let text = out_text(&root, &out);
    for k in [K1, K2] {
        assert_line(
            &text,
            &format!("Module hello/1.0 for kernel {k} ({ARCH}):"),
            &out,
        );
        assert_line(
            &text,
            &format!("Deleting /lib/modules/{k}/updates/dkms/hello.ko"),
            &out,
        );
        assert!(
            root.installed_modules(k).is_empty(),
            "{k} still has modules"
        );
    }
    assert!(
        text.ends_with("Deleting module hello/1.0 completely from the DKMS tree.\n"),
        "{out}"
    );
    assert!(!root.exists("/var/lib/dkms/hello"));
    assert!(status(&root, &[]).is_empty());
}

#[test]
fn uninstall_of_two_kernels_separates_them_with_a_blank_line() {
    let root = root_with(&["hello-1.0"]);
    root.add_fake_kernel(K2, true, true);
    ok(&root, &["install", "hello/1.0", "-k", K1, "-k", K2]);
    let out = ok(&root, &["uninstall", "hello/1.0", "-k", K1, "-k", K2]);
    let text = out_text(&root, &out);
    assert_block(
        &text,
        &[
            "Running depmod... done.",
            "",
            &format!("Module hello/1.0 for kernel {K2} ({ARCH}):"),
        ],
        &out,
    );
    assert_eq!(
        status(&root, &[]),
        [
            built_line("hello", "1.0", K1, "built"),
            built_line("hello", "1.0", K2, "built"),
        ]
    );
}

#[rstest]
#[case::positional(&["build", "hello/1.0", "-k", "K1"])]
#[case::m_and_v(&["build", "-m", "hello", "-v", "1.0", "-k", "K1"])]
#[case::m_slash(&["build", "-m", "hello/1.0", "-k", "K1"])]
#[case::kernelver_equals(&["build", "hello/1.0", "--kernelver=K1"])]
#[case::kernelver_space(&["build", "--module=hello/1.0", "--kernelver", "K1"])]
#[case::kernel_slash_arch(&["build", "hello/1.0", "-k", "K1/ARCH"])]
#[case::kernel_and_arch(&["build", "hello/1.0", "-k", "K1", "-a", "ARCH"])]
#[case::action_last(&["-m", "hello", "-v", "1.0", "-k", "K1", "build"])]
fn module_and_kernel_argument_forms(#[case] args: &[&str]) {
    // "K1" and "ARCH" stand for the constants.
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("K1", K1).replace("ARCH", ARCH))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = root_with(&["hello-1.0"]);
    ok(&root, &args);
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "built")]
    );
}

// ---------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------

/// hello/1.0 built for K1 and K2, hello/2.0 installed on K1, multi/1.0 added.
fn status_fixture() -> TestRoot {
    let root = root_with(&["hello-1.0", "hello-2.0", "multi-1.0"]);
    root.add_fake_kernel(K2, true, true);
    // Registered out of order on purpose: the listing must still be sorted.
    ok(&root, &["add", "multi/1.0", "-k", K1]);
    ok(&root, &["install", "hello/2.0", "-k", K1]);
    ok(&root, &["build", "hello/1.0", "-k", K2, "-k", K1]);
    root
}

#[test]
fn status_lists_sorted_by_module_version_kernel_and_filters() {
    let root = status_fixture();
    let all = vec![
        built_line("hello", "1.0", K1, "built"),
        built_line("hello", "1.0", K2, "built"),
        built_line("hello", "2.0", K1, "installed"),
        "multi/1.0: added".to_string(),
    ];
    assert_eq!(status(&root, &[]), all);
    assert_eq!(status(&root, &["hello"]), all[..3]);
    assert_eq!(status(&root, &["-m", "hello"]), all[..3]);
    assert_eq!(status(&root, &["hello/1.0"]), all[..2]);
    assert_eq!(status(&root, &["-m", "hello", "-v", "2.0"]), all[2..3]);
    assert_eq!(status(&root, &["multi"]), all[3..]);
    assert!(status(&root, &["nosuch"]).is_empty());
    // A kernel filter: versions with nothing for that kernel read "added".
    assert_eq!(
        status(&root, &["-k", K2]),
        [
            built_line("hello", "1.0", K2, "built"),
            "hello/2.0: added".to_string(),
            "multi/1.0: added".to_string(),
        ]
    );
    assert_eq!(
        status(&root, &["hello/1.0", "-k", K1, "-a", ARCH]),
        [built_line("hello", "1.0", K1, "built")]
    );
}

/// One status fact as the tests compare them: module, version, kernel,
/// arch, state and the three suffix flags.
type Fact = (String, String, String, String, String, bool, bool, bool);

fn facts_from_text(lines: &[String]) -> Vec<Fact> {
    lines
        .iter()
        .map(|l| {
            let (head, rest) = l.split_once(": ").expect("status line");
            let (state, suffix) = match rest.find(" (") {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let parts: Vec<&str> = head.split(", ").collect();
            let (m, v) = parts[0].split_once('/').expect("m/v");
            let (k, a) = if parts.len() == 3 {
                (parts[1].to_string(), parts[2].to_string())
            } else {
                (String::new(), String::new())
            };
            (
                m.to_string(),
                v.to_string(),
                k,
                a,
                state.to_string(),
                suffix.contains("(Original modules exist)"),
                suffix.contains("(Built modules are missing in the kernel modules folder)"),
                suffix.contains("(Differences between built and installed modules)"),
            )
        })
        .collect()
}

fn facts_from_value(doc: &serde_json::Value) -> Vec<Fact> {
    let s = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
    };
    let b = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    doc.get("modules")
        .and_then(|m| m.as_array())
        .unwrap_or_else(|| panic!("no modules array in {doc}"))
        .iter()
        .map(|r| {
            (
                s(r, "module"),
                s(r, "version"),
                s(r, "kernel"),
                s(r, "arch"),
                s(r, "state"),
                b(r, "original_modules_exist"),
                b(r, "built_modules_missing"),
                b(r, "differences"),
            )
        })
        .collect()
}

#[test]
fn status_json_and_yaml_carry_the_same_facts_as_text() {
    let root = status_fixture();
    // One suffix fact too: the installed module differs from the built one.
    root.write(
        &format!("/lib/modules/{K1}/updates/dkms/hello.ko"),
        "tampered\n",
    );
    let text = status(&root, &[]);
    assert!(
        text.iter()
            .any(|l| l.ends_with("(Differences between built and installed modules)")),
        "{text:?}"
    );
    let want = facts_from_text(&text);

    let out = ok(&root, &["status", "--output", "json"]);
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e})\n{out}"));
    assert_eq!(facts_from_value(&json), want, "{out}");
    assert!(json.get("pending").is_some_and(|p| p.is_array()), "{out}");
    assert!(json.get("failed").is_some_and(|p| p.is_array()), "{out}");

    let out = ok(&root, &["status", "--output=yaml"]);
    let yaml: serde_json::Value =
        serde_norway::from_str(&out.stdout).unwrap_or_else(|e| panic!("bad YAML ({e})\n{out}"));
    assert_eq!(facts_from_value(&yaml), want, "{out}");

    // Filters apply to the machine-readable forms too.
    let out = ok(&root, &["status", "hello/1.0", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(facts_from_value(&json), want[..2], "{out}");
}

// ---------------------------------------------------------------------------
// Where modules go
// ---------------------------------------------------------------------------

#[rstest]
#[case::debian("ID=debian\n", "updates/dkms")]
#[case::ubuntu("ID=ubuntu\nID_LIKE=debian\n", "updates/dkms")]
#[case::arch("ID=arch\n", "updates/dkms")]
#[case::fedora("ID=fedora\n", "extra")]
#[case::rhel("ID=\"rhel\"\nID_LIKE=\"fedora\"\n", "extra")]
#[case::opensuse("ID=opensuse-leap\nID_LIKE=\"suse opensuse\"\n", "updates")]
#[case::other("ID=plan9\n", "kernel/extra")]
fn install_location_follows_the_distribution(#[case] os_release: &str, #[case] dir: &str) {
    let root = root_with(&["hello-1.0"]);
    root.set_os_release(os_release);
    let out = ok(&root, &["install", "hello/1.0", "-k", K1]);
    let rel = format!("{dir}/hello.ko");
    assert_eq!(
        root.installed_modules(K1),
        std::slice::from_ref(&rel),
        "{out}"
    );
    assert_line(
        &out_text(&root, &out),
        &format!("Installing /lib/modules/{K1}/{rel}"),
        &out,
    );
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "installed")]
    );
    ok(&root, &["uninstall", "hello/1.0", "-k", K1]);
    assert!(root.installed_modules(K1).is_empty());
}

#[test]
fn preexisting_module_is_archived_and_restored_byte_identical() {
    let root = root_with(&["hello-2.0"]);
    let old = build_fixture("hello-1.0", K1);
    let planted = format!("/lib/modules/{K1}/kernel/drivers/misc/hello.ko");
    root.add_kernel_module(K1, "kernel/drivers/misc/hello.ko", &old.ko("hello"));
    let planted_bytes = fs::read(root.path(&planted)).expect("planted");

    let out = ok(&root, &["install", "hello/2.0", "-k", K1]);
    assert_block(
        &out_text(&root, &out),
        &[
            &format!("Found pre-existing {planted}, archiving for uninstallation"),
            &format!("Installing /lib/modules/{K1}/updates/dkms/hello.ko"),
            "Running depmod... done.",
        ],
        &out,
    );
    let orig = format!("/var/lib/dkms/hello/original_module/{K1}/{ARCH}");
    assert_eq!(
        fs::read(root.path(&format!("{orig}/hello.ko"))).ok(),
        Some(planted_bytes.clone())
    );
    assert_eq!(
        norm(&root, &root.read(&format!("{orig}/hello.ko.origin"))),
        format!("{planted}\n")
    );
    assert!(!root.exists(&planted), "the original was moved away");
    assert_eq!(root.installed_modules(K1), ["updates/dkms/hello.ko"]);
    assert_eq!(
        status(&root, &[]),
        [format!(
            "{} (Original modules exist)",
            built_line("hello", "2.0", K1, "installed")
        )]
    );

    let out = ok(&root, &["uninstall", "hello/2.0", "-k", K1]);
    assert_block(
        &out_text(&root, &out),
        &[
            &format!("Deleting /lib/modules/{K1}/updates/dkms/hello.ko"),
            &format!("Restoring archived original module {planted}"),
            "Running depmod... done.",
        ],
        &out,
    );
    assert_eq!(fs::read(root.path(&planted)).ok(), Some(planted_bytes));
    assert_eq!(root.installed_modules(K1), ["kernel/drivers/misc/hello.ko"]);
    assert!(!root.exists("/var/lib/dkms/hello/original_module"));
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "2.0", K1, "built")]
    );
}

#[test]
fn uninstall_after_restoring_prints_upstreams_exact_lines() {
    let root = root_with(&["hello-2.0"]);
    let old = build_fixture("hello-1.0", K1);
    let planted = format!("/lib/modules/{K1}/kernel/drivers/misc/hello.ko");
    root.add_kernel_module(K1, "kernel/drivers/misc/hello.ko", &old.ko("hello"));
    ok(&root, &["install", "hello/2.0", "-k", K1]);
    let out = ok(&root, &["uninstall", "hello/2.0", "-k", K1]);
    assert_eq!(
        out_text(&root, &out),
        format!(
            "Module hello/2.0 for kernel {K1} ({ARCH}):\n\
             Before uninstall, this module version was ACTIVE on this kernel.\n\
             Deleting /lib/modules/{K1}/updates/dkms/hello.ko\n\
             Restoring archived original module {planted}\n\
             Running depmod... done.\n"
        ),
        "{out}"
    );
}

#[test]
fn newer_module_in_the_kernel_blocks_install_unless_forced() {
    let root = root_with(&["hello-1.0"]);
    let newer = build_fixture("hello-2.0", K1);
    let planted = format!("/lib/modules/{K1}/kernel/drivers/misc/hello.ko");
    root.add_kernel_module(K1, "kernel/drivers/misc/hello.ko", &newer.ko("hello"));
    ok(&root, &["build", "hello/1.0", "-k", K1]);
    let before = root.snapshot();

    let out = root.dkms(&["install", "hello/1.0", "-k", K1]);
    out.assert_code(6);
    assert_eq!(
        err_text(&root, &out),
        format!(
            "\nError! Module version 1.0 for hello.ko\n\
             is not newer than what is already found in kernel {K1} (2.0).\n\
             You may override by specifying --force.\n\
             \n\
             Error! Installation aborted.\n"
        ),
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);
    assert_eq!(root.installed_modules(K1), ["kernel/drivers/misc/hello.ko"]);
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "built")]
    );

    let out = ok(&root, &["install", "hello/1.0", "-k", K1, "--force"]);
    assert_line(
        &out_text(&root, &out),
        &format!("Found pre-existing {planted}, archiving for uninstallation"),
        &out,
    );
    assert_eq!(root.installed_modules(K1), ["updates/dkms/hello.ko"]);
    assert_eq!(
        status(&root, &[]),
        [format!(
            "{} (Original modules exist)",
            built_line("hello", "1.0", K1, "installed")
        )]
    );
}

#[test]
fn same_version_in_the_kernel_is_left_alone() {
    let root = root_with(&["hello-1.0"]);
    let same = build_fixture("hello-1.0", K1);
    root.add_kernel_module(K1, "kernel/drivers/misc/hello.ko", &same.ko("hello"));
    let out = root.dkms(&["install", "hello/1.0", "-k", K1]);
    out.assert_code(6);
    let err = err_text(&root, &out);
    assert_line(
        &err,
        &format!(
            "Module /lib/modules/{K1}/kernel/drivers/misc/hello.ko already installed at version 1.0, \
             override by specifying --force"
        ),
        &out,
    );
    assert_line(&err, "Error! Installation aborted.", &out);
    assert_eq!(root.installed_modules(K1), ["kernel/drivers/misc/hello.ko"]);
}

#[rstest]
#[case::gzip(".gz")]
#[case::xz(".xz")]
#[case::zstd(".zst")]
fn modules_are_compressed_like_the_kernels_own(#[case] ext: &str) {
    let root = root_with(&["hello-1.0"]);
    let other = build_fixture("hello-2.0", K1);
    root.add_kernel_module(K1, &format!("kernel/drivers/x.ko{ext}"), &other.ko("hello"));
    let out = ok(&root, &["install", "hello/1.0", "-k", K1]);
    let rel = format!("updates/dkms/hello.ko{ext}");
    assert_eq!(
        root.installed_modules(K1),
        [format!("kernel/drivers/x.ko{ext}"), rel.clone()],
        "{out}"
    );
    assert!(root
        .path(&format!(
            "/var/lib/dkms/hello/1.0/{K1}/{ARCH}/module/hello.ko{ext}"
        ))
        .is_file());
    let installed = root.path(&format!("/lib/modules/{K1}/{rel}"));
    let plain = build_fixture("hello-1.0", K1);
    // Decompresses (read_module_bytes panics otherwise) to the same module.
    assert!(!read_module_bytes(&installed).is_empty());
    let mut got = modinfo(&installed);
    let mut want = modinfo(&plain.ko("hello"));
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "installed")]
    );

    ok(&root, &["uninstall", "hello/1.0", "-k", K1]);
    assert_eq!(
        root.installed_modules(K1),
        [format!("kernel/drivers/x.ko{ext}")]
    );
}

// ---------------------------------------------------------------------------
// The other fixtures
// ---------------------------------------------------------------------------

#[test]
fn multi_installs_both_modules() {
    let root = root_with(&["multi-1.0"]);
    let out = ok(&root, &["install", "multi/1.0", "-k", K1]);
    assert_eq!(
        root.installed_modules(K1),
        ["updates/dkms/multi_a.ko", "updates/dkms/multi_b.ko"],
        "{out}"
    );
    for m in ["multi_a", "multi_b"] {
        let p = root.path(&format!("/lib/modules/{K1}/updates/dkms/{m}.ko"));
        assert_eq!(modinfo_field(&p, "name").as_deref(), Some(m));
    }
    assert_eq!(
        status(&root, &[]),
        [built_line("multi", "1.0", K1, "installed")]
    );
    ok(&root, &["remove", "multi/1.0", "--all"]);
    assert!(root.installed_modules(K1).is_empty());
    assert!(!root.exists("/var/lib/dkms/multi"));
}

#[test]
fn patch_is_applied_before_the_build() {
    let root = root_with(&["patched-1.0"]);
    let out = ok(&root, &["build", "patched/1.0", "-k", K1]);
    assert_line(
        &out_text(&root, &out),
        "Applying patch fix.patch... done.",
        &out,
    );
    let ko = root.path(&format!(
        "/var/lib/dkms/patched/1.0/{K1}/{ARCH}/module/patched.ko"
    ));
    assert_eq!(modinfo_field(&ko, "version").as_deref(), Some("1.0.1"));
    assert_eq!(modinfo_field(&ko, "patched").as_deref(), Some("yes"));
    let log = root.read(&format!(
        "/var/lib/dkms/patched/1.0/{K1}/{ARCH}/log/make.log"
    ));
    assert!(
        log.lines().any(|l| l == "Applying patch fix.patch"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l == "# command: patch -p1 < ./patches/fix.patch"),
        "{log}"
    );
    // The registered source itself is never patched.
    assert!(root
        .read("/usr/src/patched-1.0/patched.c")
        .contains("FAKE_MODULE_VERSION(\"1.0\")"));
}

#[test]
fn pre_build_script_runs_in_the_build_directory() {
    let root = root_with(&["prebuild-1.0"]);
    let out = ok(&root, &["build", "prebuild/1.0", "-k", K1]);
    assert_line(
        &out_text(&root, &out),
        "Running the pre_build script... done.",
        &out,
    );
    let ko = root.path(&format!(
        "/var/lib/dkms/prebuild/1.0/{K1}/{ARCH}/module/prebuild.ko"
    ));
    assert_eq!(modinfo_field(&ko, "generated").as_deref(), Some("yes"));
    assert!(
        !root.exists("/usr/src/prebuild-1.0/config.h"),
        "the source stays clean"
    );
}

#[test]
fn build_exclusive_skips_with_exit_77() {
    let root = root_with(&["excl-1.0"]);
    ok(&root, &["add", "excl/1.0", "-k", K1]);
    let before = root.snapshot();
    let out = root.dkms(&["build", "excl/1.0", "-k", K1]);
    out.assert_code(77);
    assert_eq!(
        err_text(&root, &out),
        format!(
            "Warning: The /var/lib/dkms/excl/1.0/{K1}/{ARCH}/dkms.conf\n\
             for module excl/1.0 includes BUILD_EXCLUSIVE directives\n\
             which do not match this kernel/arch/config for any modules.\n\
             This indicates that it should not be built.\n"
        ),
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);

    let out = root.dkms(&["install", "excl/1.0", "-k", K1]);
    out.assert_code(77);
    assert!(out.stderr.starts_with("Warning: The "), "{out}");
    root.assert_unchanged(&before, &[LOCK]);
    assert_eq!(status(&root, &[]), ["excl/1.0: added"]);
}

#[test]
fn build_depends_must_be_installed_first() {
    let root = root_with(&["dep-1.0", "hello-1.0"]);
    ok(&root, &["add", "dep/1.0", "-k", K1]);
    let before = root.snapshot();
    let out = root.dkms(&["build", "dep/1.0", "-k", K1]);
    out.assert_code(13);
    assert_eq!(
        err_text(&root, &out),
        format!(
            "\nError! Aborting build of module dep/1.0 for kernel {K1} ({ARCH}) due to missing BUILD_DEPENDS: hello.\n\
             You may override by specifying --force.\n"
        ),
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);

    // Built but not installed is not enough.
    ok(&root, &["build", "hello/1.0", "-k", K1]);
    root.dkms(&["build", "dep/1.0", "-k", K1]).assert_code(13);

    ok(&root, &["install", "hello/1.0", "-k", K1]);
    ok(&root, &["install", "dep/1.0", "-k", K1]);
    assert_eq!(
        root.installed_modules(K1),
        ["updates/dkms/dep.ko", "updates/dkms/hello.ko"]
    );
}

#[test]
fn build_depends_can_be_forced() {
    let root = root_with(&["dep-1.0"]);
    let out = ok(&root, &["build", "dep/1.0", "-k", K1, "--force"]);
    assert_line(
        &err_text(&root, &out),
        &format!(
            "Warning: Trying to build module dep/1.0 for kernel {K1} ({ARCH}) despite of missing BUILD_DEPENDS: hello."
        ),
        &out,
    );
    assert_eq!(status(&root, &[]), [built_line("dep", "1.0", K1, "built")]);
}

// ---------------------------------------------------------------------------
// Overrides: /etc/dkms/<m>.conf, --directive
// ---------------------------------------------------------------------------

#[test]
fn etc_dkms_module_conf_overrides_a_directive() {
    let root = root_with(&["hello-1.0"]);
    root.write(
        "/etc/dkms/hello.conf",
        "DEST_MODULE_NAME[0]=\"hello_site\"\n",
    );
    let out = ok(&root, &["install", "hello/1.0", "-k", K1]);
    assert_eq!(
        root.installed_modules(K1),
        ["updates/dkms/hello_site.ko"],
        "{out}"
    );
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "installed")]
    );
    ok(&root, &["uninstall", "hello/1.0", "-k", K1]);
    assert!(root.installed_modules(K1).is_empty());
}

#[test]
fn more_specific_override_files_win() {
    let root = root_with(&["hello-1.0"]);
    root.write("/etc/dkms/hello.conf", "DEST_MODULE_NAME[0]=\"hello_a\"\n");
    root.write(
        "/etc/dkms/hello-1.0.conf",
        "DEST_MODULE_NAME[0]=\"hello_b\"\n",
    );
    root.write(
        &format!("/etc/dkms/hello-1.0-{K1}.conf"),
        "DEST_MODULE_NAME[0]=\"hello_c\"\n",
    );
    // Another kernel's file does not apply.
    root.write(
        "/etc/dkms/hello--9.9.9.conf",
        "DEST_MODULE_NAME[0]=\"hello_x\"\n",
    );
    let out = ok(&root, &["install", "hello/1.0", "-k", K1]);
    assert_eq!(
        root.installed_modules(K1),
        ["updates/dkms/hello_c.ko"],
        "{out}"
    );
}

#[test]
fn etc_dkms_module_conf_can_replace_make() {
    let root = root_with(&["hello-1.0"]);
    root.write(
        "/etc/dkms/hello.conf",
        "MAKE[0]=\"make -C ${kernel_source_dir} M=${dkms_tree}/${module}/${module_version}/build SITE_MARK=1\"\n",
    );
    let out = ok(&root, &["build", "hello/1.0", "-k", K1]);
    let log = root.read(&format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}/log/make.log"));
    let command = log
        .lines()
        .find(|l| l.starts_with("# command: make"))
        .unwrap_or_else(|| panic!("no make command in make.log:\n{log}\n{out}"));
    assert!(command.starts_with("# command: make -j"), "{command}");
    assert!(
        command.contains(&format!("KERNELRELEASE={K1}")),
        "{command}"
    );
    assert!(command.ends_with(" SITE_MARK=1"), "{command}");
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "built")]
    );
}

#[test]
fn directive_option_overrides_dkms_conf() {
    let root = root_with(&["hello-1.0"]);
    let out = ok(
        &root,
        &[
            "install",
            "hello/1.0",
            "-k",
            K1,
            "--directive",
            "DEST_MODULE_NAME=hello_cli",
        ],
    );
    assert_eq!(
        root.installed_modules(K1),
        ["updates/dkms/hello_cli.ko"],
        "{out}"
    );
    assert!(root
        .path(&format!(
            "/var/lib/dkms/hello/1.0/{K1}/{ARCH}/module/hello_cli.ko"
        ))
        .is_file());
}

#[test]
fn directive_option_is_echoed_like_upstream() {
    let root = root_with(&["hello-1.0"]);
    let out = ok(
        &root,
        &[
            "build",
            "hello/1.0",
            "-k",
            K1,
            "--directive=DEST_MODULE_NAME=hello_cli",
        ],
    );
    assert_line(
        &out.stdout,
        "DIRECTIVE: DEST_MODULE_NAME=\"hello_cli\"",
        &out,
    );
}

// ---------------------------------------------------------------------------
// framework.conf
// ---------------------------------------------------------------------------

#[test]
fn framework_conf_relocates_the_trees() {
    let root = TestRoot::with_kernel(K1);
    copy_tree(
        &module_fixture("hello-1.0"),
        &root.path("/srv/src/hello-1.0"),
    );
    root.set_framework_conf("dkms_tree=/srv/dkms\nsource_tree=\"/srv/src\"\n");
    let out = ok(&root, &["install", "hello/1.0", "-k", K1]);
    assert_line(
        &out_text(&root, &out),
        "Creating symlink /srv/dkms/hello/1.0/source -> /srv/src/hello-1.0",
        &out,
    );
    assert_eq!(
        root.read_link("/srv/dkms/hello/1.0/source")
            .to_string_lossy(),
        "/srv/src/hello-1.0"
    );
    assert!(root
        .path(&format!("/srv/dkms/hello/1.0/{K1}/{ARCH}/module/hello.ko"))
        .is_file());
    assert!(!root.exists("/var/lib/dkms/hello"));
    assert_eq!(root.installed_modules(K1), ["updates/dkms/hello.ko"]);
    assert_eq!(
        status(&root, &[]),
        [built_line("hello", "1.0", K1, "installed")]
    );
}

#[test]
fn framework_conf_d_files_are_read_after_framework_conf() {
    let root = TestRoot::with_kernel(K1);
    copy_tree(&module_fixture("hello-1.0"), &root.path("/srv/b/hello-1.0"));
    root.set_framework_conf("source_tree=/srv/a\n");
    root.write(
        "/etc/dkms/framework.conf.d/20-b.conf",
        "source_tree=/srv/b\n",
    );
    root.write(
        "/etc/dkms/framework.conf.d/10-a.conf",
        "source_tree=/srv/a\n",
    );
    root.write(
        "/etc/dkms/framework.conf.d/30-ignored.txt",
        "source_tree=/srv/c\n",
    );
    ok(&root, &["add", "hello/1.0", "-k", K1]);
    assert_eq!(
        root.read_link("/var/lib/dkms/hello/1.0/source")
            .to_string_lossy(),
        "/srv/b/hello-1.0"
    );
}

#[test]
fn code_in_framework_conf_has_no_effect() {
    let root = TestRoot::with_kernel(K1);
    copy_tree(
        &module_fixture("hello-1.0"),
        &root.path("/srv/src/hello-1.0"),
    );
    let canary = |n: u32| root.root().join(format!("canary{n}"));
    let conf = format!(
        "# framework.conf with code in it\n\
         touch {c1}\n\
         dkms_tree=/srv/dkms\n\
         pwn() {{ touch {c2}; }}\n\
         pwn\n\
         install_tree=$(touch {c3}; echo /lib/modules)\n\
         verbose=`touch {c4}`\n\
         [ -d / ] && touch {c5}\n\
         source_tree=/srv/src\n",
        c1 = canary(1).display(),
        c2 = canary(2).display(),
        c3 = canary(3).display(),
        c4 = canary(4).display(),
        c5 = canary(5).display(),
    );
    root.set_framework_conf(&conf);
    let out = root.dkms(&["install", "hello/1.0", "-k", K1]);
    for n in 1..=5 {
        assert!(
            !canary(n).exists(),
            "framework.conf code ran (canary{n})\n{out}"
        );
    }
    out.assert_ok();
    // The plain allow-listed assignments still apply.
    assert_eq!(
        root.read_link("/srv/dkms/hello/1.0/source")
            .to_string_lossy(),
        "/srv/src/hello-1.0",
        "{out}"
    );
    assert!(!root.exists("/var/lib/dkms/hello"));
    assert_eq!(root.installed_modules(K1), ["updates/dkms/hello.ko"]);
}

// ---------------------------------------------------------------------------
// depmod
// ---------------------------------------------------------------------------

#[test]
fn depmod_runs_in_the_root_after_install_and_uninstall() {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["install", "hello/1.0", "-k", K1]);
    let dep = modules_dep(&root, K1);
    assert!(
        dep.lines().any(|l| l.starts_with("updates/dkms/hello.ko:")),
        "modules.dep: {dep:?}"
    );
    ok(&root, &["uninstall", "hello/1.0", "-k", K1]);
    let dep = modules_dep(&root, K1);
    assert!(!dep.contains("hello.ko"), "modules.dep: {dep:?}");
}

#[test]
fn no_depmod_leaves_modules_dep_alone() {
    let root = root_with(&["hello-1.0"]);
    let before = modules_dep(&root, K1);
    let out = ok(&root, &["install", "hello/1.0", "-k", K1, "--no-depmod"]);
    assert_eq!(
        root.installed_modules(K1),
        ["updates/dkms/hello.ko"],
        "{out}"
    );
    assert_eq!(modules_dep(&root, K1), before);
    assert!(!root.exists(&format!("/lib/modules/{K1}/modules.dep.bin")));
    ok(&root, &["uninstall", "hello/1.0", "-k", K1, "--no-depmod"]);
    assert_eq!(modules_dep(&root, K1), before);
}

// ---------------------------------------------------------------------------
// Build options and status suffixes
// ---------------------------------------------------------------------------

#[test]
fn verbose_shows_the_make_command_and_j_sets_the_jobs() {
    let root = root_with(&["hello-1.0"]);
    let out = ok(
        &root,
        &["build", "hello/1.0", "-k", K1, "--verbose", "-j", "3"],
    );
    let text = out_text(&root, &out);
    // The build directory may be a per-kernel one (`build-K-A`).
    let prefix = format!(
        "make -j3 KERNELRELEASE={K1} -C /lib/modules/{K1}/build M=/var/lib/dkms/hello/1.0/build"
    );
    assert!(text.lines().any(|l| l.starts_with(&prefix)), "{out}");
    assert_line(&text, " done.", &out);
    assert!(!text.contains("Building module(s)"), "{out}");
}

#[test]
fn parallel_jobs_comes_from_framework_conf() {
    let root = root_with(&["hello-1.0"]);
    root.set_framework_conf("parallel_jobs=5\n");
    ok(&root, &["build", "hello/1.0", "-k", K1]);
    let log = root.read(&format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}/log/make.log"));
    assert!(
        log.lines()
            .any(|l| l.starts_with(&format!("# command: make -j5 KERNELRELEASE={K1} "))),
        "{log}"
    );
}

#[test]
fn status_reports_built_modules_missing() {
    let root = root_with(&["hello-1.0"]);
    ok(&root, &["build", "hello/1.0", "-k", K1]);
    fs::remove_file(root.path(&format!(
        "/var/lib/dkms/hello/1.0/{K1}/{ARCH}/module/hello.ko"
    )))
    .expect("rm");
    assert_eq!(
        status(&root, &[]),
        [format!(
            "{} (Built modules are missing in the kernel modules folder)",
            built_line("hello", "1.0", K1, "built")
        )]
    );
}

/// Upstream's own test packages (`dkms*_test`) get no progress dots from
/// depmod, as from make (upstream tests `$package_name` in every background
/// step); any other module gets a dot every 3 seconds. depmod is slowed by
/// a wrapper first on PATH, as a large module tree slows it on a real
/// machine (the mismatch showed on Debian 13, whose depmod reads `.ko.xz`).
#[test]
fn depmod_prints_no_dots_for_upstreams_test_packages() {
    let real = ["/usr/sbin/depmod", "/sbin/depmod"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("depmod (kmod) is installed");
    let shim = tempfile::tempdir().expect("tempdir");
    let wrapper = shim.path().join("depmod");
    fs::write(
        &wrapper,
        format!("#!/bin/sh\nsleep 3.5\nexec {real} \"$@\"\n"),
    )
    .expect("write");
    run_ok(
        std::process::Command::new("chmod")
            .arg("0755")
            .arg(&wrapper),
    );
    let path = format!(
        "{}:{}",
        shim.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (m, dotted) in [("dkms_slowdep_test", false), ("slowdep", true)] {
        let root = TestRoot::with_kernel(K1);
        let conf = format!(
            "PACKAGE_NAME=\"{m}\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"{m}\"\n\
             DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\n"
        );
        let c = format!(
            "#include <linux/module.h>\nstatic int __init {m}_init(void) {{ return 0; }}\n\
             module_init({m}_init);\nMODULE_LICENSE(\"GPL\");\n"
        );
        root.add_source_text(
            m,
            "1.0",
            &[
                ("dkms.conf", &conf),
                ("Makefile", &format!("obj-m += {m}.o\n")),
                (&format!("{m}.c"), &c),
            ],
        );
        let out = root.dkms_env(
            &["install", &format!("{m}/1.0"), "-k", K1],
            &[("PATH", &path)],
        );
        out.assert_ok();
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with("Running depmod"))
            .unwrap_or_else(|| panic!("no depmod line for {m}:\n{out}"));
        if dotted {
            assert!(line.starts_with("Running depmod...."), "{m}: {line}");
        } else {
            assert_eq!(line, "Running depmod... done.", "{m}");
        }
    }
}
