//! Crash safety (SPEC "Beyond upstream" 2): for every named fault point in
//! [`dkms_hook::fault::POINTS`], run an operation that passes through it with
//! `DKMS_HOOK_FAULT=<point>` (the process SIGKILLs itself there, exit 137),
//! then check what the crash left behind:
//!
//! * (a) never a truncated or half-written `.ko` under `lib/modules`: every
//!   module file there is byte for byte a module of the state before or after
//!   the operation (a built module, the kernel's original);
//! * (b) the kernel keeps a working module: every module file of the state
//!   before, or every module file of the state after, is in place and intact;
//! * (c) `dkms-hook doctor` names every leftover (and changes nothing),
//!   `dkms-hook doctor --repair` removes them;
//! * (d) running the same operation again without the fault, directly or after
//!   `doctor`, ends exactly in the state a clean run produces (dkms tree:
//!   paths, link targets, `.ko` bytes; install tree: paths, `.ko` bytes,
//!   `modules.dep`; `dkms status`), with no leftovers.
//!
//! Each point has three tests (`keeps_a_working_module`, `rerun_converges`,
//! `doctor_then_rerun_converges`) in a module named after it, and
//! [`every_fault_point_has_tests`] fails when a point is added to
//! `POINTS` without them, so points cannot silently rot. A case fails when its
//! operation does not reach the point (exit code other than 137).
//!
//! Scenarios (all on a Debian-like root, modules go to `updates/dkms`):
//!
//! | scenario | before | operation |
//! | --- | --- | --- |
//! | upgrade | hello/1.0 installed on K1 | `dkms install hello/2.0 -k K1` |
//! | over-original | the kernel ships `kernel/drivers/misc/hello.ko` (1.0) | `dkms install hello/2.0 -k K1` |
//! | uninstall | over-original, then hello/2.0 installed | `dkms uninstall hello/2.0 -k K1` |
//! | remove | as uninstall | `dkms remove hello/2.0 --all` |
//! | prune | hello/1.0 installed on K1 and K3, K3's image removed | `dkms-hook prune` |
//! | pending | K4 installed without headers, hello/1.0 added | `dkms-hook kernel-postinst K4` |
//!
//! What each point leaves, and how the two ways back fare ("rerun" = the
//! same operation again; "doctor" = `dkms-hook doctor --repair`, then the rerun).
//! fail today.
//!
//! | point | scenarios | state after the kill | rerun | doctor |
//! | --- | --- | --- | --- | --- |
//! | build:after-copy | upgrade, over-original | `<m>/<v>/build-K-A/` holds the copied sources; nothing else changed | converges (the build dir is recreated) | removes build-K-A |
//! | build:after-make | upgrade, over-original | `build-K-A/` holds the sources and the built `.ko` | converges | removes build-K-A |
//! | build:before-rename | upgrade, over-original | also `<v>/K/.tmp_A_*/` with the finished result; `<v>/K/A` absent (not "built") | BUG: `.tmp_A_*` stays | removes both |
//! | build:after-rename | upgrade, over-original | `<v>/K/A/` complete but `log/` empty; `build-K-A/` with `make.log` left (POST_BUILD and the log move did not run) | BUG: build-K-A stays, make.log never moved | moves make.log into `log/`, removes build-K-A |
//! | install:after-archive | over-original | the kernel's `hello.ko` moved to `original_module/K/A/` (+ `.origin`); no kernel link; ours not placed: BUG, the kernel has no hello module | converges (keeps the archive, places ours) | puts the original back, depmod |
//! | install:before-rename | upgrade, over-original | a complete, synced `.hello.ko.dkms-*` temporary next to the destination; the old module untouched (upgrade) or already archived (over-original: BUG, no module) | BUG: the temporary stays | removes the temporary (and puts the original back) |
//! | install:after-place | upgrade, over-original | the new `hello.ko` in `updates/dkms`; the kernel link still names 1.0 (upgrade) or is absent | BUG: exit 6, "already installed at version 2.0" | puts the active version's module back (or removes ours and restores the original), depmod |
//! | install:before-link | upgrade, over-original | same as install:after-place | BUG: same | same |
//! | install:before-depmod | upgrade, over-original | new module and link in place; `modules.dep` not regenerated | BUG (over-original): "already installed, skip", depmod never runs | sees `modules.dep` older than a module, runs depmod |
//! | uninstall:after-delete | uninstall | ours deleted, the archived original not yet restored: BUG, no module; the link still names hello/2.0 | converges (restores the original) | nothing to do |
//! | uninstall:before-unlink | uninstall | original restored, ours deleted, the link still names hello/2.0; depmod not run | converges (its depmod runs) | nothing found: a deleted module does not make modules.dep look stale |
//! | remove:after-hide | remove | uninstalled; the build renamed into `.dkms-hook/gone/` (not "built"), not yet deleted | converges (the next locked run empties `gone/`) | removes it |
//! | remove:before-delete | remove | uninstalled and unbuilt; `hello/2.0/` with only `source` (still "added") | converges | nothing to do |
//! | prune:before-remove | prune | nothing changed yet | converges | nothing to do |
//! | pending:before-persist | pending | a complete `.tmp*` JSON file in `.dkms-hook/pending/`, the entry itself not written | BUG: the temporary stays | removes it |

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::harness::*;
use dkms_hook::fault::POINTS;

/// Where the kernel's own hello module sits in the over-original scenarios.
const ORIGINAL: &str = "kernel/drivers/misc/hello.ko";

/// A starting state and the operation run on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Upgrade,
    OverOriginal,
    Uninstall,
    Remove,
    Prune,
    Pending,
}

const ALL: [Scenario; 6] = [
    Scenario::Upgrade,
    Scenario::OverOriginal,
    Scenario::Uninstall,
    Scenario::Remove,
    Scenario::Prune,
    Scenario::Pending,
];

/// The operations that pass through `point`. Unknown families fail: a new
/// family of points needs an operation here.
fn scenarios_for(point: &str) -> Vec<Scenario> {
    use Scenario::*;
    let family = point.split(':').next().unwrap_or("");
    match (family, point) {
        // Archiving happens only when the kernel has a module of that name
        // and no dkms version is installed yet.
        (_, "install:after-archive") => vec![OverOriginal],
        ("build", _) | ("install", _) => vec![Upgrade, OverOriginal],
        ("uninstall", _) => vec![Uninstall],
        ("remove", _) => vec![Remove],
        ("prune", _) => vec![Prune],
        ("pending", _) => vec![Pending],
        _ => panic!("fault point {point}: crash.rs knows no operation for the family {family:?}; add one to scenarios_for"),
    }
}

impl Scenario {
    /// A fresh root in this scenario's starting state.
    fn prepare(self) -> TestRoot {
        match self {
            Scenario::Upgrade => {
                let root = TestRoot::with_kernel(K1);
                root.add_source("hello-1.0");
                root.add_source("hello-2.0");
                root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
                root
            }
            Scenario::OverOriginal => {
                let root = TestRoot::with_kernel(K1);
                let original = build_fixture("hello-1.0", K1);
                root.add_kernel_module(K1, ORIGINAL, &original.ko("hello"));
                // As the kernel package's postinst would.
                let out = run_command(
                    {
                        let mut c = std::process::Command::new("depmod");
                        c.arg("-b").arg(root.root()).arg(K1);
                        c
                    },
                    RUN_TIMEOUT,
                );
                out.assert_ok();
                root.add_source("hello-2.0");
                root
            }
            Scenario::Uninstall | Scenario::Remove => {
                let root = Scenario::OverOriginal.prepare();
                root.dkms(&["install", "hello/2.0", "-k", K1]).assert_ok();
                root
            }
            Scenario::Prune => {
                let root = TestRoot::with_kernel(K1);
                root.add_fake_kernel(K3, true, true);
                root.add_source("hello-1.0");
                root.dkms(&["install", "hello/1.0", "-k", K1, "-k", K3])
                    .assert_ok();
                // Image and headers gone: prune removes K3's builds.
                root.remove_kernel_image(K3);
                root.remove_headers(K3);
                root
            }
            Scenario::Pending => {
                let root = TestRoot::with_kernel(K1);
                root.add_fake_kernel(K4, false, true);
                root.add_source("hello-1.0");
                root.dkms(&["add", "hello/1.0"]).assert_ok();
                root
            }
        }
    }

    /// Runs the operation, with `DKMS_HOOK_FAULT=<fault>` when given.
    fn run(self, root: &TestRoot, fault: Option<&str>) -> Output {
        let image = format!("/boot/vmlinuz-{K4}");
        let (bin, args): (&str, Vec<&str>) = match self {
            Scenario::Upgrade | Scenario::OverOriginal => (
                env!("CARGO_BIN_EXE_dkms"),
                vec!["install", "hello/2.0", "-k", K1],
            ),
            Scenario::Uninstall => (
                env!("CARGO_BIN_EXE_dkms"),
                vec!["uninstall", "hello/2.0", "-k", K1],
            ),
            Scenario::Remove => (
                env!("CARGO_BIN_EXE_dkms"),
                vec!["remove", "hello/2.0", "--all"],
            ),
            Scenario::Prune => (env!("CARGO_BIN_EXE_dkms-hook"), vec!["prune"]),
            Scenario::Pending => (
                env!("CARGO_BIN_EXE_dkms-hook"),
                vec!["kernel-postinst", K4, &image],
            ),
        };
        let mut cmd = root.command(bin, &args);
        cmd.env_remove("DKMS_HOOK_FAULT");
        if let Some(f) = fault {
            cmd.env("DKMS_HOOK_FAULT", f);
        }
        run_command(cmd, RUN_TIMEOUT)
    }
}

/// What is compared between two roots: root-relative path -> description
/// (directories, link targets, `.ko` hashes, `modules.dep` content; the mere
/// presence of other files: logs and queue entries carry timestamps).
type State = BTreeMap<PathBuf, String>;

fn is_module_name(name: &str) -> bool {
    [".ko", ".ko.gz", ".ko.xz", ".ko.zst"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// The comparable state of a root: `var/lib/dkms` (without the lock) and
/// `lib/modules` (without the kernels' `build` trees).
fn state(root: &TestRoot) -> State {
    let mut out = State::new();
    for (under, skip_build) in [("var/lib/dkms", false), ("lib/modules", true)] {
        let base = root.path(under);
        if !base.exists() {
            continue;
        }
        for (p, n) in snapshot_dir(&base) {
            let rel = Path::new(under).join(&p);
            if rel == Path::new(LOCK) {
                continue;
            }
            // lib/modules/<K>/build/...
            if skip_build
                && p.components()
                    .nth(1)
                    .is_some_and(|c| c.as_os_str() == "build")
            {
                continue;
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let v = match n {
                Node::Dir => "dir".to_string(),
                Node::Symlink(t) => format!("-> {}", t.display()),
                Node::Other => "other".to_string(),
                Node::File { sha256, .. } if is_module_name(&name) => format!("ko {sha256}"),
                Node::File { sha256, .. } if name == "modules.dep" => format!("dep {sha256}"),
                Node::File { .. } => "file".to_string(),
            };
            out.insert(rel, v);
        }
    }
    out
}

/// The module files under `lib/modules` (not the kernels' build trees):
/// root-relative path -> SHA-256.
fn installed_kos(root: &TestRoot) -> BTreeMap<PathBuf, String> {
    state(root)
        .into_iter()
        .filter(|(p, _)| p.starts_with("lib/modules"))
        .filter_map(|(p, v)| v.strip_prefix("ko ").map(|h| (p.clone(), h.to_string())))
        .collect()
}

/// Every module hash in a state (dkms tree and install tree).
fn all_ko_hashes(s: &State) -> BTreeSet<String> {
    s.values()
        .filter_map(|v| v.strip_prefix("ko ").map(str::to_string))
        .collect()
}

/// What an interrupted run can leave behind (topmost paths only):
/// per-kernel build directories, temporary and swapped-out build results,
/// temporary kernel links and queue entries in the dkms tree; temporary
/// module files in the install tree.
fn leftovers(root: &TestRoot) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut scan = |under: &str, is_leftover: &dyn Fn(&str) -> bool| {
        let base = root.path(under);
        if !base.exists() {
            return;
        }
        for p in snapshot_dir(&base).into_keys() {
            let host = base.join(&p);
            if found.iter().any(|f| host.starts_with(f)) {
                continue;
            }
            if p.components()
                .nth(1)
                .is_some_and(|c| c.as_os_str() == "build")
                && under == "lib/modules"
            {
                continue;
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if is_leftover(&name) {
                found.push(host);
            }
        }
    };
    scan("var/lib/dkms", &|n: &str| {
        n.starts_with("build-")
            || n.starts_with(".tmp")
            || n.starts_with(".old_")
            || (n.starts_with(".kernel-") && n.contains(".tmp"))
    });
    scan("lib/modules", &|n: &str| {
        n.starts_with('.') && n.contains(".dkms-")
    });
    // Builds a killed run was deleting (renamed into .dkms-hook/gone).
    for n in root.list("var/lib/dkms/.dkms-hook/gone") {
        found.push(root.path(&format!("var/lib/dkms/.dkms-hook/gone/{n}")));
    }
    found
}

/// A clean run of a scenario: the state before and after, and `dkms status`.
struct Reference {
    before: State,
    before_kos: BTreeMap<PathBuf, String>,
    after: State,
    after_kos: BTreeMap<PathBuf, String>,
    status: String,
}

fn reference(s: Scenario) -> &'static Reference {
    static REFS: [OnceLock<Reference>; 6] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let i = ALL.iter().position(|x| *x == s).expect("known scenario");
    REFS[i].get_or_init(|| {
        let root = s.prepare();
        let before = state(&root);
        let before_kos = installed_kos(&root);
        let out = s.run(&root, None);
        out.assert_ok();
        assert_eq!(
            leftovers(&root),
            Vec::<PathBuf>::new(),
            "a clean {s:?} run leaves leftovers\n{out}"
        );
        let status = root.dkms(&["status"]);
        status.assert_ok();
        Reference {
            before,
            before_kos,
            after: state(&root),
            after_kos: installed_kos(&root),
            status: status.stdout,
        }
    })
}

/// Prepares `s`, runs its operation with the fault and asserts the process
/// was killed there; returns the crashed root.
fn crash(point: &str, s: Scenario) -> TestRoot {
    let root = s.prepare();
    let out = s.run(&root, Some(point));
    assert_eq!(
        out.code, 137,
        "{s:?}: the operation did not die at fault point {point} (SIGKILL = 137); \
         the point is not reached any more, or the operation changed\n{out}"
    );
    root
}

/// (a): every module file under lib/modules is a whole module known from
/// the clean run's before or after state.
#[track_caller]
fn assert_no_torn_modules(point: &str, s: Scenario, root: &TestRoot) {
    let r = reference(s);
    let mut known = all_ko_hashes(&r.before);
    known.extend(all_ko_hashes(&r.after));
    for (p, h) in installed_kos(root) {
        assert!(
            known.contains(&h),
            "{point} ({s:?}): {} is not byte-identical to any built or original module \
             (truncated or half-written?)",
            p.display()
        );
    }
}

/// (b): all module files of the state before, or all of the state after,
/// are present and intact.
#[track_caller]
fn assert_keeps_module(point: &str, s: Scenario, root: &TestRoot) {
    let r = reference(s);
    let now = installed_kos(root);
    let holds = |want: &BTreeMap<PathBuf, String>| want.iter().all(|(p, h)| now.get(p) == Some(h));
    assert!(
        holds(&r.before_kos) || holds(&r.after_kos),
        "{point} ({s:?}): the kill left neither the old nor the new module(s) in place\n\
         before: {:?}\nafter: {:?}\nnow: {:?}",
        r.before_kos,
        r.after_kos,
        now
    );
}

/// (d): the rerun succeeds and ends like the clean run.
#[track_caller]
fn assert_rerun_converges(point: &str, s: Scenario, root: &TestRoot, how: &str) {
    let r = reference(s);
    let out = s.run(root, None);
    assert_eq!(
        out.code, 0,
        "{point} ({s:?}): re-running the operation {how} failed\n{out}"
    );
    let diff = diff_states(&r.after, &state(root));
    assert!(
        diff.is_empty(),
        "{point} ({s:?}): re-running the operation {how} does not end like a clean run:\n{}\n\
         rerun output:\n{out}",
        diff.join("\n")
    );
    assert_eq!(
        leftovers(root),
        Vec::<PathBuf>::new(),
        "{point} ({s:?}): leftovers after re-running {how}"
    );
    let status = root.dkms(&["status"]);
    status.assert_ok();
    assert_eq!(
        status.stdout, r.status,
        "{point} ({s:?}): status after re-running {how}"
    );
}

/// (c): `doctor` names every leftover and changes nothing; `doctor
/// --repair` removes them (and repairs whatever else it reports), exits 0,
/// and a second `doctor` finds nothing.
#[track_caller]
fn assert_doctor_repairs(point: &str, s: Scenario, root: &TestRoot) {
    let found = leftovers(root);
    let before = root.snapshot();
    let check = root.hook(&["doctor"]);
    root.assert_unchanged(&before, &[]);
    for f in &found {
        assert!(
            check.stdout.contains(&f.display().to_string()),
            "{point} ({s:?}): doctor does not report the leftover {}\n{check}",
            f.display()
        );
    }
    let repair = root.hook(&["doctor", "--repair"]);
    assert_eq!(
        repair.code, 0,
        "{point} ({s:?}): doctor could not repair everything\n{repair}"
    );
    assert_eq!(
        leftovers(root),
        Vec::<PathBuf>::new(),
        "{point} ({s:?}): leftovers after doctor\n{repair}"
    );
    root.hook(&["doctor"])
        .assert_stdout_contains("No leftovers from interrupted runs found.");
}

/// Runs `check` for every scenario of `point`, each to its end, then fails
/// naming every scenario that failed (their messages are printed above).
fn for_each_scenario(point: &str, check: fn(&str, Scenario)) {
    let failed: Vec<Scenario> = scenarios_for(point)
        .into_iter()
        .filter(|s| std::panic::catch_unwind(|| check(point, *s)).is_err())
        .collect();
    assert!(
        failed.is_empty(),
        "{point}: failed in {failed:?} (see above)"
    );
}

fn keeps_a_working_module(point: &str) {
    for_each_scenario(point, |point, s| {
        let root = crash(point, s);
        assert_no_torn_modules(point, s, &root);
        assert_keeps_module(point, s, &root);
    });
}

fn rerun_converges(point: &str) {
    for_each_scenario(point, |point, s| {
        let root = crash(point, s);
        assert_no_torn_modules(point, s, &root);
        assert_rerun_converges(point, s, &root, "directly");
    });
}

fn doctor_then_rerun_converges(point: &str) {
    for_each_scenario(point, |point, s| {
        let root = crash(point, s);
        assert_no_torn_modules(point, s, &root);
        assert_doctor_repairs(point, s, &root);
        assert_no_torn_modules(point, s, &root);
        assert_rerun_converges(point, s, &root, "after doctor");
    });
}

/// One module of three tests per fault point; `COVERED` lists the points.
macro_rules! fault_point_tests {
    ($(
        $name:ident = $point:literal {
            keeps $(#[$k:meta])* ;
            rerun $(#[$r:meta])* ;
            doctor $(#[$d:meta])* ;
        }
    )*) => {
        const COVERED: &[&str] = &[$($point),*];
        $(
            mod $name {
                $(#[$k])*
                #[test]
                fn keeps_a_working_module() {
                    super::keeps_a_working_module($point);
                }
                $(#[$r])*
                #[test]
                fn rerun_converges() {
                    super::rerun_converges($point);
                }
                $(#[$d])*
                #[test]
                fn doctor_then_rerun_converges() {
                    super::doctor_then_rerun_converges($point);
                }
            }
        )*
    };
}

fault_point_tests! {
    build_after_copy = "build:after-copy" { keeps; rerun; doctor; }
    build_after_make = "build:after-make" { keeps; rerun; doctor; }
    build_before_rename = "build:before-rename" { keeps; rerun; doctor; }
    build_after_rename = "build:after-rename" { keeps; rerun; doctor; }
    install_after_archive = "install:after-archive" { keeps; rerun; doctor; }
    install_before_rename = "install:before-rename" { keeps; rerun; doctor; }
    install_after_place = "install:after-place" { keeps; rerun; doctor; }
    install_before_link = "install:before-link" { keeps; rerun; doctor; }
    install_before_depmod = "install:before-depmod" { keeps; rerun; doctor; }
    uninstall_after_delete = "uninstall:after-delete" { keeps; rerun; doctor; }
    uninstall_before_unlink = "uninstall:before-unlink" { keeps; rerun; doctor; }
    remove_after_hide = "remove:after-hide" { keeps; rerun; doctor; }
    remove_before_delete = "remove:before-delete" { keeps; rerun; doctor; }
    prune_before_remove = "prune:before-remove" { keeps; rerun; doctor; }
    pending_before_persist = "pending:before-persist" { keeps; rerun; doctor; }
}

#[test]
fn every_fault_point_has_tests() {
    let have: BTreeSet<&str> = COVERED.iter().copied().collect();
    let want: BTreeSet<&str> = POINTS.iter().copied().collect();
    let missing: Vec<&&str> = want.difference(&have).collect();
    let stale: Vec<&&str> = have.difference(&want).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "fault points without crash tests: {missing:?}; tests for points that no longer exist: {stale:?}"
    );
    for p in POINTS {
        assert!(!scenarios_for(p).is_empty(), "{p}: no scenario");
    }
}

#[test]
fn clean_runs_leave_no_leftovers_and_doctor_agrees() {
    for s in ALL {
        let root = s.prepare();
        s.run(&root, None).assert_ok();
        assert_eq!(leftovers(&root), Vec::<PathBuf>::new(), "{s:?}");
        let check = root.hook(&["doctor"]);
        check.assert_ok();
        check.assert_stdout_contains("No leftovers from interrupted runs found.");
        let diff = diff_states(&reference(s).after, &state(&root));
        assert!(
            diff.is_empty(),
            "{s:?}: two clean runs differ:\n{}",
            diff.join("\n")
        );
    }
}

#[test]
fn an_unset_fault_point_changes_nothing() {
    // The feature is compiled in; a name that matches no point must be inert.
    let s = Scenario::Upgrade;
    let root = s.prepare();
    let mut cmd = root.command(
        env!("CARGO_BIN_EXE_dkms"),
        &["install", "hello/2.0", "-k", K1],
    );
    cmd.env("DKMS_HOOK_FAULT", "no-such:point");
    run_command(cmd, RUN_TIMEOUT).assert_ok();
    let diff = diff_states(&reference(s).after, &state(&root));
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}
