//! The real-kernel tier on Debian 13 (trixie): the tests of `tests/it/real/`
//! (real modules built against real headers: build, install, vermagic,
//! modules.dep, signing, unprivileged builds, the hooks, Debian's own
//! `*-dkms` sources) run again inside a trixie root, against trixie's 6.12
//! headers (two flavours of the newest ABI, `6.12.<N>+deb13-amd64` and
//! `6.12.<N>+deb13-rt-amd64`), trixie's gcc 14 and trixie's `*-dkms`
//! packages.
//!
//! How: a [`DebianChroot`] of trixie (its own cached base tarball) gets the
//! build tools and the two kernels' headers with apt; the repository and
//! the test build's target directory are bind-mounted at their own paths,
//! so this very test binary, run inside the root with the filter `real::`,
//! finds its `dkms` and `dkms-hook` where it was built. It runs in its own
//! PID namespace, where the root is what PID 1 sees: a chroot would turn
//! signing off, as upstream's dkms does in one. `CI=true` inside,
//! so a real test that would skip fails instead. Debian 13's `*-dkms`
//! sources are fetched by `tests/real/fetch-sources.sh` inside the root
//! (its apt) into their own cache, `tests/.cache/trixie/`.
//!
//! Slow (a trixie root, two headers packages and their images, a dozen real
//! module builds), so it runs only when `DKMS_HOOK_E2E=1` or `CI` is set;
//! otherwise it prints "SKIPPED". It needs root.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::harness::*;

/// Names of the root directories this test creates (and cleans up after a crash).
const ROOT_PREFIX: &str = "trixie-real-";

/// What the real tier needs in the root: the module build tools, openssl
/// for signing, useradd for the build user, and what Debian's
/// iptables-netflow-dkms and xtables-addons-dkms configure against.
const TOOLS: &str = "gcc make kmod patch openssl libelf-dev bc passwd \
                     iptables libxtables-dev pkg-config";

/// The real tests every run must have run (one per file of
/// `tests/it/real/`, and the Debian sources of Debian 13).
const MUST_PASS: &[&str] = &[
    "real::real_kernel::hello_builds_and_installs_for_both_real_kernels",
    "real::real_kernel::v4l2loopback_from_debian_installs",
    "real::real_kernel::tp_smapi_from_debian_installs_three_modules",
    "real::real_kernel::iptables_netflow_from_debian_runs_pre_build_configure",
    "real::real_kernel::acpi_call_from_debian_installs",
    "real::real_kernel::failed_build_exits_10_and_keeps_the_installed_module",
    "real::signing_real::installed_module_is_signed_with_our_key::debian_kbuild_1_true",
    "real::signing_real::installed_module_is_signed_with_our_key::debian_kbuild_2_false",
    "real::privilege_real::build_runs_unprivileged_without_network_and_install_as_root",
];

/// Run this test binary inside `root` on the `real::` tests; echo its
/// output as it comes; return it and whether it passed.
fn run_real_tier(root: &DebianChroot, cache: &std::path::Path) -> (String, bool) {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    // A new PID namespace with its own /proc: inside, PID 1 runs in the
    // root, so the root looks like a booted system and not like a chroot
    // (dkms signs nothing in a chroot, as upstream's does). bash is PID 1,
    // so orphans are reaped, and runs the test binary.
    let mount_proc = format!("--mount-proc={}", root.dir().join("proc").display());
    let mut child = Command::new("unshare")
        .args(["--fork", "--pid", &mount_proc, "/usr/sbin/chroot"])
        .arg(root.dir())
        .args(["/bin/bash", "-c", "\"$0\" \"$@\"; exit $?"])
        .arg(&exe)
        // (`slow::trixie_real::` matches `real::` too: never this test again.)
        .args([
            "real::",
            "--skip",
            "slow::",
            "--skip",
            "fake::",
            "--test-threads=2",
        ])
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .env("HOME", "/root")
        .env("CI", "true")
        .env("RUST_BACKTRACE", "1")
        .env("DKMS_HOOK_CACHE", cache)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} in the root: {e}", exe.display()));
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            println!("    {line}");
            out.push_str(&line);
            out.push('\n');
        }
    }
    let ok = child
        .wait()
        .unwrap_or_else(|e| panic!("wait: {e}"))
        .success();
    (out, ok)
}

#[test]
fn real_kernel_tier_in_a_trixie_root() {
    if !e2e_enabled("trixie_real") {
        return;
    }
    let total = Instant::now();
    let _lock = lock_work_dir("e2e.lock");
    let _clock = tier_clock("slow::trixie_real");
    let root = DebianChroot::bootstrap_release(ROOT_PREFIX, Release::Trixie);
    let [k1, k2] = root.newest_kernels();
    println!("kernels: {k1} and {k2}");

    timed("step 2: build tools and the two kernels' headers", || {
        root.ok(&format!(
            "{APT} install {TOOLS} linux-headers-{k1} linux-headers-{k2}"
        ));
        for k in [&k1, &k2] {
            assert!(root
                .path(&format!("/usr/src/linux-headers-{k}/Makefile"))
                .is_file());
        }
        assert!(root.ok("gcc --version").starts_with("gcc (Debian 14."));
    });

    // The repository and the test build, at the same paths inside.
    let target = bin_dir()
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no target directory above {}", bin_dir().display()));
    root.bind_host_dir(&repo());
    if !target.starts_with(repo()) {
        root.bind_host_dir(&target);
    }
    let cache = repo().join("tests/.cache/trixie");

    timed("step 3: fetch Debian 13's *-dkms sources", || {
        let script = repo().join("tests/real/fetch-sources.sh");
        let out = root.ok(&format!(
            "DKMS_HOOK_CACHE='{}' bash '{}'",
            cache.display(),
            script.display()
        ));
        assert!(out.contains("/v4l2loopback-"), "{out}");
    });

    let (out, ok) = timed("step 4: the real-kernel tests inside the root", || {
        run_real_tier(&root, &cache)
    });
    assert!(ok, "the real-kernel tier failed in the trixie root");
    for t in MUST_PASS {
        let line = format!("test {t} ... ok");
        assert!(
            out.lines().any(|l| l == line),
            "`{line}` is not in the output"
        );
    }
    let passed: usize = out
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|r| r.split(' ').next())
        .filter_map(|n| n.parse::<usize>().ok())
        .sum();
    assert!(passed >= MUST_PASS.len(), "only {passed} tests passed");
    assert!(
        !out.contains("skipped"),
        "a real test skipped in the trixie root"
    );
    println!(
        "total (before teardown): {:.1} s",
        total.elapsed().as_secs_f64()
    );
    drop(root);
    println!("total: {:.1} s", total.elapsed().as_secs_f64());
}
