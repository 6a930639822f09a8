//! Fake-kernel tier: the hooks run by a user who is not root. The first
//! thing they say is that root is needed, with the status the man page
//! gives (1 for the hooks that may fail, 0 plus the "does not fail this
//! package operation" line for those that must not), and the tree is left
//! as it was. Before, a build started and ended in exit 11 with
//! "internal error: building without the lock".

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::harness::*;

/// The uid and gid of nobody.
const NOBODY: u32 = 65534;

/// The error and the advice a non-root hook starts with.
const NEEDS_ROOT: &str = "Run it as root (changes to the DKMS trees need root).";

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

/// A copy of `bin` that another user can run (the build tree may sit in
/// root's home, which nobody else can enter).
fn runnable_copy(dir: &Path, bin: &str) -> PathBuf {
    let to = dir.join(Path::new(bin).file_name().unwrap());
    std::fs::copy(bin, &to).unwrap();
    chmod(&to, 0o755);
    to
}

#[test]
fn hooks_run_without_root_say_at_once_that_root_is_needed_and_change_nothing() {
    if !rustix::process::geteuid().is_root() {
        skip_unless_ci(
            "hooks_run_without_root_say_at_once_that_root_is_needed_and_change_nothing",
            "only root can run a program as another user",
        );
        return;
    }
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    // The tree is readable by everyone, as /var/lib/dkms is.
    chmod(root.dir.path(), 0o755);
    let bins = tempfile::tempdir().unwrap();
    chmod(bins.path(), 0o755);
    let hook = runnable_copy(bins.path(), env!("CARGO_BIN_EXE_dkms-hook"));
    let hook = hook.to_str().unwrap();
    let before = root.snapshot();

    // (event, status, whether the ignored-error line follows)
    let cases: [(&[&str], i32, bool); 5] = [
        (&["autoinstall"], 1, false),
        (&["kernel-postinst", K1], 1, false),
        (&["header-postinst", K1], 1, false),
        (&["apt-post-invoke"], 0, true),
        (&["boot"], 0, true),
    ];
    for (args, code, ignored) in cases {
        let mut cmd = root.command(hook, args);
        cmd.uid(NOBODY).gid(NOBODY);
        let out = run_command(cmd, root.timeout());
        out.assert_code(code);
        let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.is_empty()).collect();
        let lock = root.path("/var/lib/dkms/.dkms-hook.lock");
        let first = format!(
            "Error! Cannot open lock file {}: Permission denied",
            lock.display()
        );
        assert_eq!(lines.first(), Some(&first.as_str()), "{args:?}\n{out}");
        assert_eq!(lines.get(1), Some(&NEEDS_ROOT), "{args:?}\n{out}");
        assert_eq!(
            lines.get(2).is_some(),
            ignored,
            "{args:?}: only the ignored-error line may follow\n{out}"
        );
        assert!(!out.stderr.contains("internal error"), "{out}");
        assert_eq!(out.stdout, "", "{args:?}: nothing is built\n{out}");
        root.assert_unchanged(&before, &[]);
    }
}
