//! Fake-kernel tier: nothing outside the trees, nothing lost. One test per
//! class of failure a hostile user or an unlucky administrator can cause:
//! other filesystems, work decided before the lock, names read from disk,
//! shell characters, planted symlinks, FIFOs and devices, a closed stdout,
//! signals, absurd settings, errors without a cause, two modules claiming
//! one file, lying records, YAML readers.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

/// A root whose kernel K1 already ships hello.ko in kernel/, and hello/1.0
/// registered: installing it archives that original.
fn root_with_original() -> (TestRoot, Vec<u8>) {
    let root = TestRoot::with_kernel(K1);
    let built = build_fixture("hello-1.0", K1);
    let orig = format!("/lib/modules/{K1}/kernel/drivers/misc/hello.ko");
    root.add_kernel_module(K1, "kernel/drivers/misc/hello.ko", &built.ko("hello"));
    // Make the original distinguishable from our build.
    let mut bytes = std::fs::read(root.path(&orig)).expect("read original");
    bytes.extend_from_slice(b"\0original");
    std::fs::write(root.path(&orig), &bytes).expect("write original");
    root.add_source("hello-1.0");
    (root, bytes)
}

// 1. ---------------------------------------------------------------------

#[test]
fn originals_go_back_across_filesystems_and_stay_archived_when_they_cannot() {
    let (root, original) = root_with_original();
    // The dkms tree and the install tree on filesystems of their own.
    let test = "originals_go_back_across_filesystems_and_stay_archived_when_they_cannot";
    let Some(_dkms) = Tmpfs::mount_or_skip(test, &root.path("/var/lib/dkms"), "64m") else {
        return;
    };
    let lib = root.path(&format!("/lib/modules/{K1}/kernel"));
    let Some(lib) = Tmpfs::mount_or_skip(test, &lib, "64m") else {
        return;
    };
    let orig = format!("/lib/modules/{K1}/kernel/drivers/misc/hello.ko");
    std::fs::create_dir_all(root.path(&orig).parent().unwrap()).unwrap();
    std::fs::write(root.path(&orig), &original).unwrap();
    let archive = format!("/var/lib/dkms/hello/original_module/{K1}/{ARCH}/hello.ko");
    root.dkms(&["install", "hello/1.0", "-k", K1, "--force"])
        .assert_ok();
    assert!(!root.exists(&orig), "the original left the kernel's tree");
    assert_eq!(std::fs::read(root.path(&archive)).unwrap(), original);
    // Across filesystems: the original comes back, verified, then the archive goes.
    root.dkms(&["uninstall", "hello/1.0", "-k", K1]).assert_ok();
    assert_eq!(std::fs::read(root.path(&orig)).unwrap(), original);
    assert!(!root.exists(&archive));

    // The install tree turns read-only halfway: uninstall fails, says why,
    // and the archive stays.
    root.dkms(&["install", "hello/1.0", "-k", K1, "--force"])
        .assert_ok();
    assert!(root.exists(&archive));
    lib.remount("ro");
    let out = root.dkms(&["uninstall", "hello/1.0", "-k", K1]);
    lib.remount("rw");
    out.assert_failed();
    assert!(
        out.stderr.contains("Read-only file system"),
        "the cause is named\n{out}"
    );
    assert_eq!(
        std::fs::read(root.path(&archive)).unwrap(),
        original,
        "archive kept\n{out}"
    );
}

// 2. ---------------------------------------------------------------------

#[test]
fn a_run_that_waited_for_the_lock_decides_from_what_it_finds_then() {
    let root = TestRoot::with_kernel(K1);
    root.add_fake_kernel(K2, true, true);
    root.add_source("hello-1.0");
    root.dkms(&["build", "hello/1.0", "-k", K1]).assert_ok();
    // Hold the writers' lock as another run would.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.path("/var/lib/dkms/.dkms-hook.lock"))
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let held = lock;
    let remove = root
        .command(
            env!("CARGO_BIN_EXE_dkms"),
            &["remove", "hello/1.0", "--all"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // The other run builds for K2 while `remove --all` waits.
    let k2 = root.path(&format!("/var/lib/dkms/hello/1.0/{K2}/{ARCH}"));
    copy_tree(
        &root.path(&format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}")),
        &k2,
    );
    drop(held);
    let out = remove.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !root.exists("/var/lib/dkms/hello"),
        "both builds removed, K2 included"
    );
}

// 3. ---------------------------------------------------------------------

#[test]
fn names_read_from_disk_that_could_escape_are_skipped() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    // Sentinels: a directory outside the trees, the module's archived originals.
    let outside = root.path("/outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), "x").unwrap();
    root.write(
        &format!("/var/lib/dkms/hello/original_module/{K1}/{ARCH}/keep.ko"),
        "archived",
    );
    let pending = root.path("/var/lib/dkms/.dkms-hook/pending");
    std::fs::create_dir_all(&pending).unwrap();
    for (n, k) in [
        ("a", ".."),
        ("b", "../../../outside"),
        ("c", ""),
        ("d", "/outside"),
    ] {
        std::fs::write(
            pending.join(format!("{n}.json")),
            format!(r#"{{"kernel":"{k}","arch":"{ARCH}","reason":"headers-missing"}}"#),
        )
        .unwrap();
    }
    symlink(
        "1.0/../../../../outside",
        root.path(&format!("/var/lib/dkms/hello/kernel-..-{ARCH}")),
    )
    .unwrap();
    let markers = root.path("/var/lib/dkms/.dkms-hook/depmod-pending");
    std::fs::create_dir_all(&markers).unwrap();
    std::fs::write(markers.join("-rf"), "").unwrap();
    std::fs::write(markers.join("$(touch PWNED)"), "").unwrap();
    let before = root.snapshot_of("/outside");
    for args in [
        vec!["apt-post-invoke"],
        vec!["prune"],
        vec!["dpkg-trigger"],
        vec!["doctor", "--repair"],
        vec!["boot"],
    ] {
        let out = root.hook(&args);
        assert!(out.code == 0 || args[0] == "doctor", "{out}");
    }
    assert_eq!(root.snapshot_of("/outside"), before);
    assert!(root.exists(&format!(
        "/var/lib/dkms/hello/original_module/{K1}/{ARCH}/keep.ko"
    )));
    assert!(!root.exists("/PWNED") && !root.path("PWNED").exists());
    assert!(root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")));
    let doctor = root.hook(&["doctor"]);
    for n in ["a.json", "b.json", "c.json", "d.json"] {
        assert!(
            doctor.stdout.contains(n),
            "doctor names the record {n}\n{doctor}"
        );
    }
}

// 4. ---------------------------------------------------------------------

#[test]
fn kernel_names_with_shell_characters_are_refused_everywhere() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    for k in [
        "6.1;touch PWNED",
        "$(touch PWNED)",
        "`touch PWNED`",
        "6.1|x",
        "6.1&x",
        "6.1>x",
    ] {
        let out = root.dkms(&["build", "hello/1.0", "-k", k]);
        out.assert_code(2);
        assert!(out.stderr.contains("Invalid kernel version"), "{out}");
        let out = root.hook(&["kernel-postinst", k]);
        out.assert_code(2);
        let out = root.hook(&["kernel-prerm", k]);
        out.assert_code(2);
    }
    assert!(!root.path("PWNED").exists());
    assert!(!root.exists("/var/lib/dkms/hello"));
}

// 5. ---------------------------------------------------------------------

/// Every path some action writes or deletes under, relative to the root.
fn touched_paths() -> Vec<String> {
    vec![
        "/var/lib/dkms/hello".into(),
        "/var/lib/dkms/hello/1.0".into(),
        "/var/lib/dkms/hello/1.0/build".into(),
        format!("/var/lib/dkms/hello/1.0/{K1}"),
        format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}"),
        format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}/log"),
        "/var/lib/dkms/hello/original_module".into(),
        format!("/var/lib/dkms/hello/kernel-{K1}-{ARCH}"),
        "/var/lib/dkms/.dkms-hook".into(),
        "/var/lib/dkms/.dkms-hook/pending".into(),
        "/var/lib/dkms/.dkms-hook/failed".into(),
        "/var/lib/dkms/.dkms-hook/depmod-pending".into(),
        "/var/lib/dkms/.dkms-hook.lock".into(),
        format!("/lib/modules/{K1}/updates"),
        format!("/lib/modules/{K1}/updates/dkms"),
    ]
}

/// The states a sweep starts from: what must exist for an action to reach
/// the path, done by the real binary.
fn prepare(root: &TestRoot, state: &str) {
    root.add_source("hello-1.0");
    root.add_source("broken-1.0");
    match state {
        "added" => {
            root.dkms(&["add", "hello/1.0"]).assert_ok();
        }
        "built" => {
            root.dkms(&["build", "hello/1.0", "-k", K1]).assert_ok();
        }
        "installed" => {
            root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
        }
        _ => {}
    }
}

#[test]
fn planted_symlinks_never_lead_a_write_or_delete_outside_the_trees() {
    let actions: &[(&str, &[&str])] = &[
        ("none", &["add", "hello/1.0"]),
        ("added", &["build", "hello/1.0", "-k", K1]),
        ("added", &["install", "hello/1.0", "-k", K1]),
        ("built", &["install", "hello/1.0", "-k", K1]),
        ("installed", &["uninstall", "hello/1.0", "-k", K1]),
        ("installed", &["unbuild", "hello/1.0", "-k", K1]),
        ("installed", &["remove", "hello/1.0", "--all"]),
        ("installed", &["build", "hello/1.0", "-k", K1, "--force"]),
        ("added", &["autoinstall", "-k", K1]),
        ("installed", &["kernel_prerm", "-k", K1]),
        ("installed", &["status"]),
        ("installed", &["mktarball", "hello/1.0", "-k", K1]),
    ];
    let hooks: &[(&str, &[&str])] = &[
        ("added", &["kernel-postinst", K1]),
        ("installed", &["kernel-prerm", K1]),
        ("installed", &["kernel-preinst", K1]),
        ("added", &["apt-post-invoke"]),
        ("installed", &["prune"]),
        ("installed", &["doctor", "--repair"]),
        ("added", &["header-postinst", K1]),
    ];
    let mut runs = 0;
    for path in touched_paths() {
        for (tool, list) in [("dkms", actions), ("hook", hooks)] {
            for (state, args) in list {
                let root = TestRoot::with_kernel(K1);
                prepare(&root, state);
                let sentinel = root.path("/sentinel");
                std::fs::create_dir_all(sentinel.join("sub")).unwrap();
                std::fs::write(sentinel.join("canary"), "do not touch").unwrap();
                std::fs::write(sentinel.join("sub/hello.ko"), "not a module").unwrap();
                let p = root.path(&path);
                if std::fs::symlink_metadata(&p).is_ok() {
                    if p.is_dir()
                        && !std::fs::symlink_metadata(&p)
                            .unwrap()
                            .file_type()
                            .is_symlink()
                    {
                        std::fs::remove_dir_all(&p).unwrap();
                    } else {
                        std::fs::remove_file(&p).unwrap();
                    }
                } else if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent).unwrap();
                }
                symlink(&sentinel, &p).unwrap();
                let before = root.snapshot_of("/sentinel");
                let out = if tool == "dkms" {
                    root.dkms(args)
                } else {
                    root.hook(args)
                };
                assert!(out.code != 101, "no panic\n{out}");
                let after = root.snapshot_of("/sentinel");
                assert_eq!(
                    before, after,
                    "{tool} {args:?} with {path} -> sentinel changed the sentinel\n{out}"
                );
                runs += 1;
            }
        }
    }
    assert_eq!(runs, touched_paths().len() * 19);
}

// 6. ---------------------------------------------------------------------

/// Run with a deadline; a hang is a failure.
fn within(secs: u64, mut cmd: Command) -> Output {
    let start = Instant::now();
    let out = run_command(
        std::mem::replace(&mut cmd, Command::new("true")),
        Duration::from_secs(secs),
    );
    assert!(start.elapsed() < Duration::from_secs(secs));
    out
}

#[test]
fn fifos_and_devices_where_files_belong_never_hang_or_flood() {
    let places = [
        "/etc/dkms/framework.conf",
        "/etc/dkms/hello.conf",
        "/usr/src/hello-1.0/dkms.conf",
        "/var/lib/dkms/.dkms-hook/pending/x.json",
        "/etc/os-release",
    ];
    for place in places {
        for kind in ["fifo", "zero"] {
            let root = TestRoot::with_kernel(K1);
            root.add_source("hello-1.0");
            root.dkms(&["add", "hello/1.0"]).assert_ok();
            let p = root.path(place);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let _ = std::fs::remove_file(&p);
            if kind == "fifo" {
                rustix::fs::mkfifoat(
                    rustix::fs::CWD,
                    &p,
                    rustix::fs::Mode::from_bits_truncate(0o644),
                )
                .unwrap();
            } else {
                symlink("/dev/zero", &p).unwrap();
            }
            for (bin, args) in [
                (env!("CARGO_BIN_EXE_dkms"), vec!["status"]),
                (
                    env!("CARGO_BIN_EXE_dkms"),
                    vec!["build", "hello/1.0", "-k", K1],
                ),
                (env!("CARGO_BIN_EXE_dkms-hook"), vec!["kernel-postinst", K1]),
                (env!("CARGO_BIN_EXE_dkms-hook"), vec!["pending"]),
            ] {
                let out = within(20, root.command(bin, &args));
                assert!(out.code != 101, "{place} as {kind}: no panic\n{out}");
            }
        }
    }
}

// 7. ---------------------------------------------------------------------

#[test]
fn a_closed_stdout_never_stops_the_work() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    // `dkms status | head -0`: the reader is gone before anything is written.
    for (bin, args) in [
        (env!("CARGO_BIN_EXE_dkms"), vec!["status"]),
        (env!("CARGO_BIN_EXE_dkms-hook"), vec!["kernel-postinst", K1]),
    ] {
        let mut cmd = root.command(bin, &args);
        let (r, w) = rustix::pipe::pipe().unwrap();
        drop(r);
        cmd.stdout(Stdio::from(w)).stderr(Stdio::piped());
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{bin} {args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{bin} {args:?}: {err}");
    }
    assert!(
        root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")),
        "the hook finished its install with stdout gone"
    );
}

// 8. ---------------------------------------------------------------------

#[test]
fn sigterm_takes_the_build_down_before_the_lock_is_released() {
    let root = TestRoot::with_kernel(K1);
    let marker = root.path("/tmp/slow-make-running");
    root.add_source_text(
        "slow",
        "1.0",
        &[
            (
                "dkms.conf",
                &format!(
                    "PACKAGE_NAME=slow\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=slow\n\
                     DEST_MODULE_LOCATION[0]=/kernel/extra\nMAKE=\"touch {} && exec sleep 120\"\n",
                    marker.display()
                ),
            ),
            ("slow.c", "int x;\n"),
        ],
    );
    let mut child = root
        .command(env!("CARGO_BIN_EXE_dkms"), &["build", "slow/1.0", "-k", K1])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "make never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sleeping = || {
        Command::new("pgrep")
            .args(["-f", "exec sleep 120|^sleep 120"])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    };
    assert!(sleeping(), "the build's make is running");
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(128 + 15));
    assert!(!sleeping(), "the make child is gone when dkms exits");
    // The lock is free now.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(root.path("/var/lib/dkms/.dkms-hook.lock"))
        .unwrap();
    assert!(rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok());
}

// 10. --------------------------------------------------------------------

#[test]
fn an_absurd_parallel_jobs_is_clamped_and_said() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    root.set_framework_conf("parallel_jobs=100000\n");
    let out = within(
        60,
        root.command(env!("CARGO_BIN_EXE_dkms-hook"), &["kernel-postinst", K1]),
    );
    out.assert_ok();
    assert!(
        out.stderr
            .contains("parallel_jobs is larger than 1024; using 1024."),
        "{out}"
    );
    assert!(root.exists(&format!("/lib/modules/{K1}/updates/dkms/hello.ko")));
}

/// The limit holds for `dkms` too, from framework.conf and from `-j`, and
/// silently: `dkms` prints upstream's text only.
#[test]
fn an_absurd_parallel_jobs_is_clamped_for_dkms_too() {
    for (conf, args) in [
        ("parallel_jobs=100000000\n", vec![]),
        ("", vec!["-j", "100000000"]),
        ("parallel_jobs=99999999999999999999999\n", vec![]),
    ] {
        let root = TestRoot::with_kernel(K1);
        root.add_source("hello-1.0");
        root.dkms(&["add", "hello/1.0"]).assert_ok();
        root.set_framework_conf(conf);
        let mut argv = vec!["build", "hello/1.0", "-k", K1];
        argv.extend(&args);
        let out = within(60, root.command(env!("CARGO_BIN_EXE_dkms"), &argv));
        out.assert_ok();
        assert!(
            !out.stderr.contains("parallel_jobs"),
            "no new line for dkms\n{out}"
        );
        let log = root.read(&format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}/log/make.log"));
        assert!(
            log.lines()
                .any(|l| l.starts_with(&format!("# command: make -j1024 KERNELRELEASE={K1} "))),
            "{conf}{args:?}: the make command has the clamped -j\n{log}"
        );
    }
}

// 11. --------------------------------------------------------------------

#[test]
fn a_missing_depmod_is_a_failure_that_says_so() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    // A PATH with everything a build needs but depmod.
    let bin = root.path("/nodepmod-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in [
        "bash", "sh", "make", "gcc", "cc", "ld", "strip", "cat", "rm", "mkdir", "touch", "md5sum",
        "sed", "tr", "cut", "sort", "cp", "mv", "ln", "echo", "printf", "test", "true", "false",
        "as", "env", "head", "grep", "awk", "basename", "dirname", "expr", "objcopy", "cc1",
        "xargs",
    ] {
        if let Ok(p) = which(tool) {
            let _ = symlink(p, bin.join(tool));
        }
    }
    let path = bin.display().to_string();
    let d = root.dkms_env(&["install", "hello/1.0", "-k", K1], &[("PATH", &path)]);
    d.assert_code(6);
    assert!(d.stderr.contains("Problems with depmod detected"), "{d}");
    let h = root.hook_env(&["kernel-postinst", K1], &[("PATH", &path)]);
    h.assert_code(0);
    assert!(h.stderr.contains("depmod failed"), "{h}");
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    for d in [
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
        "/usr/sbin",
        "/sbin",
        "/usr/lib/gcc/x86_64-linux-gnu/12",
    ] {
        let p = Path::new(d).join(tool);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(())
}

// 12. --------------------------------------------------------------------

#[test]
fn two_modules_installing_one_file_are_refused_and_nothing_else_is_deleted() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.add_source_text(
        "impostor",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=impostor\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=hello\n\
                 DEST_MODULE_LOCATION[0]=/kernel/extra\nAUTOINSTALL=yes\n",
            ),
            ("Makefile", "obj-m := hello.o\n"),
            ("hello.c", "int impostor_x;\n"),
        ],
    );
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    let ko = format!("/lib/modules/{K1}/updates/dkms/hello.ko");
    let ours = std::fs::read(root.path(&ko)).unwrap();
    root.dkms(&["add", "impostor/1.0"]).assert_ok();
    // The hooks refuse to put one package's module over another's: a
    // failure of the module (not critical: the package operation goes on).
    let out = root.hook(&["kernel-postinst", K1]);
    out.assert_code(0);
    out.assert_stdout_contains("failed: impostor/1.0");
    assert!(
        out.stderr.contains("was installed by module hello/1.0"),
        "{out}"
    );
    assert_eq!(std::fs::read(root.path(&ko)).unwrap(), ours);
    // `dkms` does what upstream does: the other module's file is archived
    // as an original and comes back, byte for byte, on uninstall.
    root.dkms(&["install", "impostor/1.0", "-k", K1, "--force"])
        .assert_ok();
    assert_ne!(std::fs::read(root.path(&ko)).unwrap(), ours);
    root.dkms(&["uninstall", "impostor/1.0", "-k", K1])
        .assert_ok();
    assert_eq!(
        std::fs::read(root.path(&ko)).unwrap(),
        ours,
        "hello's module is back"
    );
    // A file at our place that is not ours is never deleted.
    std::fs::write(root.path(&ko), b"someone else's module").unwrap();
    let un = root.dkms(&["uninstall", "hello/1.0", "-k", K1]);
    un.assert_ok();
    assert!(
        un.stdout.contains("Module hello.ko was not found within"),
        "{un}"
    );
    assert_eq!(
        std::fs::read(root.path(&ko)).unwrap(),
        b"someone else's module"
    );
}

// 13. --------------------------------------------------------------------

#[test]
fn records_never_outlive_what_they_describe_and_evidence_is_kept() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("broken-1.0");
    root.dkms(&["add", "broken/1.0"]).assert_ok();
    root.hook(&["kernel-postinst", K1]).assert_code(0);
    let failed = root.list("/var/lib/dkms/.dkms-hook/failed");
    let log = failed
        .iter()
        .find(|n| n.ends_with(".make.log"))
        .expect("a kept make.log");
    let json = failed
        .iter()
        .find(|n| n.ends_with(".json"))
        .expect("a failure record");
    let record = root.read(&format!("/var/lib/dkms/.dkms-hook/failed/{json}"));
    assert!(
        record.contains(log.as_str()),
        "the record points at its own copy\n{record}"
    );
    root.hook(&["doctor", "--repair"]).assert_ok();
    assert!(
        root.exists(&format!("/var/lib/dkms/.dkms-hook/failed/{log}")),
        "doctor keeps evidence"
    );
    root.dkms(&["remove", "broken/1.0", "--all"]).assert_ok();
    assert!(
        root.list("/var/lib/dkms/.dkms-hook/failed")
            .iter()
            .all(|n| !n.ends_with(".json")),
        "remove drops the records of what it removed"
    );
}

// 14. --------------------------------------------------------------------

#[test]
fn yaml_status_quotes_every_string() {
    let root = TestRoot::with_kernel(K1);
    for m in ["yes", "null"] {
        root.add_source_text(
            m,
            "1.0",
            &[
                (
                    "dkms.conf",
                    &format!(
                        "PACKAGE_NAME={m}\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=x\n\
                         DEST_MODULE_LOCATION[0]=/kernel/extra\n"
                    ),
                ),
                ("Makefile", "obj-m := x.o\n"),
            ],
        );
        root.dkms(&["add", &format!("{m}/1.0")]).assert_ok();
    }
    let out = root.dkms(&["status", "--output", "yaml"]);
    out.assert_ok();
    assert!(out.stdout.contains("\"module\": \"yes\""), "{out}");
    assert!(out.stdout.contains("\"module\": \"null\""), "{out}");
    let back: serde_json::Value = serde_norway::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = back["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["module"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["null", "yes"]);
}
