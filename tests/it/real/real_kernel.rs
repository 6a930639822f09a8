//! The real-kernel tier: the real `dkms` binary builds real modules against
//! the Debian kernel headers that `.ci/run` installs with apt
//! (`linux-headers-6.1.0-<N>-amd64`, the two newest), inside throwaway roots
//! (`dkms --root <tmp>`). Checks what a user would: the `.ko` in
//! `/lib/modules/<kver>/updates/dkms`, its vermagic, `dkms status`, the exit
//! codes and messages, and that a failed build leaves the working module.
//!
//! Without headers these tests print "skipped: no real kernel headers",
//! except under CI (`CI` set), where that is a failure, as is having only
//! one kernel for the tests that build for both.

use std::fs;
use std::path::Path;

use crate::harness::*;

/// A root holding every real kernel in `kernels`, each with its headers.
fn root_with_kernels(kernels: &[String]) -> TestRoot {
    let root = TestRoot::new();
    for k in kernels {
        root.add_real_kernel(k, Some(&headers_dir(k)));
    }
    root
}

/// `dkms status` must print exactly `expected`, in that order, and exit 0.
fn assert_status(root: &TestRoot, expected: &[String]) {
    let run = root.dkms(&["status"]);
    run.assert_ok();
    assert_eq!(
        run.stdout_lines(),
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "dkms status output\n{run}"
    );
}

/// The status lines for `name/version` installed on each kernel.
fn installed_lines(name: &str, version: &str, kernels: &[String]) -> Vec<String> {
    kernels
        .iter()
        .map(|k| format!("{name}/{version}, {k}, {ARCH}: installed"))
        .collect()
}

#[test]
fn hello_builds_and_installs_for_both_real_kernels() {
    let Some(kernels) = require_two_real_kernels("hello_builds_and_installs_for_both_real_kernels")
    else {
        return;
    };
    let root = root_with_kernels(&kernels);
    root.add_hello("1.0", false);

    for k in &kernels {
        let run = root.dkms(&["install", "-m", "hello", "-v", "1.0", "-k", k]);
        run.assert_ok();
        assert!(
            run.stdout.contains("Building module(s)..."),
            "no build progress line\n{run}"
        );
        root.assert_installed_module(k, "hello");
    }
    assert_status(&root, &installed_lines("hello", "1.0", &kernels));

    // The source registration is upstream's, as seen inside the root: an
    // absolute link to /usr/src/hello-1.0, which exists in the root.
    let source = root.path("/var/lib/dkms/hello/1.0/source");
    let target = fs::read_link(&source).expect("source link");
    assert_eq!(
        target,
        Path::new("/usr/src/hello-1.0"),
        "{}",
        source.display()
    );
    assert!(root.path("/usr/src/hello-1.0/dkms.conf").is_file());
}

/// Which of the real kernels a package is built for.
#[derive(Clone, Copy)]
enum Kernels {
    /// Both (the two newest).
    Both,
    /// Only the newest: for packages whose build is slow.
    Newest,
}

/// Install a Debian `*-dkms` package on the real kernels and check each of
/// its modules.
fn install_debian_package(test: &str, pkg: &str, modules: &[&str], which: Kernels) {
    let found = match which {
        Kernels::Both => require_two_real_kernels(test),
        Kernels::Newest => require_real_kernels(test),
    };
    let Some(mut kernels) = found else {
        return;
    };
    if let Kernels::Newest = which {
        kernels.drain(..kernels.len() - 1);
    }
    let src = debian_source(pkg);
    let root = root_with_kernels(&kernels);
    root.add_source_tree(&src.dir, &src.name, &src.version);
    let mv = format!("{}/{}", src.name, src.version);
    for k in &kernels {
        let run = root.dkms(&["install", &mv, "-k", k]);
        run.assert_ok();
        for m in modules {
            root.assert_installed_module(k, m);
        }
    }
    assert_status(&root, &installed_lines(&src.name, &src.version, &kernels));
}

#[test]
fn v4l2loopback_from_debian_installs() {
    // dkms.conf sources the kernel's .config and runs `sort -V`.
    install_debian_package(
        "v4l2loopback_from_debian_installs",
        "v4l2loopback-dkms",
        &["v4l2loopback"],
        Kernels::Both,
    );
}

#[test]
fn tp_smapi_from_debian_installs_three_modules() {
    // Three BUILT_MODULE_NAMEs with DEST_MODULE_LOCATIONs /extra and
    // /updates, all of which Debian places in /updates/dkms.
    install_debian_package(
        "tp_smapi_from_debian_installs_three_modules",
        "tp-smapi-dkms",
        &["thinkpad_ec", "tp_smapi", "hdaps"],
        Kernels::Both,
    );
}

#[test]
fn iptables_netflow_from_debian_runs_pre_build_configure() {
    // dkms.conf uses `pushd "$(dirname $BASH_SOURCE)"`; PRE_BUILD runs
    // ./configure, which writes the Makefile that MAKE needs. Its configure
    // probes the kernel with many test compiles (10-20 s), so newest only.
    install_debian_package(
        "iptables_netflow_from_debian_runs_pre_build_configure",
        "iptables-netflow-dkms",
        &["ipt_NETFLOW"],
        Kernels::Newest,
    );
}

#[test]
fn acpi_call_from_debian_installs() {
    // BUILD_EXCLUSIVE_CONFIG="CONFIG_ACPI", which Debian's kernels set.
    install_debian_package(
        "acpi_call_from_debian_installs",
        "acpi-call-dkms",
        &["acpi_call"],
        Kernels::Both,
    );
}

/// The path in `Consult <path> for more information.` on stderr.
fn consulted_log(run: &Output) -> String {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("Consult "))
        .unwrap_or_else(|| panic!("no `Consult ...` line on stderr\n{run}"));
    let path = line.strip_prefix("Consult ").unwrap_or(line);
    path.strip_suffix(" for more information.")
        .unwrap_or(path)
        .to_string()
}

#[test]
fn failed_build_exits_10_and_keeps_the_installed_module() {
    let Some(kernels) =
        require_real_kernels("failed_build_exits_10_and_keeps_the_installed_module")
    else {
        return;
    };
    let k = kernels.last().expect("one kernel").clone();
    let root = root_with_kernels(std::slice::from_ref(&k));
    root.add_hello("1.0", false);
    root.add_hello("2.0", true);

    root.dkms(&["install", "hello/1.0", "-k", &k]).assert_ok();
    let ko = root.installed_ko(&k, "hello");
    let before = fs::read(&ko).expect("hello 1.0 installed");

    let run = root.dkms(&["install", "hello/2.0", "-k", &k]);
    run.assert_code(10);
    let wanted = format!("Error! Bad return status for module build on kernel: {k} ({ARCH})");
    assert!(
        run.stderr.lines().any(|l| l == wanted),
        "stderr lacks {wanted:?}\n{run}"
    );
    let log = consulted_log(&run);
    assert!(
        log.ends_with("make.log"),
        "consulted path {log:?} is not a make.log\n{run}"
    );
    let log_file = if Path::new(&log).is_file() {
        Path::new(&log).to_path_buf()
    } else {
        root.path(&log)
    };
    let text = fs::read_to_string(&log_file)
        .unwrap_or_else(|e| panic!("make.log {log:?} unreadable: {e}\n{run}"));
    assert!(
        text.contains(&format!("make.log for hello/2.0 for kernel {k} ({ARCH})")),
        "make.log header:\n{text}"
    );
    assert!(
        text.contains("error"),
        "make.log does not show the compiler error:\n{text}"
    );

    // The module that worked is still there, unchanged, and still reported.
    assert_eq!(
        fs::read(&ko).expect("hello.ko still present"),
        before,
        "{} changed after a failed build",
        ko.display()
    );
    assert!(vermagic(&ko).starts_with(&format!("{k} ")));
    let status = root.dkms(&["status"]);
    status.assert_ok();
    let line = format!("hello/1.0, {k}, {ARCH}: installed");
    assert!(
        status.stdout_lines().contains(&line.as_str()),
        "status lost {line:?}\n{status}"
    );
    assert!(
        !status
            .stdout
            .contains(&format!("hello/2.0, {k}, {ARCH}: installed")),
        "{status}"
    );
}

#[test]
fn missing_headers_exit_21_with_upstream_message() {
    // Needs no real headers: the kernel dir exists but has no build link.
    let k = "6.1.0-99-amd64";
    let root = TestRoot::new();
    root.add_real_kernel(k, None);
    root.add_hello("1.0", false);

    let run = root.dkms(&["build", "hello/1.0", "-k", k]);
    run.assert_code(21);
    let lines: Vec<&str> = run.stderr.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("Error! Your kernel headers"))
        .unwrap_or_else(|| panic!("no headers error on stderr\n{run}"));
    let inside = format!(
        "Error! Your kernel headers for kernel {k} cannot be found at /lib/modules/{k}/build or /lib/modules/{k}/source."
    );
    let host = format!(
        "Error! Your kernel headers for kernel {k} cannot be found at {dir}/build or {dir}/source.",
        dir = root.path(&format!("/lib/modules/{k}")).display()
    );
    assert!(
        lines[first] == inside || lines[first] == host,
        "first line {:?}, wanted {inside:?}\n{run}",
        lines[first]
    );
    assert!(
        first > 0 && lines[first - 1].is_empty(),
        "no blank line before the error\n{run}"
    );
    let second = lines.get(first + 1).copied().unwrap_or_default();
    assert_eq!(
        second,
        format!("Please install your distribution's kernel headers package matching {k}, or use the --kernelsourcedir option to tell DKMS where it's located."),
        "second line is not upstream's\n{run}"
    );

    // Nothing was built or installed; the module is only added.
    assert!(
        !root.path(&format!("/lib/modules/{k}/updates")).exists(),
        "something was installed"
    );
    assert!(
        !root
            .path(&format!("/var/lib/dkms/hello/1.0/{k}/{ARCH}/module"))
            .exists(),
        "something was built"
    );
    let status = root.dkms(&["status"]);
    status.assert_ok();
    assert_eq!(status.stdout_lines(), vec!["hello/1.0: added"], "{status}");
}
