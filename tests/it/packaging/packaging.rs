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
    "/etc/kernel/postinst.d/dkms-hook",
    "/etc/kernel/preinst.d/dkms-hook",
    "/etc/kernel/prerm.d/dkms-hook",
    "/usr/lib/kernel/install.d/40-dkms-hook.install",
    "/usr/lib/systemd/system/dkms-hook.service",
    "/etc/dkms/framework.conf",
    "/etc/dkms/framework.conf.d",
    "/usr/share/bash-completion/completions/dkms",
    "/usr/share/bash-completion/completions/dkms-hook",
    "/usr/share/man/man8/dkms.8",
    "/usr/share/man/man8/dkms-hook.8",
    "/var/lib/dkms",
];

/// What a `*-dkms` package needs to build modules: the binary package must
/// depend on each (an alternative written exactly like this).
const DEB_DEPENDS: &[&str] = &["gcc | c-compiler", "make", "kmod", "patch", "openssl"];

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
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_dkms-hook"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    run_ok(
        Command::new("bash")
            .arg(repo().join("debian/gen-manpages.sh"))
            .arg(&bin_dir)
            .arg(out.path()),
    );
    let dkms_8 = fs::read_to_string(out.path().join("dkms.8")).unwrap_or_default();
    let hook_8 = fs::read_to_string(out.path().join("dkms-hook.8")).unwrap_or_default();
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

/// The single `.rpm` under `dir` (searched recursively).
fn find_rpm(dir: &Path) -> PathBuf {
    let out = stdout_of(
        Command::new("find")
            .arg(dir)
            .args(["-name", "*.rpm", "-type", "f"]),
    );
    let rpms: Vec<&str> = out.lines().collect();
    assert_eq!(
        rpms.len(),
        1,
        "expected one .rpm under {}: {rpms:?}",
        dir.display()
    );
    PathBuf::from(rpms[0])
}

#[test]
fn rpm_package() {
    if !require_tools(
        "rpm_package",
        &["rpmbuild", "rpm"],
        ".ci/run installs rpm, which provides rpmbuild",
    ) {
        return;
    }
    let (src, bins) = release_build();
    let top = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let define = |k: &str, v: &Path| format!("{k} {}", v.display());
    let out = timed("rpmbuild -bb rpm/dkms-hook.spec", || {
        run_ok(
            Command::new("rpmbuild")
                .arg("-bb")
                .arg("--define")
                .arg(define("_topdir", top.path()))
                .arg("--define")
                .arg(define("_srcdir", &src))
                .arg("--define")
                .arg(define("_bindir_src", &bins))
                .arg(src.join("rpm/dkms-hook.spec")),
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
    let rpm = find_rpm(top.path());

    let files = stdout_of(Command::new("rpm").arg("-qlp").arg(&rpm));
    for want in RPM_PATHS {
        assert!(
            files.lines().any(|l| l == *want),
            "{want} is not in the RPM; it has:\n{files}"
        );
    }
    let provides = stdout_of(Command::new("rpm").args(["-qp", "--provides"]).arg(&rpm));
    assert!(
        provides.lines().any(|l| l.trim() == "dkms = 3.4.3"),
        "RPM does not provide dkms = 3.4.3:\n{provides}"
    );
    let conflicts = stdout_of(Command::new("rpm").args(["-qp", "--conflicts"]).arg(&rpm));
    assert!(
        conflicts.lines().any(|l| l.trim() == "dkms"),
        "RPM does not conflict with dkms"
    );
    let configs = stdout_of(Command::new("rpm").args(["-qcp"]).arg(&rpm));
    assert!(
        configs.lines().any(|l| l == "/etc/dkms/framework.conf"),
        "framework.conf is not %config:\n{configs}"
    );

    let scripts = stdout_of(
        Command::new("rpm")
            .args(["-qp", "--scripts", "--filetriggers"])
            .arg(&rpm),
    );
    for dir in ["/usr/src/kernels", "/lib/modules"] {
        let header = format!("transfiletriggerin scriptlet (using /bin/sh) -- {dir}");
        assert!(
            scripts.lines().any(|l| l == header),
            "no %transfiletriggerin for {dir}:\n{scripts}"
        );
    }
    assert!(
        scripts.contains("/usr/sbin/dkms-hook header-postinst \"$kver\""),
        "the file triggers do not run dkms-hook header-postinst:\n{scripts}"
    );
}
