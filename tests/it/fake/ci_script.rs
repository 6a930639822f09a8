//! `.ci/run` itself, run for real against stand-in `apt-cache`, `apt-get`,
//! `dpkg-query`, `cargo` and `rustup` that only log their arguments: which
//! phases it runs in which order, and where it stops. Nothing is installed
//! or built: a copy of the script runs in a temporary directory whose
//! `tests/real/fetch-sources.sh` does nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// The header packages a stand-in `apt-cache search` finds.
const TWO_HEADERS: &[&str] = &[
    "linux-headers-6.1.0-40-amd64",
    "linux-headers-6.1.0-41-amd64",
];

/// The host programs `.ci/run` runs up to its test phase.
const HOST_TOOLS: &[&str] = &["dirname", "awk", "sort", "tail", "grep", "find"];

/// A throwaway checkout holding a copy of `.ci/run`, and a directory of
/// stand-in tools that append their name and arguments to `log`.
struct CiRun {
    _dir: tempfile::TempDir,
    checkout: PathBuf,
    tools: PathBuf,
    log: PathBuf,
}

impl CiRun {
    /// `apt-cache search` finds `headers`; `cargo clippy --version` works
    /// only when `have_clippy`; a `rustup` exists only when `have_rustup`.
    fn new(headers: &[&str], have_clippy: bool, have_rustup: bool) -> CiRun {
        let dir = tempfile::tempdir().expect("tempdir");
        let checkout = dir.path().join("checkout");
        let tools = dir.path().join("tools");
        let log = dir.path().join("calls.log");
        write_file(
            &checkout.join(".ci/run"),
            std::fs::read(repo().join(".ci/run")).expect("read .ci/run"),
        );
        write_executable(
            &checkout.join("tests/real/fetch-sources.sh"),
            "#!/bin/sh\nexit 0\n",
        );
        let logger = |name: &str, body: &str| {
            write_executable(
                &tools.join(name),
                format!(
                    "#!/bin/sh\necho \"{name} $*\" >> '{}'\n{body}\n",
                    log.display()
                ),
            );
        };
        let found: String = headers.iter().map(|h| format!("{h} - headers\n")).collect();
        logger("apt-cache", &format!("printf '{found}'"));
        logger("apt-get", "exit 1");
        logger("dpkg-query", "echo 'install ok installed'");
        logger(
            "cargo",
            if have_clippy {
                "exit 0"
            } else {
                "[ \"$1 $2\" = 'clippy --version' ] && exit 1; exit 0"
            },
        );
        if have_rustup {
            logger("rustup", "exit 0");
        }
        // The only other programs the script runs before its tests: PATH
        // holds nothing else, so no real apt, cargo or rustup can be reached.
        for tool in HOST_TOOLS {
            let real = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{tool} not found in /usr/bin or /bin"));
            std::os::unix::fs::symlink(&real, tools.join(tool))
                .unwrap_or_else(|e| panic!("link {tool}: {e}"));
        }
        CiRun {
            _dir: dir,
            checkout,
            tools,
            log,
        }
    }

    /// Run the copy of `.ci/run` with the stand-ins first on PATH.
    fn run(&self) -> Output {
        run_command(
            Command::new(bash())
                .arg(self.checkout.join(".ci/run"))
                .env_clear()
                .env("PATH", &self.tools)
                .env("HOME", self.checkout.as_os_str())
                .env("DKMS_HOOK_APT_UPDATE", "never"),
            RUN_TIMEOUT,
        )
    }

    /// The stand-ins' calls, one `tool args` line each, in order.
    fn calls(&self) -> Vec<String> {
        read_lines(&self.log)
    }
}

/// The host's bash, by absolute path (PATH is the stand-ins' directory).
fn bash() -> PathBuf {
    ["/usr/bin/bash", "/bin/bash"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("bash in /usr/bin or /bin")
}

/// The lines of `path`, none when it does not exist.
fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The cargo calls among `calls`.
fn cargo_calls(calls: &[String]) -> Vec<&str> {
    calls
        .iter()
        .map(String::as_str)
        .filter(|c| c.starts_with("cargo ") || c.starts_with("rustup "))
        .collect()
}

#[test]
fn ci_run_checks_format_and_lints_before_the_tests() {
    let ci = CiRun::new(TWO_HEADERS, true, true);
    let out = ci.run();
    out.assert_ok();
    assert_eq!(
        cargo_calls(&ci.calls()),
        [
            "cargo clippy --version",
            "cargo fmt --version",
            "cargo fmt --check",
            "cargo clippy --locked --all-targets --all-features -- -D warnings",
            "cargo test --locked --all-features",
        ],
        "{out}"
    );
    for phase in [
        "==> check: cargo fmt --check",
        "==> check: cargo clippy --locked --all-targets --all-features -- -D warnings",
        "==> tests: cargo test --locked --all-features",
    ] {
        assert!(out.stdout.contains(phase), "no phase {phase:?}\n{out}");
    }
}

#[test]
fn ci_run_adds_missing_components_with_rustup() {
    let ci = CiRun::new(TWO_HEADERS, false, true);
    let out = ci.run();
    out.assert_ok();
    let calls = ci.calls();
    let cargo = cargo_calls(&calls);
    assert_eq!(
        cargo[..3],
        [
            "cargo clippy --version",
            "rustup component add clippy rustfmt",
            "cargo fmt --check"
        ],
        "{out}"
    );
}

#[test]
fn ci_run_stops_when_a_component_is_missing_and_rustup_is_not_there() {
    let ci = CiRun::new(TWO_HEADERS, false, false);
    let out = ci.run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("no rustup to add them"),
        "no reason given\n{out}"
    );
    assert!(
        !cargo_calls(&ci.calls())
            .iter()
            .any(|c| c.starts_with("cargo test")),
        "the tests ran\n{out}"
    );
}

#[test]
fn ci_run_fails_with_one_kernel_headers_package() {
    let ci = CiRun::new(&TWO_HEADERS[..1], true, true);
    let out = ci.run();
    out.assert_code(1);
    assert!(
        out.stderr.contains(
            "error: only one linux-headers-6.1.0-<N>-amd64 package is available \
             (linux-headers-6.1.0-40-amd64); the real-kernel tests need two"
        ),
        "{out}"
    );
    let calls = ci.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("apt-get") || c.starts_with("cargo")),
        "it went on after finding one headers package: {calls:?}\n{out}"
    );
}

#[test]
fn ci_run_fails_with_no_kernel_headers_package() {
    let ci = CiRun::new(&[], true, true);
    let out = ci.run();
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("error: apt-cache search found no linux-headers-6.1.0-<N>-amd64 package"),
        "{out}"
    );
}

#[test]
fn ci_run_installs_both_headers_and_the_newest_image() {
    // dpkg-query says nothing is installed: the stand-in apt-get install
    // is asked, and its failure stops the script.
    let ci = CiRun::new(TWO_HEADERS, true, true);
    write_executable(
        &ci.tools.join("dpkg-query"),
        format!(
            "#!/bin/sh\necho \"dpkg-query $*\" >> '{}'\nexit 1\n",
            ci.log.display()
        ),
    );
    let out = ci.run();
    assert_ne!(out.code, 0, "{out}");
    let calls = ci.calls();
    let install = calls
        .iter()
        .find(|c| c.starts_with("apt-get install"))
        .unwrap_or_else(|| panic!("no apt-get install: {calls:?}\n{out}"));
    for want in [
        " linux-headers-6.1.0-40-amd64 ",
        " linux-headers-6.1.0-41-amd64 ",
        " linux-image-6.1.0-41-amd64 ",
    ] {
        assert!(install.contains(want), "{install:?} lacks {want:?}");
    }
    assert!(!cargo_calls(&calls).iter().any(|c| c.starts_with("cargo ")));
}
