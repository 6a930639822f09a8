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

    let start = Instant::now();
    let mut child = root
        .command(env!("CARGO_BIN_EXE_dkms-hook"), &["kernel-postinst", K1])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dkms-hook");
    let err = child.stderr.take().expect("stderr pipe");
    let mut lines: Vec<(f64, String)> = Vec::new();
    for line in BufReader::new(err).lines() {
        let line = line.expect("utf-8 line");
        lines.push((start.elapsed().as_secs_f64(), line));
    }
    let status = child.wait().expect("wait");
    let end = start.elapsed().as_secs_f64();
    let shown: String = lines
        .iter()
        .map(|(t, l)| format!("{t:6.2}  {l}\n"))
        .collect();
    assert!(status.success(), "exit {status}\n{shown}");
    let at = |needle: &str| -> f64 {
        lines
            .iter()
            .find(|(_, l)| l.contains(needle))
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("no line with {needle:?}\n{shown}"))
    };

    // Both builds are announced as they start, long before either ends.
    let started_long = at("dkms-hook: building slowlong/1.0 for 6.1.0-90-fake");
    let started_short = at("dkms-hook: building slowshort/1.0 for 6.1.0-90-fake");
    assert!(started_long < 4.0 && started_short < 4.0, "{shown}");

    // The short one's end is reported when it ends, with its time, while
    // the long one still builds.
    let built_short = at("dkms-hook: built slowshort/1.0 for 6.1.0-90-fake in ");
    assert!(built_short >= 5.0, "{shown}");
    assert!(
        end - built_short >= 5.0,
        "reported live, not at the end\n{shown}"
    );

    // A heartbeat names what is still building, within 10 s of the last line.
    let beat = at("dkms-hook: still building: slowlong/1.0 for 6.1.0-90-fake (");
    assert!(beat > built_short && beat < 13.0, "{shown}");
    let built_long = at("dkms-hook: built slowlong/1.0 for 6.1.0-90-fake in ");
    assert!(built_long >= 13.0, "{shown}");
    for (gap, pair) in lines.windows(2).map(|w| (w[1].0 - w[0].0, w)) {
        assert!(
            gap < 10.5,
            "silent for {gap:.1} s after {:?}\n{shown}",
            pair[0].1
        );
    }

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
