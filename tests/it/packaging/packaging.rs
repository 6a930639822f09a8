//! The Debian and RPM packages: what they install and declare.
//!
//! `deb_package` builds `dkms-hook_<version>_<arch>.deb` with
//! `dpkg-buildpackage -b -us -uc -d` in a copy of the repository (see
//! the harness's `repo_copy.rs`) and checks its file list, its control fields, its
//! maintainer scripts and triggers, its man pages, and that lintian reports
//! no error. `rpm_package` builds the RPM from `rpm/dkms-hook.spec` with the
//! same release binaries and checks `rpm -qlp` and the file triggers.
//! Without the tools (dpkg-buildpackage, lintian, rpmbuild) a test prints
//! "SKIPPED" and passes, except under CI (`CI` set), where it fails.
//!
//! The other tests here need no packaging tools: framework.conf documents
//! every variable the tool reads, and the man page generator covers every
//! `dkms-hook` subcommand.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// Every path the Debian package must install.
const DEB_PATHS: &[&str] = &[
    "/usr/sbin/dkms",
    "/usr/sbin/dkms-hook",
    "/usr/lib/dkms/common.postinst",
    "/usr/lib/dkms/dkms-autopkgtest",
    "/etc/kernel/postinst.d/dkms-hook",
    "/etc/kernel/header_postinst.d/dkms-hook",
    "/etc/kernel/preinst.d/dkms-hook",
    "/etc/kernel/prerm.d/dkms-hook",
    "/usr/lib/kernel/install.d/40-dkms-hook.install",
    "/lib/systemd/system/dkms-hook.service",
    "/etc/apt/apt.conf.d/90dkms-hook",
    "/etc/dkms/framework.conf",
    "/etc/dkms/framework.conf.d/",
    "/usr/share/bash-completion/completions/dkms",
    "/usr/share/bash-completion/completions/dkms-hook",
    "/usr/share/man/man8/dkms.8.gz",
    "/usr/share/man/man8/dkms-hook.8.gz",
    "/usr/share/doc/dkms-hook/copyright",
    "/var/lib/dkms/",
];

/// Every path the RPM must install.
const RPM_PATHS: &[&str] = &[
    "/usr/sbin/dkms",
    "/usr/sbin/dkms-hook",
    "/usr/lib/dkms/common.postinst",
    "/usr/lib/kernel/install.d/40-dkms-hook.install",
    "/usr/lib/systemd/system/dkms-hook.service",
    "/usr/lib/systemd/system-preset/90-dkms-hook.preset",
    "/etc/dkms/framework.conf",
    "/etc/dkms/framework.conf.d",
    "/usr/share/bash-completion/completions/dkms",
    "/usr/share/bash-completion/completions/dkms-hook",
    "/usr/share/man/man8/dkms.8",
    "/usr/share/man/man8/dkms-hook.8",
    "/var/lib/dkms",
];

/// What a `*-dkms` package needs to build modules: the binary package must
/// depend on each (an alternative written exactly like this). xz-utils
/// compresses the installed modules like Debian 13's kernels' own
/// (`.ko.xz`); without it they would be installed uncompressed.
const DEB_DEPENDS: &[&str] = &[
    "gcc | c-compiler",
    "make",
    "kmod",
    "patch",
    "openssl",
    "xz-utils",
];

/// The subcommands `dkms-hook --help` lists (without clap's `help`).
fn hook_subcommands() -> Vec<String> {
    let help = stdout_of(Command::new(env!("CARGO_BIN_EXE_dkms-hook")).arg("--help"));
    let mut in_commands = false;
    let mut out = Vec::new();
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if line.trim().is_empty() {
                break;
            }
            if let Some(name) = line
                .strip_prefix("  ")
                .and_then(|l| l.split_whitespace().next())
            {
                if name != "help" {
                    out.push(name.to_string());
                }
            }
        }
    }
    assert!(out.len() > 5, "too few subcommands parsed from:\n{help}");
    out
}

/// `dkms-hook.8` names every subcommand in its own `.SS` heading, and
/// `dkms.8` carries the usage `dkms --help` prints.
fn check_man_pages(dkms_8: &str, hook_8: &str) {
    for sub in hook_subcommands() {
        let heading = format!(".SS {}", sub.replace('-', "\\-"));
        assert!(
            hook_8.lines().any(|l| l == heading),
            "dkms-hook.8 has no section for `{sub}`"
        );
    }
    assert!(hook_8.starts_with(".TH DKMS-HOOK 8"), "dkms-hook.8 header");
    assert!(dkms_8.starts_with(".TH DKMS 8"), "dkms.8 header");
    assert!(
        dkms_8.contains("Usage: dkms [action] [options]"),
        "dkms.8 lacks the usage line of `dkms --help`"
    );
    assert!(
        !dkms_8.contains('@'),
        "dkms.8 has an unreplaced @PLACEHOLDER@"
    );
    for action in ["add", "build", "install", "autoinstall", "status", "remove"] {
        assert!(
            dkms_8.contains(&format!(".B {action}\n")),
            "dkms.8 does not describe `{action}`"
        );
    }
}

#[test]
fn framework_conf_documents_every_allowed_variable() {
    let conf = fs::read_to_string(repo().join("debian/framework.conf"))
        .unwrap_or_else(|e| panic!("read debian/framework.conf: {e}"));
    let lines: Vec<&str> = conf.lines().collect();
    for var in dkms_hook::observe::settings::ALLOWED {
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("#{var}=")))
            .unwrap_or_else(|| panic!("framework.conf has no commented `#{var}=` line"));
        assert!(
            at > 0 && lines[at - 1].starts_with("## "),
            "`{var}` in framework.conf has no `## ` explanation line above it"
        );
    }
    // Nothing is set: every assignment is commented out.
    for l in &lines {
        let t = l.trim_start();
        assert!(
            t.is_empty() || t.starts_with('#'),
            "framework.conf sets something: {l}"
        );
    }
}

#[test]
fn man_pages_cover_every_subcommand() {
    // The generator runs on the test build's binaries; no packaging tools needed.
    let (dkms_8, hook_8) = man_pages();
    check_man_pages(&dkms_8, &hook_8);
}

/// The paths in `dpkg-deb -c` output, without the leading `.` (directories
/// keep their trailing `/`).
fn deb_paths(deb: &Path) -> Vec<String> {
    stdout_of(Command::new("dpkg-deb").arg("-c").arg(deb))
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.').to_string())
        .collect()
}

/// One control field of the `.deb`.
fn deb_field(deb: &Path, field: &str) -> String {
    stdout_of(Command::new("dpkg-deb").arg("-f").arg(deb).arg(field))
        .trim()
        .to_string()
}

#[test]
fn deb_package() {
    if !require_tools(
        "deb_package",
        &["dpkg-buildpackage", "dpkg-deb", "dh", "lintian"],
        ".ci/run installs dpkg-dev, debhelper, lintian",
    ) {
        return;
    }
    let deb = build_deb();
    println!("built {}", deb.display());

    let paths = deb_paths(&deb);
    for want in DEB_PATHS {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} is not in the .deb; it has:\n{}",
            paths.join("\n")
        );
    }

    assert_eq!(deb_field(&deb, "Package"), "dkms-hook");
    assert_eq!(deb_field(&deb, "Provides"), "dkms (= 3.4.3)");
    assert_eq!(deb_field(&deb, "Conflicts"), "dkms");
    assert_eq!(deb_field(&deb, "Replaces"), "dkms");
    let depends = deb_field(&deb, "Depends");
    let alternatives: Vec<&str> = depends.split(',').map(str::trim).collect();
    for want in DEB_DEPENDS {
        assert!(
            alternatives.iter().any(|a| a == want),
            "Depends lacks `{want}`: {depends}"
        );
    }

    // Maintainer scripts, conffiles and triggers.
    let ctl = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    run_ok(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(ctl.path()));
    let read = |name: &str| fs::read_to_string(ctl.path().join(name)).unwrap_or_default();
    let conffiles = read("conffiles");
    for c in [
        "/etc/dkms/framework.conf",
        "/etc/apt/apt.conf.d/90dkms-hook",
        "/etc/kernel/postinst.d/dkms-hook",
    ] {
        assert!(
            conffiles.lines().any(|l| l == c),
            "{c} is not a conffile:\n{conffiles}"
        );
    }
    let triggers = read("triggers");
    for t in ["interest-noawait /usr/src", "interest-noawait /lib/modules"] {
        assert!(
            triggers.lines().any(|l| l == t),
            "triggers lacks `{t}`:\n{triggers}"
        );
    }
    let postinst = read("postinst");
    assert!(
        postinst.contains("triggered)"),
        "postinst does not handle `triggered`"
    );
    assert!(
        postinst.contains("dkms-hook dpkg-trigger $2 || true"),
        "postinst does not run dkms-hook dpkg-trigger:\n{postinst}"
    );
    assert!(
        postinst.contains("deb-systemd-helper enable 'dkms-hook.service'"),
        "postinst does not enable dkms-hook.service:\n{postinst}"
    );

    // The man pages as installed.
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    run_ok(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(root.path()),
    );
    let man = |name: &str| {
        let gz = root.path().join("usr/share/man/man8").join(name);
        stdout_of(Command::new("gzip").arg("-dc").arg(gz))
    };
    check_man_pages(&man("dkms.8.gz"), &man("dkms-hook.8.gz"));
    let shipped_conf = fs::read(root.path().join("etc/dkms/framework.conf")).unwrap_or_default();
    let source_conf = fs::read(repo().join("debian/framework.conf")).unwrap_or_default();
    assert_eq!(
        shipped_conf, source_conf,
        "framework.conf differs from debian/framework.conf"
    );

    let lintian = timed("lintian", || {
        let mut cmd = Command::new("lintian");
        cmd.arg("--no-tag-display-limit").arg(&deb);
        run_command(cmd, BUILD_TIMEOUT)
    });
    let report = &lintian.stdout;
    println!("lintian:\n{report}");
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
}

/// The `.rpm` files under `dir` (searched recursively) whose name ends in `suffix`.
fn find_rpms(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let out = stdout_of(Command::new("find").arg(dir).args([
        "-name",
        &format!("*{suffix}"),
        "-type",
        "f",
    ]));
    out.lines().map(PathBuf::from).collect()
}

/// The version of the package, from rpm/dkms-hook.spec.
fn spec_version(spec: &str) -> String {
    spec.lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no Version: in the spec"))
}

/// `rpmbuild` with `_topdir` set.
fn rpmbuild(top: &Path) -> Command {
    let mut cmd = Command::new("rpmbuild");
    cmd.arg("--define")
        .arg(format!("_topdir {}", top.display()));
    cmd
}

/// A root for `rpm --root` whose scriptlets can run: busybox as /bin/sh and
/// the shell tools, and the C libraries the dkms-hook binary needs.
fn scriptlet_root(dir: &Path, binary: &Path) -> bool {
    let Some(busybox) = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
    else {
        return false;
    };
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("mkdir: {e}"));
    fs::copy(busybox, bin.join("busybox")).unwrap_or_else(|e| panic!("copy busybox: {e}"));
    for tool in [
        "sh", "sed", "sort", "cat", "mkdir", "rm", "ls", "uname", "true",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(tool)).unwrap_or_else(|e| panic!("{e}"));
    }
    for d in ["usr", "usr/bin", "usr/sbin", "tmp", "etc", "proc", "dev"] {
        fs::create_dir_all(dir.join(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
    }
    fs::write(
        dir.join("etc/os-release"),
        "NAME=Fedora\nID=fedora\nVERSION_ID=41\n",
    )
    .unwrap_or_else(|e| panic!("os-release: {e}"));
    let ldd = stdout_of(Command::new("ldd").arg(binary));
    for lib in ldd
        .split_whitespace()
        .filter(|w| w.starts_with('/') && Path::new(w).is_file())
    {
        let dest = dir.join(lib.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copy {lib}: {e}"));
    }
    true
}

/// A tiny RPM that stands for a kernel and its headers: files under
/// `/lib/modules/<kver>/` and `/usr/src/kernels/<kver>/`, which the file
/// triggers react to.
fn fake_kernel_rpm(top: &Path, kver: &str) -> PathBuf {
    let spec = top.join("SPECS/fake-kernel.spec");
    fs::create_dir_all(top.join("SPECS")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    fs::write(
        &spec,
        format!(
            "Name: fake-kernel\nVersion: 1\nRelease: 1\nSummary: files where a kernel puts them\n\
             License: GPL-2.0-only\nBuildArch: noarch\n%description\nTest package.\n\
             %install\nmkdir -p %{{buildroot}}/lib/modules/{kver}/kernel %{{buildroot}}/usr/src/kernels/{kver}\n\
             echo fake > %{{buildroot}}/lib/modules/{kver}/modules.order\n\
             echo fake > %{{buildroot}}/usr/src/kernels/{kver}/Makefile\n\
             %files\n/lib/modules/{kver}\n/usr/src/kernels/{kver}\n"
        ),
    )
    .unwrap_or_else(|e| panic!("write fake-kernel.spec: {e}"));
    run_ok(rpmbuild(top).arg("-bb").arg(&spec));
    find_rpms(&top.join("RPMS"), "noarch.rpm")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("fake-kernel"))
        .unwrap_or_else(|| panic!("fake-kernel rpm not built"))
}

#[test]
fn rpm_package() {
    if !require_tools(
        "rpm_package",
        &["rpmbuild", "rpm", "rpmlint"],
        ".ci/run installs rpm, which provides rpmbuild, and rpmlint",
    ) {
        return;
    }
    let (src, bins) = release_build();
    let spec_text = fs::read_to_string(src.join("rpm/dkms-hook.spec"))
        .unwrap_or_else(|e| panic!("read spec: {e}"));
    let version = spec_version(&spec_text);
    let top = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let sources = top.path().join("SOURCES");
    fs::create_dir_all(&sources).unwrap_or_else(|e| panic!("mkdir SOURCES: {e}"));

    // Source0: the sources as debian/vendor.sh packs them, without vendor/
    // (the binaries are built already), and the other sources.
    timed("Source0 tarball", || {
        let name = format!("dkms-hook-{version}");
        run_ok(
            Command::new("tar")
                .arg("-C")
                .arg(&src)
                .arg("--transform")
                .arg(format!("s,^\\.,{name},"))
                .arg("-cJf")
                .arg(sources.join(format!("{name}.tar.xz")))
                .arg("."),
        );
    });
    for (from, to) in [
        ("rpm/dkms-hook.rpmlintrc", "dkms-hook.rpmlintrc"),
        ("hooks/rpm-triggers.spec", "dkms-hook-triggers.inc"),
        ("rpm/dkms-hook.spec", "dkms-hook.spec"),
    ] {
        fs::copy(src.join(from), sources.join(to)).unwrap_or_else(|e| panic!("copy {from}: {e}"));
    }
    let spec = sources.join("dkms-hook.spec");
    let out = timed("rpmbuild -ba --nodeps (prebuilt binaries)", || {
        run_ok(
            rpmbuild(top.path())
                .arg("-ba")
                .arg("--nodeps")
                .arg("--define")
                .arg(format!("_bindir_src {}", bins.display()))
                .arg(&spec),
        )
    });
    println!(
        "{}",
        out.stdout
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let rpms = find_rpms(&top.path().join("RPMS"), ".rpm");
    assert_eq!(rpms.len(), 1, "expected one binary rpm: {rpms:?}");
    let rpm = rpms[0].clone();
    let srpms = find_rpms(&top.path().join("SRPMS"), ".src.rpm");
    assert_eq!(srpms.len(), 1, "expected one source rpm: {srpms:?}");

    let files = stdout_of(Command::new("rpm").arg("-qlp").arg(&rpm));
    for want in RPM_PATHS {
        assert!(
            files.lines().any(|l| l == *want),
            "{want} is not in the RPM; it has:\n{files}"
        );
    }
    // On RPM systems the kernel-install plugin and the file triggers do the
    // work of Debian's /etc/kernel hooks.
    assert!(
        !files.lines().any(|l| l.starts_with("/etc/kernel")),
        "the RPM ships /etc/kernel hooks:\n{files}"
    );
    let query = |what: &str| stdout_of(Command::new("rpm").args(["-qp", what]).arg(&rpm));
    let provides = query("--provides");
    assert!(
        provides.lines().any(|l| l.trim() == "dkms = 3.4.3"),
        "RPM does not provide dkms = 3.4.3:\n{provides}"
    );
    let obsoletes = query("--obsoletes");
    assert!(
        obsoletes.lines().any(|l| l.trim() == "dkms < 3.4.4"),
        "RPM does not obsolete dkms < 3.4.4:\n{obsoletes}"
    );
    let conflicts = query("--conflicts");
    assert!(
        conflicts.lines().any(|l| l.trim() == "dkms > 3.4.3"),
        "RPM does not conflict with newer dkms:\n{conflicts}"
    );
    let configs = stdout_of(Command::new("rpm").args(["-qcp"]).arg(&rpm));
    assert!(
        configs.lines().any(|l| l == "/etc/dkms/framework.conf"),
        "framework.conf is not %config:\n{configs}"
    );
    // (/usr/share/licenses/dkms-hook/ on Fedora; rpm's default on a Debian
    // host adds the version to the directory name.)
    let licenses = stdout_of(Command::new("rpm").args(["-qLp"]).arg(&rpm));
    assert!(
        licenses
            .lines()
            .any(|l| l.starts_with("/usr/share/licenses/dkms-hook") && l.ends_with("/COPYING")),
        "no %license COPYING:\n{licenses}"
    );

    let scripts = stdout_of(
        Command::new("rpm")
            .args(["-qp", "--scripts", "--triggers", "--filetriggers"])
            .arg(&rpm),
    );
    println!("rpm -qp --scripts --triggers --filetriggers:\n{scripts}");
    for dir in ["/usr/src/kernels", "/lib/modules"] {
        let header = format!("transfiletriggerin scriptlet (using /bin/sh) -- {dir}");
        assert!(
            scripts.lines().any(|l| l == header),
            "no %transfiletriggerin for {dir}:\n{scripts}"
        );
    }
    assert!(
        scripts
            .lines()
            .any(|l| l == "transfiletriggerpostun scriptlet (using /bin/sh) -- /lib/modules"),
        "no %transfiletriggerpostun for /lib/modules:\n{scripts}"
    );
    assert!(
        scripts.contains("/usr/sbin/dkms-hook header-postinst \"$kver\""),
        "the file triggers do not run dkms-hook header-postinst:\n{scripts}"
    );
    for (section, what) in [
        ("postinstall scriptlet", "preset dkms-hook.service"),
        ("preuninstall scriptlet", "disable --now dkms-hook.service"),
        ("postuninstall scriptlet", "try-restart dkms-hook.service"),
    ] {
        let body: String = scripts
            .split(section)
            .nth(1)
            .unwrap_or_else(|| panic!("no {section}:\n{scripts}"))
            .lines()
            .take(12)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(body.contains(what), "{section} lacks `{what}`:\n{body}");
    }

    // rpmlint: the spec, the source and the binary package; no error and no
    // warning beyond the exceptions in rpm/dkms-hook.rpmlintrc.
    let lint = timed("rpmlint", || {
        Command::new("rpmlint")
            .arg("-r")
            .arg(sources.join("dkms-hook.rpmlintrc"))
            .arg(&spec)
            .arg(&srpms[0])
            .arg(&rpm)
            .output()
            .unwrap_or_else(|e| panic!("cannot run rpmlint: {e}"))
    });
    let report = String::from_utf8_lossy(&lint.stdout);
    println!(
        "rpmlint:\n{report}{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let findings: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(": E: ") || l.contains(": W: "))
        .collect();
    assert!(
        findings.is_empty(),
        "rpmlint findings:\n{}",
        findings.join("\n")
    );

    // Install into an `rpm --root` (no dependencies there: --nodeps) whose
    // /bin/sh is busybox, so the scriptlets and file triggers really run
    // (rpm chroots into the root for them, which needs root).
    // Under CI (run as root, busybox-static installed) this half never skips.
    const SCRIPTLETS: &str = "rpm_package (rpm --root scriptlets)";
    if !rustix::process::geteuid().is_root() {
        skip_unless_ci(SCRIPTLETS, "needs root to chroot for the scriptlets");
        return;
    }
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    if !scriptlet_root(root.path(), &bins.join("dkms-hook")) {
        skip_unless_ci(
            SCRIPTLETS,
            "busybox is missing for /bin/sh (.ci/run installs busybox-static)",
        );
        return;
    }
    let rpm_root = |args: &[&str], pkg: Option<&Path>| {
        let mut cmd = Command::new("rpm");
        cmd.arg("--root").arg(root.path()).args(args);
        if let Some(p) = pkg {
            cmd.arg(p);
        }
        let out = run_ok(&mut cmd);
        let text = format!("{}{}", out.stdout, out.stderr);
        println!(
            "# rpm --root ROOT {} {}\n{text}",
            args.join(" "),
            pkg.map(|p| p.display().to_string()).unwrap_or_default()
        );
        text
    };
    run_ok(
        Command::new("rpm")
            .arg("--root")
            .arg(root.path())
            .arg("--initdb"),
    );
    rpm_root(&["-i", "--nodeps", "-v"], Some(&rpm));
    assert!(root.path().join("usr/sbin/dkms-hook").is_file());
    let kver = "6.11.4-301.fc41.x86_64";
    let kernel = fake_kernel_rpm(top.path(), kver);
    // %transfiletriggerin: dkms-hook header-postinst for the new kernel.
    let with_kernel = rpm_root(
        &["-i", "--nodeps", "-v", "--define", "_pkgverify_level none"],
        Some(&kernel),
    );
    println!("installing a kernel ran the file triggers:\n{with_kernel}");
    assert!(
        !with_kernel.contains("scriptlet failed"),
        "a file trigger failed:\n{with_kernel}"
    );
    // %transfiletriggerpostun: dkms-hook prune.
    let without = rpm_root(&["-e", "--nodeps", "-v", "fake-kernel"], None);
    assert!(!without.contains("scriptlet failed"), "{without}");
    let erase = rpm_root(&["-e", "--nodeps", "-v", "dkms-hook"], None);
    assert!(!erase.contains("scriptlet failed"), "{erase}");
    assert!(!root.path().join("usr/sbin/dkms-hook").exists());
}
