//! The README's "When a module does not compile" shows what `dkms-hook`
//! prints for a module that does not compile: the apt path (a kernel
//! arrives, `/etc/kernel/postinst.d` runs `dkms-hook kernel-postinst`) and
//! `dkms-hook autoinstall -k` by hand print the same lines, but for the
//! hook's last one (the package operation goes on). This builds the
//! same failing module (the fixture `broken/1.0`) on the same fake kernel
//! in a throwaway root, both ways, and compares stdout and stderr as a
//! terminal shows them with the block in README.md, byte for byte once the
//! parts that change from run to run (the temporary root, times, dates, the
//! machine's architecture, heartbeats) are normalised in both.

use regex::Regex;

use crate::harness::*;

/// The line in README.md the block follows.
const MARKER: &str = "<!-- output: tests/it/fake/readme_failed_build.rs -->";

/// The fenced block after [`MARKER`] in README.md.
fn readme_block() -> String {
    let readme =
        std::fs::read_to_string(repo().join("README.md")).unwrap_or_else(|e| panic!("README: {e}"));
    let mut lines = readme.lines().skip_while(|l| *l != MARKER);
    assert_eq!(lines.next(), Some(MARKER), "README.md lacks {MARKER}");
    assert_eq!(
        lines.next().map(|l| l.starts_with("```")),
        Some(true),
        "a fenced block follows {MARKER}"
    );
    let mut block = String::new();
    for l in lines.by_ref() {
        if l.starts_with("```") {
            return block;
        }
        block.push_str(l);
        block.push('\n');
    }
    panic!("the block after {MARKER} is not closed");
}

/// `text` with what changes from run to run replaced: the root's host path
/// (so that paths read as on a real system), times, dates, the machine's
/// architecture, and heartbeat lines (which only a slow machine prints).
fn normalise(text: &str, root: Option<&TestRoot>) -> String {
    let mut text = text.to_string();
    if let Some(root) = root {
        text = text.replace(&root.root().display().to_string(), "");
    }
    let rules = [
        (r"\b\d+(\.\d+)? s\b|\b\d+ min \d+ s\b", "<time>"),
        (
            r"\b[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\b",
            "<date>",
        ),
    ];
    for (re, with) in rules {
        let re = Regex::new(re).expect("regex");
        text = re.replace_all(&text, with).into_owned();
    }
    let text = text.replace(ARCH, "<arch>").replace("x86_64", "<arch>");
    text.lines()
        .filter(|l| !l.starts_with("dkms-hook: still building:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// What `dkms-hook <args>` prints, stdout and stderr in the order a
/// terminal shows them, in a fresh root where `broken/1.0` is added.
fn failed_build(args: &[&str]) -> (TestRoot, Output) {
    let root = TestRoot::with_kernel(K1);
    root.add_source("broken-1.0");
    root.dkms(&["add", "broken/1.0"]).assert_ok();
    let cmd = root.command_under(
        &["sh", "-c", "exec \"$0\" \"$@\" 2>&1"],
        env!("CARGO_BIN_EXE_dkms-hook"),
        args,
    );
    let out = run_command(cmd, root.timeout());
    (root, out)
}

#[test]
fn the_readme_shows_what_a_failed_build_prints() {
    let want = normalise(&readme_block(), None);
    // kernel-postinst prints the block and exits 0 (the module is not
    // critical); autoinstall, run by hand, prints it without the block's
    // last line (the package operation that goes on) and exits 11.
    let last = want.trim_end().rfind('\n').map_or(0, |i| i + 1);
    let (last_line, without_last) = (want[last..].to_string(), want[..last].to_string());
    assert!(
        last_line.starts_with("dkms-hook: broken/1.0 for "),
        "README's block no longer ends with the line of the package operation that goes on:\n{want}"
    );
    for (args, code, want) in [
        (&["kernel-postinst", K1][..], 0, &want),
        (&["autoinstall", "-k", K1][..], 11, &without_last),
    ] {
        let (root, out) = failed_build(args);
        out.assert_code(code);
        assert!(out.stderr.is_empty(), "everything on one stream\n{out}");
        let got = normalise(&out.stdout, Some(&root));
        assert!(
            got == *want,
            "dkms-hook {args:?} no longer prints what README.md shows after {MARKER}.\n\
             --- README (normalised) ---\n{want}--- now (normalised) ---\n{got}--- now ---\n{}",
            out.stdout.replace(&root.root().display().to_string(), "")
        );
    }
}
