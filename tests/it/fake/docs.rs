//! The user-facing documentation: the two man pages, the four shell
//! completions, the README's first screen and the script it starts with.
//!
//! - Each man page renders with `man` at 80 columns without warnings, no
//!   line wider than 80, with the sections a reader expects.
//! - Every option a man page documents is in that program's bash and zsh
//!   completion, and every option a completion offers is in the man page;
//!   dkms(8) also covers every option of `dkms --help`, every action, every
//!   dkms.conf directive, every framework.conf variable, the environment
//!   and each field of `status --output json`.
//! - `examples/try.sh` (the README's first command) builds and installs
//!   the example module in a throwaway root, here with the test build's
//!   binaries and the machine's kernel headers; without cargo it says how
//!   to get a toolchain before doing anything.
//!
//! A missing tool (man, zsh) or missing kernel headers skip a test with a
//! message, except under CI (`CI` set), where they fail it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use dkms_hook::cli::dkms::ACTIONS;
use dkms_hook::observe::conf::bash_eval::DIRECTIVES;
use dkms_hook::observe::pending::{Failure, Item, Reason};
use dkms_hook::observe::settings::{ALLOWED, FROM_ENVIRONMENT};
use dkms_hook::observe::status::Record;
use dkms_hook::report::status::{
    Document, Failed, ModuleDoc, Pending, SignatureDoc, Skipped, SCHEMA,
};

use crate::harness::*;

/// A file of the repository.
fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// dkms-hook's generated bash or zsh completion.
fn hook_completion(shell: &str) -> String {
    stdout_of(Command::new(env!("CARGO_BIN_EXE_dkms-hook")).args(["__generate", shell]))
}

/// One line of roff as plain text: request names, font changes, quotes
/// and escapes removed.
fn plain(line: &str) -> String {
    let body = match line.strip_prefix('.') {
        Some(rest) => rest.split_once(' ').map(|(_, b)| b).unwrap_or(""),
        None => line,
    };
    let mut s = body.to_string();
    for font in ["\\fB", "\\fI", "\\fR", "\\fP"] {
        s = s.replace(font, "");
    }
    s.replace("\\-", "-")
        .replace("\\&", "")
        .replace("\\e", "\\")
        .replace("\\(aq", "'")
        .replace('"', "")
}

/// The sections of a page: name, then its lines.
fn sections(page: &str) -> Vec<(String, Vec<&str>)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    for line in page.lines() {
        if let Some(name) = line.strip_prefix(".SH ") {
            out.push((name.replace('"', ""), Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line);
        }
    }
    out
}

/// The lines of section `name`.
fn section<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    sections(page)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, lines)| lines)
        .unwrap_or_else(|| panic!("no section {name}"))
}

/// The tag lines (the line after `.TP` or `.TQ`) of `lines`, as plain text.
fn tags(lines: &[&str]) -> Vec<String> {
    lines
        .windows(2)
        .filter(|w| w[0].starts_with(".TP") || w[0].starts_with(".TQ"))
        .map(|w| plain(w[1]))
        .collect()
}

/// The option names in tags that start with an option (`-x`, `--xyz`).
fn options_in_tags(tags: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for tag in tags.iter().filter(|t| t.starts_with('-')) {
        for word in tag.split([' ', ',', '|']) {
            if let Some(name) = option_name(word) {
                out.insert(name);
            }
        }
    }
    out
}

/// The option at the start of `word` (`--opt=value` gives `--opt`).
fn option_name(word: &str) -> Option<String> {
    let rest = word.trim_start_matches('-');
    let dashes = word.len() - rest.len();
    if !(1..=2).contains(&dashes) || !rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Some(format!("{}{name}", &word[..dashes]))
}

/// The options a bash completion offers: the `-` words of its `opts="..."`
/// lists (the hand-written one and clap's both keep them there).
fn bash_options(script: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = script;
    while let Some(at) = rest.find("opts=\"") {
        let after = &rest[at + "opts=\"".len()..];
        let end = after.find('"').unwrap_or(after.len());
        for word in after[..end].split_whitespace() {
            if let Some(name) = option_name(word) {
                out.insert(name);
            }
        }
        rest = &after[end..];
    }
    out
}

/// The options a zsh completion offers: the option of each `_arguments`
/// spec line, `'(exclusions)*--name=[...]...'`.
fn zsh_options(script: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in script.lines() {
        let Some(spec) = line.trim_start().strip_prefix('\'') else {
            continue;
        };
        let spec = match spec.strip_prefix('(') {
            Some(s) => s.split_once(')').map(|(_, r)| r).unwrap_or(""),
            None => spec,
        };
        if let Some(name) = option_name(spec.trim_start_matches('*')) {
            out.insert(name);
        }
    }
    out
}

/// `want` and `got` name the same options; the message lists the ones
/// only one of them has.
fn assert_same(what: &str, want: &BTreeSet<String>, got_what: &str, got: &BTreeSet<String>) {
    let missing: Vec<_> = want.difference(got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what} and {got_what} differ:\n  only in {what}: {missing:?}\n  only in {got_what}: {extra:?}"
    );
}

/// Render `page` with man at 80 columns; returns the text (overstrikes
/// removed) and what man/groff said on stderr.
fn render(page: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("page.8");
    std::fs::write(&file, page).unwrap_or_else(|e| panic!("write page: {e}"));
    let out = run_ok(
        Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&file)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("LC_ALL", "C.UTF-8")
            .env_remove("MANOPT")
            .env_remove("MANROFFOPT"),
    );
    let mut text = String::new();
    for c in out.stdout.chars() {
        // "x\bx" (bold) and "_\bx" (underline) become "x".
        if c == '\u{8}' {
            text.pop();
            continue;
        }
        text.push(c);
    }
    (text, out.stderr)
}

/// Each page renders cleanly at 80 columns with its sections.
#[test]
fn man_pages_render_within_80_columns() {
    if !have("man") {
        skip_unless_ci("man_pages_render_within_80_columns", "man not found");
        return;
    }
    let (dkms, hook) = man_pages();
    let common = [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
    ];
    let dkms_only = ["ACTIONS", "DKMS.CONF", "FRAMEWORK.CONF"];
    for (name, page, extra) in [
        ("dkms.8", &dkms, &dkms_only[..]),
        ("dkms-hook.8", &hook, &["COMMANDS"][..]),
    ] {
        let (text, warnings) = render(page);
        assert!(
            warnings.trim().is_empty(),
            "{name}: man/groff warnings:\n{warnings}"
        );
        let wide: Vec<String> = text
            .lines()
            .filter(|l| l.chars().count() > 80)
            .map(|l| format!("{:3}: {l}", l.chars().count()))
            .collect();
        assert!(
            wide.is_empty(),
            "{name}: lines wider than 80 columns:\n{}",
            wide.join("\n")
        );
        for want in common.iter().chain(extra) {
            assert!(
                text.lines().any(|l| l == *want),
                "{name}: no {want} section in the rendered page"
            );
        }
    }
}

/// Every option of dkms(8) is completed by bash and zsh, and nothing else.
#[test]
fn dkms_options_match_completions() {
    let (page, _) = man_pages();
    let documented = options_in_tags(&tags(&section(&page, "OPTIONS")));
    assert!(
        documented.len() > 30,
        "too few options parsed: {documented:?}"
    );
    assert_same(
        "dkms.8",
        &documented,
        "completions/dkms.bash",
        &bash_options(&read("completions/dkms.bash")),
    );
    assert_same(
        "dkms.8",
        &documented,
        "completions/_dkms",
        &zsh_options(&read("completions/_dkms")),
    );
    // The usage text dkms prints names nothing the page leaves out.
    let usage = stdout_of(Command::new(env!("CARGO_BIN_EXE_dkms")).arg("--help"));
    for word in usage.split(|c: char| c.is_whitespace() || c == '[' || c == ']') {
        if let Some(name) = option_name(word) {
            assert!(
                documented.contains(&name),
                "`dkms --help` shows {name}, dkms.8 does not document it"
            );
        }
    }
}

/// Every option of dkms-hook(8) is completed by bash and zsh, and nothing
/// else.
#[test]
fn dkms_hook_options_match_completions() {
    let (_, page) = man_pages();
    let mut lines = section(&page, "OPTIONS");
    lines.extend(section(&page, "COMMANDS"));
    let documented = options_in_tags(&tags(&lines));
    for want in [
        "--root",
        "--verbose",
        "--kernel",
        "--all-kernels",
        "--dry-run",
    ] {
        assert!(
            documented.contains(want),
            "dkms-hook.8 lacks {want}: {documented:?}"
        );
    }
    assert_same(
        "dkms-hook.8",
        &documented,
        "the bash completion",
        &bash_options(&hook_completion("bash")),
    );
    assert_same(
        "dkms-hook.8",
        &documented,
        "the zsh completion",
        &zsh_options(&hook_completion("zsh")),
    );
}

/// dkms.8 describes every action, and both completions offer each.
#[test]
fn dkms_actions_are_documented_and_completed() {
    let (page, _) = man_pages();
    let described = tags(&section(&page, "ACTIONS"));
    let bash = read("completions/dkms.bash");
    let zsh = read("completions/_dkms");
    for action in ACTIONS {
        assert!(
            described.iter().any(|t| t == action),
            "dkms.8 has no ACTIONS entry for {action}"
        );
        assert!(bash.contains(action), "dkms.bash does not offer {action}");
        assert!(
            zsh.contains(&format!("'{action}:")),
            "_dkms does not offer {action}"
        );
    }
}

/// dkms.8 has an entry for every dkms.conf directive and framework.conf
/// variable, and both pages list the environment the programs read.
#[test]
fn dkms_page_covers_conf_and_environment() {
    let (dkms, hook) = man_pages();
    let directives = tags(&section(&dkms, "DKMS.CONF"));
    for d in DIRECTIVES {
        let array = format!("{d}[");
        assert!(
            directives.iter().any(|t| t
                .split([' ', ','])
                .any(|w| w == *d || w.starts_with(&array))),
            "dkms.8 DKMS.CONF has no entry for {d}"
        );
    }
    let framework = tags(&section(&dkms, "FRAMEWORK.CONF"));
    for v in ALLOWED {
        assert!(
            framework
                .iter()
                .any(|t| t.split([' ', ',']).any(|w| w == *v)),
            "dkms.8 FRAMEWORK.CONF has no entry for {v}"
        );
    }
    let env_names: Vec<&str> = [
        "DKMS_ROOT",
        "DKMS_LOG",
        "DKMS_CONF_TIMEOUT",
        "DKMS_DIRECTIVE_*",
        "ADDON_MODULES_DIR",
        "TMPDIR",
    ]
    .into_iter()
    .chain(FROM_ENVIRONMENT.iter().copied())
    .collect();
    for (name, page) in [("dkms.8", &dkms), ("dkms-hook.8", &hook)] {
        let env = tags(&section(page, "ENVIRONMENT"));
        for v in &env_names {
            assert!(
                env.iter().any(|t| t.split([' ', ',']).any(|w| w == *v)),
                "{name} ENVIRONMENT has no entry for {v}"
            );
        }
    }
}

/// Every field of `dkms status --output json` is named in dkms.8's
/// MACHINE-READABLE STATUS section.
#[test]
fn dkms_page_documents_the_status_document() {
    let (page, _) = man_pages();
    let text: String = section(&page, "MACHINE-READABLE STATUS")
        .iter()
        .map(|l| plain(l))
        .collect::<Vec<_>>()
        .join(" ");
    let doc = Document {
        schema: SCHEMA,
        modules: vec![ModuleDoc {
            record: Record {
                module: "m".into(),
                version: "1".into(),
                kernel: Some("k".into()),
                arch: Some("a".into()),
                state: "installed".into(),
                original_modules_exist: false,
                built_modules_missing: false,
                differences: false,
                prebuilt: true,
            },
            signature: Some(SignatureDoc {
                signed: true,
                signer: Some("s".into()),
                key_id: Some("01".into()),
                configured_key: true,
            }),
        }],
        skipped: vec![Skipped {
            module: "m".into(),
            version: "1".into(),
            kernel: "k".into(),
            arch: "a".into(),
            reason: "build-exclusive",
        }],
        pending: vec![Pending::from(&Item {
            kernel: "k".into(),
            arch: "a".into(),
            reason: Reason::HeadersMissing,
            module: "m".into(),
            detail: "d".into(),
            since: 1,
        })],
        failed: vec![Failed::from(&Failure {
            module: "m".into(),
            version: "1".into(),
            kernel: "k".into(),
            arch: "a".into(),
            code: 10,
            log: "l".into(),
            when: 1,
            reason: "r".into(),
        })],
    };
    let value = serde_json::to_value(&doc).unwrap_or_else(|e| panic!("serialize: {e}"));
    let mut fields = BTreeSet::new();
    collect_keys(&value, &mut fields);
    for field in &fields {
        assert!(
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == field),
            "dkms.8 does not document the status field `{field}`"
        );
    }
    for value in [
        SCHEMA.to_string(),
        "headers-missing".into(),
        "build-depends".into(),
        "depmod-due".into(),
        "build-exclusive".into(),
        "RFC 3339".into(),
        "null".into(),
    ] {
        assert!(text.contains(&value), "dkms.8 does not mention `{value}`");
    }
    assert_eq!(
        serde_json::to_value(Reason::BuildDepends).ok(),
        Some(serde_json::json!("build-depends"))
    );
}

/// Every key of every object in `v`.
fn collect_keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, inner) in map {
                out.insert(k.clone());
                collect_keys(inner, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_keys(i, out)),
        _ => {}
    }
}

/// The completions are valid scripts for their shells.
#[test]
fn completions_parse() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let hook_bash = dir.path().join("dkms-hook.bash");
    let hook_zsh = dir.path().join("_dkms-hook");
    std::fs::write(&hook_bash, hook_completion("bash")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&hook_zsh, hook_completion("zsh")).unwrap_or_else(|e| panic!("{e}"));
    for f in [repo().join("completions/dkms.bash"), hook_bash] {
        run_ok(Command::new("bash").arg("-n").arg(&f));
    }
    if !have("zsh") {
        skip_unless_ci("completions_parse (zsh)", "zsh not found");
        return;
    }
    for f in [repo().join("completions/_dkms"), hook_zsh] {
        run_ok(Command::new("zsh").arg("-n").arg(&f));
    }
}

/// The bash completion of dkms completes actions, options and registered
/// modules of the tree `--root` names.
#[test]
fn dkms_bash_completion_completes() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for d in [
        "var/lib/dkms/hello/1.0",
        "var/lib/dkms/hello/kernel-6.1-x86_64",
        "lib/modules/6.1.0-9-amd64",
    ] {
        std::fs::create_dir_all(root.path().join(d)).unwrap_or_else(|e| panic!("{e}"));
    }
    let complete = |words: &str| -> String {
        let script = format!(
            "source {}\ncompopt() {{ :; }}\nCOMP_WORDS=({words} '')\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n_dkms\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
            repo().join("completions/dkms.bash").display()
        );
        stdout_of(Command::new("bash").arg("-c").arg(script))
    };
    let r = root.path().display();
    assert!(complete("dkms").lines().any(|l| l == "autoinstall"));
    assert_eq!(
        complete(&format!("dkms --root {r} status")).trim(),
        "hello/1.0"
    );
    assert_eq!(
        complete(&format!("dkms --root={r} build -k")).trim(),
        "6.1.0-9-amd64"
    );
    assert_eq!(
        complete("dkms status --output").split_whitespace().count(),
        3
    );
}

/// dkms-hook's generated bash completion completes subcommands, their
/// options and kernel-install's verbs.
#[test]
fn dkms_hook_bash_completion_completes() {
    let complete = |words: &str| -> String {
        let script = format!(
            ". <('{}' __generate bash)\n\
             f=$(complete -p dkms-hook | sed 's/.*-F \\([^ ]*\\).*/\\1/')\n\
             COMP_WORDS=({words})\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
             \"$f\" dkms-hook \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            env!("CARGO_BIN_EXE_dkms-hook")
        );
        stdout_of(Command::new("bash").args(["--norc", "-c", &script]))
    };
    assert_eq!(complete("dkms-hook kernel-po").trim(), "kernel-postinst");
    assert_eq!(complete("dkms-hook prune --d").trim(), "--dry-run");
    assert_eq!(
        complete("dkms-hook --root /tmp autoinstall --all").trim(),
        "--all-kernels"
    );
    assert_eq!(complete("dkms-hook kernel-install r").trim(), "remove");
}

/// A kernel whose headers are installed on this machine (the newest).
fn kernel_with_headers() -> Option<String> {
    let list = stdout_of(Command::new("bash").arg("-c").arg(
        "for d in /usr/src/linux-headers-*; do \
           [ -f \"$d/Makefile\" ] && [ -f \"$d/.config\" ] && echo \"${d#/usr/src/linux-headers-}\"; \
         done | sort -V",
    ));
    list.lines().last().map(str::to_string)
}

/// The README's first command: examples/try.sh, run with the test build's
/// binaries, registers, builds and installs the example module in a
/// throwaway root and shows it installed, without touching the machine.
#[test]
fn try_script_installs_the_example_module() {
    let Some(kver) = kernel_with_headers() else {
        skip_unless_ci(
            "try_script_installs_the_example_module",
            "no kernel headers under /usr/src",
        );
        return;
    };
    let registered = Path::new("/var/lib/dkms/hello/1.0").exists();
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = run_ok(
        Command::new("bash")
            .arg(repo().join("examples/try.sh"))
            .arg(&kver)
            .env("DKMS_HOOK_BIN_DIR", bin_dir())
            .env("TMPDIR", scratch.path())
            .env_remove("DKMS_HOOK_KEEP_ROOT")
            .env_remove("DKMS_ROOT"),
    );
    let stdout = &out.stdout;
    let arch = stdout_of(Command::new("uname").arg("-m"));
    let line = format!("hello/1.0, {kver}, {}: installed", arch.trim());
    assert!(
        stdout.lines().any(|l| l == line),
        "no `{line}` in:\n{stdout}"
    );
    assert!(
        stdout.lines().any(
            |l| l.starts_with(&format!("module:   /lib/modules/{kver}/"))
                && l.contains("/hello.ko")
        ),
        "try.sh does not show where hello.ko landed:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("vermagic: {kver} ")),
        "hello.ko was not built for {kver}:\n{stdout}"
    );
    // The throwaway root is gone, and the machine's dkms tree untouched.
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "try.sh left {left:?} behind");
    assert_eq!(
        Path::new("/var/lib/dkms/hello/1.0").exists(),
        registered,
        "try.sh changed the machine's /var/lib/dkms"
    );
}

/// Without cargo (and no binaries given), try.sh says in one line how to
/// get a toolchain before it does anything: no build, no temporary root.
#[test]
fn try_script_without_cargo_says_how_to_get_it_first() {
    let bash = stdout_of(Command::new("sh").args(["-c", "command -v bash"]));
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let empty_path = scratch.path().join("bin");
    std::fs::create_dir(&empty_path).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let target = scratch.path().join("target");
    let out = run_command(
        Command::new(bash.trim())
            .arg(repo().join("examples/try.sh"))
            .env("PATH", &empty_path)
            .env("TMPDIR", &tmp)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("DKMS_HOOK_BIN_DIR")
            .env_remove("DKMS_ROOT"),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(
        out.stderr,
        "try.sh: cargo not found; get a Rust toolchain with: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh, then . \"$HOME/.cargo/env\" and run this again.\n",
        "{out}"
    );
    assert_eq!(out.stdout, "", "nothing else happened first\n{out}");
    assert!(!target.exists(), "a build started");
    let made: Vec<_> = std::fs::read_dir(&tmp)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(made.is_empty(), "try.sh made {made:?}");
}

/// The README opens with the try script, then the test command .ci/run
/// runs, both within its first screen.
#[test]
fn readme_first_screen() {
    let readme = read("README.md");
    let first_screen: Vec<&str> = readme.lines().take(40).collect();
    let commands: Vec<&str> = first_screen
        .iter()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| !l.starts_with(' '))
        .collect();
    assert!(
        commands
            .first()
            .is_some_and(|c| c.contains("examples/try.sh")),
        "the README's first command does not run examples/try.sh: {commands:?}"
    );
    let ci = read(".ci/run");
    let test_cmd = ci
        .lines()
        .find_map(|l| l.strip_prefix("TEST_CMD=\""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!(".ci/run has no TEST_CMD"));
    assert_eq!(
        commands.get(1).copied(),
        Some(test_cmd),
        "the README's second command is not .ci/run's test command"
    );
}
