//! No child outlives the run that started it. A hook run is killed with
//! SIGKILL, its whole process group at once (as the OOM killer or a lost
//! session would), at random moments of a build whose PRE_BUILD leaves a
//! background job writing into the build directory. After each kill:
//!
//! * no process of the run is left (every descendant carries a tag in its
//!   environment; /proc is searched for it), and the background job's
//!   file stops growing;
//! * a rerun ends exactly as an uninterrupted run does: the same module
//!   bytes in the module tree, the same `dkms status`.
//!
//! The moments come from a seed printed with every failure
//! (`ORPHANS_SEED=<n>` replays a run; `ORPHANS_ROUNDS=<n>` changes the
//! count, 50 by default).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

const K: &str = "6.1.0-90-fake";

/// A root with the module `slow/1.0` added: PRE_BUILD starts a background
/// loop appending to `orphan.log` in the build directory, then the build
/// takes a few hundred milliseconds.
fn prepare() -> TestRoot {
    let root = TestRoot::with_kernel(K);
    root.add_source_text(
        "slow",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=slow\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=slow\n\
                 DEST_MODULE_LOCATION[0]=/kernel/extra\nAUTOINSTALL=yes\nPRE_BUILD=pre.sh\n",
            ),
            (
                "pre.sh",
                "#!/bin/sh\n( while :; do echo x >> \"$PWD/orphan.log\"; sleep 0.02; done ) &\nsleep 0.3\n",
            ),
            ("Makefile", "obj-m := slow.o\n"),
            ("slow.c", "int slow_x;\n"),
        ],
    );
    let pre = root.path("/usr/src/slow-1.0/pre.sh");
    std::fs::set_permissions(&pre, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod pre.sh");
    root.dkms(&["add", "slow/1.0"]).assert_ok();
    root
}

/// The module files in the module tree and `dkms status`.
fn result(root: &TestRoot) -> (BTreeMap<String, String>, String) {
    let mut kos = BTreeMap::new();
    for (p, n) in root.snapshot_of(&format!("/lib/modules/{K}")) {
        let name = p.to_string_lossy().into_owned();
        if name.starts_with("build/") || !name.contains(".ko") {
            continue;
        }
        if let Node::File { sha256, .. } = n {
            kos.insert(name, sha256);
        }
    }
    let status = root.dkms(&["status"]);
    status.assert_ok();
    (kos, status.stdout)
}

/// Pids of live processes whose environment holds `tag`.
fn tagged(tag: &str) -> Vec<u32> {
    let needle = format!("DKMS_ORPHAN_TAG={tag}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let state = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        // A zombie is dead; only its parent's wait is missing.
        if state.contains("State:\tZ") {
            continue;
        }
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// A small, seedable generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn a_killed_run_leaves_no_process_and_its_rerun_ends_like_an_uninterrupted_run() {
    if !rustix::process::geteuid().is_root() {
        skip_unless_ci(
            "orphans",
            "it reads other processes' environment in /proc (needs root)",
        );
        return;
    }
    let reference = {
        let root = prepare();
        root.hook(&["autoinstall", "-k", K]).assert_ok();
        result(&root)
    };
    assert_eq!(reference.0.len(), 1, "{:?}", reference.0);
    let seed: u64 = std::env::var("ORPHANS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    let rounds: usize = std::env::var("ORPHANS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let mut rng = Rng(seed);
    eprintln!("orphans: seed {seed}, {rounds} rounds");
    let mut killed_during_build = 0;
    for round in 0..rounds {
        let root = prepare();
        let tag = format!("{seed}-{round}");
        let delay = Duration::from_millis(rng.next() % 900);
        let ctx = format!("seed {seed}, round {round}, kill after {delay:?}");
        let mut cmd = root.command(env!("CARGO_BIN_EXE_dkms-hook"), &["autoinstall", "-k", K]);
        cmd.env("DKMS_ORPHAN_TAG", &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = dkms_hook::child::retry_text_busy(|| cmd.spawn());
        let mut child = child.unwrap_or_else(|e| panic!("{ctx}: spawn: {e}"));
        std::thread::sleep(delay);
        // SIGKILL to the whole group (a no-op when the run already ended).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        let log = root.path("/var/lib/dkms/slow/1.0/build/orphan.log");
        if log.exists() {
            killed_during_build += 1;
        }
        let t = Instant::now();
        loop {
            let left = tagged(&tag);
            if left.is_empty() {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(3),
                "{ctx}: processes of the killed run are still running: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let before = size(&log);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(
            size(&log),
            before,
            "{ctx}: something still writes into the build directory"
        );
        let rerun = root.hook(&["autoinstall", "-k", K]);
        assert_eq!(rerun.code, 0, "{ctx}: the rerun failed\n{rerun}");
        assert_eq!(result(&root), reference, "{ctx}: the rerun ends elsewhere");
        assert!(
            tagged(&tag).is_empty(),
            "{ctx}: a process outlived the rerun"
        );
    }
    eprintln!("orphans: {killed_during_build} of {rounds} kills hit a running build");
    assert!(
        killed_during_build * 4 >= rounds,
        "seed {seed}: too few kills hit a build ({killed_during_build} of {rounds})"
    );
}
