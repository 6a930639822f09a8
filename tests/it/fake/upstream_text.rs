//! Fake-kernel tier: `dkms` prints upstream's text, in upstream's order,
//! runs depmod and scripts where upstream runs them, and builds in
//! upstream's build directory; `dkms-hook` keeps its own extras. One test
//! per class of difference the upstream suite found.

use crate::harness::*;

fn hello_root() -> TestRoot {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root
}

/// stdout with the root's path taken out.
fn out(root: &TestRoot, o: &Output) -> String {
    o.stdout.replace(&root.root().display().to_string(), "")
}

fn err(root: &TestRoot, o: &Output) -> String {
    o.stderr.replace(&root.root().display().to_string(), "")
}

#[test]
fn build_happens_in_upstreams_build_directory_and_a_failure_names_its_log() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("broken-1.0");
    let o = root.dkms(&["build", "broken/1.0", "-k", K1]);
    o.assert_code(10);
    let log = "/var/lib/dkms/broken/1.0/build/make.log";
    assert!(
        err(&root, &o).contains(&format!("Consult {log} for more information.")),
        "{o}"
    );
    let text = root.read(log);
    assert!(
        text.starts_with("DKMS (dkms-3.4.3) make.log for broken/1.0 for kernel"),
        "{text}"
    );
    assert!(text.contains("# exit code: 2"), "{text}");
    // A conf naming upstream's build directory in MAKE builds there.
    root.add_source_text(
        "named",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=named\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=named\n\
                 DEST_MODULE_LOCATION[0]=/kernel/extra\n\
                 MAKE=\"make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build\"\n",
            ),
            ("Makefile", "obj-m := named.o\n"),
            ("named.c", "int named_x;\n"),
        ],
    );
    root.dkms(&["install", "named/1.0", "-k", K1]).assert_ok();
    assert!(root.exists(&format!("/lib/modules/{K1}/updates/dkms/named.ko")));
    // After a successful build the build directory is gone, as upstream's.
    assert!(!root.exists("/var/lib/dkms/named/1.0/build"));
}

#[test]
fn make_runs_in_the_build_directory_with_pwd_set_to_it() {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "pwdmod",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=pwdmod\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=pwdmod\n\
                 DEST_MODULE_LOCATION[0]=/kernel/extra\n\
                 MAKE=\"make KDIR=${kernel_source_dir}\"\n",
            ),
            (
                "Makefile",
                "obj-m := pwdmod.o\nall:\n\t$(MAKE) -C $(KDIR) M=$(PWD) modules\n",
            ),
            ("pwdmod.c", "int pwdmod_x;\n"),
        ],
    );
    // Run from a directory that is not the build directory.
    let o = root.dkms_env(&["install", "pwdmod/1.0", "-k", K1], &[("PWD", "/")]);
    o.assert_ok();
    assert!(
        root.exists(&format!("/lib/modules/{K1}/updates/dkms/pwdmod.ko")),
        "{o}"
    );
}

#[test]
fn make_command_carries_upstreams_j_from_parallel_jobs() {
    let root = hello_root();
    root.dkms_env(&["build", "hello/1.0", "-k", K1], &[("parallel_jobs", "3")])
        .assert_ok();
    let log = root.read(&format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}/log/make.log"));
    assert!(
        log.contains(&format!("# command: make -j3 KERNELRELEASE={K1} -C ")),
        "{log}"
    );
    // -j on the command line wins; 0 means a bare -j.
    root.dkms(&["build", "hello/1.0", "-k", K1, "--force", "-j", "0"])
        .assert_ok();
    let log = root.read(&format!("/var/lib/dkms/hello/1.0/{K1}/{ARCH}/log/make.log"));
    assert!(
        log.contains(&format!("# command: make -j KERNELRELEASE={K1} -C ")),
        "{log}"
    );
}

#[test]
fn dkms_install_runs_depmod_after_each_install_and_dkms_hook_once_per_kernel() {
    let root = TestRoot::with_kernel(K1);
    for f in ["hello-1.0", "dep-1.0"] {
        root.add_source(f);
    }
    let o = root.dkms(&["install", "hello/1.0", "-k", K1]);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout_lines();
    let installing = lines
        .iter()
        .position(|l| l.starts_with("Installing "))
        .expect("installing");
    assert_eq!(lines[installing + 1], "Running depmod... done.", "{o}");
    // The hook: two modules, one depmod at the end.
    root.dkms(&["add", "dep/1.0"]).assert_ok();
    root.dkms(&["uninstall", "hello/1.0", "-k", K1]).assert_ok();
    let h = root.hook(&["autoinstall", "-k", K1]);
    h.assert_ok();
    assert_eq!(
        h.stdout_lines()
            .iter()
            .filter(|l| l.starts_with("Running depmod"))
            .count(),
        1,
        "{h}"
    );
}

#[test]
fn autoinstall_prints_the_signing_preamble_before_the_first_module_even_a_skipped_one() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("excl-1.0");
    root.dkms(&["add", "excl/1.0"]).assert_ok();
    let o = root.dkms(&["autoinstall", "-k", K1]);
    o.assert_ok();
    assert_eq!(
        o.stdout_lines(),
        vec![
            "The kernel is built without module signing facility, modules won't be signed",
            "",
            &format!("Autoinstall of module excl/1.0 for kernel {K1} ({ARCH})"),
            "",
            &format!("Autoinstall on {K1} was skipped for module(s) excl."),
        ],
        "{o}"
    );
}

#[test]
fn a_failed_signature_is_upstreams_warning_and_the_build_goes_on() {
    let root = hello_root();
    root.add_kernel_config(K1, "CONFIG_MODULE_SIG_HASH=\"sha256\"");
    root.write(
        "/etc/dkms/fail-sign",
        "#!/bin/sh\necho 'sign-file: no luck' >&2\nexit 1\n",
    );
    make_executable(&root.path("/etc/dkms/fail-sign"));
    root.write("/etc/dkms/key.pem", "key");
    root.write("/etc/dkms/cert.der", "cert");
    root.set_framework_conf(&format!(
        "sign_file={}\nmok_signing_key={}\nmok_certificate={}\ntry_sign_modules=true\n",
        "/etc/dkms/fail-sign", "/etc/dkms/key.pem", "/etc/dkms/cert.der"
    ));
    let o = root.dkms(&["build", "hello/1.0", "-k", K1]);
    o.assert_ok();
    let built = "/var/lib/dkms/hello/1.0/build/hello.ko";
    assert!(
        out(&root, &o).contains(&format!("Signing module {built}\n")),
        "{o}"
    );
    assert_eq!(
        err(&root, &o),
        format!("Warning: Failed to sign module '{built}'!\nsign-file: no luck\n"),
        "{o}"
    );
}

#[test]
fn signing_policy_false_is_upstreams_line() {
    let root = hello_root();
    root.set_framework_conf("try_sign_modules=false\n");
    let o = root.dkms(&["build", "hello/1.0", "-k", K1]);
    o.assert_ok();
    assert!(
        o.stdout
            .contains("Module signing is disabled by policy, modules won't be signed\n"),
        "{o}"
    );
}

#[test]
fn a_failed_build_in_dkms_is_upstreams_two_lines_and_the_hook_shows_the_log_tail_once() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("broken-1.0");
    root.dkms(&["add", "broken/1.0"]).assert_ok();
    let d = root.dkms(&["build", "broken/1.0", "-k", K1]);
    d.assert_code(10);
    assert!(
        !d.stderr.contains("Last "),
        "dkms shows no make.log tail\n{d}"
    );
    let h = root.hook(&["kernel-postinst", K1]);
    h.assert_code(0);
    // Once: in the summary, under the failure, not also with the error.
    let tail_line = "make: Leaving directory";
    let all = format!("{}{}", h.stdout, h.stderr);
    assert_eq!(all.matches(tail_line).count(), 1, "the tail once\n{h}");
    let summary = h.stdout.find("dkms-hook summary:").expect("a summary");
    assert!(
        h.stdout[summary..].contains(tail_line),
        "in the summary\n{h}"
    );
}

#[test]
fn scripts_run_by_their_source_link_path_and_etc_dkms_overrides_them() {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "scripted",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=scripted\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=scripted\n\
                 DEST_MODULE_LOCATION[0]=/kernel/extra\nPOST_INSTALL=post.sh\nPOST_ADD=add.sh\n",
            ),
            ("Makefile", "obj-m := scripted.o\n"),
            ("scripted.c", "int scripted_x;\n"),
            (
                "post.sh",
                "#!/bin/sh\necho \"module post_install in $PWD\"\n",
            ),
            ("add.sh", "#!/bin/sh\necho \"module post_add in $PWD\"\n"),
        ],
    );
    // The administrator's override of post_install.
    root.write(
        "/etc/dkms/scripted/post.sh",
        "#!/bin/sh\necho \"override post_install in $PWD\"\n",
    );
    make_executable(&root.path("/etc/dkms/scripted/post.sh"));
    let add = root.dkms(&["add", "scripted/1.0"]);
    add.assert_ok();
    // Under --root the link is followed inside the root (without a root,
    // upstream's shell sees the link path itself).
    let src = root.path("/usr/src/scripted-1.0");
    assert!(
        add.stdout.contains(&format!(
            "Running the post_add script:\nmodule post_add in {}\n",
            src.display()
        )),
        "{add}"
    );
    let inst = root.dkms(&["install", "scripted/1.0", "-k", K1]);
    inst.assert_ok();
    assert!(
        inst.stdout.contains(&format!(
            "Running the post_install script:\noverride post_install in {}\n",
            root.path("/etc/dkms/scripted").display()
        )),
        "{inst}"
    );
}

#[test]
fn build_depends_not_registered_is_deferred_with_upstreams_lines() {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "waits",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=waits\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=waits\n\
                 DEST_MODULE_LOCATION[0]=/kernel/extra\nAUTOINSTALL=yes\nBUILD_DEPENDS=ghost\n",
            ),
            ("Makefile", "obj-m := waits.o\n"),
            ("waits.c", "int waits_x;\n"),
        ],
    );
    root.dkms(&["add", "waits/1.0"]).assert_ok();
    let o = root.dkms(&["autoinstall", "-k", K1]);
    o.assert_ok();
    assert_eq!(
        o.stdout_lines(),
        vec![
            "waits/1.0 autoinstall deferred: BUILD_DEPENDS not registered with DKMS: ghost.",
            &format!("Autoinstall on {K1} deferred module(s) waits/1.0 due to BUILD_DEPENDS not yet registered with DKMS."),
            "These may be provided externally or by a package not yet configured; autoinstall will retry on the next trigger.",
        ],
        "{o}"
    );
}

#[test]
fn a_registered_dependency_that_is_not_installed_fails_autoinstall_with_11() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("dep-1.0");
    root.add_source_text(
        "hello",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=hello\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=hello\n\
                 DEST_MODULE_LOCATION[0]=/kernel/extra\nAUTOINSTALL=no\n",
            ),
            ("Makefile", "obj-m := hello.o\n"),
            ("hello.c", "int hello_x;\n"),
        ],
    );
    root.dkms(&["add", "dep/1.0"]).assert_ok();
    root.dkms(&["add", "hello/1.0"]).assert_ok();
    let o = root.dkms(&["autoinstall", "-k", K1]);
    o.assert_code(11);
    assert!(
        o.stdout
            .contains("dep/1.0 autoinstall failed due to missing dependencies: hello.\n"),
        "{o}"
    );
    assert!(
        o.stderr.ends_with(
            "\nError! One or more modules failed to install during autoinstall.\nRefer to previous errors for more information.\n"
        ),
        "{o}"
    );
}

#[test]
fn build_depends_rebuild_rebuilds_a_dependent_when_its_dependency_changes_version() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    root.add_source("hello-2.0");
    root.add_source_text(
        "dependent",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=dependent\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dependent\n\
                 DEST_MODULE_LOCATION[0]=/kernel/extra\nBUILD_DEPENDS=hello\nBUILD_DEPENDS_REBUILD=yes\n",
            ),
            ("Makefile", "obj-m := dependent.o\n"),
            ("dependent.c", "int dependent_x;\n"),
        ],
    );
    root.dkms(&["install", "hello/1.0", "-k", K1]).assert_ok();
    root.dkms(&["install", "dependent/1.0", "-k", K1])
        .assert_ok();
    assert_eq!(
        root.read(&format!(
            "/var/lib/dkms/dependent/1.0/{K1}/{ARCH}/.dep_hello"
        )),
        "1.0\n"
    );
    root.dkms(&["uninstall", "hello/1.0", "-k", K1]).assert_ok();
    let o = root.dkms(&["install", "hello/2.0", "-k", K1]);
    o.assert_ok();
    assert!(
        o.stdout
            .contains("\nRebuilding module dependent/1.0 due to updated dependencies\n\n"),
        "{o}"
    );
    assert_eq!(
        root.read(&format!(
            "/var/lib/dkms/dependent/1.0/{K1}/{ARCH}/.dep_hello"
        )),
        "2.0\n"
    );
}

#[test]
fn post_transaction_runs_with_the_runs_kernel_and_logs() {
    let root = hello_root();
    root.set_framework_conf("post_transaction=\"echo done for ${kernelver}\"\n");
    let o = root.dkms(&["install", "hello/1.0", "-k", K1]);
    o.assert_ok();
    assert!(
        o.stdout
            .contains("Executing post-transaction command... done.\n"),
        "{o}"
    );
    let log = root.read("/var/lib/dkms/post_transaction.log");
    assert!(
        log.contains(&format!("# command: echo done for {K1}\ndone for {K1}\n")),
        "{log}"
    );
}

#[test]
fn deprecations_name_the_conf_as_upstream_reads_it_and_zero_modules_warns_each_strict_read() {
    let root = TestRoot::with_kernel(K1);
    root.add_source_text(
        "old",
        "1.0",
        &[
            (
                "dkms.conf",
                "PACKAGE_NAME=old\nPACKAGE_VERSION=1.0\nREMAKE_INITRD=yes\nOBSOLETE_BY=9.9\n",
            ),
            ("Makefile", "all:\n\ttrue\n"),
        ],
    );
    let add = root.dkms(&["add", "old/1.0"]);
    add.assert_ok();
    assert_eq!(
        err(&root, &add),
        "Deprecated feature: REMAKE_INITRD (/usr/src/old-1.0/dkms.conf)\n\
         Deprecated feature: OBSOLETE_BY (/usr/src/old-1.0/dkms.conf): use BUILD_EXCLUSIVE_KERNEL_MAX instead\n\
         dkms.conf: Warning! Zero modules specified.\n",
        "{add}"
    );
    let inst = root.dkms(&["install", "old/1.0", "-k", K1]);
    inst.assert_ok();
    let e = err(&root, &inst);
    // Read once for build and once for install: the deprecations once (as
    // the files are read), the zero-modules warning at each strict read.
    assert_eq!(
        e.matches("Deprecated feature: REMAKE_INITRD (/var/lib/dkms/old/1.0/source/dkms.conf)")
            .count(),
        1,
        "{inst}"
    );
    assert_eq!(
        e.matches("dkms.conf: Warning! Zero modules specified.")
            .count(),
        2,
        "{inst}"
    );
}
