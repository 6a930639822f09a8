//! The hook suite on the fake-kernel tier: `dkms-hook --root <tmp> <event>`
//! driven exactly as dpkg (`/etc/kernel/*.d` via run-parts, file triggers),
//! apt (`DPkg::Post-Invoke`), systemd's kernel-install and the boot unit
//! call it, with the fake kernel tree standing in for real headers.
//!
//! Each test asserts what a user would see: exit codes, the lines printed,
//! the modules under `lib/modules/K/updates/dkms`, `dkms status`,
//! `dkms-hook pending`, and that the dkms tree is otherwise untouched.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Barrier;

use crate::harness::*;
use rstest::rstest;
use sha2::{Digest, Sha256};

/// Copy each fixture `name-1.0` into `usr/src` and `dkms add` it.
fn register(root: &TestRoot, modules: &[&str]) {
    for m in modules {
        root.add_source(&format!("{m}-1.0"));
        root.dkms(&["add", &format!("{m}/1.0")]).assert_ok();
    }
}

/// A root with `kernels` installed (image + headers) and `modules` registered.
fn setup(kernels: &[&str], modules: &[&str]) -> TestRoot {
    let root = TestRoot::new();
    for k in kernels {
        root.add_fake_kernel(k, true, true);
    }
    register(&root, modules);
    root
}

/// `/boot/vmlinuz-K`, the IMAGE argument run-parts passes.
fn image(k: &str) -> String {
    format!("/boot/vmlinuz-{k}")
}

/// Run the `/etc/kernel/postinst.d` hook for `k` as run-parts does.
fn postinst(root: &TestRoot, k: &str) -> Output {
    root.hook(&["kernel-postinst", k, &image(k)])
}

/// `dkms status` lines (exit 0 required).
fn status(root: &TestRoot) -> Vec<String> {
    let out = root.dkms(&["status"]);
    out.assert_ok();
    out.stdout_lines().iter().map(|s| s.to_string()).collect()
}

/// The `dkms status` line for m/1.0 on k, if any.
fn status_line(root: &TestRoot, m: &str, k: &str) -> Option<String> {
    let prefix = format!("{m}/1.0, {k}, {ARCH}: ");
    status(root).into_iter().find(|l| l.starts_with(&prefix))
}

/// The installed module file of `m` for `k` (Debian: updates/dkms).
fn installed_ko(m: &str, k: &str) -> String {
    format!("/lib/modules/{k}/updates/dkms/{m}.ko")
}

/// Panics unless m/1.0 is built and installed for k: module file in
/// `updates/dkms`, the `kernel-K-A` link, and status `installed`.
#[track_caller]
fn assert_installed(root: &TestRoot, m: &str, k: &str) {
    assert!(
        root.installed_modules(k)
            .contains(&format!("updates/dkms/{m}.ko")),
        "{m} not installed for {k}: {:?}",
        root.installed_modules(k)
    );
    assert_eq!(
        root.read_link(&format!("/var/lib/dkms/{m}/kernel-{k}-{ARCH}")),
        PathBuf::from(format!("1.0/{k}/{ARCH}"))
    );
    assert_eq!(
        status_line(root, m, k).as_deref(),
        Some(format!("{m}/1.0, {k}, {ARCH}: installed").as_str()),
        "status: {:?}",
        status(root)
    );
}

/// Panics if anything of m is built or installed for k.
#[track_caller]
fn assert_absent(root: &TestRoot, m: &str, k: &str) {
    assert!(
        !root.exists(&format!("/var/lib/dkms/{m}/1.0/{k}")),
        "{m}/1.0/{k} still built"
    );
    assert!(
        !root.exists(&format!("/var/lib/dkms/{m}/kernel-{k}-{ARCH}")),
        "kernel-{k}-{ARCH} link of {m} still there"
    );
    assert!(
        !root.exists(&installed_ko(m, k)),
        "{} still there",
        installed_ko(m, k)
    );
    assert_eq!(status_line(root, m, k), None, "status: {:?}", status(root));
}

/// `dkms-hook pending` output (exit 0 required).
fn pending(root: &TestRoot) -> Output {
    let out = root.hook(&["pending"]);
    out.assert_ok();
    out
}

/// Panics unless `dkms-hook pending` mentions nothing about `k`.
#[track_caller]
fn assert_nothing_pending_for(root: &TestRoot, k: &str) {
    let out = pending(root);
    assert!(!out.stdout.contains(k), "still pending for {k}\n{out}");
}

/// Index of the first stdout line containing `needle`.
fn line_index(out: &Output, needle: &str) -> usize {
    out.stdout_lines()
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no stdout line contains {needle:?}\n{out}"))
}

/// Lines that report build or install work.
fn work_lines(out: &Output) -> Vec<&str> {
    out.stdout_lines()
        .into_iter()
        .filter(|l| {
            l.contains("Autoinstall of module")
                || l.contains("Building module")
                || l.starts_with("Installing ")
                || l.contains("built and installed")
        })
        .collect()
}

// ---------------------------------------------------------------------
// 1. headers missing at kernel-postinst, finished by a later trigger
// ---------------------------------------------------------------------

/// The later trigger that finishes the work once headers are present.
#[derive(Debug, Clone, Copy)]
enum Later {
    /// `/etc/kernel/header_postinst.d`: `header-postinst KVER`.
    HeaderPostinst,
    /// dpkg file trigger on /usr/src and /lib/modules.
    DpkgTrigger,
    /// The systemd boot unit.
    Boot,
    /// apt's DPkg::Post-Invoke.
    AptPostInvoke,
}

fn fire(root: &TestRoot, t: Later, k: &str) -> Output {
    match t {
        Later::HeaderPostinst => root.hook(&["header-postinst", k]),
        Later::DpkgTrigger => root.hook(&["dpkg-trigger", "/usr/src", "/lib/modules"]),
        Later::Boot => root.hook(&["boot"]),
        Later::AptPostInvoke => root.hook(&["apt-post-invoke"]),
    }
}

#[rstest]
#[case::header_postinst(Later::HeaderPostinst)]
#[case::dpkg_trigger(Later::DpkgTrigger)]
#[case::boot(Later::Boot)]
#[case::apt_post_invoke(Later::AptPostInvoke)]
fn postinst_without_headers_defers_until_a_later_trigger(#[case] trigger: Later) {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    register(&root, &["hello"]);

    let out = postinst(&root, K1);
    out.assert_ok();
    let pkg = format!("linux-headers-{K1}");
    // Exactly one progress line names the kernel and its headers package;
    // the closing summary may list the deferral once more.
    let (progress, summary) = out
        .stdout
        .split_once("dkms-hook summary:")
        .unwrap_or((out.stdout.as_str(), ""));
    let naming = |text: &str| {
        text.lines()
            .filter(|l| l.contains(K1) && l.contains(&pkg))
            .count()
    };
    assert_eq!(
        naming(progress),
        1,
        "not one line names {K1} and {pkg}\n{out}"
    );
    if !summary.is_empty() {
        assert!(
            summary
                .lines()
                .any(|l| l.contains("deferred") && l.contains(K1)),
            "summary does not list the deferral\n{out}"
        );
    }
    assert!(
        !out.stderr.contains("Error!"),
        "an error was printed\n{out}"
    );
    assert!(work_lines(&out).is_empty(), "work without headers?\n{out}");
    assert!(root.installed_modules(K1).is_empty());

    let p = pending(&root);
    assert!(
        p.stdout_lines()
            .iter()
            .any(|l| l.contains(K1) && l.contains(&pkg)),
        "pending does not list {K1}\n{p}"
    );

    // The headers package arrives; its trigger finishes the work.
    root.add_headers(K1);
    let out = fire(&root, trigger, K1);
    out.assert_ok();
    assert!(
        out.stdout.contains(&format!(
            "Autoinstall of module hello/1.0 for kernel {K1} ({ARCH})"
        )),
        "{out}"
    );
    assert_installed(&root, "hello", K1);
    assert_nothing_pending_for(&root, K1);
    assert!(
        pending(&root).stdout.contains("Nothing is pending."),
        "{}",
        pending(&root)
    );

    // apt's post-invoke afterwards finds nothing to do.
    let before = root.snapshot();
    let out = root.hook(&["apt-post-invoke"]);
    out.assert_ok();
    assert!(
        work_lines(&out).is_empty(),
        "apt-post-invoke did work\n{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);
}

#[test]
fn header_postinst_for_another_kernel_still_finishes_pending_work() {
    // Headers of K1 arrive but the headers package that triggers is K2's:
    // every kernel whose headers are present is caught up.
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    root.add_fake_kernel(K2, false, true);
    register(&root, &["hello"]);
    postinst(&root, K1).assert_ok();
    postinst(&root, K2).assert_ok();
    root.add_headers(K1);
    root.add_headers(K2);
    root.hook(&["header-postinst", K2]).assert_ok();
    assert_installed(&root, "hello", K1);
    assert_installed(&root, "hello", K2);
    assert!(pending(&root).stdout.contains("Nothing is pending."));
}

#[test]
fn postinst_without_headers_and_nothing_to_build_stays_quiet() {
    // No AUTOINSTALL module registered: nothing waits for headers.
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    let out = postinst(&root, K1);
    out.assert_ok();
    assert!(pending(&root).stdout.contains("Nothing is pending."));
}

// ---------------------------------------------------------------------
// 2. two kernels, prerm of one
// ---------------------------------------------------------------------

#[test]
fn kernel_prerm_removes_one_kernel_and_keeps_the_other() {
    let root = setup(&[K1, K2], &["hello"]);
    postinst(&root, K1).assert_ok();
    postinst(&root, K2).assert_ok();
    assert_installed(&root, "hello", K1);
    assert_installed(&root, "hello", K2);
    let k2_ko = fs::read(root.path(&installed_ko("hello", K2))).expect("K2 module");
    let k2_status = status_line(&root, "hello", K2);
    let k2_tree = root.snapshot_of(&format!("/var/lib/dkms/hello/1.0/{K2}"));

    let out = root.hook(&["kernel-prerm", K1, &image(K1)]);
    out.assert_ok();

    assert_absent(&root, "hello", K1);
    assert_eq!(
        fs::read(root.path(&installed_ko("hello", K2))).expect("K2 module"),
        k2_ko
    );
    assert_eq!(status_line(&root, "hello", K2), k2_status);
    assert_eq!(
        root.snapshot_of(&format!("/var/lib/dkms/hello/1.0/{K2}")),
        k2_tree
    );
    assert_installed(&root, "hello", K2);
    // The registration itself stays.
    assert!(root.exists("/var/lib/dkms/hello/1.0/source"));
}

#[test]
fn kernel_preinst_removes_autoinstall_builds_and_exits_0() {
    let root = setup(&[K1, K2], &["hello"]);
    postinst(&root, K1).assert_ok();
    postinst(&root, K2).assert_ok();
    root.hook(&["kernel-preinst", K1, &image(K1)]).assert_ok();
    assert_absent(&root, "hello", K1);
    assert_installed(&root, "hello", K2);
    // The upgrade's postinst puts it back.
    postinst(&root, K1).assert_ok();
    assert_installed(&root, "hello", K1);
}

// ---------------------------------------------------------------------
// 3. prune
// ---------------------------------------------------------------------

/// Sources of a module whose BUILD_DEPENDS names a module nobody registered.
fn add_needy(root: &TestRoot) {
    root.add_source_text(
        "needy",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=\"needy\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"needy\"\n\
                 DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nBUILD_DEPENDS=\"ghost\"\nAUTOINSTALL=\"yes\"\n",
            ),
            ("Makefile", "obj-m += needy.o\n"),
            (
                "needy.c",
                "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\nint needy_init(void) { return 0; }\n",
            ),
        ],
    );
    root.dkms(&["add", "needy/1.0"]).assert_ok();
}

#[rstest]
#[case::image_removed(false)]
#[case::whole_directory_removed(true)]
fn prune_removes_what_belongs_to_a_vanished_kernel_only(#[case] whole_dir: bool) {
    let root = setup(&[K1, K2], &["hello"]);
    add_needy(&root);
    postinst(&root, K1).assert_ok();
    postinst(&root, K2).assert_ok();
    assert_installed(&root, "hello", K1);
    assert_installed(&root, "hello", K2);
    let p = pending(&root);
    for k in [K1, K2] {
        assert!(
            p.stdout_lines()
                .iter()
                .any(|l| l.contains(k) && l.contains("needy")),
            "needy not deferred on {k}\n{p}"
        );
    }

    // K1's image and headers packages go away without the prerm running
    // (and, in the second case, someone deletes all of lib/modules/K1).
    root.remove_kernel_image(K1);
    root.remove_headers(K1);
    if whole_dir {
        fs::remove_dir_all(root.path(&format!("/lib/modules/{K1}"))).expect("rm -r");
    }
    let k2_ko = fs::read(root.path(&installed_ko("hello", K2))).expect("K2 module");
    let k2_status = status_line(&root, "hello", K2);

    let before = root.snapshot();
    let dry = root.hook(&["prune", "--dry-run"]);
    dry.assert_ok();
    assert!(
        dry.stdout_lines()
            .iter()
            .any(|l| l.contains(K1) && l.contains("hello")),
        "dry run does not say hello goes for {K1}\n{dry}"
    );
    assert!(!dry.stdout.contains(K2), "dry run names {K2}\n{dry}");
    root.assert_unchanged(&before, &[LOCK]);

    let out = root.hook(&["prune"]);
    out.assert_ok();
    assert!(out.stdout.contains(K1), "{out}");
    assert!(!out.stdout.contains(K2), "prune names {K2}\n{out}");
    assert!(!root.exists(&format!("/var/lib/dkms/hello/1.0/{K1}")));
    assert!(!root.exists(&format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}")));
    assert!(!root.exists(&installed_ko("hello", K1)));
    assert_eq!(status_line(&root, "hello", K1), None);
    assert_nothing_pending_for(&root, K1);

    // K2 untouched, its pending entry included.
    assert_installed(&root, "hello", K2);
    assert_eq!(
        fs::read(root.path(&installed_ko("hello", K2))).expect("K2 module"),
        k2_ko
    );
    assert_eq!(status_line(&root, "hello", K2), k2_status);
    let p = pending(&root);
    assert!(
        p.stdout_lines()
            .iter()
            .any(|l| l.contains(K2) && l.contains("needy")),
        "prune dropped {K2}'s pending entry\n{p}"
    );

    // Nothing left to prune: a second run changes nothing.
    let before = root.snapshot();
    root.hook(&["prune"]).assert_ok();
    root.assert_unchanged(&before, &[LOCK]);
}

#[test]
fn prune_drops_pending_work_of_a_kernel_that_never_got_headers() {
    let root = setup(&[K2], &["hello"]);
    root.add_fake_kernel(K3, false, true);
    postinst(&root, K2).assert_ok();
    postinst(&root, K3).assert_ok();
    assert!(pending(&root).stdout.contains(K3));
    root.remove_kernel_image(K3);
    root.hook(&["prune"]).assert_ok();
    assert_nothing_pending_for(&root, K3);
    assert_installed(&root, "hello", K2);
}

#[test]
fn prune_keeps_a_kernel_whose_headers_are_installed() {
    // A chroot or image build has the headers of the kernels it builds
    // for, but no image: those builds must survive every apt run.
    let root = setup(&[K1], &["hello"]);
    postinst(&root, K1).assert_ok();
    root.remove_kernel_image(K1);
    let before = root.snapshot();
    let out = root.hook(&["prune"]);
    out.assert_ok();
    assert!(!out.stdout.contains(K1), "{out}");
    root.assert_unchanged(&before, &[LOCK]);
    assert_installed(&root, "hello", K1);
}

#[test]
fn prune_never_touches_an_installed_kernel() {
    let root = setup(&[K1, K2], &["hello"]);
    postinst(&root, K1).assert_ok();
    postinst(&root, K2).assert_ok();
    // K2's headers go (the image stays): K2 is still installed.
    root.remove_headers(K2);

    let before = root.snapshot();
    let dry = root.hook(&["prune", "--dry-run"]);
    dry.assert_ok();
    assert!(
        !dry.stdout.contains(K1) && !dry.stdout.contains(K2),
        "{dry}"
    );
    let out = root.hook(&["prune"]);
    out.assert_ok();
    assert!(
        !out.stdout.contains(K1) && !out.stdout.contains(K2),
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);
}

#[test]
fn prune_keeps_a_kernel_whose_image_is_only_in_boot() {
    // `/boot/vmlinuz-K` alone (no lib/modules/K/kernel) still means installed.
    let root = setup(&[K1], &["hello"]);
    postinst(&root, K1).assert_ok();
    fs::remove_dir_all(root.path(&format!("/lib/modules/{K1}/kernel"))).expect("rm kernel/");
    let before = root.snapshot();
    root.hook(&["prune"]).assert_ok();
    root.assert_unchanged(&before, &[LOCK]);
}

// ---------------------------------------------------------------------
// 4. BUILD_EXCLUSIVE
// ---------------------------------------------------------------------

#[test]
fn build_exclusive_module_is_skipped_while_others_build() {
    let root = setup(&[K1], &["hello", "excl"]);
    let out = postinst(&root, K1);
    out.assert_ok();
    assert_installed(&root, "hello", K1);
    assert!(!root.exists(&installed_ko("excl", K1)));
    assert!(!root.exists(&format!("/var/lib/dkms/excl/1.0/{K1}")));
    assert!(
        out.stdout_lines()
            .iter()
            .any(|l| l.contains("skipped") && l.contains("excl")),
        "summary does not mention the skip\n{out}"
    );
    assert!(
        !out.stdout_lines()
            .iter()
            .any(|l| l.contains("failed") && l.contains("excl")),
        "excl reported as failed\n{out}"
    );
    // A skip is not pending work and not a failure.
    let p = pending(&root);
    assert!(!p.stdout.contains("excl"), "{p}");
}

/// What reading a dkms.conf says (here a deprecated directive) is said
/// once per module by a hook, which builds in parallel and installs
/// afterwards, as by `dkms autoinstall`, which builds and installs in turn.
#[test]
fn a_deprecated_directive_is_said_once_by_the_hook_as_by_dkms() {
    let hello = format!(
        "{}REMAKE_INITRD=\"yes\"\n",
        fs::read_to_string(module_fixture("hello-1.0").join("dkms.conf")).expect("fixture")
    );
    for hook in [true, false] {
        let root = setup(&[K1], &["hello"]);
        root.write("/usr/src/hello-1.0/dkms.conf", &hello);
        let out = if hook {
            postinst(&root, K1)
        } else {
            root.dkms(&["autoinstall", "-k", K1])
        };
        out.assert_ok();
        assert_installed(&root, "hello", K1);
        assert_eq!(
            out.stderr
                .matches("Deprecated feature: REMAKE_INITRD (")
                .count(),
            1,
            "hook {hook}\n{out}"
        );
    }
}

// ---------------------------------------------------------------------
// 5. BUILD_DEPENDS
// ---------------------------------------------------------------------

#[test]
fn build_depends_installs_the_dependency_first() {
    // Registered in the order that would be wrong alphabetically: dep < hello.
    let root = setup(&[K1], &["dep", "hello"]);
    let out = postinst(&root, K1);
    out.assert_ok();
    let hello = line_index(
        &out,
        &format!("Autoinstall of module hello/1.0 for kernel {K1}"),
    );
    let dep = line_index(
        &out,
        &format!("Autoinstall of module dep/1.0 for kernel {K1}"),
    );
    assert!(hello < dep, "dep was installed before hello\n{out}");
    assert_installed(&root, "hello", K1);
    assert_installed(&root, "dep", K1);
}

#[rstest]
#[case::apt_post_invoke(Later::AptPostInvoke)]
#[case::header_postinst(Later::HeaderPostinst)]
#[case::dpkg_trigger(Later::DpkgTrigger)]
fn dependency_registered_later_finishes_deferred_module(#[case] trigger: Later) {
    let root = setup(&[K1], &["dep"]);
    let out = postinst(&root, K1);
    out.assert_ok();
    assert!(!root.exists(&installed_ko("dep", K1)), "{out}");
    assert!(
        out.stdout_lines()
            .iter()
            .any(|l| l.contains("deferred") && l.contains("dep")),
        "no deferral reported\n{out}"
    );
    let p = pending(&root);
    assert!(
        p.stdout_lines()
            .iter()
            .any(|l| l.contains(K1) && l.contains("dep") && l.contains("hello")),
        "pending does not list dep waiting for hello\n{p}"
    );
    assert!(
        !p.stdout.contains("failed"),
        "deferral recorded as failure\n{p}"
    );

    // The dependency's package arrives later.
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    let out = fire(&root, trigger, K1);
    out.assert_ok();
    let hello = line_index(
        &out,
        &format!("Autoinstall of module hello/1.0 for kernel {K1}"),
    );
    let dep = line_index(
        &out,
        &format!("Autoinstall of module dep/1.0 for kernel {K1}"),
    );
    assert!(hello < dep, "{out}");
    assert_installed(&root, "hello", K1);
    assert_installed(&root, "dep", K1);
    assert!(
        pending(&root).stdout.contains("Nothing is pending."),
        "{}",
        pending(&root)
    );
}

// ---------------------------------------------------------------------
// 6. concurrency
// ---------------------------------------------------------------------

/// What a tree holds, normalized for comparing two roots: directories,
/// symlink targets, `.ko` content (with the root's path replaced), and the
/// mere presence of other files (logs carry timestamps).
fn normalized(root: &TestRoot, under: &str) -> BTreeMap<PathBuf, String> {
    let base = root.path(under);
    let mut out = BTreeMap::new();
    if !base.exists() {
        return out;
    }
    let needle = root.root().to_string_lossy().into_owned();
    for (p, n) in snapshot_dir(&base) {
        let rel = Path::new(under.trim_start_matches('/')).join(&p);
        if rel == Path::new(LOCK) {
            continue;
        }
        let v = match n {
            Node::Dir => "dir".to_string(),
            Node::Symlink(t) => format!("-> {}", t.display()),
            Node::Other => "other".to_string(),
            Node::File { mode, .. } => {
                let name = p.to_string_lossy();
                if name.ends_with(".ko") {
                    let data = fs::read(base.join(&p)).expect("read .ko");
                    let data = replace_bytes(&data, needle.as_bytes(), b"@ROOT@");
                    format!("ko {:o} {:x}", mode, Sha256::digest(&data))
                } else {
                    format!("file {mode:o}")
                }
            }
        };
        out.insert(rel, v);
    }
    out
}

fn replace_bytes(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// The state compared between the concurrent and the sequential run.
fn comparable_state(root: &TestRoot, kernels: &[&str]) -> BTreeMap<PathBuf, String> {
    let mut m = normalized(root, "/var/lib/dkms");
    for k in kernels {
        m.extend(normalized(root, &format!("/lib/modules/{k}/updates")));
    }
    m
}

/// Paths under var/lib/dkms left over from builds: per-kernel build dirs,
/// temporary and swapped-out result dirs.
fn leftovers(root: &TestRoot) -> Vec<PathBuf> {
    snapshot_dir(&root.path("/var/lib/dkms"))
        .into_keys()
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("build-") || n.starts_with(".tmp_") || n.starts_with(".old_")
            })
        })
        .collect()
}

#[test]
fn two_postinsts_at_once_end_like_one_after_the_other() {
    let modules = ["hello", "dep", "multi"];
    let concurrent = setup(&[K1, K2], &modules);
    let barrier = Barrier::new(2);
    let outs: Vec<Output> = std::thread::scope(|s| {
        let hs: Vec<_> = [K1, K2]
            .into_iter()
            .map(|k| {
                let root = &concurrent;
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    postinst(root, k)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for o in &outs {
        o.assert_ok();
    }

    let sequential = setup(&[K1, K2], &modules);
    postinst(&sequential, K1).assert_ok();
    postinst(&sequential, K2).assert_ok();

    for k in [K1, K2] {
        for m in ["hello", "dep", "multi_a", "multi_b"] {
            assert!(
                concurrent.exists(&installed_ko(m, k)),
                "{m} missing for {k} after the concurrent run"
            );
        }
    }
    let a = comparable_state(&concurrent, &[K1, K2]);
    let b = comparable_state(&sequential, &[K1, K2]);
    let diff: Vec<String> = a
        .iter()
        .filter(|(p, v)| b.get(*p) != Some(v))
        .map(|(p, v)| {
            format!(
                "concurrent {}: {v} / sequential {:?}",
                p.display(),
                b.get(p)
            )
        })
        .chain(
            b.iter()
                .filter(|(p, _)| !a.contains_key(*p))
                .map(|(p, v)| format!("only sequential {}: {v}", p.display())),
        )
        .collect();
    assert!(diff.is_empty(), "states differ:\n{}", diff.join("\n"));
    assert_eq!(status(&concurrent), status(&sequential));
    assert_eq!(leftovers(&concurrent), Vec::<PathBuf>::new());
    assert_eq!(leftovers(&sequential), Vec::<PathBuf>::new());
}

#[test]
fn postinst_and_manual_dkms_install_at_once_agree() {
    // A hook and a manual `dkms install` of the same module and kernel.
    let root = setup(&[K1], &["hello"]);
    let barrier = Barrier::new(2);
    let (hook, manual) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            barrier.wait();
            postinst(&root, K1)
        });
        let m = s.spawn(|| {
            barrier.wait();
            root.dkms(&["install", "hello/1.0", "-k", K1])
        });
        (h.join().expect("hook"), m.join().expect("dkms"))
    });
    hook.assert_ok();
    // The manual run may find it installed already (exit 0 or 5 upstream-style).
    assert!(
        manual.code == 0 || manual.code == 5,
        "manual install\n{manual}"
    );
    assert_installed(&root, "hello", K1);
    assert_eq!(leftovers(&root), Vec::<PathBuf>::new());
}

// ---------------------------------------------------------------------
// 7. failure policy
// ---------------------------------------------------------------------

/// The make.log path on a summary line `... log: <path>`.
fn summary_log(out: &Output) -> PathBuf {
    let line = out
        .stdout_lines()
        .into_iter()
        .find(|l| l.contains("broken") && l.contains("make.log"))
        .unwrap_or_else(|| panic!("no summary line names broken's make.log\n{out}"));
    let path = line
        .split_whitespace()
        .find(|w| w.ends_with("make.log"))
        .expect("path word");
    PathBuf::from(path)
}

#[test]
fn failed_build_is_reported_with_log_and_tail_and_postinst_goes_on() {
    let root = setup(&[K1], &["hello", "broken"]);
    let out = postinst(&root, K1);
    // Not a critical module: the package operation goes on, and says why.
    out.assert_code(0);
    out.assert_stderr_contains(&format!(
        "dkms-hook: broken/1.0 for {K1} failed (see above) but no critical module did: this package operation goes on (exit 0)."
    ));
    out.assert_stdout_contains(&format!(
        "Autoinstall on {K1} failed for module(s) broken(10)."
    ));
    // hello still gets installed.
    assert_installed(&root, "hello", K1);
    assert!(!root.exists(&installed_ko("broken", K1)));

    let log = summary_log(&out);
    let host_log = if log.is_file() {
        log.clone()
    } else {
        root.path(&log.to_string_lossy())
    };
    let text = fs::read_to_string(&host_log)
        .unwrap_or_else(|e| panic!("summary's log {} unreadable: {e}\n{out}", log.display()));
    assert!(
        text.contains("this_is_a_syntax_error"),
        "log lacks the compiler error:\n{text}"
    );
    // The summary (stdout) shows the log's last 10 lines, not counting
    // make.log's closing frame (exit code, elapsed time, dashes).
    let mut lines: Vec<&str> = text.lines().collect();
    while lines.last().is_some_and(|l| {
        l.trim().is_empty()
            || l.starts_with("# exit code:")
            || l.starts_with("# elapsed time:")
            || l.chars().all(|c| c == '-')
    }) {
        lines.pop();
    }
    let last = &lines[lines.len().saturating_sub(10)..];
    assert!(
        last.iter().any(|l| l.contains("this_is_a_syntax_error")),
        "the compiler error is not among the last lines:\n{text}"
    );
    let summary = &out.stdout[out.stdout.find("broken/1.0").unwrap_or(0)..];
    for l in last.iter().filter(|l| !l.trim().is_empty()) {
        assert!(
            summary.contains(l.trim()),
            "summary lacks make.log line {l:?}\n{out}"
        );
    }
    // The failure is visible in `pending`, and is not a deferral.
    let p = pending(&root);
    assert!(
        p.stdout_lines()
            .iter()
            .any(|l| l.contains("broken") && l.contains("failed")),
        "{p}"
    );
}

#[test]
fn autoinstall_failure_strict_fails_postinst() {
    let root = setup(&[K1], &["hello", "broken"]);
    root.set_framework_conf("autoinstall_failure=strict\n");
    let out = postinst(&root, K1);
    out.assert_code(11);
    assert!(!out.stderr.contains("goes on"), "{out}");
    assert_installed(&root, "hello", K1);
}

#[test]
fn autoinstall_failure_warn_turns_failure_into_warning() {
    let root = setup(&[K1], &["hello", "broken"]);
    root.set_framework_conf("autoinstall_failure=warn\n");
    let out = postinst(&root, K1);
    out.assert_ok();
    assert!(
        out.stdout
            .lines()
            .chain(out.stderr.lines())
            .any(|l| l.starts_with("Warning:")),
        "no Warning: line\n{out}"
    );
    assert_installed(&root, "hello", K1);
}

#[test]
fn apt_post_invoke_never_fails_apt() {
    // Pending work whose build fails when headers arrive.
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    register(&root, &["broken"]);
    postinst(&root, K1).assert_ok();
    root.add_headers(K1);
    let out = root.hook(&["apt-post-invoke"]);
    out.assert_ok();
    assert!(out.stdout.contains("broken"), "{out}");
}

/// Make m's dkms.conf unreadable for dkms (no PACKAGE_NAME: bad conf, 8).
fn break_conf(root: &TestRoot, m: &str) {
    root.write(
        &format!("/usr/src/{m}-1.0/dkms.conf"),
        "BUILT_MODULE_NAME[0]=\"x.ko\"\nAUTOINSTALL=\"maybe\"\n",
    );
}

#[rstest]
#[case::prerm("kernel-prerm")]
#[case::preinst("kernel-preinst")]
fn removal_hooks_exit_0_even_when_a_module_fails(#[case] event: &str) {
    let root = setup(&[K1], &["hello"]);
    postinst(&root, K1).assert_ok();
    break_conf(&root, "hello");
    let out = root.hook(&[event, K1, &image(K1)]);
    out.assert_ok();
    // The failure really happened (and was reported), yet dpkg goes on.
    out.assert_stderr_contains("Error! Bad conf file.");
}

#[test]
fn kernel_install_add_and_remove_behave_like_postinst_and_prerm() {
    let root = setup(&[K1, K2], &["hello"]);
    for k in [K1, K2] {
        let entry = format!("/boot/efi/0123456789abcdef/{k}");
        root.hook(&["kernel-install", "add", k, &entry, &image(k)])
            .assert_ok();
        assert_installed(&root, "hello", k);
    }
    let k2_ko = fs::read(root.path(&installed_ko("hello", K2))).expect("K2 module");
    let entry = format!("/boot/efi/0123456789abcdef/{K1}");
    root.hook(&["kernel-install", "remove", K1, &entry])
        .assert_ok();
    assert_absent(&root, "hello", K1);
    assert_installed(&root, "hello", K2);
    assert_eq!(
        fs::read(root.path(&installed_ko("hello", K2))).expect("K2 module"),
        k2_ko
    );
}

#[test]
fn kernel_install_add_without_headers_defers() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    register(&root, &["hello"]);
    let entry = format!("/boot/efi/0123456789abcdef/{K1}");
    let out = root.hook(&["kernel-install", "add", K1, &entry, &image(K1)]);
    out.assert_ok();
    assert!(pending(&root).stdout.contains(K1));
}

#[test]
fn kernel_install_never_returns_77() {
    // Only a BUILD_EXCLUSIVE module: upstream's autoinstall would say 77.
    let root = setup(&[K1], &["excl"]);
    let entry = format!("/boot/efi/0123456789abcdef/{K1}");
    let out = root.hook(&["kernel-install", "add", K1, &entry, &image(K1)]);
    out.assert_ok();
    let out = postinst(&root, K1);
    out.assert_ok();
}

#[test]
fn kernel_install_add_with_a_failed_build_goes_on_like_postinst_or_fails_strictly_but_not_77() {
    let root = setup(&[K1], &["broken"]);
    let entry = format!("/boot/efi/0123456789abcdef/{K1}");
    let out = root.hook(&["kernel-install", "add", K1, &entry, &image(K1)]);
    out.assert_ok();
    out.assert_stderr_contains("this package operation goes on (exit 0)");
    root.set_framework_conf("autoinstall_failure=strict\n");
    let out = root.hook(&["kernel-install", "add", K1, &entry, &image(K1)]);
    out.assert_code(11);
}

// ---------------------------------------------------------------------
// 8. /etc/dkms/no-autoinstall
// ---------------------------------------------------------------------

#[test]
fn no_autoinstall_flag_builds_nothing() {
    let root = setup(&[K1], &["hello"]);
    root.write("/etc/dkms/no-autoinstall", "");
    let out = postinst(&root, K1);
    out.assert_ok();
    assert!(root.installed_modules(K1).is_empty(), "{out}");
    assert!(!root.exists(&format!("/var/lib/dkms/hello/1.0/{K1}")));
    assert!(!root.exists(&format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}")));
    assert!(work_lines(&out).is_empty(), "{out}");
}

// ---------------------------------------------------------------------
// 9. --help says who calls each subcommand
// ---------------------------------------------------------------------

#[rstest]
#[case("kernel-postinst", &["postinst.d"])]
#[case("kernel-preinst", &["preinst.d"])]
#[case("kernel-prerm", &["prerm.d"])]
#[case("header-postinst", &["header_postinst.d"])]
#[case("apt-post-invoke", &["Post-Invoke"])]
#[case("dpkg-trigger", &["trigger"])]
#[case("kernel-install", &["kernel-install", "install.d"])]
#[case("boot", &["systemd", ".service"])]
#[case("autoinstall", &["by hand", "manually"])]
fn subcommand_help_says_when_it_is_called(#[case] sub: &str, #[case] any_of: &[&str]) {
    let root = TestRoot::new();
    let out = root.hook(&[sub, "--help"]);
    out.assert_ok();
    assert!(
        any_of.iter().any(|n| out.stdout.contains(n)),
        "`dkms-hook {sub} --help` mentions none of {any_of:?}\n{out}"
    );
}

/// The subcommands a person runs by hand (or that other events run for
/// them); their help must say so as well.
#[rstest]
#[case("prune", &["kernel-prerm", "apt-post-invoke", "boot unit", "dkms-hook.service", "by hand", "manually"])]
#[case("pending", &["by hand", "manually", "administrator"])]
#[case("doctor", &["by hand", "manually", "administrator"])]
fn manual_subcommand_help_says_when_it_is_called(#[case] sub: &str, #[case] any_of: &[&str]) {
    subcommand_help_says_when_it_is_called(sub, any_of);
}

// ---------------------------------------------------------------------
// several triggers at once never lose or duplicate deferred work
// ---------------------------------------------------------------------

#[test]
fn triggers_racing_over_pending_work_finish_it_once() {
    let root = TestRoot::new();
    root.add_fake_kernel(K1, false, true);
    root.add_fake_kernel(K2, false, true);
    register(&root, &["hello", "dep"]);
    postinst(&root, K1).assert_ok();
    postinst(&root, K2).assert_ok();
    root.add_headers(K1);
    root.add_headers(K2);

    let runs: [&[&str]; 4] = [
        &["header-postinst", K1],
        &["header-postinst", K2],
        &["apt-post-invoke"],
        &["dpkg-trigger", "/usr/src"],
    ];
    let barrier = Barrier::new(runs.len());
    let outs: Vec<Output> = std::thread::scope(|s| {
        let hs: Vec<_> = runs
            .iter()
            .map(|args| {
                let (root, barrier) = (&root, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    root.hook(args)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for o in &outs {
        o.assert_ok();
    }
    for k in [K1, K2] {
        let n = outs
            .iter()
            .filter(|o| {
                o.stdout
                    .contains(&format!("Autoinstall of module hello/1.0 for kernel {k}"))
            })
            .count();
        assert_eq!(n, 1, "hello built {n} times for {k}");
        assert_installed(&root, "hello", k);
        assert_installed(&root, "dep", k);
    }
    assert!(pending(&root).stdout.contains("Nothing is pending."));
    assert_eq!(leftovers(&root), Vec::<PathBuf>::new());
}

#[test]
fn headers_configured_before_the_image_still_end_installed() {
    // apt may configure linux-headers-K before linux-image-K.
    let root = TestRoot::new();
    root.add_fake_kernel(K1, true, false);
    register(&root, &["hello"]);
    root.hook(&["header-postinst", K1]).assert_ok();
    root.install_kernel_image(K1);
    let out = postinst(&root, K1);
    out.assert_ok();
    assert_installed(&root, "hello", K1);
    assert!(pending(&root).stdout.contains("Nothing is pending."));
}

#[test]
fn hostile_kernel_version_is_refused_by_every_event() {
    let root = setup(&[K1], &["hello"]);
    let before = root.snapshot();
    for args in [
        vec!["kernel-postinst", "../../x", "/boot/vmlinuz-x"],
        vec!["kernel-prerm", "..", "/boot/vmlinuz-x"],
        vec!["header-postinst", "a/b"],
        vec!["kernel-install", "add", "../x", "/boot/entry"],
        vec!["autoinstall", "--kernel=../x"],
    ] {
        let out = root.hook(&args);
        out.assert_code(2);
        out.assert_stderr_contains("Error! Invalid kernel version '");
    }
    root.assert_unchanged(&before, &[LOCK]);
    assert!(pending(&root).stdout.contains("Nothing is pending."));
}
