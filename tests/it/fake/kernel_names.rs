//! Kernel release names of every shape Debian and Ubuntu use, on the
//! fake-kernel tier: Debian 13's `6.12.118+deb13-amd64` (a `+` in the
//! release) with its `-rt-` and `-cloud-` flavours, Debian 12's
//! `6.1.0-28-amd64`, Ubuntu's `6.8.0-51-generic` and `-lowlatency`.
//!
//! Every place that reads, sorts or compares a kernel release is driven
//! with them: the pending records and failure records, `kernel-<k>-<a>`
//! links, `dkms status` order (checked against the host's `sort -V`),
//! prune and the removal hooks (a flavour must never be taken for its
//! sibling: `6.12.118+deb13-amd64` is also the start of
//! `6.12.118+deb13-amd64-...`-style names), the boot unit's catch-up, and
//! the names of `dkms-hook package`'s `.deb` and `.rpm`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::*;

/// Debian 13 (trixie), the generic amd64 flavour.
const DEB13: &str = "6.12.118+deb13-amd64";
/// Debian 13's realtime flavour.
const DEB13_RT: &str = "6.12.118+deb13-rt-amd64";
/// Debian 13's cloud flavour.
const DEB13_CLOUD: &str = "6.12.118+deb13-cloud-amd64";
/// An older Debian 13 ABI: 9 < 118 numerically, not as text.
const DEB13_OLD: &str = "6.12.9+deb13-amd64";
/// Debian 12 (bookworm).
const DEB12: &str = "6.1.0-28-amd64";
/// Ubuntu's generic flavour.
const UBUNTU: &str = "6.8.0-51-generic";
/// Ubuntu's lowlatency flavour of the same ABI.
const UBUNTU_LOW: &str = "6.8.0-51-lowlatency";
/// The next Ubuntu ABI.
const UBUNTU_NEXT: &str = "6.8.0-52-generic";

/// Every shape, in no particular order.
const SHAPES: [&str; 8] = [
    UBUNTU_NEXT,
    DEB13_RT,
    DEB12,
    DEB13,
    UBUNTU_LOW,
    DEB13_OLD,
    DEB13_CLOUD,
    UBUNTU,
];

/// `/boot/vmlinuz-K`, the IMAGE argument run-parts passes.
fn image(k: &str) -> String {
    format!("/boot/vmlinuz-{k}")
}

/// A root with `kernels` (image, and headers when `headers`) and hello/1.0
/// registered.
fn setup(kernels: &[&str], headers: bool) -> TestRoot {
    let root = TestRoot::new();
    for k in kernels {
        root.add_fake_kernel(k, headers, true);
    }
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    root
}

/// Whether `line` names kernel `k` as a word of its own (not as a part of
/// a longer release such as a flavour of the same ABI).
fn names_kernel(line: &str, k: &str) -> bool {
    line.split(|c: char| c.is_whitespace() || matches!(c, ',' | ':' | '(' | ')' | '\'' | '"'))
        .any(|w| w == k)
}

/// `dkms status` lines (exit 0 required).
fn status(root: &TestRoot) -> Vec<String> {
    let out = root.dkms(&["status"]);
    out.assert_ok();
    out.stdout_lines().iter().map(|s| s.to_string()).collect()
}

/// Panics unless hello/1.0 is built and installed for k: module file,
/// `kernel-K-A` link to `1.0/K/A`, status `installed`.
#[track_caller]
fn assert_installed(root: &TestRoot, k: &str) {
    assert!(
        root.installed_modules(k)
            .contains(&"updates/dkms/hello.ko".to_string()),
        "hello not installed for {k}: {:?}",
        root.installed_modules(k)
    );
    assert_eq!(
        root.read_link(&format!("/var/lib/dkms/hello/kernel-{k}-{ARCH}")),
        PathBuf::from(format!("1.0/{k}/{ARCH}"))
    );
    let want = format!("hello/1.0, {k}, {ARCH}: installed");
    assert!(
        status(root).contains(&want),
        "no `{want}` in {:?}",
        status(root)
    );
}

/// Panics if anything of hello is built, linked or installed for k.
#[track_caller]
fn assert_absent(root: &TestRoot, k: &str) {
    assert!(!root.exists(&format!("/var/lib/dkms/hello/1.0/{k}")));
    assert!(!root.exists(&format!("/var/lib/dkms/hello/kernel-{k}-{ARCH}")));
    assert!(!root.exists(&format!("/lib/modules/{k}/updates/dkms/hello.ko")));
    let st = status(root);
    assert!(
        !st.iter().any(|l| names_kernel(l, k)),
        "status still names {k}: {st:?}"
    );
}

/// `dkms-hook pending` stdout lines that name `k` (exit 0 required).
fn pending_for(root: &TestRoot, k: &str) -> Vec<String> {
    let out = root.hook(&["pending"]);
    out.assert_ok();
    out.stdout_lines()
        .into_iter()
        .filter(|l| names_kernel(l, k))
        .map(str::to_string)
        .collect()
}

/// `kernels` in the order of the host's `sort -V` (the reference upstream
/// uses for kernels).
fn host_sort_v(kernels: &[&str]) -> Vec<String> {
    let mut child = Command::new("sort")
        .arg("-V")
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sort -V");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{}\n", kernels.join("\n")).as_bytes())
            .expect("write to sort");
    }
    let out = child.wait_with_output().expect("sort -V");
    assert!(out.status.success(), "sort -V failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The file names in `dir` (sorted; empty when it is missing).
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_shape_is_built_linked_and_listed_in_sort_v_order() {
    let root = setup(&SHAPES, true);
    for k in SHAPES {
        root.hook(&["kernel-postinst", k, &image(k)]).assert_ok();
    }
    for k in SHAPES {
        assert_installed(&root, k);
        let vermagic = vermagic(&root.path(&format!("/lib/modules/{k}/updates/dkms/hello.ko")));
        assert!(
            vermagic.starts_with(&format!("{k} ")),
            "{k}: vermagic {vermagic:?}"
        );
    }
    // One link per kernel, named after it exactly.
    let links: Vec<String> = names_in(&root.path("/var/lib/dkms/hello"))
        .into_iter()
        .filter(|n| n.starts_with("kernel-"))
        .collect();
    let mut want: Vec<String> = SHAPES
        .iter()
        .map(|k| format!("kernel-{k}-{ARCH}"))
        .collect();
    want.sort();
    assert_eq!(links, want);
    // `dkms status` lists the kernels in `sort -V` order, as upstream does.
    let listed: Vec<String> = status(&root)
        .iter()
        .filter_map(|l| l.split(", ").nth(1).map(str::to_string))
        .collect();
    assert_eq!(listed, host_sort_v(&SHAPES));
    assert!(
        listed.iter().position(|k| k == DEB13_OLD) < listed.iter().position(|k| k == DEB13),
        "6.12.9 sorts after 6.12.118: {listed:?}"
    );
}

#[test]
fn pending_records_name_each_shape_and_the_boot_unit_finishes_them() {
    let root = setup(&SHAPES, false);
    for k in SHAPES {
        root.hook(&["kernel-postinst", k, &image(k)]).assert_ok();
    }
    for k in SHAPES {
        let lines = pending_for(&root, k);
        assert_eq!(lines.len(), 1, "pending for {k}: {lines:?}");
        assert!(
            lines[0].contains(&format!("linux-headers-{k}")),
            "pending line for {k} names no headers package: {lines:?}"
        );
        assert!(root.installed_modules(k).is_empty());
    }
    // One record per kernel, and each names its kernel exactly.
    let records = names_in(&root.path("/var/lib/dkms/.dkms-hook/pending"));
    assert_eq!(records.len(), SHAPES.len(), "{records:?}");
    for k in SHAPES {
        let file = records
            .iter()
            .find(|n| n.split('@').next() == Some(k))
            .unwrap_or_else(|| panic!("no pending record for {k}: {records:?}"));
        let text = root.read(&format!("/var/lib/dkms/.dkms-hook/pending/{file}"));
        assert!(text.contains(&format!("\"kernel\": \"{k}\"")), "{text}");
    }

    // The headers of one flavour arrive: only that flavour is built.
    root.add_headers(DEB13_RT);
    root.hook(&["header-postinst", DEB13_RT]).assert_ok();
    assert_installed(&root, DEB13_RT);
    assert!(pending_for(&root, DEB13_RT).is_empty());
    for k in SHAPES.iter().filter(|k| **k != DEB13_RT) {
        assert!(root.installed_modules(k).is_empty(), "built for {k}");
        assert_eq!(pending_for(&root, k).len(), 1, "{k} no longer pending");
    }

    // The rest arrive without any hook; the boot unit catches up.
    for k in SHAPES.iter().filter(|k| **k != DEB13_RT) {
        root.add_headers(k);
    }
    let boot = root.hook(&["boot"]);
    boot.assert_ok();
    for k in SHAPES {
        assert_installed(&root, k);
    }
    let out = root.hook(&["pending"]);
    out.assert_ok();
    assert!(out.stdout.contains("Nothing is pending."), "{out}");
    // The boot unit built them oldest first, in `sort -V` order.
    let order: Vec<String> = boot
        .stdout_lines()
        .iter()
        .filter_map(|l| {
            l.strip_prefix("Autoinstall of module hello/1.0 for kernel ")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        })
        .collect();
    let others: Vec<&str> = SHAPES.iter().copied().filter(|k| *k != DEB13_RT).collect();
    assert_eq!(order, host_sort_v(&others), "{boot}");
}

#[test]
fn prune_and_prerm_take_one_flavour_and_spare_its_siblings() {
    let root = setup(&SHAPES, true);
    for k in SHAPES {
        root.hook(&["kernel-postinst", k, &image(k)]).assert_ok();
    }
    let kept = |gone: &[&str]| -> Vec<&str> {
        SHAPES
            .iter()
            .copied()
            .filter(|k| !gone.contains(k))
            .collect()
    };

    // Debian 13's generic flavour goes without its prerm: prune takes it,
    // and only it (its rt and cloud siblings share its ABI).
    root.remove_kernel_image(DEB13);
    root.remove_headers(DEB13);
    let dry = root.hook(&["prune", "--dry-run"]);
    dry.assert_ok();
    assert!(
        dry.stdout_lines().iter().any(|l| names_kernel(l, DEB13)),
        "{dry}"
    );
    for k in kept(&[DEB13]) {
        assert!(
            !dry.stdout_lines().iter().any(|l| names_kernel(l, k)),
            "dry run names {k}\n{dry}"
        );
    }
    root.hook(&["prune"]).assert_ok();
    assert_absent(&root, DEB13);
    for k in kept(&[DEB13]) {
        assert_installed(&root, k);
    }

    // Ubuntu's generic flavour goes through its prerm: lowlatency of the
    // same ABI and the next ABI stay.
    root.hook(&["kernel-prerm", UBUNTU, &image(UBUNTU)])
        .assert_ok();
    assert_absent(&root, UBUNTU);
    for k in kept(&[DEB13, UBUNTU]) {
        assert_installed(&root, k);
    }
    let out = root.hook(&["prune"]);
    out.assert_ok();
    assert!(
        out.stdout.contains("Nothing to prune."),
        "a second prune pruned\n{out}"
    );
}

#[test]
fn failure_records_of_a_plus_release_are_listed_and_pruned_with_it() {
    let root = setup(&[DEB13, DEB13_CLOUD], true);
    root.add_source("broken-1.0");
    root.dkms(&["add", "broken/1.0"]).assert_ok();
    for k in [DEB13, DEB13_CLOUD] {
        let out = root.hook(&["kernel-postinst", k, &image(k)]);
        // A module that is not critical never fails the package operation.
        out.assert_ok();
        out.assert_stderr_contains("this package operation goes on (exit 0)");
        out.assert_stdout_contains(&format!(
            "Autoinstall on {k} failed for module(s) broken(10)."
        ));
        assert_installed(&root, k);
    }
    for k in [DEB13, DEB13_CLOUD] {
        let lines = pending_for(&root, k);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("broken") && l.contains("failed")),
            "no failure listed for {k}: {lines:?}"
        );
    }
    let failed = names_in(&root.path("/var/lib/dkms/.dkms-hook/failed"));
    for k in [DEB13, DEB13_CLOUD] {
        assert!(
            failed
                .iter()
                .any(|n| n.ends_with(".json") && n.split('@').nth(2) == Some(k)),
            "no failure record for {k}: {failed:?}"
        );
    }

    root.remove_kernel_image(DEB13);
    root.remove_headers(DEB13);
    root.hook(&["prune"]).assert_ok();
    assert_absent(&root, DEB13);
    assert!(pending_for(&root, DEB13).is_empty());
    assert!(
        !pending_for(&root, DEB13_CLOUD).is_empty(),
        "the cloud flavour's failure went with its sibling"
    );
    assert_installed(&root, DEB13_CLOUD);
}

/// Debian's name of this machine's architecture.
fn deb_arch() -> &'static str {
    match ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Debian policy's rule for a package name.
fn valid_debian_name(n: &str) -> bool {
    n.len() >= 2
        && n.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

/// `dpkg-deb -f DEB FIELD`.
fn deb_field(deb: &Path, field: &str) -> String {
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-f").arg(deb).arg(field);
    let out = run_command(cmd, RUN_TIMEOUT);
    out.assert_ok();
    out.stdout.trim().to_string()
}

#[test]
fn package_names_are_valid_for_every_shape() {
    if !require_tools(
        "package_names_are_valid_for_every_shape",
        &["dpkg-deb"],
        ".ci/run installs dpkg-dev",
    ) {
        return;
    }
    let root = setup(&[DEB13, DEB13_RT, UBUNTU], true);
    for k in [DEB13, DEB13_RT, UBUNTU] {
        root.dkms(&["install", "hello/1.0", "-k", k]).assert_ok();
        let out = tempfile::tempdir().expect("tempdir");
        let o = out.path().display().to_string();
        root.hook(&["package", "hello/1.0", "-k", k, "--out", &o])
            .assert_ok();
        let name = format!("hello-modules-{k}");
        let deb = out.path().join(format!("{name}_1.0_{}.deb", deb_arch()));
        assert!(
            deb.is_file(),
            "{} missing: {:?}",
            deb.display(),
            names_in(out.path())
        );
        assert!(valid_debian_name(&name), "{name}");
        assert_eq!(deb_field(&deb, "Package"), name);
        assert_eq!(deb_field(&deb, "Depends"), format!("linux-image-{k}"));
        let mut cmd = Command::new("dpkg-deb");
        cmd.arg("-c").arg(&deb);
        let listing = run_command(cmd, RUN_TIMEOUT);
        listing.assert_ok();
        listing.assert_stdout_contains(&format!("./lib/modules/{k}/updates/dkms/hello.ko"));
    }
}

#[test]
fn rpm_of_a_debian_or_ubuntu_release_requires_its_module_directory() {
    if !require_tools(
        "rpm_of_a_debian_or_ubuntu_release_requires_its_module_directory",
        &["rpmbuild", "rpm"],
        ".ci/run installs rpm",
    ) {
        return;
    }
    let root = setup(&[DEB13, UBUNTU], true);
    for k in [DEB13, UBUNTU] {
        root.dkms(&["install", "hello/1.0", "-k", k]).assert_ok();
        let out = tempfile::tempdir().expect("tempdir");
        let o = out.path().display().to_string();
        root.hook(&[
            "package",
            "hello/1.0",
            "-k",
            k,
            "--out",
            &o,
            "--format",
            "rpm",
        ])
        .assert_ok();
        let rpm = out
            .path()
            .join(format!("hello-modules-{k}-1.0-1.{ARCH}.rpm"));
        assert!(rpm.is_file(), "{:?}", names_in(out.path()));
        let mut cmd = Command::new("rpm");
        cmd.arg("-qp").arg("--requires").arg(&rpm);
        let req = run_command(cmd, RUN_TIMEOUT);
        req.assert_ok();
        // Neither is an RPM distribution's kernel: no kernel-core-uname-r.
        assert!(
            req.stdout
                .contains(&format!("/lib/modules/{k}/modules.builtin")),
            "{k}: {}",
            req.stdout
        );
        assert!(
            !req.stdout.contains("kernel-core-uname-r"),
            "{}",
            req.stdout
        );
    }
}
