//! Kernels that are not there: `dkms-hook autoinstall -k K` for a kernel
//! that is not installed fails (exit 2) and says so instead of passing for
//! "nothing to do"; the running kernel missing from a `--root` (an image
//! being prepared) is only a note, for `autoinstall` without `-k` and for
//! `boot`.

use crate::harness::*;
use rstest::rstest;

/// The running kernel's release, as dkms-hook reads it.
fn running() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

#[rstest]
#[case::alone(&[K2])]
#[case::with_an_installed_one(&[K1, K2])]
fn autoinstall_of_a_kernel_that_is_not_installed_fails_and_does_nothing(#[case] ks: &[&str]) {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    let before = root.snapshot();

    let mut args = vec!["autoinstall"];
    for k in ks {
        args.extend(["-k", k]);
    }
    let out = root.hook(&args);
    out.assert_code(2);
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(
        out.stderr,
        format!(
            "\nError! kernel {K2} is not installed (no {} and no {}).\n",
            root.path(&format!("/lib/modules/{K2}")).display(),
            root.path(&format!("/boot/vmlinuz-{K2}")).display()
        ),
        "{out}"
    );
    root.assert_unchanged(&before, &[LOCK]);
}

#[test]
fn an_installed_kernel_without_headers_is_still_deferred_not_refused() {
    let root = TestRoot::new();
    root.add_fake_kernel(K2, false, true);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    let out = root.hook(&["autoinstall", "-k", K2]);
    out.assert_ok();
    assert!(!out.stderr.contains("is not installed"), "{out}");
    out.assert_stdout_contains(&format!("linux-headers-{K2}"));
}

#[rstest]
#[case::autoinstall(&["autoinstall"])]
#[case::boot(&["boot"])]
fn the_running_kernel_missing_from_the_root_is_a_note(#[case] args: &[&str]) {
    let root = TestRoot::with_kernel(K1);
    let k = running();
    assert_ne!(k, K1, "the host runs the fake kernel?");
    let out = root.hook(args);
    out.assert_ok();
    let note = format!(
        "dkms-hook: note: the running kernel {k} is not installed in {} (no {}); nothing to do for it.",
        root.root().display(),
        root.path(&format!("/lib/modules/{k}")).display()
    );
    assert_eq!(
        out.stdout_lines().iter().filter(|l| **l == note).count(),
        1,
        "not one note {note:?}\n{out}"
    );
    assert!(!out.stderr.contains("Error!"), "{out}");
}
