//! Regression guard for the fast paths: a no-op `dkms autoinstall` and
//! `dkms status` must read the state without starting a process per module
//! (no bash for static dkms.conf files, no `modinfo`, no `diff`).
//!
//! Counts the successful `execve` calls under `strace -f` in roots holding 3
//! and 12 installed modules; the count must not grow with the number of
//! modules. No wall-clock thresholds, so it is stable on any CI machine.
//! Without `strace` the tests skip, unless `CI` is set (then they fail).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::harness::*;

/// The most processes a fast-path run may start: the binary itself, plus
/// one spare for a constant helper.
const MAX_EXECS: usize = 2;

/// True when `strace` can be run; panics under CI when it cannot.
fn strace_available() -> bool {
    let ok = Command::new("strace")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        skip_unless_ci("no_spawn", "strace is not installed (.ci/run installs it)");
    }
    ok
}

/// A root with kernel [`K1`] and `n` one-file modules `spawnNN/1.0`, all
/// registered and installed for K1.
fn installed_root(n: usize) -> TestRoot {
    let root = TestRoot::with_kernel(K1);
    for i in 0..n {
        let name = format!("spawn{i:02}");
        root.add_source_text(
            &name,
            "1.0",
            &[
                (
                    "dkms.conf",
                    &format!(
                        "PACKAGE_NAME=\"{name}\"\nPACKAGE_VERSION=\"1.0\"\n\
                         BUILT_MODULE_NAME[0]=\"{name}\"\n\
                         DEST_MODULE_LOCATION[0]=\"/updates/dkms\"\nAUTOINSTALL=\"yes\"\n"
                    ),
                ),
                ("Makefile", &format!("obj-m := {name}.o\n")),
                (
                    &format!("{name}.c"),
                    &format!(
                        "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\n\
                         FAKE_MODULE_LICENSE(\"GPL\");\nint {name}_init(void)\n{{\n\treturn 0;\n}}\n"
                    ),
                ),
            ],
        );
        root.dkms(&["add", &format!("{name}/1.0")]).assert_ok();
    }
    root.dkms(&["autoinstall", "-k", K1]).assert_ok();
    let status = root.dkms(&["status"]);
    status.assert_ok();
    let installed = status
        .stdout_lines()
        .iter()
        .filter(|l| l.ends_with(": installed"))
        .count();
    assert_eq!(installed, n, "not every module is installed\n{status}");
    root
}

/// The successful `execve` calls in an `strace -f -e trace=execve` log,
/// whether strace printed the call in one line or split it around another
/// process's output (`<unfinished ...>` / `<... execve resumed>`).
fn successful_execs(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            let done = l.trim_end().ends_with("= 0");
            done && (l.contains(" execve(") || l.contains("<... execve resumed>"))
        })
        .map(str::to_string)
        .collect()
}

/// Runs `dkms --root <root> <args>` under `strace -f`; returns its output
/// and the successful execve lines.
fn traced_dkms(root: &TestRoot, args: &[&str]) -> (Output, Vec<String>) {
    let log = root.dir.path().join("strace.log");
    let _ = fs::remove_file(&log);
    let log_arg = log.to_string_lossy();
    let cmd = root.command_under(
        &[
            "strace",
            "-f",
            "-qq",
            "-z",
            "-e",
            "trace=execve",
            "-o",
            &log_arg,
        ],
        env!("CARGO_BIN_EXE_dkms"),
        args,
    );
    let out = run_command(cmd, RUN_TIMEOUT);
    let text = fs::read_to_string(&log).unwrap_or_else(|e| {
        panic!(
            "strace wrote no log at {} ({e})\n{out}",
            Path::new(&log).display()
        )
    });
    let execs = successful_execs(&text);
    assert!(
        !execs.is_empty(),
        "strace saw no execve at all; is ptrace allowed here?\n{out}\n{text}"
    );
    (out, execs)
}

/// Asserts the process count of `dkms <args>` is the same for 3 and 12
/// modules and at most [`MAX_EXECS`].
fn assert_spawns_do_not_grow(args: &[&str]) {
    if !strace_available() {
        return;
    }
    let small = installed_root(3);
    let large = installed_root(12);
    let (out_small, execs_small) = traced_dkms(&small, args);
    out_small.assert_ok();
    let (out_large, execs_large) = traced_dkms(&large, args);
    out_large.assert_ok();
    let shown = |v: &[String]| v.join("\n");
    assert_eq!(
        execs_small.len(),
        execs_large.len(),
        "`dkms {}` starts more processes with more modules\n\
         with 3 modules:\n{}\nwith 12 modules:\n{}",
        args.join(" "),
        shown(&execs_small),
        shown(&execs_large)
    );
    assert!(
        execs_large.len() <= MAX_EXECS,
        "`dkms {}` starts {} processes (at most {MAX_EXECS} allowed):\n{}",
        args.join(" "),
        execs_large.len(),
        shown(&execs_large)
    );
}

#[test]
fn noop_autoinstall_spawns_no_process_per_module() {
    assert_spawns_do_not_grow(&["autoinstall", "-k", K1]);
}

#[test]
fn status_spawns_no_process_per_module() {
    assert_spawns_do_not_grow(&["status"]);
}

#[test]
fn execve_lines_are_counted_once_each() {
    let log = "100 execve(\"/bin/dkms\", [\"dkms\"], 0x1 /* 3 vars */) = 0\n\
               101 execve(\"/usr/bin/make\", [\"make\"], 0x2 /* 3 vars */ <unfinished ...>\n\
               100 +++ exited with 0 +++\n\
               101 <... execve resumed>) = 0\n\
               102 execve(\"/nope/make\", [\"make\"], 0x2 /* 3 vars */) = -1 ENOENT (No such file or directory)\n";
    assert_eq!(successful_execs(log).len(), 2);
}
