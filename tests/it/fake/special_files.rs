//! Fake-kernel tier: a FIFO, a socket or a device node standing where a
//! write path puts, replaces or removes a file (module files, archived
//! originals, records, logs, packages). The run must never block on it,
//! never write into it (a device would swallow a module), and never leave
//! it looking like the file it stands for: either it refuses, naming the
//! path, or it replaces the node with the right regular file. The lock is
//! free afterwards either way.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::*;

/// The kinds of node planted, by name.
const KINDS: [&str; 3] = ["fifo", "socket", "device"];

/// Plant a node of `kind` at `p` (replacing what is there).
fn plant(p: &Path, kind: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    if std::fs::symlink_metadata(p).is_ok() {
        std::fs::remove_file(p).unwrap();
    }
    let mode = rustix::fs::Mode::from_bits_truncate(0o644);
    match kind {
        "fifo" => rustix::fs::mkfifoat(rustix::fs::CWD, p, mode).unwrap(),
        "socket" => {
            // The listener goes; its socket file stays, as a dead one does.
            drop(std::os::unix::net::UnixListener::bind(p).unwrap());
        }
        _ => rustix::fs::mknodat(
            rustix::fs::CWD,
            p,
            rustix::fs::FileType::CharacterDevice,
            mode,
            rustix::fs::makedev(1, 3),
        )
        .unwrap(),
    }
}

/// Whether `p` is still a node of a special kind.
fn is_special(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| {
            let t = m.file_type();
            t.is_fifo() || t.is_socket() || t.is_char_device() || t.is_block_device()
        })
        .unwrap_or(false)
}

/// Panics unless nobody holds the root's writers' lock.
#[track_caller]
fn assert_lock_free(root: &TestRoot) {
    let p = root.path("/var/lib/dkms/.dkms-hook.lock");
    let Ok(f) = std::fs::OpenOptions::new().write(true).open(&p) else {
        return;
    };
    assert!(
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok(),
        "the lock is still held"
    );
}

/// Each write path: how the root is made ready, where the node goes (a
/// root path), and the command that writes there (binary, arguments).
struct Case {
    what: &'static str,
    ready: fn(&TestRoot),
    place: String,
    hook: bool,
    args: Vec<String>,
    /// The exit status.
    code: i32,
    /// What must hold afterwards (the root, the node's path, the output).
    expect: Expect,
}

/// The outcome a case must have.
#[derive(Clone, Copy)]
enum Expect {
    /// The node replaced by a regular file with these bytes
    /// (a root path), or by any regular file (`None`).
    Replaced(Option<&'static str>),
    /// The node replaced by a symlink.
    Linked,
    /// The node gone.
    Removed,
    /// The node left alone, and a warning naming it.
    LeftAndSaid,
    /// The node left alone: upstream's own test (`-f`) says
    /// there is nothing to do with it.
    LeftAsUpstream,
}

fn added(root: &TestRoot) {
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
}

fn built(root: &TestRoot) {
    added(root);
    root.dkms(&["build", "hello/1.0", "-k", K1]).assert_ok();
}

fn installed(root: &TestRoot) {
    added(root);
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
}

/// The kernel ships its own hello.ko, which an install archives.
fn with_original(root: &TestRoot) {
    let old = build_fixture("hello-1.0", K1);
    root.add_kernel_module(K1, "kernel/drivers/misc/hello.ko", &old.ko("hello"));
}

/// hello/2.0 (newer than the kernel's 1.0) added over the kernel's own.
fn added_over_original(root: &TestRoot) {
    with_original(root);
    root.add_source("hello-2.0");
    root.dkms(&["add", "hello/2.0"]).assert_ok();
}

fn installed_over_original(root: &TestRoot) {
    added_over_original(root);
    root.dkms(&["install", "hello/2.0", "-k", K1]).assert_ok();
}

fn built_over_original(root: &TestRoot) {
    added_over_original(root);
    root.dkms(&["build", "hello/2.0", "-k", K1]).assert_ok();
}

/// The module hello/1.0 built for K1, as installed.
const BUILT_1: &str = "/var/lib/dkms/hello/1.0/6.1.0-90-fake/x86_64/module/hello.ko";

/// Where the kernel's own hello.ko is planted (see [`with_original`]).
const KERNELS_OWN: &str = "/lib/modules/6.1.0-90-fake/kernel/drivers/misc/hello.ko";

fn cases() -> Vec<Case> {
    let module = format!("/lib/modules/{K1}/updates/dkms/hello.ko");
    let original = format!("/var/lib/dkms/hello/original_module/{K1}/{ARCH}/hello.ko");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        Case {
            what: "module file, dkms install",
            ready: built,
            place: module.clone(),
            hook: false,
            args: s(&["install", "hello/1.0", "-k", K1]),
            code: 0,
            expect: Expect::Replaced(Some(BUILT_1)),
        },
        Case {
            what: "module file, kernel-postinst",
            ready: added,
            place: module.clone(),
            hook: true,
            args: s(&["kernel-postinst", K1]),
            code: 0,
            expect: Expect::Replaced(Some(BUILT_1)),
        },
        Case {
            what: "module file, dkms uninstall",
            ready: installed,
            place: module.clone(),
            hook: false,
            args: s(&["uninstall", "hello/1.0", "-k", K1]),
            code: 0,
            expect: Expect::LeftAndSaid,
        },
        Case {
            what: "module file, dkms remove",
            ready: installed,
            place: module.clone(),
            hook: false,
            args: s(&["remove", "hello/1.0", "--all"]),
            code: 0,
            expect: Expect::LeftAndSaid,
        },
        Case {
            what: "archived original, dkms install",
            ready: built_over_original,
            place: original.clone(),
            hook: false,
            args: s(&["install", "hello/2.0", "-k", K1]),
            code: 0,
            expect: Expect::Replaced(Some(KERNELS_OWN)),
        },
        Case {
            what: "archived original, dkms uninstall (restore)",
            ready: installed_over_original,
            place: original.clone(),
            hook: false,
            args: s(&["uninstall", "hello/2.0", "-k", K1]),
            code: 0,
            expect: Expect::LeftAndSaid,
        },
        Case {
            what: "kernel link record, dkms install",
            ready: built,
            place: format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}"),
            hook: false,
            args: s(&["install", "hello/1.0", "-k", K1]),
            code: 0,
            expect: Expect::Linked,
        },
        Case {
            what: "depmod marker, dkms install",
            ready: built,
            place: format!("/var/lib/dkms/.dkms-hook/depmod-pending/{K1}"),
            hook: false,
            args: s(&["install", "hello/1.0", "-k", K1]),
            code: 0,
            expect: Expect::Removed,
        },
        Case {
            what: "failure record, kernel-postinst",
            ready: |r| {
                r.add_source_text(
                    "broken",
                    "1.0",
                    &[
                        (
                            "dkms.conf",
                            "PACKAGE_NAME=broken\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=broken\n\
                             DEST_MODULE_LOCATION[0]=/extra\nMAKE=false\nAUTOINSTALL=yes\n",
                        ),
                        ("broken.c", "int x;\n"),
                    ],
                );
                r.dkms(&["add", "broken/1.0"]).assert_ok();
            },
            place: format!("/var/lib/dkms/.dkms-hook/failed/broken@1.0@{K1}@{ARCH}.json"),
            hook: true,
            args: s(&["kernel-postinst", K1]),
            // A module that is not critical: the package operation goes on.
            code: 0,
            expect: Expect::Replaced(None),
        },
        Case {
            what: "make.log of the published build, dkms build --force",
            ready: built,
            place: format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}/log/make.log"),
            hook: false,
            args: s(&["build", "hello/1.0", "-k", K1, "--force"]),
            code: 0,
            expect: Expect::Replaced(None),
        },
        Case {
            what: "modules.dep, dkms install",
            ready: built,
            place: format!("/lib/modules/{K1}/modules.dep"),
            hook: false,
            args: s(&["install", "hello/1.0", "-k", K1]),
            code: 0,
            expect: Expect::LeftAsUpstream,
        },
    ]
}

/// The bytes of the file at root path `p`.
fn bytes(root: &TestRoot, p: &str) -> Vec<u8> {
    std::fs::read(root.path(p)).unwrap_or_else(|e| panic!("read {p}: {e}"))
}

#[test]
fn special_files_on_write_paths_never_block_and_are_never_written_into() {
    if !rustix::process::geteuid().is_root() {
        skip_unless_ci(
            "special_files_on_write_paths_never_block_and_are_never_written_into",
            "only root can make device nodes",
        );
        return;
    }
    for case in cases() {
        for kind in KINDS {
            let root = TestRoot::with_kernel(K1);
            (case.ready)(&root);
            // What a replacement must hold, read before the node is planted
            // (the kernel's own module moves into the archive on install).
            // (A module the run itself builds is read after it.)
            let from = match case.expect {
                Expect::Replaced(Some(from)) => Some(from),
                _ => None,
            };
            let mut want = from.filter(|f| root.exists(f)).map(|f| bytes(&root, f));
            let p = root.path(&case.place);
            plant(&p, kind);
            let bin = if case.hook {
                env!("CARGO_BIN_EXE_dkms-hook")
            } else {
                env!("CARGO_BIN_EXE_dkms")
            };
            let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
            let start = Instant::now();
            let out = run_command(root.command(bin, &args), Duration::from_secs(20));
            let what = format!("{} ({kind})", case.what);
            assert!(
                start.elapsed() < Duration::from_secs(19),
                "{what}: hung\n{out}"
            );
            assert_lock_free(&root);
            if want.is_none() {
                want = from.map(|f| bytes(&root, f));
            }
            let meta = std::fs::symlink_metadata(&p);
            match case.expect {
                Expect::Replaced(_) => {
                    out.assert_code(case.code);
                    assert!(
                        meta.as_ref().map(|m| m.is_file()).unwrap_or(false),
                        "{what}: not replaced by a regular file\n{out}"
                    );
                    if let Some(want) = &want {
                        assert!(
                            std::fs::read(&p).unwrap() == *want,
                            "{what}: the replacement has other bytes"
                        );
                    }
                }
                Expect::Linked => {
                    out.assert_code(case.code);
                    assert!(
                        meta.map(|m| m.file_type().is_symlink()).unwrap_or(false),
                        "{what}: not replaced by the link\n{out}"
                    );
                }
                Expect::Removed => {
                    out.assert_code(case.code);
                    assert!(meta.is_err(), "{what}: still there\n{out}");
                }
                Expect::LeftAndSaid => {
                    out.assert_code(case.code);
                    assert!(is_special(&p), "{what}: the node was touched\n{out}");
                    let named = out.stderr.lines().any(|l| {
                        l.contains(&p.display().to_string()) && l.contains("not a regular file")
                    });
                    assert!(named, "{what}: no line names the node\n{out}");
                }
                Expect::LeftAsUpstream => {
                    out.assert_code(case.code);
                    assert!(is_special(&p), "{what}: the node was touched\n{out}");
                }
            }
            // A node that was an archived original never reaches the
            // kernel's tree, where modprobe would open it.
            assert!(
                !is_special(&root.path(KERNELS_OWN)),
                "{what}: a node was put into the kernel's tree\n{out}"
            );
        }
    }
}
