//! Safe under concurrency (SPEC "Beyond upstream" 1): one lock serialises
//! the writers, readers never wait for it, and a pile of hooks and manual
//! runs started at the same moment ends exactly like the same commands run
//! one after another.
//!
//! The mixed round: eight invocations spawned together on a root with two
//! kernels (K1, K2), a kernel whose image was removed (K3, for prune), a
//! kernel without headers (K4, pending), three AUTOINSTALL modules (hello,
//! dep which BUILD_DEPENDS on hello, multi), `third/1.0` installed on K1, K2
//! and K3 (removed by the round), and `other/1.0` (AUTOINSTALL=no, source
//! only, installed by hand for K1). Every command's effect commutes with the
//! others', so the final state does not depend on the order the lock hands
//! out turns, and must equal the serial run's. The rounds must really run
//! concurrently: the lifetimes of the spawned processes (from spawn to
//! reaping) must overlap.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::*;
use sha2::{Digest, Sha256};

/// Rounds of the mixed test.
const ROUNDS: usize = 20;

const DKMS: &str = env!("CARGO_BIN_EXE_dkms");
const HOOK: &str = env!("CARGO_BIN_EXE_dkms-hook");

/// `other/1.0`: installed by hand, never by autoinstall.
const OTHER_CONF: &str = "PACKAGE_NAME=\"other\"\nPACKAGE_VERSION=\"1.0\"\n\
BUILT_MODULE_NAME[0]=\"other\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nAUTOINSTALL=\"no\"\n";
/// `third/1.0`: AUTOINSTALL, installed before the round, removed by it.
const THIRD_CONF: &str = "PACKAGE_NAME=\"third\"\nPACKAGE_VERSION=\"1.0\"\n\
BUILT_MODULE_NAME[0]=\"third\"\nDEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nAUTOINSTALL=\"yes\"\n";

fn module_c(name: &str) -> String {
    format!(
        "#include <fake_module.h>\n\nFAKE_MODULE_VERSION(\"1.0\");\nFAKE_MODULE_LICENSE(\"GPL\");\n\
         FAKE_MODULE_DESCRIPTION(\"{name} test module\");\n\nint {name}_init(void)\n{{\n\treturn 0;\n}}\n"
    )
}

/// The starting state of every round (and of the serial reference).
fn prepare() -> TestRoot {
    let root = TestRoot::new();
    for k in [K1, K2, K3] {
        root.add_fake_kernel(k, true, true);
    }
    root.add_fake_kernel(K4, false, true);
    for m in ["hello", "dep", "multi"] {
        root.add_source(&format!("{m}-1.0"));
        root.dkms(&["add", &format!("{m}/1.0")]).assert_ok();
    }
    for (name, conf) in [("other", OTHER_CONF), ("third", THIRD_CONF)] {
        root.add_source_text(
            name,
            "1.0",
            &[
                ("dkms.conf", conf),
                ("Makefile", &format!("obj-m += {name}.o\n")),
                (&format!("{name}.c"), &module_c(name)),
            ],
        );
    }
    root.dkms(&["install", "third/1.0", "-k", K1, "-k", K2, "-k", K3])
        .assert_ok();
    root.dkms(&["install", "hello/1.0", "-k", K3]).assert_ok();
    // Image and headers gone: prune removes K3's builds.
    root.remove_kernel_image(K3);
    root.remove_headers(K3);
    root.hook(&["kernel-postinst", K4, &format!("/boot/vmlinuz-{K4}")])
        .assert_ok();
    root
}

/// The eight invocations of a round: (binary, arguments).
fn commands() -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (HOOK, s(&["autoinstall", "-k", K1])),
        (HOOK, s(&["autoinstall", "-k", K2])),
        (DKMS, s(&["install", "other/1.0", "-k", K1])),
        (DKMS, s(&["remove", "third/1.0", "--all"])),
        (DKMS, s(&["status"])),
        (
            HOOK,
            s(&["kernel-postinst", K2, &format!("/boot/vmlinuz-{K2}")]),
        ),
        (HOOK, s(&["prune"])),
        (HOOK, s(&["pending"])),
    ]
}

fn replace_bytes(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if !from.is_empty() && data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// The compared state: every path under `var/lib/dkms` (not the lock) and
/// `lib/modules/*/updates`, with link targets and `.ko` content (the root's
/// own path replaced); other files by presence only (make.log and the
/// queue's JSON carry timestamps).
fn state(root: &TestRoot) -> BTreeMap<PathBuf, String> {
    let needle = root.root().to_string_lossy().into_owned();
    let mut out = BTreeMap::new();
    let mut add = |under: &str| {
        let base = root.path(under);
        if !base.exists() {
            return;
        }
        for (p, n) in snapshot_dir(&base) {
            let rel = Path::new(under).join(&p);
            if rel == Path::new(LOCK) {
                continue;
            }
            let v = match n {
                Node::Dir => "dir".to_string(),
                Node::Symlink(t) => format!("-> {}", t.display()),
                Node::Other => "other".to_string(),
                Node::File { .. } if p.to_string_lossy().ends_with(".ko") => {
                    let data = std::fs::read(base.join(&p)).expect("read .ko");
                    let data = replace_bytes(&data, needle.as_bytes(), b"@ROOT@");
                    format!("ko {:x}", Sha256::digest(&data))
                }
                Node::File { .. } => "file".to_string(),
            };
            out.insert(rel, v);
        }
    };
    add("var/lib/dkms");
    for k in root.list("lib/modules") {
        add(&format!("lib/modules/{k}/updates"));
    }
    out
}

/// Partial files and stray build directories anywhere in the trees.
fn leftovers(root: &TestRoot) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (p, _) in snapshot_dir(&root.path("var/lib/dkms")) {
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if n.starts_with("build-")
            || n.starts_with(".tmp")
            || n.starts_with(".old_")
            || (n.starts_with(".kernel-") && n.contains(".tmp"))
        {
            out.push(Path::new("var/lib/dkms").join(p));
        }
    }
    for (p, _) in snapshot_dir(&root.path("lib/modules")) {
        if p.components()
            .nth(1)
            .is_some_and(|c| c.as_os_str() == "build")
        {
            continue;
        }
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if n.starts_with('.') && n.contains(".dkms-") {
            out.push(Path::new("lib/modules").join(p));
        }
    }
    out
}

/// When a child process lived, as the test saw it: from just after `spawn`
/// returned (the program was executed) to just after it was reaped.
#[derive(Debug, Clone, Copy)]
struct Lifetime {
    start: Instant,
    end: Instant,
}

impl Lifetime {
    /// How long both were alive at once (zero when they were not).
    fn overlap(&self, other: &Lifetime) -> Duration {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        end.saturating_duration_since(start)
    }
}

/// The longest time any two of `lives` were alive at once.
fn longest_overlap(lives: &[Lifetime]) -> Duration {
    let mut best = Duration::ZERO;
    for (i, a) in lives.iter().enumerate() {
        for b in &lives[i + 1..] {
            best = best.max(a.overlap(b));
        }
    }
    best
}

/// A spawned child with its output being collected; a thread waits for it,
/// so the moment it is reaped is taken when it exits, whatever the test is
/// waiting for meanwhile.
struct Running {
    command: String,
    pgid: rustix::process::Pid,
    start: Instant,
    exited: mpsc::Receiver<(std::io::Result<ExitStatus>, Instant)>,
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
}

/// Spawns `bin args` against `root` in its own process group, output piped.
fn spawn(root: &TestRoot, bin: &str, args: &[String]) -> Running {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = root.command(bin, &args);
    cmd.env_remove("DKMS_HOOK_FAULT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let command = format!("{cmd:?}");
    let mut child: Child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
    let start = Instant::now();
    let pgid = rustix::process::Pid::from_child(&child);
    let mut o = child.stdout.take().expect("stdout");
    let mut e = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = o.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = e.read_to_end(&mut b);
        b
    });
    let (tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let st = child.wait();
        let _ = tx.send((st, Instant::now()));
    });
    Running {
        command,
        pgid,
        start,
        exited,
        out,
        err,
    }
}

impl Running {
    /// Waits until `deadline`; kills the process group and panics past it.
    fn wait(self, deadline: Instant) -> Output {
        self.wait_timed(deadline).0
    }

    /// [`Running::wait`], also returning when the child lived.
    fn wait_timed(self, deadline: Instant) -> (Output, Lifetime) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((st, end)) = self.exited.recv_timeout(left) else {
            let _ = rustix::process::kill_process_group(self.pgid, rustix::process::Signal::KILL);
            panic!("{} did not finish in time", self.command);
        };
        let st = st.expect("wait for the child");
        let code = st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
        let out = Output {
            command: self.command,
            code,
            stdout: String::from_utf8_lossy(&self.out.join().expect("stdout")).into(),
            stderr: String::from_utf8_lossy(&self.err.join().expect("stderr")).into(),
        };
        (
            out,
            Lifetime {
                start: self.start,
                end,
            },
        )
    }
}

fn check_outputs(outs: &[Output], round: usize) {
    for o in outs {
        assert_eq!(o.code, 0, "round {round}: a command failed\n{o}");
    }
}

#[test]
fn eight_mixed_invocations_at_once_end_like_a_serial_run() {
    let t0 = Instant::now();
    // The serial reference.
    let serial = prepare();
    let outs: Vec<Output> = commands()
        .iter()
        .map(|(bin, args)| spawn(&serial, bin, args).wait(Instant::now() + RUN_TIMEOUT))
        .collect();
    check_outputs(&outs, 0);
    let want = state(&serial);
    assert_eq!(leftovers(&serial), Vec::<PathBuf>::new());
    // Sanity: the round does something for every command.
    for p in [
        format!("lib/modules/{K1}/updates/dkms/hello.ko"),
        format!("lib/modules/{K2}/updates/dkms/dep.ko"),
        format!("lib/modules/{K2}/updates/dkms/multi_b.ko"),
        format!("lib/modules/{K1}/updates/dkms/other.ko"),
    ] {
        assert!(want.contains_key(Path::new(&p)), "serial run lacks {p}");
    }
    assert!(!serial.exists("var/lib/dkms/third"), "third not removed");
    assert!(
        !serial.exists(&format!("var/lib/dkms/hello/1.0/{K3}")),
        "K3 not pruned"
    );
    assert!(serial.list("var/lib/dkms/.dkms-hook/pending").len() == 1);
    let want_status = serial.dkms(&["status"]).stdout;

    let mut round_times = Vec::new();
    let mut overlaps = Vec::new();
    for round in 1..=ROUNDS {
        let root = prepare();
        let start = Instant::now();
        let running: Vec<Running> = commands()
            .iter()
            .map(|(bin, args)| spawn(&root, bin, args))
            .collect();
        let deadline = Instant::now() + RUN_TIMEOUT;
        let (outs, lives): (Vec<Output>, Vec<Lifetime>) =
            running.into_iter().map(|r| r.wait_timed(deadline)).unzip();
        round_times.push(start.elapsed());
        overlaps.push(longest_overlap(&lives));
        check_outputs(&outs, round);
        let d = diff_states(&want, &state(&root));
        assert!(
            d.is_empty(),
            "round {round}: the concurrent run ends differently from the serial run:\n{}\n\
             outputs:\n{}",
            d.join("\n"),
            outs.iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_eq!(
            leftovers(&root),
            Vec::<PathBuf>::new(),
            "round {round}: partial files or stray build directories"
        );
        assert_eq!(root.dkms(&["status"]).stdout, want_status, "round {round}");
    }
    eprintln!(
        "{ROUNDS} rounds; concurrent phase per round: {:?}; longest overlap of two \
         processes per round: {:?}; total {:?}",
        round_times,
        overlaps,
        t0.elapsed()
    );
    // Proof that the rounds tested concurrency at all: in some round two of
    // the processes were alive at the same time. (Across all rounds, so one
    // round that happens to run serially cannot fail the test.)
    assert!(
        overlaps.iter().any(|d| !d.is_zero()),
        "no two invocations of any round were alive at the same time: the \
         rounds ran serially; longest overlap per round: {overlaps:?}"
    );
}

/// Holds the tree lock with util-linux `flock` in a child process until
/// dropped. `flock -o` keeps the lock in flock itself (not in the `sleep` it
/// runs); both are in their own process group, killed by its id on drop.
struct LockHolder(Child);

impl LockHolder {
    fn hold(root: &TestRoot) -> LockHolder {
        let lock = root.path(LOCK);
        let child = Command::new("flock")
            .args(["-x", "-o"])
            .arg(&lock)
            .args(["sleep", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("run flock (util-linux)");
        let holder = LockHolder(child);
        let until = Instant::now() + Duration::from_secs(10);
        while !lock_is_held(root) {
            assert!(Instant::now() < until, "flock did not take the lock");
            std::thread::sleep(Duration::from_millis(20));
        }
        holder
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let pg = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
        let _ = self.0.wait();
    }
}

/// True if someone holds the tree lock (a non-blocking flock fails).
fn lock_is_held(root: &TestRoot) -> bool {
    let st = Command::new("flock")
        .args(["-n", "-x"])
        .arg(root.path(LOCK))
        .arg("true")
        .status()
        .expect("run flock");
    !st.success()
}

/// Runs a reader while the lock is held; it must finish quickly and succeed.
#[track_caller]
fn reader_finishes(root: &TestRoot, bin: &str, args: &[&str]) -> Output {
    let start = Instant::now();
    let mut cmd = root.command(bin, args);
    cmd.env_remove("DKMS_HOOK_FAULT");
    let out = run_command(cmd, Duration::from_secs(20));
    let took = start.elapsed();
    out.assert_ok();
    assert!(
        took < Duration::from_secs(5),
        "{args:?} took {took:?} while the lock was held"
    );
    assert!(
        !out.stderr.contains("Waiting for another dkms process"),
        "{args:?} waited for the lock\n{out}"
    );
    out
}

#[test]
fn readers_do_not_wait_for_a_held_lock() {
    let root = prepare();
    root.write(LOCK, "");
    let holder = LockHolder::hold(&root);

    // A writer does wait: proves the lock really is held.
    let writer = spawn(&root, HOOK, &["prune".to_string()]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(lock_is_held(&root));

    let status = reader_finishes(&root, DKMS, &["status"]);
    status.assert_stdout_contains(&format!("hello/1.0, {K3}, {ARCH}: installed"));
    let pending = reader_finishes(&root, HOOK, &["pending"]);
    pending.assert_stdout_contains(K4);
    reader_finishes(&root, DKMS, &["status", "--output", "json"]);
    // doctor only reports (without --repair), so it does not wait either.
    reader_finishes(&root, HOOK, &["doctor"]);

    // The writer is still blocked, and has said so.
    assert!(
        root.exists(&format!("var/lib/dkms/hello/1.0/{K3}")),
        "prune ran under a held lock"
    );
    drop(holder);
    let w = writer.wait(Instant::now() + RUN_TIMEOUT);
    w.assert_ok();
    w.assert_stderr_contains("Waiting for another dkms process to finish");
    assert!(
        !root.exists(&format!("var/lib/dkms/hello/1.0/{K3}")),
        "prune did nothing"
    );
}

#[test]
fn status_answers_during_a_long_build() {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "slow",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=\"slow\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"slow\"\n\
                 DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nPRE_BUILD=\"pause.sh\"\n",
            ),
            ("pause.sh", "#!/bin/sh\nsleep 3\n"),
            ("Makefile", "obj-m += slow.o\n"),
            ("slow.c", &module_c("slow")),
        ],
    );
    root.dkms(&["add", "slow/1.0"]).assert_ok();
    let build = spawn(
        &root,
        DKMS,
        &["build", "slow/1.0", "-k", K1].map(String::from),
    );
    let until = Instant::now() + Duration::from_secs(10);
    while !(root.exists(LOCK) && lock_is_held(&root)) {
        assert!(Instant::now() < until, "the build never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = reader_finishes(&root, DKMS, &["status"]);
    status.assert_stdout_contains("slow/1.0: added");
    reader_finishes(&root, HOOK, &["pending"]);
    assert!(
        lock_is_held(&root),
        "the build finished before the readers: no proof"
    );
    build.wait(Instant::now() + RUN_TIMEOUT).assert_ok();
    root.dkms(&["status"])
        .assert_stdout_contains(&format!("slow/1.0, {K1}, {ARCH}: built"));
}
