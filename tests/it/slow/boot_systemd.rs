//! A booted Debian 12, and a booted Debian 13, with systemd: after an apt
//! kernel upgrade the module loads at boot, the boot unit catches up missed
//! work (and survives a build that fails), and removing a kernel prunes its
//! builds.
//!
//! The work is `tests/boot/systemd-boot.sh` (`--suite trixie` for Debian
//! 13, whose kernels are `6.12.<N>+deb13-amd64`, modules `.ko.xz`, gcc 14,
//! systemd 257), which a person can run as root by hand; this test builds our `.deb` (as `tests/debian_root.rs`
//! does), runs the script with it and checks what the script printed: the
//! `proof[BOOT]: ...` lines each boot's oneshot unit wrote on the serial
//! console, and the checks the script made in the root between boots. The
//! script's header lists the steps; in short:
//!
//!  - `upgrade`: kernel N in the base root, `apt-get install linux-image-M
//!    linux-headers-M`, boot M: `uname -r`, `lsmod`, `modinfo -F vermagic`
//!    of v4l2loopback (named in /etc/modules-load.d/), and
//!    `systemctl is-failed dkms-hook.service`;
//!  - `removal`: `apt-get purge linux-image-N linux-headers-N` leaves nothing
//!    for N under /var/lib/dkms; a module that does not compile is
//!    registered; boot M: v4l2loopback still loads, dkms-hook.service's
//!    build of the broken module fails, its journal says so, boot goes on;
//!  - `catchup`: kernel P's image without headers (deferred), then its
//!    headers with every dkms-hook entry point stubbed out; boot P:
//!    dkms-hook.service builds and installs both modules, v4l2loopback is
//!    loaded by the end of boot, and `dkms-hook pending` is empty.
//!
//! Slow (about 10 minutes per release with warm caches on two CPUs: three
//! TCG boots, two of them compiling in the guest), so they run only when
//! `DKMS_HOOK_E2E=1` or `CI` is set; otherwise it prints "SKIPPED". It needs
//! root, debootstrap, qemu-system-x86_64, mke2fs and zstd; under CI a
//! missing one is a failure. `DKMS_HOOK_E2E_DEB=<path>` installs that `.deb`
//! instead of building one. The base root and apt's downloads are cached in
//! `tests/.cache/boot-systemd/` (a base root per release, one apt cache);
//! the two tests take the same lock and run one after the other.

use crate::harness::{e2e_deb, e2e_enabled, lock_work_dir, repo, require_tools, tier_clock, timed};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Whether the test should run (the slow tier's rule, plus what the boots
/// need); prints why not.
fn enabled() -> bool {
    e2e_enabled("boot_systemd")
        && require_tools(
            "boot_systemd",
            &["unshare", "mke2fs", "zstd", "qemu-system-x86_64", "timeout"],
            ".ci/run installs e2fsprogs, zstd and qemu-system-x86",
        )
}

/// What a boot script printed, and its exit status.
pub(super) struct Run {
    /// Everything it printed.
    pub(super) out: String,
    /// Its exit status.
    pub(super) code: Option<i32>,
}

impl Run {
    /// The value of `KEY=...` on the script's `kernels:` line.
    pub(super) fn kernel(&self, key: &str) -> String {
        self.out
            .lines()
            .find(|l| l.starts_with("kernels: N="))
            .and_then(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{key}=")))
            })
            .map(str::to_string)
            .unwrap_or_else(|| panic!("the script printed no `kernels: N=...` line"))
    }

    /// The serial-console proof lines of boot `name`.
    pub(super) fn proof(&self, name: &str) -> Vec<&str> {
        let prefix = format!("proof[{name}]: ");
        self.out
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect()
    }

    /// Assert that boot `name` printed a line starting with `start`.
    pub(super) fn assert_line(&self, name: &str, start: &str) {
        let lines = self.proof(name);
        assert!(
            lines.iter().any(|l| l.starts_with(start)),
            "boot {name}: no console line starting with `{start}`:\n{}",
            lines.join("\n")
        );
    }

    /// Assert that boot `name` printed a line containing `part`.
    pub(super) fn assert_contains(&self, name: &str, part: &str) {
        let lines = self.proof(name);
        assert!(
            lines.iter().any(|l| l.contains(part)),
            "boot {name}: no console line containing `{part}`:\n{}",
            lines.join("\n")
        );
    }

    /// Assert that the script checked `what` in the root and it held.
    pub(super) fn assert_pass(&self, what: &str) {
        assert!(
            self.out
                .lines()
                .any(|l| l.starts_with("PASS point") && l.contains(what)),
            "no PASS line for `{what}`"
        );
    }
}

/// Run the boot script `script` (a path in the repository) with `deb` and
/// the further arguments `args`, echoing its output as it comes.
pub(super) fn run_script(script: &str, deb: &PathBuf, args: &[&str]) -> Run {
    let script = repo().join(script);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(&script)
        .arg("--deb")
        .arg(deb)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            println!("{line}");
            out.push_str(&line);
            out.push('\n');
        }
    }
    let st = child
        .wait()
        .unwrap_or_else(|e| panic!("wait for the script: {e}"));
    Run {
        out,
        code: st.code(),
    }
}

#[test]
fn booted_debian_with_systemd() {
    booted_with_systemd("bookworm");
}

#[test]
fn booted_trixie_with_systemd() {
    booted_with_systemd("trixie");
}

/// Boot a root of Debian release `suite` three times through
/// `tests/boot/systemd-boot.sh` and check what each boot printed.
fn booted_with_systemd(suite: &str) {
    if !enabled() {
        return;
    }
    let total = Instant::now();
    let _lock = lock_work_dir("boot-systemd.lock");
    let _clock = tier_clock(format!("slow::boot_systemd ({suite})"));
    let deb = e2e_deb();
    let run = timed(
        &format!("tests/boot/systemd-boot.sh --suite {suite}"),
        || run_script("tests/boot/systemd-boot.sh", &deb, &["--suite", suite]),
    );
    let failed: Vec<&str> = run
        .out
        .lines()
        .filter(|l| l.starts_with("FAIL point"))
        .collect();
    assert!(failed.is_empty(), "the script's checks failed:\n{failed:?}");
    assert_eq!(run.code, Some(0), "the script failed");
    assert!(run.out.lines().any(|l| l == "RESULT: PASS"));
    assert!(
        run.out.lines().any(|l| l == format!("release: {suite}")),
        "the script did not say it booted {suite}"
    );

    let (n, m, p) = (run.kernel("N"), run.kernel("M"), run.kernel("P"));
    // The release's own kernels, by the shape of their names.
    let shape = if suite == "trixie" {
        "+deb13"
    } else {
        "6.1.0-"
    };
    for k in [&n, &m, &p] {
        assert!(k.contains(shape), "kernel {k} is not one of {suite}'s");
    }
    let arch = "x86_64";

    // 2. After the apt upgrade to M, M boots with the module loaded.
    run.assert_pass(&format!("v4l2loopback installed for M={m} by apt's hooks"));
    run.assert_line("upgrade", &format!("uname-r {m}"));
    run.assert_line("upgrade", "modules-load.d v4l2loopback");
    run.assert_line("upgrade", "lsmod v4l2loopback ");
    run.assert_line("upgrade", &format!("vermagic v4l2loopback {m} "));
    run.assert_line(
        "upgrade",
        &format!("modfile v4l2loopback /lib/modules/{m}/updates/dkms/v4l2loopback.ko"),
    );
    run.assert_line("upgrade", "is-failed dkms-hook.service active");
    run.assert_line("upgrade", "end uptime=");

    // 4. Purging N leaves nothing of it in the dkms tree; M still loads it.
    run.assert_pass(&format!(
        "no build and no kernel-{n}-* link under /var/lib/dkms"
    ));
    run.assert_line("removal", &format!("uname-r {m}"));
    run.assert_line("removal", "lsmod v4l2loopback ");
    run.assert_line("removal", &format!("vermagic v4l2loopback {m} "));
    assert!(
        !run.proof("removal").iter().any(|l| l.contains(&n)),
        "boot removal still shows kernel {n}:\n{}",
        run.proof("removal").join("\n")
    );

    // 3b. The boot unit's build fails: boot goes on, the journal says why.
    run.assert_line("removal", "is-failed dkms-hook.service active");
    run.assert_contains(
        "removal",
        &format!("Error! Bad return status for module build on kernel: {m} ({arch})"),
    );
    run.assert_contains(
        "removal",
        &format!("Autoinstall on {m} failed for module(s) e2e-broken(10)."),
    );
    run.assert_contains("removal", "e2e_broken.c:2:44: error: expected");
    run.assert_line("removal", "end uptime=");

    // 3. Headers of P arrived without the hooks: the boot unit catches up.
    run.assert_pass(&format!("dkms-hook pending still lists P={p}"));
    run.assert_pass(&format!("nothing is built for P={p}"));
    run.assert_line("catchup", &format!("uname-r {p}"));
    run.assert_contains(
        "catchup",
        &format!("built and installed: v4l2loopback for {p}"),
    );
    run.assert_contains(
        "catchup",
        &format!("built and installed: acpi-call for {p}"),
    );
    run.assert_contains(
        "catchup",
        &format!("loading the modules installed for the running kernel {p}"),
    );
    for module in ["v4l2loopback", "acpi-call"] {
        let done = format!(", {p}, {arch}: installed");
        assert!(
            run.proof("catchup")
                .iter()
                .any(|l| l.starts_with(&format!("dkms-status {module}/")) && l.ends_with(&done)),
            "boot catchup: dkms status does not show {module} installed for {p}"
        );
    }
    run.assert_line("catchup", "lsmod v4l2loopback ");
    // Loaded by systemd-modules-load.service, started again by dkms-hook.
    run.assert_contains("catchup", "systemd-modules-load[");
    run.assert_contains("catchup", "Inserted module 'v4l2loopback'");
    run.assert_line("catchup", &format!("vermagic v4l2loopback {p} "));
    run.assert_line("catchup", "is-failed dkms-hook.service active");
    assert!(
        !run.proof("catchup").iter().any(|l| l.contains("Warning")),
        "boot catchup: dkms-hook.service warned:\n{}",
        run.proof("catchup").join("\n")
    );
    run.assert_line("catchup", "pending Nothing is pending.");
    run.assert_line("catchup", "end uptime=");

    println!("total: {:.1} s", total.elapsed().as_secs_f64());
}
