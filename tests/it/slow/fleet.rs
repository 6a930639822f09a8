//! Build once, install everywhere, end to end with apt: a build root
//! compiles a real `*-dkms` package's module and publishes it as a binary
//! module package; a fleet root with no compiler and no headers installs
//! the kernel and that package from the repository.
//!
//! Both roots are `debootstrap --variant=minbase bookworm`, made and cached
//! exactly as in `tests/debian_root.rs` (see `tests/droot/`):
//!  1. build root: our `.deb`, `linux-headers-M` (M: the newest Debian 12
//!     kernel ABI) and `acpi-call-dkms` through apt; the module is built
//!     and installed for M;
//!  2. inside it, `dkms-hook package acpi-call/V -k M` and `dkms-hook
//!     publish --repo /srv/dkms-repo`: `dkms status` is the same before and
//!     after; the repository holds the `.deb`, `Packages`, `Packages.gz`
//!     and `Release`;
//!  3. the `.rpm` of the same build (`--format rpm`, the host's rpmbuild
//!     through `--root`): `rpm -qp` name, version, requires, conflicts and
//!     file list, and an `rpm --root` install of it into an empty directory;
//!  4. fleet root (no gcc, no headers): the repository as `deb
//!     [trusted=yes] file:/srv/dkms-repo ./`, `apt-get install
//!     linux-image-M acpi-call-modules-M`; the module is in place with a
//!     vermagic for M (and the build's signature), `modprobe -n -S M`
//!     resolves it, `dpkg --audit` is clean, `dkms status` lists it as
//!     installed and the kernel hook has nothing pending for it;
//!  5. `apt-get remove linux-image-M` takes the module package with it
//!     (it Depends on that exact kernel): nothing of it is left and dpkg is
//!     consistent.
//!
//! Slow (debootstrap twice, apt, one module build, a kernel image and its
//! initramfs), so it runs only when `DKMS_HOOK_E2E=1` or `CI` is set;
//! otherwise it prints "SKIPPED". Under CI a missing prerequisite fails.
//! It needs root. `DKMS_HOOK_E2E_DEB=<path>` installs that `.deb` instead
//! of building one. Each step prints its time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::harness::{
    e2e_deb, e2e_enabled, lock_work_dir, require_tools, run_ok, tier_clock, timed, DebianChroot,
    APT,
};

/// The machine architecture as dkms names it.
const ARCH: &str = "x86_64";

/// The dkms module, its package and its module file.
const MODULE: &str = "acpi-call";
const DKMS_PACKAGE: &str = "acpi-call-dkms";
const KO: &str = "acpi_call";

/// The repository inside the build root.
const REPO: &str = "/srv/dkms-repo";

/// Whether the test should run (the slow tier's rule, plus the RPM tools);
/// prints why not.
fn enabled() -> bool {
    e2e_enabled("fleet") && require_tools("fleet", &["rpmbuild", "rpm"], ".ci/run installs rpm")
}

/// Run one of our binaries on the host against a root (`--root`).
fn ours(bin: &str, root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .arg("--root")
        .arg(root)
        .args(args)
        .env("LC_ALL", "C")
        .env_remove("DKMS_ROOT")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let r = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    println!("# {bin} --root {} {}", root.display(), args.join(" "));
    for l in r.1.lines().chain(r.2.lines()) {
        println!("    {l}");
    }
    r
}

/// A host command that must succeed; its stdout.
fn host_ok(cmd: &mut Command) -> String {
    run_ok(cmd).stdout
}

/// The module file of `KO` under `dir` (`.ko` or compressed).
fn ko_in(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == format!("{KO}.ko") || n.starts_with(&format!("{KO}.ko.")))
        })
}

/// The path of `host` inside `root`, as `/...`.
fn inside(root: &DebianChroot, host: &Path) -> String {
    format!(
        "/{}",
        host.strip_prefix(root.dir()).unwrap_or(host).display()
    )
}

#[test]
fn build_once_install_everywhere() {
    if !enabled() {
        return;
    }
    let total = Instant::now();
    let _lock = lock_work_dir("e2e.lock");
    let _clock = tier_clock("slow::fleet");
    let deb = e2e_deb();
    let deb_name = deb
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // ---- the build host -------------------------------------------------
    let build = DebianChroot::bootstrap("fleet-build-");
    let [k] = build.newest_kernels::<1>();
    println!("kernel: {k}");
    let version = timed(
        &format!("step 1d: build root: our .deb, linux-headers-{k}, {DKMS_PACKAGE}"),
        || {
            fs::copy(&deb, build.path(&format!("/tmp/{deb_name}")))
                .unwrap_or_else(|e| panic!("copy {}: {e}", deb.display()));
            build.ok(&format!("{APT} install /tmp/{deb_name} linux-headers-{k}"));
            // Sign inside the chroot too, so the fleet gets a signed module.
            fs::write(
                build.path("/etc/dkms/framework.conf.d/sign.conf"),
                "try_sign_modules=true\n",
            )
            .unwrap_or_else(|e| panic!("framework.conf.d: {e}"));
            build.ok(&format!("{APT} install {DKMS_PACKAGE}"));
            let status = build.query("dkms status");
            let line = status
                .lines()
                .find(|l| l.starts_with(&format!("{MODULE}/")) && l.contains(&format!(", {k}, ")))
                .unwrap_or_else(|| panic!("{MODULE} is not built for {k}:\n{status}"));
            assert!(line.ends_with(": installed"), "{line}");
            line.trim_start_matches(&format!("{MODULE}/"))
                .split(',')
                .next()
                .unwrap_or_default()
                .to_string()
        },
    );
    let pkg = format!("{MODULE}-modules-{k}");
    let built_ko = ko_in(&build.path(&format!("/lib/modules/{k}/updates/dkms")))
        .unwrap_or_else(|| panic!("{KO}.ko is not installed for {k} in the build root"));
    let built_bytes = fs::read(&built_ko).unwrap_or_default();
    let signed_on_build = build
        .query(&format!("modinfo -F signer {}", inside(&build, &built_ko)))
        .trim()
        .to_string();
    println!("build root module signed by: {signed_on_build:?}");

    timed("step 2: package and publish in the build root", || {
        let before = build.query("dkms status");
        build.ok(&format!(
            "dkms-hook package {MODULE}/{version} -k {k} --out /srv/out"
        ));
        build.ok(&format!("{APT} install apt-utils"));
        let published = build.ok(&format!("dkms-hook publish --repo {REPO} /srv/out/*.deb"));
        assert!(
            published.contains("Indexed 1 .deb package(s)"),
            "{published}"
        );
        assert_eq!(
            build.query("dkms status"),
            before,
            "packaging changed dkms status"
        );
        let listing = build.ok(&format!("ls -l {REPO}"));
        for f in [
            format!("{pkg}_{version}_amd64.deb"),
            "Packages".into(),
            "Packages.gz".into(),
            "Release".into(),
        ] {
            assert!(
                listing.contains(&f),
                "{f} not in the repository:\n{listing}"
            );
        }
        let fields = build.ok(&format!(
            "dpkg-deb -f {REPO}/{pkg}_{version}_amd64.deb Package Depends Conflicts"
        ));
        assert!(
            fields.contains(&format!("Depends: linux-image-{k}")),
            "{fields}"
        );
        assert!(
            fields.contains(&format!("Conflicts: {DKMS_PACKAGE}")),
            "{fields}"
        );
    });

    timed("step 3: the .rpm of the same build", || {
        let out = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let o = out.path().display().to_string();
        let (code, _, _) = ours(
            env!("CARGO_BIN_EXE_dkms-hook"),
            build.dir(),
            &[
                "package",
                &format!("{MODULE}/{version}"),
                "-k",
                &k,
                "--format",
                "rpm",
                "--out",
                &o,
            ],
        );
        assert_eq!(code, 0, "dkms-hook package --format rpm failed");
        let rpm = out.path().join(format!("{pkg}-{version}-1.{ARCH}.rpm"));
        let r = rpm.display().to_string();
        let nv =
            host_ok(Command::new("rpm").args(["-qp", "--queryformat", "%{NAME} %{VERSION}", &r]));
        assert_eq!(nv, format!("{pkg} {version}"));
        let requires = host_ok(Command::new("rpm").args(["-qp", "--requires", &r]));
        assert!(
            requires.contains(&format!("/lib/modules/{k}/modules.builtin")),
            "{requires}"
        );
        let conflicts = host_ok(Command::new("rpm").args(["-qp", "--conflicts", &r]));
        assert_eq!(conflicts.trim(), DKMS_PACKAGE);
        let files = host_ok(Command::new("rpm").args(["-qpl", &r]));
        println!("rpm -qpl:\n{files}");
        let ko_path = inside(&build, &built_ko);
        assert!(
            files.lines().any(|l| l == ko_path),
            "{ko_path} not in\n{files}"
        );
        assert!(
            files
                .lines()
                .any(|l| l.starts_with("/usr/share/dkms-hook/prebuilt/")),
            "{files}"
        );
        // Installed with rpm into an empty root (no kernel package there,
        // no shell for scriptlets): the file lands where dkms put it.
        let rroot = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let rr = rroot.path().display().to_string();
        host_ok(Command::new("rpm").args(["--root", &rr, "--initdb"]));
        host_ok(Command::new("rpm").args(["--root", &rr, "-i", "--nodeps", "--noscripts", &r]));
        let placed = rroot.path().join(ko_path.trim_start_matches('/'));
        assert_eq!(fs::read(&placed).unwrap_or_default(), built_bytes);
        let q = host_ok(Command::new("rpm").args(["--root", &rr, "-q", &pkg]));
        assert!(q.starts_with(&pkg), "{q}");
    });

    // ---- a fleet machine --------------------------------------------------
    println!("==> step 4a: the fleet root");
    let fleet = DebianChroot::bootstrap("fleet-client-");
    timed("step 4b: fleet root: add the repository", || {
        host_ok(
            Command::new("cp")
                .arg("-a")
                .arg(build.path(REPO))
                .arg(fleet.path("/srv/")),
        );
        fs::write(
            fleet.path("/etc/apt/sources.list.d/dkms-repo.list"),
            format!("deb [trusted=yes] file:{REPO} ./\n"),
        )
        .unwrap_or_else(|e| panic!("sources.list.d: {e}"));
        fleet.ok("apt-get -q update");
    });
    timed(
        &format!("step 4c: fleet root: apt-get install linux-image-{k} {pkg}"),
        || {
            let out = fleet.ok(&format!("{APT} install linux-image-{k} {pkg}"));
            println!("==== apt-get install output ====\n{out}==== end ====");
            let none = fleet.sh("command -v gcc cc; ls /lib/modules/*/build 2>&1");
            assert!(!none.stdout.contains("/gcc"), "gcc is in the fleet root");
            assert!(!fleet.path(&format!("/lib/modules/{k}/build")).exists());
            let placed = ko_in(&fleet.path(&format!("/lib/modules/{k}/updates/dkms")))
                .unwrap_or_else(|| panic!("{KO}.ko is not installed for {k} in the fleet root"));
            assert_eq!(fs::read(&placed).unwrap_or_default(), built_bytes);
            let p = inside(&fleet, &placed);
            let vermagic = fleet.query(&format!("modinfo -F vermagic {p}"));
            assert!(
                vermagic.starts_with(&format!("{k} ")),
                "vermagic {vermagic}"
            );
            let signer = fleet.query(&format!("modinfo -F signer {p}"));
            assert_eq!(signer.trim(), signed_on_build, "signature differs");
            let resolved = fleet.ok(&format!("modprobe -n -v -S {k} {KO}"));
            assert!(
                resolved.contains(&p),
                "modprobe does not resolve {KO}: {resolved}"
            );
            assert_eq!(fleet.ok("dpkg --audit").trim(), "");
            let (code, status, _) = ours(env!("CARGO_BIN_EXE_dkms"), fleet.dir(), &["status"]);
            assert_eq!(code, 0);
            assert_eq!(
                status.trim(),
                format!("{MODULE}/{version}, {k}, {ARCH}: installed")
            );
            let (code, out, err) = ours(
                env!("CARGO_BIN_EXE_dkms-hook"),
                fleet.dir(),
                &["kernel-postinst", &k],
            );
            assert_eq!(code, 0);
            assert!(
                !out.contains("deferred") && !err.contains("Error"),
                "{out}{err}"
            );
            let (_, pending, _) = ours(env!("CARGO_BIN_EXE_dkms-hook"), fleet.dir(), &["pending"]);
            assert!(!pending.contains(&k), "{pending}");
        },
    );
    timed(
        &format!("step 5: fleet root: apt-get remove linux-image-{k}"),
        || {
            let out = fleet.ok(&format!("{APT} remove linux-image-{k}"));
            assert!(out.contains(&pkg), "apt did not remove {pkg}:\n{out}");
            let state = fleet.sh(&format!("dpkg-query -W -f='${{Status}}' {pkg}"));
            assert!(
                !state.stdout.contains("ok installed"),
                "{pkg} is still installed: {}",
                state.stdout
            );
            assert!(ko_in(&fleet.path(&format!("/lib/modules/{k}/updates/dkms"))).is_none());
            assert_eq!(fleet.ok("dpkg --audit").trim(), "");
            let (_, status, _) = ours(env!("CARGO_BIN_EXE_dkms"), fleet.dir(), &["status"]);
            assert_eq!(status.trim(), "");
        },
    );
    println!(
        "total (before teardown): {:.1} s",
        total.elapsed().as_secs_f64()
    );
    drop(fleet);
    drop(build);
    println!("total: {:.1} s", total.elapsed().as_secs_f64());
}
