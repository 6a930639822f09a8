//! `dkms mktarball` / `dkms ldtarball` against a throwaway root: a round
//! trip restores the same files, and hostile archives are refused as a whole
//! (exit 9, the problem named on stderr) with nothing written to the root or
//! to a canary directory outside it.
//!
//! Archives are made with Python's `tarfile`, which writes any entry type.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

const M: &str = "m";
const V: &str = "1.0";

/// A root with `m/1.0` added and "built" for [`K1`] (faked: a `.ko` in the
/// build's module directory), temporary files kept under the root's `/tmp`.
fn built_root() -> TestRoot {
    let t = TestRoot::new();
    t.set_framework_conf("tmp_location=/tmp\n");
    t.add_source_text(
        M,
        V,
        &[
            ("dkms.conf", CONF),
            ("Makefile", "obj-m := m.o\n"),
            ("m.c", "int x;\n"),
        ],
    );
    std::os::unix::fs::symlink("Makefile", t.path("/usr/src/m-1.0/Kbuild")).expect("symlink");
    std::fs::create_dir_all(t.path("/var/lib/dkms/m/1.0")).expect("mkdir");
    std::os::unix::fs::symlink("/usr/src/m-1.0", t.path("/var/lib/dkms/m/1.0/source"))
        .expect("symlink");
    t.write(
        &format!("/var/lib/dkms/m/1.0/{K1}/{ARCH}/module/m.ko"),
        "not really a module\n",
    );
    t.write(
        &format!("/var/lib/dkms/m/1.0/{K1}/{ARCH}/log/make.log"),
        "log\n",
    );
    t
}

const CONF: &str = "PACKAGE_NAME=m\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=m\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n";

/// Everything under `var/lib/dkms/m` except the tarball directory, plus `usr/src/m-1.0`.
fn module_state(t: &TestRoot) -> (Snapshot, Snapshot) {
    let dkms = if t.exists("/var/lib/dkms/m") {
        t.snapshot_of("/var/lib/dkms/m")
    } else {
        Snapshot::new()
    };
    let dkms = dkms
        .into_iter()
        .filter(|(p, _)| !p.starts_with("1.0/tarball"))
        .collect();
    let src = if t.exists("/usr/src/m-1.0") {
        t.snapshot_of("/usr/src/m-1.0")
    } else {
        Snapshot::new()
    };
    (dkms, src)
}

/// Scratch space outside the root: the archives and the canary directory.
struct Outside {
    dir: tempfile::TempDir,
}

impl Outside {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("dkms-tarball-outside-")
            .tempdir()
            .expect("tempdir");
        let o = Outside { dir };
        write_file(&o.canary().join("file"), "untouched\n");
        o
    }

    fn canary(&self) -> PathBuf {
        self.dir.path().join("canary")
    }

    /// Writes a `.tar.gz` with Python: `body` calls `add(name, kind, link,
    /// data, major, minor)`; `CANARY` is the canary directory's path.
    fn archive(&self, file: &str, body: &str) -> PathBuf {
        let out = self.dir.path().join(file);
        let script = format!(
            r#"
import io, sys, tarfile
CANARY = sys.argv[2]
t = tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT)
def add(name, kind=tarfile.REGTYPE, link="", data=b"", major=0, minor=0, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = link
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    ti.devmajor, ti.devminor, ti.mode = major, minor, mode
    t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
def add_huge(name, size):
    # A header that claims `size` bytes, with none of them behind it.
    ti = tarfile.TarInfo(name)
    ti.size = size
    buf = ti.tobuf(tarfile.GNU_FORMAT, t.encoding, t.errors)
    t.fileobj.write(buf)
    t.offset += len(buf)
{body}
t.close()
"#
        );
        let status = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&out)
            .arg(self.canary())
            .status()
            .expect("python3");
        assert!(status.success(), "python3 failed to write {file}");
        out
    }
}

/// The well-formed part every hostile archive also carries, around the
/// hostile `extra` lines, so the hostile entries are the only problem. The
/// dkms.conf is written last, from `SOURCE_CONF`, which `extra` may set
/// (an archive has one member of a name).
fn valid_body(kernel: &str, extra: &str) -> String {
    format!(
        r#"
SOURCE_CONF = b"PACKAGE_NAME=m\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=m\nDEST_MODULE_LOCATION[0]=/updates\n"
add("./", tarfile.DIRTYPE, mode=0o755)
add("dkms_source_tree/", tarfile.DIRTYPE, mode=0o755)
add("dkms_source_tree/Makefile", data=b"obj-m := m.o\n")
add("dkms_main_tree/{kernel}/{ARCH}/module/m.ko", data=b"ko\n")
{extra}
add("dkms_source_tree/dkms.conf", data=SOURCE_CONF)
"#
    )
}

#[test]
fn round_trip_restores_the_same_files() {
    let t = built_root();
    let outside = Outside::new();
    let mk = t.dkms(&["mktarball", "-m", M, "-v", V, "-k", K1]);
    mk.assert_ok();
    let name = format!("m-1.0-kernel{K1}-{ARCH}.dkms.tar.gz");
    let location = t.path(&format!("/var/lib/dkms/m/1.0/tarball/{name}"));
    assert_eq!(
        mk.stdout_lines(),
        vec![
            format!("Marking modules for {K1} ({ARCH}) for archiving..."),
            String::new(),
            format!(
                "Marking {} for archiving...",
                t.path("/var/lib/dkms/m/1.0/source").display()
            ),
            String::new(),
            format!(
                "Tarball location: {}/tarball//{name}",
                t.path("/var/lib/dkms/m/1.0").display()
            ),
        ]
    );
    assert!(location.is_file());
    let saved = outside.dir.path().join(&name);
    std::fs::copy(&location, &saved).expect("copy tarball");
    let before = module_state(&t);

    t.dkms(&["remove", "m/1.0", "--all"]).assert_ok();
    std::fs::remove_dir_all(t.path("/usr/src/m-1.0")).expect("rm source");
    assert!(!t.exists("/var/lib/dkms/m"));

    let ld = t.dkms(&["ldtarball", saved.to_str().expect("utf-8")]);
    ld.assert_ok();
    ld.assert_stdout_contains("Loading tarball for m/1.0");
    ld.assert_stdout_contains(&format!(
        "Loading {}...",
        t.path(&format!("/var/lib/dkms/m/1.0/{K1}/{ARCH}"))
            .display()
    ));
    // Registering creates upstream's (empty) build directory, which the
    // first build had removed; otherwise the trees are as they were.
    let (mut after, src) = module_state(&t);
    assert_eq!(
        after.remove(std::path::Path::new("1.0/build")),
        Some(Node::Dir)
    );
    assert_eq!((after, src), before);
    assert_eq!(
        t.read_link("/var/lib/dkms/m/1.0/source"),
        PathBuf::from("/usr/src/m-1.0")
    );
    t.dkms(&["status"])
        .assert_stdout_contains(&format!("m/1.0, {K1}, {ARCH}: built"));
    assert!(
        t.list("/tmp").is_empty(),
        "temporary files left: {:?}",
        t.list("/tmp")
    );

    // Loading it again: refused while m/1.0 is registered.
    let again = t.dkms(&["ldtarball", saved.to_str().expect("utf-8")]);
    again
        .assert_code(8)
        .assert_stderr_contains("m/1.0 is already added!");
}

#[test]
fn binaries_only_round_trip_creates_the_source_stub() {
    let t = built_root();
    let outside = Outside::new();
    let archive = outside.dir.path().join("bin.tar.gz");
    let mk = t.dkms(&[
        "mktarball",
        "m/1.0",
        "-k",
        K1,
        "--binaries-only",
        "--archive",
        archive.to_str().expect("utf-8"),
    ]);
    mk.assert_ok()
        .assert_stdout_contains("Creating tarball structure to specifically accommodate binaries.");
    assert!(archive.is_file());
    t.dkms(&["remove", "m/1.0", "--all"]).assert_ok();
    std::fs::remove_dir_all(t.path("/usr/src/m-1.0")).expect("rm source");

    let ld = t.dkms(&["ldtarball", archive.to_str().expect("utf-8")]);
    ld.assert_ok()
        .assert_stdout_contains("Copying dkms.conf to ");
    assert_eq!(t.read("/var/lib/dkms/m/1.0/source/dkms.conf"), CONF);
    assert_eq!(
        t.read(&format!("/var/lib/dkms/m/1.0/{K1}/{ARCH}/module/m.ko")),
        "not really a module\n"
    );
    assert!(!t.exists("/usr/src/m-1.0"));
}

#[test]
fn mktarball_errors_follow_upstream() {
    let t = built_root();
    t.dkms(&["mktarball", "m/1.0", "-k", "9.9.9-none"])
        .assert_code(6)
        .assert_stderr_contains("No modules built for 9.9.9-none (")
        .assert_stderr_contains(
            "Modules must already be in the built state before using mktarball.",
        );
    t.dkms(&[
        "mktarball",
        "m/1.0",
        "-k",
        K1,
        "--archive",
        "/proc/dkms-no-such-dir/x.tar.gz",
    ])
    .assert_code(9)
    .assert_stderr_contains("Missing write permissions for /proc/dkms-no-such-dir.");
    t.dkms(&["mktarball", "m/1.0", "--source-only"]).assert_ok();
    assert!(t.exists("/var/lib/dkms/m/1.0/tarball/m-1.0-source-only.dkms.tar.gz"));
    assert!(t.list("/tmp").is_empty());
}

#[test]
fn ldtarball_errors_follow_upstream() {
    let t = built_root();
    let outside = Outside::new();
    let missing = outside.dir.path().join("missing.tar.gz");
    t.dkms(&["ldtarball", "--archive", missing.to_str().expect("utf-8")])
        .assert_code(2)
        .assert_stderr_contains("missing.tar.gz does not exist.");
    let rpm = outside.dir.path().join("x.rpm");
    write_file(&rpm, "not an rpm");
    t.dkms(&["ldtarball", rpm.to_str().expect("utf-8")])
        .assert_code(9)
        .assert_stderr_contains("using rpm.");
    let junk = outside.dir.path().join("junk.tar.gz");
    write_file(&junk, "this is not a tarball\n");
    t.dkms(&["ldtarball", junk.to_str().expect("utf-8")])
        .assert_code(3)
        .assert_stderr_contains("No dkms.conf found within it.");
    let noconf = outside.archive("noconf.tar.gz", "add(\"dkms_main_tree/x/y/module/m.ko\", data=b\"x\")\nadd(\"dkms_source_tree/Makefile\", data=b\"x\")");
    t.dkms(&["ldtarball", noconf.to_str().expect("utf-8")])
        .assert_code(7)
        .assert_stderr_contains("No valid dkms.conf in dkms_source_tree or dkms_binaries_only.");
    assert!(t.list("/tmp").is_empty());
}

#[test]
fn plain_source_tarball_is_added() {
    let t = TestRoot::new();
    t.set_framework_conf("tmp_location=/tmp\n");
    let outside = Outside::new();
    let archive = outside.archive(
        "plain.tar.gz",
        "add(\"p-2.0/\", tarfile.DIRTYPE, mode=0o755)\n\
         add(\"p-2.0/dkms.conf\", data=b\"PACKAGE_NAME=p\\nPACKAGE_VERSION=2.0\\nBUILT_MODULE_NAME[0]=p\\nDEST_MODULE_LOCATION[0]=/updates\\n\")\n\
         add(\"p-2.0/sub/dkms.conf\", data=b\"PACKAGE_NAME=wrong\\nPACKAGE_VERSION=9\\n\")\n\
         add(\"p-2.0/l\", tarfile.SYMTYPE, \"dkms.conf\")",
    );
    t.dkms(&["ldtarball", archive.to_str().expect("utf-8")])
        .assert_ok();
    assert!(t
        .read("/usr/src/p-2.0/dkms.conf")
        .starts_with("PACKAGE_NAME=p\n"));
    assert_eq!(t.read_link("/usr/src/p-2.0/l"), PathBuf::from("dkms.conf"));
    t.dkms(&["status"]).assert_stdout_contains("p/2.0: added");
}

/// (case, extra Python lines, what stderr must say). `DOTS` is enough `../`
/// to reach `/` from anywhere; `CANARY` the canary directory.
const HOSTILE: &[(&str, &str, &str)] = &[
    ("dotdot", "add(DOTS + CANARY[1:] + '/pwned', data=b'x')", "'..'"),
    ("dotdot-inner", "add('dkms_source_tree/../../pwned', data=b'x')", "'..'"),
    ("absolute", "add(CANARY + '/pwned', data=b'x')", "absolute path"),
    ("symlink-then-write", "add('dkms_source_tree/evil', tarfile.SYMTYPE, CANARY)\nadd('dkms_source_tree/evil/pwned', data=b'x')", "symbolic link to the absolute path"),
    ("relative-symlink-then-write", "add('evil', tarfile.SYMTYPE, DOTS + CANARY[1:])\nadd('evil/pwned', data=b'x')", "symbolic link pointing outside"),
    ("inside-symlink-then-write", "add('dkms_source_tree/sub/', tarfile.DIRTYPE)\nadd('dkms_source_tree/evil', tarfile.SYMTYPE, 'sub')\nadd('dkms_source_tree/evil/pwned', data=b'x')", "lies beneath the symbolic link"),
    ("symlink-outside", "add('dkms_source_tree/link', tarfile.SYMTYPE, '../../outside')", "symbolic link pointing outside"),
    ("symlink-chain-outside", "add('dkms_source_tree/dot', tarfile.SYMTYPE, '.')\nadd('dkms_source_tree/up', tarfile.SYMTYPE, 'dot/dot/../..')", "symbolic link pointing outside"),
    ("symlink-out-of-subtree", "add('dkms_source_tree/l', tarfile.SYMTYPE, '../dkms_main_tree')", "symbolic link pointing outside"),
    ("char-device", "add('dkms_source_tree/null', tarfile.CHRTYPE, major=1, minor=3)", "character device"),
    ("block-device", "add('dkms_source_tree/sda', tarfile.BLKTYPE, major=8, minor=0)", "block device"),
    ("fifo", "add('dkms_source_tree/fifo', tarfile.FIFOTYPE)", "fifo"),
    ("hardlink-passwd", "add('dkms_source_tree/passwd', tarfile.LNKTYPE, '/etc/passwd')", "hard link"),
    ("hardlink-canary", "add('dkms_source_tree/c', tarfile.LNKTYPE, CANARY + '/file')", "hard link"),
    ("bad-kernel-dir", "add('dkms_main_tree/-rf/x/module/m.ko', data=b'x')", "kernel/arch directory name"),
    ("bad-package-name", "SOURCE_CONF = b'PACKAGE_NAME=\"a b\"\\nPACKAGE_VERSION=1.0\\nBUILT_MODULE_NAME[0]=m\\nDEST_MODULE_LOCATION[0]=/updates\\n'", "PACKAGE_NAME"),
];

#[test]
fn hostile_archives_are_refused_and_nothing_changes() {
    assert_all_refused(HOSTILE);
}

/// Each case is loaded into a fresh root holding nothing of m: it must be
/// refused with exit 9 and the problem named on stderr, and neither the
/// root nor the canary outside it may change.
fn assert_all_refused(cases: &[(&str, &str, &str)]) {
    let outside = Outside::new();
    let canary_before = snapshot_dir(&outside.canary());
    let mut failures = Vec::new();
    for (case, extra, problem) in cases {
        let t = built_root();
        t.dkms(&["remove", "m/1.0", "--all"]).assert_ok();
        let body = format!("DOTS = '../' * 40\n{}", valid_body(K1, extra));
        let archive = outside.archive(&format!("{case}.tar.gz"), &body);
        let before = t.snapshot();
        let out = t.dkms(&["ldtarball", archive.to_str().expect("utf-8")]);
        if out.code != 9 || !out.stderr.contains(problem) {
            failures.push(format!(
                "case {case}: want exit 9 and {problem:?} on stderr\n{out}"
            ));
        }
        let lock = Path::new("var/lib/dkms/.dkms-hook.lock");
        let strip =
            |s: Snapshot| -> Snapshot { s.into_iter().filter(|(p, _)| p != lock).collect() };
        let diff = diff_snapshots(&strip(before), &strip(t.snapshot()));
        if !diff.is_empty() {
            failures.push(format!(
                "case {case}: the root changed:\n{}",
                diff.join("\n")
            ));
        }
        let canary = diff_snapshots(&canary_before, &snapshot_dir(&outside.canary()));
        if !canary.is_empty() {
            failures.push(format!(
                "case {case}: the canary changed:\n{}",
                canary.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn hostile_plain_tarball_is_refused() {
    let t = TestRoot::new();
    t.set_framework_conf("tmp_location=/tmp\n");
    let outside = Outside::new();
    let canary_before = snapshot_dir(&outside.canary());
    let archive = outside.archive(
        "plain-evil.tar.gz",
        "add('p-2.0/dkms.conf', data=b'PACKAGE_NAME=p\\nPACKAGE_VERSION=2.0\\nBUILT_MODULE_NAME[0]=p\\nDEST_MODULE_LOCATION[0]=/updates\\n')\n\
         add('p-2.0/evil', tarfile.SYMTYPE, CANARY)\n\
         add('p-2.0/evil/pwned', data=b'x')",
    );
    let before = t.snapshot();
    let out = t.dkms(&["ldtarball", archive.to_str().expect("utf-8")]);
    out.assert_code(9).assert_stderr_contains("p-2.0/evil");
    t.assert_unchanged(&before, &["var/lib/dkms/.dkms-hook.lock"]);
    assert_eq!(snapshot_dir(&outside.canary()), canary_before);
}

/// Archives that only a look at every member's type, mode, name and size
/// (before anything is unpacked) can refuse: a setuid or setgid file, a
/// member given twice (the check and the unpack could see different
/// ones), a member beneath a file, and a member larger than any module
/// source (its header claims 5 GiB; nothing follows it).
const MORE_HOSTILE: &[(&str, &str, &str)] = &[
    (
        "setuid",
        "add('dkms_source_tree/su', data=b'x', mode=0o4755)",
        "setuid",
    ),
    (
        "setgid",
        "add('dkms_main_tree/' + KERNEL + '/' + ARCH + '/module/sg.ko', data=b'x', mode=0o2755)",
        "setgid",
    ),
    (
        "duplicate-file",
        "add('dkms_source_tree/Makefile', data=b'obj-m := evil.o\\n')",
        "more than once",
    ),
    (
        "duplicate-dot-slash",
        "add('./dkms_source_tree/dkms.conf', data=b'PACKAGE_NAME=m\\nPACKAGE_VERSION=1.0\\n')",
        "more than once",
    ),
    (
        "beneath-a-file",
        "add('dkms_source_tree/Makefile/x', data=b'x')",
        "not a directory",
    ),
    (
        "oversize",
        "add_huge('dkms_source_tree/huge', 5 << 30)",
        "larger than",
    ),
];

#[test]
fn more_hostile_archives_are_refused_before_anything_is_written() {
    let cases: Vec<(&str, String, &str)> = MORE_HOSTILE
        .iter()
        .map(|(c, extra, p)| (*c, format!("KERNEL = {K1:?}\nARCH = {ARCH:?}\n{extra}"), *p))
        .collect();
    let cases: Vec<(&str, &str, &str)> =
        cases.iter().map(|(c, e, p)| (*c, e.as_str(), *p)).collect();
    assert_all_refused(&cases);
}

/// A plain source archive for m/1.0 whose files differ from the ones
/// registered.
const PLAIN_M: &str = "add('m-1.0/', tarfile.DIRTYPE, mode=0o755)\n\
    add('m-1.0/dkms.conf', data=b'PACKAGE_NAME=m\\nPACKAGE_VERSION=1.0\\nBUILT_MODULE_NAME[0]=m\\nDEST_MODULE_LOCATION[0]=/updates\\n')\n\
    add('m-1.0/m.c', data=b'changed\\n')\n\
    add('m-1.0/new.c', data=b'new\\n')";

/// Loading an archive of a module/version that is already added is
/// refused the way upstream ends it (exit 3 "DKMS tree already contains"
/// for a plain source archive, exit 8 "is already added!" for mktarball's
/// layout), and without `--force` not a byte of the registered source or
/// of the dkms tree changes. With `--force` upstream replaces the source
/// before it refuses to add it again; so do we.
#[test]
fn loading_an_added_module_changes_nothing() {
    let t = built_root();
    let outside = Outside::new();
    let plain = outside.archive("plain-m.tar.gz", PLAIN_M);
    let made = outside.dir.path().join("made.tar.gz");
    t.dkms(&[
        "mktarball",
        "m/1.0",
        "-k",
        K1,
        "--archive",
        made.to_str().expect("utf-8"),
    ])
    .assert_ok();
    let lock = "var/lib/dkms/.dkms-hook.lock";
    let before = t.snapshot();

    for args in [
        vec!["ldtarball", plain.to_str().expect("utf-8")],
        vec!["add", "--archive", plain.to_str().expect("utf-8")],
    ] {
        let out = t.dkms(&args);
        out.assert_code(3)
            .assert_stderr_contains("Error! DKMS tree already contains: m/1.0")
            .assert_stderr_contains("You cannot add the same module/version combo more than once.");
        t.assert_unchanged(&before, &[lock]);
    }
    t.dkms(&["ldtarball", made.to_str().expect("utf-8")])
        .assert_code(8)
        .assert_stderr_contains("Error! m/1.0 is already added!")
        .assert_stderr_contains("Aborting.");
    t.assert_unchanged(&before, &[lock]);
    assert!(t.list("/tmp").is_empty(), "{:?}", t.list("/tmp"));

    let forced = t.dkms(&["ldtarball", "--force", plain.to_str().expect("utf-8")]);
    forced
        .assert_code(3)
        .assert_stdout_contains("Forcing install of m/1.0")
        .assert_stderr_contains("DKMS tree already contains: m/1.0");
    assert_eq!(t.read("/usr/src/m-1.0/m.c"), "changed\n");
    assert_eq!(t.read("/usr/src/m-1.0/new.c"), "new\n");
    assert!(!t.exists("/usr/src/m-1.0/Makefile"));
}

/// A dkms.conf that needs bash (here it also touches a file in the
/// canary directory) is read only once every check on the archive has
/// passed: a hostile archive carrying it is refused without the code
/// running; the same conf in a clean archive does run (so the refusals
/// are not vacuous).
#[test]
fn archive_shell_code_runs_only_after_every_check() {
    let outside = Outside::new();
    let conf = |tag: &str| {
        format!(
            "add('dkms_source_tree/dkms.conf', data=b'PACKAGE_NAME=m\\nPACKAGE_VERSION=1.0\\nBUILT_MODULE_NAME[0]=m\\nDEST_MODULE_LOCATION[0]=/updates\\ntouch ' + CANARY.encode() + b'/ran-{tag}\\n')\n"
        )
    };
    let common = format!(
        "add('dkms_source_tree/', tarfile.DIRTYPE, mode=0o755)\n\
         add('dkms_source_tree/Makefile', data=b'obj-m := m.o\\n')\n\
         add('dkms_main_tree/{K1}/{ARCH}/module/m.ko', data=b'ko\\n')\n"
    );
    let cases = [
        (
            "bad-kernel-dir",
            "add('dkms_main_tree/-rf/x/module/m.ko', data=b'x')",
            "kernel/arch directory name",
        ),
        (
            "link-out-of-subtree",
            "add('dkms_source_tree/l', tarfile.SYMTYPE, '../dkms_main_tree')",
            "symbolic link pointing outside",
        ),
        (
            "setuid",
            "add('dkms_source_tree/su', data=b'x', mode=0o4755)",
            "setuid",
        ),
    ];
    for (case, extra, problem) in cases {
        let t = TestRoot::new();
        t.set_framework_conf("tmp_location=/tmp\n");
        let archive = outside.archive(
            &format!("{case}.tar.gz"),
            &format!("{common}{}{extra}", conf(case)),
        );
        let before = t.snapshot();
        t.dkms(&["ldtarball", archive.to_str().expect("utf-8")])
            .assert_code(9)
            .assert_stderr_contains(problem);
        assert!(
            !outside.canary().join(format!("ran-{case}")).exists(),
            "case {case}: the archive's dkms.conf ran before the archive was refused"
        );
        t.assert_unchanged(&before, &["var/lib/dkms/.dkms-hook.lock"]);
    }

    let t = TestRoot::new();
    t.set_framework_conf("tmp_location=/tmp\n");
    let clean = outside.archive("clean.tar.gz", &format!("{common}{}", conf("clean")));
    t.dkms(&["ldtarball", clean.to_str().expect("utf-8")])
        .assert_ok();
    assert!(outside.canary().join("ran-clean").exists());
}

/// Upstream's ldtarball takes whatever compression tar itself detects;
/// mktarball picks it from the `--archive` name. Each round trip loads
/// back the same files.
#[test]
fn every_compression_round_trips() {
    let outside = Outside::new();
    for ext in [
        "tar", "tar.gz", "tgz", "tar.bz2", "tar.xz", "tar.zst", "tar.lzma",
    ] {
        let t = built_root();
        let archive = outside.dir.path().join(format!("m.{ext}"));
        t.dkms(&[
            "mktarball",
            "m/1.0",
            "-k",
            K1,
            "--archive",
            archive.to_str().expect("utf-8"),
        ])
        .assert_ok();
        let before = module_state(&t);
        t.dkms(&["remove", "m/1.0", "--all"]).assert_ok();
        std::fs::remove_dir_all(t.path("/usr/src/m-1.0")).expect("rm source");
        let out = t.dkms(&["ldtarball", archive.to_str().expect("utf-8")]);
        assert_eq!(out.code, 0, "{ext}: {out}");
        let (mut after, src) = module_state(&t);
        after.remove(Path::new("1.0/build"));
        assert_eq!((after, src), before, "{ext}");
    }
}
