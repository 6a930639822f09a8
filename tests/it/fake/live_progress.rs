//! Live progress of a hook run, seen the way apt sees it: on a pipe, line
//! by line, with the time each line arrived. Two modules whose builds take
//! a few seconds (a PRE_BUILD script sleeps) build side by side; the lines
//! must come while they build, not all at the end, and each must be whole.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use crate::harness::*;

/// A module like the hello fixture whose PRE_BUILD sleeps `secs`.
fn slow_module(root: &TestRoot, name: &str, secs: u32) {
    let c = "#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\n\
             static int __init i(void) { return 0; }\n\
             static void __exit e(void) { }\nmodule_init(i);\nmodule_exit(e);\n";
    root.add_source_text(
        name,
        "1.0",
        &[
            (
                "dkms.conf",
                &format!(
                    "PACKAGE_NAME={name}\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]={name}\n\
                     DEST_MODULE_LOCATION[0]=/kernel/extra\nAUTOINSTALL=yes\nPRE_BUILD=slow.sh\n"
                ),
            ),
            ("slow.sh", &format!("#!/bin/sh\nsleep {secs}\n")),
            ("Makefile", &format!("obj-m += {name}.o\n")),
            (&format!("{name}.c"), c),
        ],
    );
    root.dkms(&["add", &format!("{name}/1.0")]).assert_ok();
}

#[test]
fn a_hook_run_reports_each_build_while_it_happens() {
    let root = TestRoot::with_kernel(K1);
    root.set_framework_conf("parallel_jobs=2\n");
    slow_module(&root, "slowlong", 13);
    slow_module(&root, "slowshort", 5);

    // stdout and stderr on one pipe, as apt shows them.
    let start = Instant::now();
    let mut child = root
        .command_under(
            &["bash", "-c", "exec \"$@\" 2>&1", "bash"],
            env!("CARGO_BIN_EXE_dkms-hook"),
            &["kernel-postinst", K1],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dkms-hook");
    let out = child.stdout.take().expect("stdout pipe");
    let mut lines: Vec<(f64, String)> = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.expect("utf-8 line");
        lines.push((start.elapsed().as_secs_f64(), line));
    }
    let status = child.wait().expect("wait");
    let shown: String = lines
        .iter()
        .map(|(t, l)| format!("{t:6.2}  {l}\n"))
        .collect();
    assert!(status.success(), "exit {status}\n{shown}");
    let find = |needle: &str| -> usize {
        lines
            .iter()
            .position(|(_, l)| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}\n{shown}"))
    };
    let at = |needle: &str| -> f64 { lines[find(needle)].0 };

    // Both builds are announced as they start, long before either ends.
    let started_long = at("dkms-hook: building slowlong/1.0 for 6.1.0-90-fake");
    let started_short = at("dkms-hook: building slowshort/1.0 for 6.1.0-90-fake");
    assert!(started_long < 4.0 && started_short < 4.0, "{shown}");

    // While the long one builds, a heartbeat says so, and that the short
    // one is done (its block comes in plan order, after the long one's).
    let beat = find("dkms-hook: still building: slowlong/1.0 for 6.1.0-90-fake (");
    assert!(
        lines[beat]
            .1
            .contains("finished, shown in turn: slowshort/1.0"),
        "{shown}"
    );
    assert!(lines[beat].0 > 5.0 && lines[beat].0 < 13.0, "{shown}");
    for (gap, pair) in lines.windows(2).map(|w| (w[1].0 - w[0].0, w)) {
        assert!(
            gap < 10.5,
            "silent for {gap:.1} s after {:?}\n{shown}",
            pair[0].1
        );
    }

    // Each module's lines are one block: its heading, its build and
    // install, then how its build ended (with the build's own time); no
    // progress line and nothing of the other module inside it.
    for (m, other, secs) in [
        ("slowlong", "slowshort", "13."),
        ("slowshort", "slowlong", "5."),
    ] {
        let head = find(&format!("Autoinstall of module {m}/1.0 for kernel"));
        let end = find(&format!("dkms-hook: built {m}/1.0 for 6.1.0-90-fake in "));
        assert!(head < end, "{m}: its result before its lines\n{shown}");
        assert!(lines[end].1.contains(&format!(" in {secs}")), "{shown}");
        for (_, l) in &lines[head + 1..end] {
            assert!(
                !l.starts_with("dkms-hook: ") && !l.contains(other),
                "{m}'s block is split by {l:?}\n{shown}"
            );
        }
    }
    assert!(at("dkms-hook: built slowlong/1.0") >= 13.0, "{shown}");

    // Whole lines only: every progress line starts at the start of a line.
    for (_, l) in &lines {
        if let Some(i) = l.find("dkms-hook: ") {
            assert_eq!(i, 0, "a progress line inside another: {l:?}\n{shown}");
        }
    }
    // And the work is real: both modules are installed.
    for m in ["slowlong", "slowshort"] {
        let ko = format!("/lib/modules/{K1}/updates/dkms/{m}.ko");
        assert!(root.exists(&ko), "{ko}\n{shown}");
    }
    eprintln!("{shown}");
}
