//! Fake-kernel tier: run as root, `dkms` and `dkms-hook` use no file that
//! another user can change (sshd's `StrictModes`, applied to what root
//! reads, sources, runs or signs with). One test per kind of file:
//!
//! - framework.conf, a framework.conf.d file, `/etc/dkms` and
//!   `/etc/dkms/framework.conf.d` themselves, and what framework.conf has
//!   root source or run (`build_environment`, the `post_transaction`
//!   program): the run fails with exit 1 before doing anything (a hook that
//!   must never fail exits 0 and says so);
//! - `/etc/dkms/<module>.conf` overrides: the module's conf is not read;
//! - `/etc/dkms/<module>/<script>` overrides: not run (a build script's
//!   refusal fails the build; POST_INSTALL's is a warning);
//! - `/etc/dkms/<module>/patches/`: the build fails;
//! - `sign_file`, `mok_signing_key`, `mok_certificate`: the build fails.
//!
//! Each case asserts the exit status, the exact refusal line, and that
//! nothing happened (the root unchanged, or the planted script's marker
//! absent). The last test proves that root-owned files only root can change
//! still work, sticky `/tmp`-like directories on the way included.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::harness::*;

/// The uid that stands for "another user".
const USER: u32 = 1000;

/// The hooks' line after an error that does not fail a package operation.
const IGNORED: &str = "dkms-hook: the error above does not fail this package operation.";

/// True when the test can run: the rule is only checked as root (and only
/// root can give files away).
#[track_caller]
fn as_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    skip_unless_ci(test, "trust is only checked when running as root");
    false
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

fn give_away(p: &Path) {
    std::os::unix::fs::chown(p, Some(USER), None)
        .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
}

/// The refusal line for `path` whose own owner or mode is the problem.
fn refused(path: &Path, uid: u32, mode: u32) -> String {
    let p = path.display();
    format!(
        "{p} is not trusted: owned by uid {uid} with mode {mode:04o}, so a user other than root can change it (fix: chown root:root {p} && chmod go-w {p})"
    )
}

/// The refusal line for `path` whose directory `dir` is the problem.
fn refused_in(path: &Path, dir: &Path, uid: u32, mode: u32) -> String {
    let d = dir.display();
    format!(
        "{} is not trusted: its directory {d} is owned by uid {uid} with mode {mode:04o}, so a user other than root can change it (fix: chown root:root {d} && chmod go-w {d})",
        path.display()
    )
}

/// Panics unless one line of stderr is exactly `line`.
#[track_caller]
fn assert_stderr_line(out: &Output, line: &str) {
    assert!(
        out.stderr.lines().any(|l| l == line),
        "no line\n{line}\n{out}"
    );
}

/// A root with kernel K1 and hello/1.0 added.
fn root_with_hello() -> TestRoot {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    root
}

/// What the marker a planted script would create is, in `root`.
fn marker(root: &TestRoot) -> PathBuf {
    root.path("/PLANTED")
}

// Framework files and their directories. ---------------------------------

/// A framework.conf that would run a planted program after the install.
fn framework_running(root: &TestRoot) -> String {
    let post = root.path("/usr/local/bin/post");
    write_executable(
        &post,
        format!("#!/bin/sh\ntouch {}\n", marker(root).display()),
    );
    format!("post_transaction={}\n", post.display())
}

#[test]
fn untrusted_framework_files_stop_every_run_before_it_does_anything() {
    if !as_root("untrusted_framework_files_stop_every_run_before_it_does_anything") {
        return;
    }
    // (what is made untrusted, how, and the refusal line)
    type Case = (&'static str, fn(&TestRoot) -> String);
    let cases: [Case; 5] = [
        ("framework.conf owned by a user", |root| {
            let f = root.path("/etc/dkms/framework.conf");
            give_away(&f);
            refused(&f, USER, 0o644)
        }),
        ("framework.conf writable by all", |root| {
            let f = root.path("/etc/dkms/framework.conf");
            chmod(&f, 0o666);
            refused(&f, 0, 0o666)
        }),
        ("a framework.conf.d file writable by its group", |root| {
            let f = root.path("/etc/dkms/framework.conf.d/local.conf");
            write_file(&f, "parallel_jobs=2\n");
            chmod(&f, 0o620);
            refused(&f, 0, 0o620)
        }),
        ("/etc/dkms writable by all", |root| {
            let d = root.path("/etc/dkms");
            chmod(&d, 0o777);
            refused(&d, 0, 0o777)
        }),
        ("framework.conf.d owned by a user", |root| {
            let d = root.path("/etc/dkms/framework.conf.d");
            std::fs::create_dir_all(&d).unwrap();
            chmod(&d, 0o755);
            give_away(&d);
            refused(&d, USER, 0o755)
        }),
    ];
    for (what, make_untrusted) in cases {
        let root = root_with_hello();
        root.set_framework_conf(&framework_running(&root));
        let line = make_untrusted(&root);
        let before = root.snapshot();

        let out = root.dkms(&["install", "hello/1.0", "-k", K1]);
        out.assert_code(1);
        assert_stderr_line(&out, &format!("Error! {line}"));
        assert_eq!(out.stdout, "", "{what}: nothing is done\n{out}");
        root.assert_unchanged(&before, &[]);

        // A hook that may fail fails the same way ...
        let out = root.hook(&["kernel-postinst", K1]);
        out.assert_code(1);
        assert_stderr_line(&out, &format!("Error! {line}"));
        root.assert_unchanged(&before, &[]);
        // ... and so do the ones only a person runs: none of them is a
        // package operation to be spared ...
        for args in [
            &["pending"][..],
            &["doctor"],
            &["doctor", "--repair"],
            &["prune", "--dry-run"],
        ] {
            let out = root.hook(args);
            out.assert_code(1);
            assert_stderr_line(&out, &format!("Error! {line}"));
            assert!(!out.stderr.contains(IGNORED), "{what}: {args:?}\n{out}");
            root.assert_unchanged(&before, &[]);
        }
        // ... and one that must never fail says so loudly.
        let out = root.hook(&["apt-post-invoke"]);
        out.assert_ok();
        assert_stderr_line(&out, &format!("Error! {line}"));
        assert_stderr_line(&out, &format!("Warning: {IGNORED}"));
        root.assert_unchanged(&before, &[]);
        assert!(!marker(&root).exists(), "{what}: the program ran");
    }
}

#[test]
fn what_framework_conf_has_root_run_or_source_must_be_root_s_too() {
    if !as_root("what_framework_conf_has_root_run_or_source_must_be_root_s_too") {
        return;
    }
    // The post_transaction program, named by path and by a bare name found
    // in PATH, and the build_environment file.
    for case in ["path", "bare", "build_environment"] {
        let root = root_with_hello();
        let bin = root.path("/usr/local/bin");
        let post = bin.join("post");
        let env = root.path("/etc/dkms-build.env");
        write_executable(
            &post,
            format!("#!/bin/sh\ntouch {}\n", marker(&root).display()),
        );
        write_file(&env, format!("touch {}\n", marker(&root).display()));
        let (conf, line) = match case {
            "path" => {
                give_away(&post);
                (
                    format!("post_transaction=\"{} $kernelver\"\n", post.display()),
                    refused(&post, USER, 0o755),
                )
            }
            "bare" => {
                chmod(&post, 0o777);
                (
                    "post_transaction=post\n".to_string(),
                    refused(&post, 0, 0o777),
                )
            }
            _ => {
                chmod(&env, 0o666);
                (
                    "build_environment=/etc/dkms-build.env\n".to_string(),
                    refused(&env, 0, 0o666),
                )
            }
        };
        root.set_framework_conf(&conf);
        let path = format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            bin.display()
        );
        let env_vars = [("PATH", path.as_str())];
        let before = root.snapshot();
        let out = root.dkms_env(&["install", "hello/1.0", "-k", K1], &env_vars);
        out.assert_code(1);
        assert_stderr_line(&out, &format!("Error! {line}"));
        root.assert_unchanged(&before, &[]);
        let out = root.hook_env(&["kernel-postinst", K1], &env_vars);
        out.assert_code(1);
        assert_stderr_line(&out, &format!("Error! {line}"));
        root.assert_unchanged(&before, &[]);
        assert!(!marker(&root).exists(), "{case}: it ran");
    }
}

// /etc/dkms overrides. -----------------------------------------------------

#[test]
fn an_untrusted_module_override_conf_is_not_sourced() {
    if !as_root("an_untrusted_module_override_conf_is_not_sourced") {
        return;
    }
    let root = root_with_hello();
    let over = root.path("/etc/dkms/hello.conf");
    // bash would run this while sourcing the override as root.
    write_file(&over, format!(": $(touch {})\n", marker(&root).display()));
    give_away(&over);
    let line = refused(&over, USER, 0o644);
    let before = root.snapshot();

    let out = root.dkms(&["build", "hello/1.0", "-k", K1]);
    out.assert_code(1);
    assert_stderr_line(&out, &format!("Error! {line}"));
    root.assert_unchanged(&before, &[LOCK]);

    // The hooks treat it as any dkms.conf that cannot be read: said, the
    // module fails alone (recorded, exit 11), the kernel's other work done.
    let out = root.hook(&["kernel-postinst", K1]);
    out.assert_code(0);
    assert_stderr_line(&out, &format!("Error! {line}"));
    assert!(!marker(&root).exists(), "the override was sourced");
    assert!(root.installed_modules(K1).is_empty(), "{out}");
    root.hook(&["pending"])
        .assert_stdout_contains(&format!("hello/1.0 failed (exit 1): {line}"));
}

/// A module with a PRE_BUILD and a POST_INSTALL script of its own, and
/// `/etc/dkms/scripted/` overrides of both that would leave a marker.
fn root_with_scripted() -> TestRoot {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "scripted",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=\"scripted\"\nPACKAGE_VERSION=\"1.0\"\n\
                 BUILT_MODULE_NAME[0]=\"scripted\"\nDEST_MODULE_LOCATION[0]=\"/updates/dkms\"\n\
                 PRE_BUILD=\"pre.sh\"\nPOST_INSTALL=\"post.sh\"\nAUTOINSTALL=\"yes\"\n",
            ),
            ("Makefile", "obj-m += scripted.o\n"),
            ("scripted.c", "int scripted_init(void)\n{\n\treturn 0;\n}\n"),
            ("pre.sh", "#!/bin/sh\nexit 0\n"),
            ("post.sh", "#!/bin/sh\nexit 0\n"),
        ],
    );
    for s in ["pre.sh", "post.sh"] {
        write_executable(
            &root.path(&format!("/etc/dkms/scripted/{s}")),
            format!("#!/bin/sh\ntouch {}.{s}\n", marker(&root).display()),
        );
    }
    chmod(&root.path("/etc/dkms/scripted"), 0o755);
    root.dkms(&["add", "scripted/1.0"]).assert_ok();
    root
}

fn ran(root: &TestRoot, script: &str) -> bool {
    root.path(&format!("/PLANTED.{script}")).exists()
}

#[test]
fn an_untrusted_override_script_is_not_run() {
    if !as_root("an_untrusted_override_script_is_not_run") {
        return;
    }
    // PRE_BUILD: the build fails.
    let root = root_with_scripted();
    let pre = root.path("/etc/dkms/scripted/pre.sh");
    chmod(&pre, 0o777);
    let line = refused(&pre, 0, 0o777);
    let out = root.dkms(&["build", "scripted/1.0", "-k", K1]);
    out.assert_code(1);
    assert_stderr_line(&out, &format!("Error! {line}"));
    assert!(!ran(&root, "pre.sh"), "{out}");
    assert!(!root.exists(&format!("/var/lib/dkms/scripted/1.0/{K1}")));
    let out = root.hook(&["kernel-postinst", K1]);
    out.assert_code(0);
    assert!(out.stderr.contains(&line), "{out}");
    assert!(!ran(&root, "pre.sh"), "{out}");
    assert!(root.installed_modules(K1).is_empty(), "{out}");

    // POST_INSTALL (whose failure upstream ignores): not run, said, and
    // the install goes on.
    let root = root_with_scripted();
    let post = root.path("/etc/dkms/scripted/post.sh");
    give_away(&post);
    let line = refused(&post, USER, 0o755);
    let out = root.dkms(&["install", "scripted/1.0", "-k", K1]);
    out.assert_ok();
    assert_stderr_line(&out, &format!("Warning: {line}"));
    assert!(ran(&root, "pre.sh"), "the trusted PRE_BUILD override runs");
    assert!(!ran(&root, "post.sh"), "{out}");
    assert!(root.exists(&format!("/lib/modules/{K1}/updates/dkms/scripted.ko")));

    // A directory another user can change makes its scripts untrusted.
    let root = root_with_scripted();
    let dir = root.path("/etc/dkms/scripted");
    give_away(&dir);
    let out = root.hook(&["kernel-postinst", K1]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains(&refused_in(&dir.join("pre.sh"), &dir, USER, 0o755)),
        "{out}"
    );
    assert!(!ran(&root, "pre.sh") && !ran(&root, "post.sh"), "{out}");
}

#[test]
fn untrusted_override_patches_are_not_applied() {
    if !as_root("untrusted_override_patches_are_not_applied") {
        return;
    }
    for owner_of_dir in [false, true] {
        let root = root_with_hello();
        let dir = root.path("/etc/dkms/hello/patches");
        write_file(&dir.join("local.patch"), "");
        chmod(&root.path("/etc/dkms/hello"), 0o755);
        chmod(&dir, 0o755);
        let line = if owner_of_dir {
            give_away(&dir);
            refused(&dir, USER, 0o755)
        } else {
            chmod(&dir.join("local.patch"), 0o666);
            refused(&dir.join("local.patch"), 0, 0o666)
        };
        let out = root.dkms(&["build", "hello/1.0", "-k", K1]);
        out.assert_code(1);
        assert_stderr_line(&out, &format!("Error! {line}"));
        assert!(!root.exists(&format!("/var/lib/dkms/hello/1.0/{K1}")));
        let out = root.hook(&["kernel-postinst", K1]);
        out.assert_code(0);
        assert!(out.stderr.contains(&line), "{out}");
        assert!(root.installed_modules(K1).is_empty(), "{out}");
    }
}

// Signing. -----------------------------------------------------------------

/// A root whose kernel signs modules, with a key pair and a sign-file
/// (which leaves a marker when run) that framework.conf names.
fn signing_root() -> TestRoot {
    let root = root_with_hello();
    root.add_kernel_config(K1, "CONFIG_MODULE_SIG=y");
    root.add_kernel_config(K1, "CONFIG_MODULE_SIG_HASH=\"sha256\"");
    let keys = root.path("/etc/keys");
    write_file(&keys.join("mok.key"), "private key\n");
    write_file(&keys.join("mok.der"), "certificate\n");
    chmod(&keys.join("mok.key"), 0o600);
    let sign = root.path("/usr/local/sbin/sign-file");
    write_executable(
        &sign,
        format!(
            "#!/bin/sh\ntouch {}\nprintf '~Module signature appended~\\n' >> \"$4\"\n",
            marker(&root).display()
        ),
    );
    root.set_framework_conf(
        "try_sign_modules=true\nsign_file=/usr/local/sbin/sign-file\n\
         mok_signing_key=/etc/keys/mok.key\nmok_certificate=/etc/keys/mok.der\n",
    );
    root
}

#[test]
fn untrusted_signing_files_fail_the_build() {
    if !as_root("untrusted_signing_files_fail_the_build") {
        return;
    }
    type Case = (&'static str, fn(&TestRoot) -> String);
    let cases: [Case; 4] = [
        ("a key owned by a user", |root| {
            let k = root.path("/etc/keys/mok.key");
            give_away(&k);
            refused(&k, USER, 0o600)
        }),
        ("a certificate writable by all", |root| {
            let c = root.path("/etc/keys/mok.der");
            chmod(&c, 0o666);
            refused(&c, 0, 0o666)
        }),
        ("a sign-file writable by all", |root| {
            let s = root.path("/usr/local/sbin/sign-file");
            chmod(&s, 0o777);
            refused(&s, 0, 0o777)
        }),
        (
            "a missing key to create where a user can reach it",
            |root| {
                let keys = root.path("/etc/keys");
                std::fs::remove_file(keys.join("mok.key")).unwrap();
                give_away(&keys);
                refused_in(&keys.join("mok.key"), &keys, USER, 0o755)
            },
        ),
    ];
    for (what, make_untrusted) in cases {
        let root = signing_root();
        let line = make_untrusted(&root);
        let out = root.dkms(&["build", "hello/1.0", "-k", K1]);
        out.assert_code(1);
        assert_stderr_line(&out, &format!("Error! {line}"));
        assert!(
            !root.exists(&format!("/var/lib/dkms/hello/1.0/{K1}")),
            "{what}: built\n{out}"
        );
        let out = root.hook(&["kernel-postinst", K1]);
        out.assert_code(0);
        assert_eq!(
            out.stderr.matches(&line).count(),
            1,
            "{what}: said once\n{out}"
        );
        assert!(root.installed_modules(K1).is_empty(), "{what}\n{out}");
        assert!(!marker(&root).exists(), "{what}: sign-file ran");
        if what.starts_with("a missing key") {
            assert!(!root.exists("/etc/keys/mok.key"), "the key was created");
        }
    }
}

// What keeps working. ------------------------------------------------------

#[test]
fn root_owned_files_only_root_can_change_are_used() {
    if !as_root("root_owned_files_only_root_can_change_are_used") {
        return;
    }
    let root = root_with_scripted();
    root.add_kernel_config(K1, "CONFIG_MODULE_SIG=y");
    root.add_kernel_config(K1, "CONFIG_MODULE_SIG_HASH=\"sha256\"");
    // The key pair in a directory under a sticky, world-writable one (as
    // /tmp is), the rest root's 0644 and 0755.
    let tmp = root.path("/tmp");
    chmod(&tmp, 0o1777);
    let keys = tmp.join("keys");
    write_file(&keys.join("mok.key"), "private key\n");
    write_file(&keys.join("mok.der"), "certificate\n");
    chmod(&keys, 0o700);
    chmod(&keys.join("mok.key"), 0o600);
    let bin = root.path("/usr/local/bin");
    write_executable(
        &bin.join("post"),
        format!("#!/bin/sh\ntouch {}.post\n", marker(&root).display()),
    );
    write_file(
        &root.path("/etc/dkms-build.env"),
        "EXTRA_FROM_ENVIRONMENT=yes\n",
    );
    write_file(
        &root.path("/etc/dkms/framework.conf.d/signing.conf"),
        format!(
            "try_sign_modules=true\nsign_file=/lib/modules/${{kernelver}}/build/scripts/sign-file\n\
             mok_signing_key=/tmp/keys/mok.key\nmok_certificate=/tmp/keys/mok.der\n\
             build_environment=/etc/dkms-build.env\npost_transaction={}\n",
            bin.join("post").display()
        ),
    );
    root.set_framework_conf("parallel_jobs=2\n");
    write_file(
        &root.path("/etc/dkms/scripted.conf"),
        "# nothing to change\n",
    );
    write_file(&root.path("/etc/dkms/scripted/patches/none.patch"), "");
    for f in [
        "/etc/dkms/framework.conf",
        "/etc/dkms/framework.conf.d/signing.conf",
        "/etc/dkms/scripted.conf",
        "/etc/dkms-build.env",
    ] {
        assert_eq!(
            std::fs::metadata(root.path(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            0o644,
            "{f}"
        );
    }
    let out = root.dkms(&["install", "scripted/1.0", "-k", K1]);
    out.assert_ok();
    assert!(!out.stderr.contains("not trusted"), "{out}");
    assert!(out.stdout.contains("Signing module"), "{out}");
    for s in ["pre.sh", "post.sh", "post"] {
        assert!(ran(&root, s), "{s} did not run\n{out}");
    }
    assert!(root.exists(&format!("/lib/modules/{K1}/updates/dkms/scripted.ko")));

    // The hooks too, for a second kernel.
    root.add_fake_kernel(K2, true, true);
    root.hook(&["kernel-postinst", K2]).assert_ok();
    assert!(root.exists(&format!("/lib/modules/{K2}/updates/dkms/scripted.ko")));
}
