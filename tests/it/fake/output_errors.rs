//! Output that cannot be written is an error: with stdout or stderr on
//! `/dev/full` (ENOSPC) `dkms` and `dkms-hook` finish their work, say on
//! the other stream which stream failed and why, and do not exit 0 (except
//! the hook events that must never fail their caller, which say it and
//! exit 0). A reader that closed its pipe (EPIPE, `dkms status | head -1`)
//! is not an error: nothing is said and the status is the run's own.

use std::fs::File;
use std::process::{Command, Stdio};

use crate::harness::*;

/// Which of the two streams goes to `/dev/full`.
#[derive(Clone, Copy, Debug)]
enum Full {
    Stdout,
    Stderr,
}

const ENOSPC: &str = "No space left on device (os error 28)";

/// The line the program says on the other stream when `full` failed.
fn lost_line(program: &str, full: Full) -> String {
    let stream = match full {
        Full::Stdout => "standard output",
        Full::Stderr => "standard error",
    };
    format!("{program}: cannot write to {stream}: {ENOSPC}")
}

/// Runs `cmd` with the stream `full` on `/dev/full` and the other piped;
/// the piped one comes back in [`Output`] (the other field stays empty).
fn run_full(mut cmd: Command, full: Full) -> Output {
    let dev = File::options()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    match full {
        Full::Stdout => cmd.stdout(Stdio::from(dev)).stderr(Stdio::piped()),
        Full::Stderr => cmd.stdout(Stdio::piped()).stderr(Stdio::from(dev)),
    };
    collect(cmd)
}

fn collect(mut cmd: Command) -> Output {
    let command = format!("{cmd:?}");
    let o = cmd.stdin(Stdio::null()).output().expect("run");
    Output {
        command,
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Panics unless `out` ended with `code` and its other stream holds the
/// line about `full`, once, as its last line.
#[track_caller]
fn assert_lost(out: &Output, program: &str, full: Full, code: i32) {
    out.assert_code(code);
    let other = match full {
        Full::Stdout => &out.stderr,
        Full::Stderr => &out.stdout,
    };
    let want = lost_line(program, full);
    assert_eq!(
        other.lines().filter(|l| *l == want).count(),
        1,
        "one line {want:?} expected\n{out}"
    );
    assert_eq!(
        other.lines().last(),
        Some(want.as_str()),
        "said last\n{out}"
    );
}

fn dkms(root: &TestRoot, args: &[&str]) -> Command {
    root.command(env!("CARGO_BIN_EXE_dkms"), args)
}

fn hook(root: &TestRoot, args: &[&str]) -> Command {
    root.command(env!("CARGO_BIN_EXE_dkms-hook"), args)
}

#[test]
fn status_that_cannot_be_written_fails_even_as_a_document() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    for args in [
        &["status"][..],
        &["status", "--output", "json"],
        &["status", "--output", "yaml"],
    ] {
        let out = run_full(dkms(&root, args), Full::Stdout);
        assert_lost(&out, "dkms", Full::Stdout, 1);
    }
    // Broken: status says so on stderr, and that stream is full.
    std::fs::remove_dir_all(root.path("/usr/src/hello-1.0")).expect("rm source");
    let out = run_full(dkms(&root, &["status"]), Full::Stderr);
    assert!(out.stdout.starts_with("hello/1.0: broken\n"), "{out}");
    assert_lost(&out, "dkms", Full::Stderr, 1);
}

#[test]
fn dkms_build_finishes_its_work_and_fails_when_its_output_is_lost() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.add_source("broken-1.0");
    let out = run_full(dkms(&root, &["build", "hello/1.0", "-k", K1]), Full::Stdout);
    assert_lost(&out, "dkms", Full::Stdout, 1);
    assert!(
        root.exists(&format!(
            "/var/lib/dkms/hello/1.0/{K1}/{ARCH}/module/hello.ko"
        )),
        "built all the same\n{out}"
    );
    // A failed build keeps its own status; the lost error is said on stdout.
    let out = run_full(
        dkms(&root, &["build", "broken/1.0", "-k", K1]),
        Full::Stderr,
    );
    assert!(out.stdout.contains("Building module(s)..."), "{out}");
    assert_lost(&out, "dkms", Full::Stderr, 10);
    // What only prints: the version and the usage.
    let out = run_full(dkms(&root, &["--version"]), Full::Stdout);
    assert_lost(&out, "dkms", Full::Stdout, 1);
}

#[test]
fn hooks_that_may_fail_fail_when_their_output_is_lost() {
    for event in ["autoinstall", "kernel-postinst"] {
        for full in [Full::Stdout, Full::Stderr] {
            let root = TestRoot::with_kernel(K1);
            root.add_source("hello-1.0");
            root.dkms(&["add", "hello/1.0"]).assert_ok();
            let args: &[&str] = match event {
                "autoinstall" => &["autoinstall", "-k", K1],
                _ => &["kernel-postinst", K1],
            };
            let out = run_full(hook(&root, args), full);
            assert_lost(&out, "dkms-hook", full, 1);
            assert!(
                root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")),
                "{event}: the work was done all the same\n{out}"
            );
        }
    }
    // clap's own output: the help.
    let root = TestRoot::new();
    let out = run_full(hook(&root, &["--help"]), Full::Stdout);
    assert_lost(&out, "dkms-hook", Full::Stdout, 1);
}

#[test]
fn hooks_that_never_fail_their_caller_say_the_output_was_lost_and_exit_0() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    let out = run_full(hook(&root, &["kernel-prerm", K1]), Full::Stdout);
    assert_lost(&out, "dkms-hook", Full::Stdout, 0);
    assert!(
        !root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")),
        "removed all the same\n{out}"
    );
}

#[test]
fn a_reader_that_closed_its_pipe_is_not_an_error() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    for (bin, args) in [
        (env!("CARGO_BIN_EXE_dkms"), &["status"][..]),
        (env!("CARGO_BIN_EXE_dkms"), &["status", "--output", "json"]),
        (env!("CARGO_BIN_EXE_dkms-hook"), &["autoinstall", "-k", K1]),
    ] {
        let mut cmd = root.command(bin, args);
        // `| head -0`: the reader is gone before anything is written.
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        drop(r);
        cmd.stdout(Stdio::from(w)).stderr(Stdio::piped());
        let out = collect(cmd);
        out.assert_ok();
        assert!(
            !out.stderr.contains("cannot write"),
            "a closed pipe is quiet\n{out}"
        );
    }
}
