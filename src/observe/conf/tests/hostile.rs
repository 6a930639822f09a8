//! Hostile input: endless loops, huge and binary files.

use std::io::Write;
use std::time::{Duration, Instant};

use super::ctx;
use crate::observe::conf::bash_eval::eval_bash;
use crate::observe::conf::load::load;
use crate::observe::conf::resolve::ResolveOpts;
use crate::observe::conf::ConfFiles;

#[test]
fn endless_loop_times_out_and_the_group_dies() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let conf = dir.path().join("dkms.conf");
    std::fs::write(
        &conf,
        format!(
            "PACKAGE_NAME=x\nsleep 1000 &\necho $! > {}\nwhile :; do :; done\n",
            pidfile.display()
        ),
    )
    .unwrap();
    let start = Instant::now();
    let err = eval_bash(
        std::slice::from_ref(&conf),
        &ctx(),
        &[],
        Duration::from_millis(700),
    )
    .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(err.code(), 8);
    assert!(err.lines()[0].contains("Timed out"), "{:?}", err.lines());
    assert!(
        err.lines()[0].contains(&conf.display().to_string()),
        "{:?}",
        err.lines()
    );
    // The background child of the conf was in the killed process group.
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    std::thread::sleep(Duration::from_millis(100));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "sleep {pid} survived: {stat}"
    );
}

#[test]
fn timeout_names_the_override_file_that_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("dkms.conf");
    let b = dir.path().join("foo.conf");
    std::fs::write(&a, "PACKAGE_NAME=x\n").unwrap();
    std::fs::write(&b, "while :; do :; done\n").unwrap();
    let err = eval_bash(&[a, b.clone()], &ctx(), &[], Duration::from_millis(500)).unwrap_err();
    assert!(
        err.lines()[0].contains(&b.display().to_string()),
        "{:?}",
        err.lines()
    );
}

fn opts() -> ResolveOpts {
    ResolveOpts {
        distribution: "debian".into(),
        strict: true,
        directives: vec![],
        conf_path: "x".into(),
    }
}

#[test]
fn ten_megabyte_file_is_refused() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let line = "PACKAGE_NAME=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
    for _ in 0..(10 << 20) / line.len() {
        f.write_all(line.as_bytes()).unwrap();
    }
    let files = ConfFiles {
        main: f.path().to_path_buf(),
        overrides: vec![],
    };
    let start = Instant::now();
    let err = load(&files, &ctx(), &opts()).result.unwrap_err().error;
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(err.code(), 8);
    assert_eq!(err.lines()[0], "Bad conf file.");
    assert!(
        err.lines()[1].contains("larger than 1 MiB"),
        "{:?}",
        err.lines()
    );
}

#[test]
fn binary_file_is_refused() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"\x7fELF\x02\x01\x01\0\0\0PACKAGE_NAME=x\n")
        .unwrap();
    let files = ConfFiles {
        main: f.path().to_path_buf(),
        overrides: vec![],
    };
    let err = load(&files, &ctx(), &opts()).result.unwrap_err().error;
    assert_eq!(err.code(), 8);
    assert!(err.lines()[1].contains("NUL bytes"), "{:?}", err.lines());
}

#[test]
fn binary_override_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("dkms.conf");
    let over = dir.path().join("foo.conf");
    std::fs::write(&main, "PACKAGE_NAME=x\nPACKAGE_VERSION=1\n").unwrap();
    std::fs::write(&over, b"\0\0\0").unwrap();
    let files = ConfFiles {
        main,
        overrides: vec![over],
    };
    assert_eq!(
        load(&files, &ctx(), &opts())
            .result
            .unwrap_err()
            .error
            .code(),
        8
    );
}
