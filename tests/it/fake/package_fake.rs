//! Binary module packages on the fake-kernel tier: `dkms-hook package`,
//! `dkms mkbmdeb`, `dkms-hook publish`, framework.conf's `publish_repo`,
//! and a "fleet" root that gets a module from such a package instead of
//! building it.
//!
//! Each test asserts what a user would check: the package file and what
//! dpkg-deb / rpm say about it, the repository's index files, `dkms
//! status`, `dkms-hook pending`, exit codes and messages, and that the
//! trees are left as they were.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// The tree lock: created by any locked run, never a state change.
const LOCK: &str = "var/lib/dkms/.dkms-hook.lock";

/// Debian's name of this machine's architecture.
fn deb_arch() -> String {
    match ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
    .to_string()
}

/// A root with K1 (image + headers) and `hello/1.0` installed for it.
fn installed_root() -> TestRoot {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    root
}

/// `dkms-hook package hello/1.0 -k K1 --out <out>` (plus `extra`).
fn package(root: &TestRoot, out: &Path, extra: &[&str]) -> Output {
    let out_s = out.display().to_string();
    let mut args = vec!["package", "hello/1.0", "-k", K1, "--out", &out_s];
    args.extend_from_slice(extra);
    root.hook(&args)
}

/// The one file in `dir` (panics unless there is exactly one).
fn only_file(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

/// Run a host program; panics unless it succeeds; returns stdout.
fn host(prog: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(prog);
    cmd.args(args).env("LC_ALL", "C");
    let out = run_command(cmd, RUN_TIMEOUT);
    out.assert_ok();
    out.stdout
}

/// Whether the packaging tools are installed; prints SKIPPED otherwise (a
/// failure under CI).
fn tools(test: &str, tools: &[&str]) -> bool {
    require_tools(test, tools, ".ci/run installs dpkg-dev and rpm")
}

/// `dkms status` lines.
fn status(root: &TestRoot) -> Vec<String> {
    let out = root.dkms(&["status"]);
    out.assert_ok();
    out.stdout_lines().iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------
// naming, relations, contents
// ---------------------------------------------------------------------

#[test]
fn deb_is_named_after_module_and_kernel_and_holds_the_installed_file() {
    if !tools("deb_contents", &["dpkg-deb"]) {
        return;
    }
    let root = installed_root();
    let out = tempfile::tempdir().expect("tempdir");
    let run = package(&root, out.path(), &[]);
    run.assert_ok();
    let deb = only_file(out.path());
    let name = format!("hello-modules-{K1}_1.0_{}.deb", deb_arch());
    assert_eq!(
        deb.file_name().and_then(|n| n.to_str()),
        Some(name.as_str())
    );
    run.assert_stdout_contains(&deb.display().to_string());
    let deb_s = deb.display().to_string();
    let field = |f: &str| host("dpkg-deb", &["-f", &deb_s, f]).trim().to_string();
    assert_eq!(field("Package"), format!("hello-modules-{K1}"));
    assert_eq!(field("Version"), "1.0");
    assert_eq!(field("Architecture"), deb_arch());
    assert_eq!(field("Depends"), format!("linux-image-{K1}"));
    assert_eq!(field("Conflicts"), "hello-dkms");
    // The file dkms installed (Debian: updates/dkms, whatever dkms.conf
    // says), byte for byte, owned by root, plus the prebuilt record.
    let listing = host("dpkg-deb", &["-c", &deb_s]);
    let ko = format!("./lib/modules/{K1}/updates/dkms/hello.ko");
    let record = format!("./usr/share/dkms-hook/prebuilt/hello_1.0_{K1}_{ARCH}.json");
    for want in [&ko, &record] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(want.as_str()))
            .unwrap_or_else(|| panic!("{want} not in\n{listing}"));
        assert!(line.starts_with("-rw-r--r-- root/root"), "{line}");
    }
    let x = tempfile::tempdir().expect("tempdir");
    host("dpkg-deb", &["-x", &deb_s, &x.path().display().to_string()]);
    assert_eq!(
        std::fs::read(x.path().join(&ko[2..])).expect("packaged module"),
        std::fs::read(root.path(&ko[1..])).expect("installed module")
    );
    // Maintainer scripts: depmod for this kernel only, guarded.
    let c = tempfile::tempdir().expect("tempdir");
    host("dpkg-deb", &["-e", &deb_s, &c.path().display().to_string()]);
    let postinst = std::fs::read_to_string(c.path().join("postinst")).expect("postinst");
    assert!(postinst.contains(&format!("K='{K1}'")), "{postinst}");
    assert!(postinst.contains("depmod -a \"$K\""), "{postinst}");
    assert!(postinst.contains("modules.dep"), "{postinst}");
}

#[test]
fn names_and_versions_follow_debian_rules() {
    if !tools("deb_names", &["dpkg-deb"]) {
        return;
    }
    let root = TestRoot::with_kernel(K1);
    let hello = module_fixture("hello-1.0");
    let c = std::fs::read_to_string(hello.join("hello.c")).expect("hello.c");
    root.add_source_text(
        "My_Mod",
        "2.0_rc1",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=\"My_Mod\"\nPACKAGE_VERSION=\"2.0_rc1\"\nBUILT_MODULE_NAME[0]=\"hello\"\n\
                 DEST_MODULE_LOCATION[0]=\"/updates\"\nAUTOINSTALL=\"yes\"\n",
            ),
            ("Makefile", "obj-m += hello.o\n"),
            ("hello.c", &c),
        ],
    );
    root.dkms(&["install", "My_Mod/2.0_rc1", "-k", K1])
        .assert_ok();
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path().display().to_string();
    root.hook(&["package", "My_Mod/2.0_rc1", "-k", K1, "--out", &o])
        .assert_ok();
    let deb = only_file(out.path());
    assert_eq!(
        deb.file_name().and_then(|n| n.to_str()),
        Some(format!("my-mod-modules-{K1}_2.0+rc1_{}.deb", deb_arch()).as_str())
    );
    let deb_s = deb.display().to_string();
    assert_eq!(
        host("dpkg-deb", &["-f", &deb_s, "Conflicts"]).trim(),
        "my-mod-dkms"
    );
}

// ---------------------------------------------------------------------
// reproducibility
// ---------------------------------------------------------------------

#[test]
fn packaging_twice_gives_identical_bytes_and_honours_source_date_epoch() {
    if !tools("reproducible", &["dpkg-deb"]) {
        return;
    }
    let root = installed_root();
    let (a, b, c) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    package(&root, a.path(), &[]).assert_ok();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    package(&root, b.path(), &[]).assert_ok();
    let (da, db) = (only_file(a.path()), only_file(b.path()));
    assert_eq!(std::fs::read(&da).ok(), std::fs::read(&db).ok());
    // SOURCE_DATE_EPOCH sets every time in the package.
    let o = c.path().display().to_string();
    root.hook_env(
        &["package", "hello/1.0", "-k", K1, "--out", &o],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    )
    .assert_ok();
    let dc = only_file(c.path());
    assert_ne!(std::fs::read(&da).ok(), std::fs::read(&dc).ok());
    let listing = host("dpkg-deb", &["-c", &dc.display().to_string()]);
    for l in listing.lines() {
        assert!(l.contains("2023-11-14 22:13"), "not at the epoch: {l}");
    }
}

#[test]
fn rpm_is_named_requires_its_kernel_and_is_reproducible() {
    if !tools("rpm_package", &["rpmbuild"]) {
        return;
    }
    let root = installed_root();
    let (a, b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    package(&root, a.path(), &["--format", "rpm"]).assert_ok();
    package(&root, b.path(), &["--format", "rpm"]).assert_ok();
    let (ra, rb) = (only_file(a.path()), only_file(b.path()));
    assert_eq!(
        ra.file_name().and_then(|n| n.to_str()),
        Some(format!("hello-modules-{K1}-1.0-1.{ARCH}.rpm").as_str())
    );
    assert_eq!(std::fs::read(&ra).ok(), std::fs::read(&rb).ok());
    let r = ra.display().to_string();
    let q = |fmt: &str| host("rpm", &["-qp", "--queryformat", fmt, &r]);
    assert_eq!(q("%{NAME} %{VERSION}"), format!("hello-modules-{K1} 1.0"));
    let requires = host("rpm", &["-qp", "--requires", &r]);
    // K1 (`6.1.0-90-fake`) is no valid RPM version: a file only that
    // kernel ships stands for it (a Fedora release gets
    // `kernel-core-uname-r = K`, see the unit tests).
    assert!(
        requires.contains(&format!("/lib/modules/{K1}/modules.builtin")),
        "{requires}"
    );
    let conflicts = host("rpm", &["-qp", "--conflicts", &r]);
    assert_eq!(conflicts.trim(), "hello-dkms");
    let files = host("rpm", &["-qpl", &r]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        vec![
            format!("/lib/modules/{K1}/updates/dkms/hello.ko"),
            format!("/usr/share/dkms-hook/prebuilt/hello_1.0_{K1}_{ARCH}.json"),
        ]
    );
    let scripts = host("rpm", &["-qp", "--scripts", &r]);
    assert!(scripts.contains("depmod -a \"$K\""), "{scripts}");
}

// ---------------------------------------------------------------------
// refusals: nothing written, trees unchanged
// ---------------------------------------------------------------------

#[test]
fn a_module_not_installed_for_the_kernel_is_refused_and_nothing_is_written() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["build", "hello/1.0", "-k", K1]).assert_ok();
    let before = root.snapshot();
    let scratch = tempfile::tempdir().expect("tempdir");
    let out = scratch.path().join("out");
    let run = package(&root, &out, &[]);
    run.assert_code(3);
    run.assert_stderr_contains(&format!(
        "hello/1.0 is not installed for kernel {K1} ({ARCH}): there is nothing to package."
    ));
    assert!(!out.exists(), "the output directory was created");
    root.assert_unchanged(&before, &[LOCK]);
    // Not registered at all: the same refusal.
    let run = root.hook(&["package", "nosuch/1.0", "-k", K1, "--out", "/nonexistent"]);
    run.assert_code(3);
    // A name that could escape the trees.
    root.hook(&["package", "../x/1.0", "-k", K1]).assert_code(2);
}

#[test]
fn a_missing_packaging_tool_is_a_clear_error() {
    let root = installed_root();
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path().display().to_string();
    for (format, tool) in [("deb", "dpkg-deb"), ("rpm", "rpmbuild")] {
        let run = root.hook_env(
            &[
                "package",
                "hello/1.0",
                "-k",
                K1,
                "--format",
                format,
                "--out",
                &o,
            ],
            &[("PATH", "/nonexistent")],
        );
        run.assert_code(4);
        run.assert_stderr_contains(&format!(
            "{tool} is needed for this but was not found in PATH."
        ));
    }
    assert_eq!(
        std::fs::read_dir(out.path()).map(|d| d.count()).ok(),
        Some(0)
    );
}

#[test]
fn packaging_leaves_status_and_trees_as_they_were() {
    if !tools("status_unchanged", &["dpkg-deb"]) {
        return;
    }
    let root = installed_root();
    let status_before = status(&root);
    let before = root.snapshot();
    let out = tempfile::tempdir().expect("tempdir");
    package(&root, out.path(), &[]).assert_ok();
    root.assert_unchanged(&before, &[LOCK]);
    assert_eq!(status(&root), status_before);
    assert_eq!(
        status_before,
        vec![format!("hello/1.0, {K1}, {ARCH}: installed")]
    );
}

// ---------------------------------------------------------------------
// dkms mkbmdeb
// ---------------------------------------------------------------------

#[test]
fn mkbmdeb_alias_leaves_the_deb_in_the_bmdeb_directory() {
    if !tools("mkbmdeb", &["dpkg-deb"]) {
        return;
    }
    let root = installed_root();
    let status_before = status(&root);
    let run = root.dkms(&["mkbmdeb", "-m", "hello", "-v", "1.0", "-k", K1]);
    run.assert_ok();
    let name = format!("hello-modules-{K1}_1.0_{}.deb", deb_arch());
    assert_eq!(
        root.list("/var/lib/dkms/hello/1.0/bmdeb"),
        vec![name.clone()]
    );
    run.assert_stdout_contains(&name);
    assert_eq!(status(&root), status_before);
    // The same package `dkms-hook package` makes.
    let out = tempfile::tempdir().expect("tempdir");
    package(&root, out.path(), &[]).assert_ok();
    assert_eq!(
        std::fs::read(only_file(out.path())).ok(),
        std::fs::read(root.path(&format!("/var/lib/dkms/hello/1.0/bmdeb/{name}"))).ok()
    );
    // Removing the module removes the version directory completely.
    root.dkms(&["remove", "hello/1.0", "--all"]).assert_ok();
    assert!(!root.exists("/var/lib/dkms/hello/1.0"));
    // Upstream's argument checks apply.
    root.dkms(&["mkbmdeb", "-m", "hello", "-v", "1.0"])
        .assert_code(4);
}

// ---------------------------------------------------------------------
// publishing
// ---------------------------------------------------------------------

#[test]
fn publish_copies_and_indexes_a_flat_apt_repository() {
    if !tools("publish", &["dpkg-deb", "dpkg-scanpackages"]) {
        return;
    }
    let root = installed_root();
    let out = tempfile::tempdir().expect("tempdir");
    package(&root, out.path(), &[]).assert_ok();
    let deb = only_file(out.path());
    let name = deb
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let scratch = tempfile::tempdir().expect("tempdir");
    let repo = scratch.path().join("repo");
    let repo_s = repo.display().to_string();
    let run = root.hook(&["publish", "--repo", &repo_s, &deb.display().to_string()]);
    run.assert_ok();
    run.assert_stdout_contains("Indexed 1 .deb package(s)");
    let mut want = vec![name.clone(), "Packages".into(), "Packages.gz".into()];
    if Path::new("/usr/bin/apt-ftparchive").exists() {
        want.push("Release".into());
    }
    want.sort();
    let listed: Vec<String> = std::fs::read_dir(&repo)
        .expect("repo")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(listed, want);
    let packages = std::fs::read_to_string(repo.join("Packages")).expect("Packages");
    assert!(
        packages.contains(&format!("Package: hello-modules-{K1}\n")),
        "{packages}"
    );
    assert!(
        packages.contains(&format!("Filename: ./{name}\n")),
        "{packages}"
    );
    let gz = host(
        "gzip",
        &["-dc", &repo.join("Packages.gz").display().to_string()],
    );
    assert_eq!(gz, packages);
    // Publishing again without files re-indexes the same way.
    root.hook(&["publish", "--repo", &repo_s]).assert_ok();
    assert_eq!(
        std::fs::read_to_string(repo.join("Packages"))
            .ok()
            .as_deref(),
        Some(packages.as_str())
    );
    // A file that is not a package: refused, nothing copied.
    let bogus = scratch.path().join("notes.txt");
    std::fs::write(&bogus, "x").expect("write");
    let before = snapshot_dir(&repo);
    let run = root.hook(&["publish", "--repo", &repo_s, &bogus.display().to_string()]);
    run.assert_code(2);
    run.assert_stderr_contains("is not a .deb or .rpm package file");
    assert_eq!(snapshot_dir(&repo), before);
}

#[test]
fn publish_repo_setting_packages_what_a_hook_builds() {
    if !tools("publish_repo", &["dpkg-deb", "dpkg-scanpackages"]) {
        return;
    }
    let root = TestRoot::new();
    root.add_fake_kernel(K1, true, true);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    root.set_framework_conf("publish_repo=/srv/dkms-repo\n");
    let run = root.hook(&["kernel-postinst", K1, &format!("/boot/vmlinuz-{K1}")]);
    run.assert_ok();
    let name = format!("hello-modules-{K1}_1.0_{}.deb", deb_arch());
    let listed = root.list("/srv/dkms-repo");
    assert!(listed.contains(&name), "{listed:?}\n{run}");
    assert!(listed.contains(&"Packages".to_string()), "{listed:?}");
    assert!(root
        .read("/srv/dkms-repo/Packages")
        .contains(&format!("Package: hello-modules-{K1}")));

    // A repository that cannot be written: a warning, never a failure.
    let root = TestRoot::new();
    root.add_fake_kernel(K1, true, true);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    root.write("/srv/not-a-dir", "a file where the repository should be\n");
    root.set_framework_conf("publish_repo=/srv/not-a-dir\n");
    let run = root.hook(&["kernel-postinst", K1, &format!("/boot/vmlinuz-{K1}")]);
    run.assert_ok();
    run.assert_stderr_contains("the package operation goes on");
    assert!(root
        .installed_modules(K1)
        .contains(&"updates/dkms/hello.ko".to_string()));
}

// ---------------------------------------------------------------------
// the fleet side: a module provided by a package
// ---------------------------------------------------------------------

/// The `.deb` of hello/1.0 for K1, built on a build root.
fn hello_deb(dir: &Path) -> PathBuf {
    let build = installed_root();
    package(&build, dir, &[]).assert_ok();
    only_file(dir)
}

/// A fleet root: K1's image without headers, the package unpacked into it.
fn fleet_with(deb: &Path) -> TestRoot {
    let fleet = TestRoot::new();
    fleet.add_fake_kernel(K1, false, true);
    host(
        "dpkg-deb",
        &[
            "-x",
            &deb.display().to_string(),
            &fleet.root().display().to_string(),
        ],
    );
    fleet
}

#[test]
fn status_shows_a_prebuilt_module_as_installed() {
    if !tools("prebuilt_status", &["dpkg-deb"]) {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let fleet = fleet_with(&hello_deb(out.path()));
    assert_eq!(
        status(&fleet),
        vec![format!("hello/1.0, {K1}, {ARCH}: installed")]
    );
    // Filters apply; the machine-readable form says where it comes from.
    let other = fleet.dkms(&["status", "-k", K2]);
    other.assert_ok();
    assert_eq!(other.stdout, "");
    let json = fleet.dkms(&["status", "--output", "json"]);
    json.assert_ok();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(doc["modules"][0]["prebuilt"], true, "{}", json.stdout);
    assert_eq!(doc["modules"][0]["state"], "installed");
    // Its file gone: upstream's suffix says so.
    std::fs::remove_file(fleet.path(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")))
        .expect("rm");
    assert_eq!(
        status(&fleet),
        vec![format!(
            "hello/1.0, {K1}, {ARCH}: installed (Built modules are missing in the kernel modules folder)"
        )]
    );
}

#[test]
fn hooks_do_not_defer_a_module_a_package_provides() {
    if !tools("prebuilt_hooks", &["dpkg-deb"]) {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let deb = hello_deb(out.path());
    // Control: the source registered, no headers, no package: deferred.
    let plain = TestRoot::new();
    plain.add_fake_kernel(K1, false, true);
    plain.add_source("hello-1.0");
    plain.dkms(&["add", "hello/1.0"]).assert_ok();
    let run = plain.hook(&["kernel-postinst", K1, &format!("/boot/vmlinuz-{K1}")]);
    run.assert_ok();
    run.assert_stdout_contains("deferred");
    assert!(plain.hook(&["pending"]).stdout.contains(K1));

    // The same with the package installed: nothing waits, nothing fails.
    let fleet = fleet_with(&deb);
    fleet.add_source("hello-1.0");
    fleet.dkms(&["add", "hello/1.0"]).assert_ok();
    let before = fleet.snapshot();
    for event in [
        vec!["kernel-postinst", K1, "/boot/vmlinuz"],
        vec!["apt-post-invoke"],
        vec!["header-postinst", K1],
    ] {
        let run = fleet.hook(&event);
        run.assert_ok();
        assert!(!run.stdout.contains("deferred"), "{run}");
        assert!(!run.stderr.contains("Error"), "{run}");
    }
    let pending = fleet.hook(&["pending"]);
    pending.assert_ok();
    assert!(!pending.stdout.contains(K1), "{pending}");
    fleet.assert_unchanged(&before, &[LOCK, "var/lib/dkms/.dkms-hook"]);
    assert_eq!(
        status(&fleet),
        vec![
            "hello/1.0: added".to_string(),
            format!("hello/1.0, {K1}, {ARCH}: installed")
        ]
    );
}

#[test]
fn relative_out_and_repo_are_taken_from_the_current_directory() {
    if !tools("relative_paths", &["dpkg-deb", "dpkg-scanpackages"]) {
        return;
    }
    let root = installed_root();
    // The harness runs the binaries with the root as current directory.
    root.hook(&["package", "hello/1.0", "-k", K1, "--out", "srv/out"])
        .assert_ok();
    let name = format!("hello-modules-{K1}_1.0_{}.deb", deb_arch());
    assert_eq!(root.list("/srv/out"), vec![name.clone()]);
    root.hook(&["publish", "--repo", "srv/repo", &format!("srv/out/{name}")])
        .assert_ok();
    assert!(root.list("/srv/repo").contains(&"Packages".to_string()));
    assert!(root.list("/srv/repo").contains(&name));
}

#[test]
fn publish_indexes_rpms_with_createrepo_c() {
    if !tools("rpm_publish", &["rpmbuild", "createrepo_c"]) {
        return;
    }
    let root = installed_root();
    let out = tempfile::tempdir().expect("tempdir");
    package(&root, out.path(), &["--format", "rpm"]).assert_ok();
    let rpm = only_file(out.path());
    let scratch = tempfile::tempdir().expect("tempdir");
    let repo = scratch.path().join("repo");
    let run = root.hook(&[
        "publish",
        "--repo",
        &repo.display().to_string(),
        &rpm.display().to_string(),
    ]);
    run.assert_ok();
    run.assert_stdout_contains("Indexed 1 .rpm package(s)");
    let repomd = std::fs::read_to_string(repo.join("repodata/repomd.xml")).expect("repomd.xml");
    assert!(repomd.contains("primary"), "{repomd}");
    // Without createrepo_c the packages stay, with a note, and no failure.
    let bare = scratch.path().join("bare");
    let run = root.hook_env(
        &[
            "publish",
            "--repo",
            &bare.display().to_string(),
            &rpm.display().to_string(),
        ],
        &[("PATH", "/usr/bin/nonexistent:/bin/nonexistent")],
    );
    run.assert_ok();
    run.assert_stdout_contains("createrepo_c not found");
    assert!(!bare.join("repodata").exists());
}
