//! Hostile input against the real `dkms` binary in a throwaway root: each
//! row checks the exit code, the error text, and that nothing was written
//! outside the trees — the whole root is snapshotted before and after (only
//! the dkms tree may change, and only where a row says so), and so is a
//! canary directory outside the root that every payload aims at.
//!
//! Hostile `ldtarball` archives are covered by `tarball_security.rs`.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::*;
use rstest::rstest;

/// A canary directory outside the root: a file, a subdirectory, and a
/// script that would create `pwned` if anything ever ran it.
struct Canary {
    dir: tempfile::TempDir,
}

impl Canary {
    fn new() -> Canary {
        let dir = tempfile::Builder::new()
            .prefix("dkms-canary-")
            .tempdir()
            .expect("tempdir");
        let c = Canary { dir };
        write_file(&c.path().join("victim"), "precious\n");
        write_file(&c.path().join("sub/keep"), "keep\n");
        let script = c.path().join("evil.sh");
        write_file(&script, format!("touch {}/pwned\n", c.path().display()));
        make_executable(&script);
        c
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The canary path without its leading `/`, to append to `../` runs.
    fn rel(&self) -> String {
        self.path()
            .display()
            .to_string()
            .trim_start_matches('/')
            .to_string()
    }

    /// `../` repeated far more often than any root is deep, then the canary:
    /// from anywhere inside the root this climbs to `/` and down into it.
    fn climb(&self) -> String {
        format!("{}{}", "../".repeat(24), self.rel())
    }
}

/// What one row runs.
struct Scenario {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

fn run(args: &[&str]) -> Scenario {
    Scenario {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
    }
}

const HEAD: &str = "PACKAGE_NAME=m\nPACKAGE_VERSION=1.0\nAUTOINSTALL=yes\n";

/// `usr/src/m-1.0` holding the hello module sources and `conf` as dkms.conf.
fn module_m(t: &TestRoot, conf: &str) {
    let dir = t.path("/usr/src/m-1.0");
    copy_tree(&module_fixture("hello-1.0"), &dir);
    write_file(&dir.join("dkms.conf"), conf);
}

fn hello_conf(extra: &str) -> String {
    format!("{HEAD}BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/updates\n{extra}")
}

fn build_m() -> Scenario {
    run(&["build", "-m", "m", "-v", "1.0", "-k", K1])
}

// ---- names ------------------------------------------------------------

fn name_dotdot(_: &TestRoot, _: &Canary) -> Scenario {
    run(&["add", "-m", "..", "-v", "1.0"])
}

fn version_climbs(t: &TestRoot, c: &Canary) -> Scenario {
    t.add_source("hello-1.0");
    let v = c.climb();
    Scenario {
        args: vec!["add".into(), "-m".into(), "hello".into(), "-v".into(), v],
        env: Vec::new(),
    }
}

fn name_space(_: &TestRoot, _: &Canary) -> Scenario {
    run(&["add", "-m", "hello world", "-v", "1.0"])
}

fn name_newline(_: &TestRoot, _: &Canary) -> Scenario {
    run(&["add", "-m", "hel\nlo", "-v", "1.0"])
}

fn name_leading_dash(_: &TestRoot, _: &Canary) -> Scenario {
    run(&["add", "-m", "-rf", "-v", "1.0"])
}

fn version_leading_dash(t: &TestRoot, _: &Canary) -> Scenario {
    t.add_source("hello-1.0");
    run(&["build", "-m", "hello", "-v", "-1.0", "-k", K1])
}

fn shorthand_extra_slashes(t: &TestRoot, _: &Canary) -> Scenario {
    t.add_source("hello-1.0");
    run(&["install", "hello/1.0/../../../x", "-k", K1])
}

fn remove_dotdot_all(_: &TestRoot, _: &Canary) -> Scenario {
    run(&["remove", "-m", "..", "-v", "..", "--all"])
}

fn uninstall_dotdot(_: &TestRoot, _: &Canary) -> Scenario {
    run(&["uninstall", "-m", "hello", "-v", "..", "-k", K1])
}

fn conf_name_climbs(t: &TestRoot, c: &Canary) -> Scenario {
    let dir = t.add_source_text(
        "evil",
        "1",
        &[(
            "dkms.conf",
            &format!(
                "PACKAGE_NAME=\"{}/x\"\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=x\nDEST_MODULE_LOCATION[0]=/updates\n",
                c.climb()
            ),
        )],
    );
    run(&["add", &dir.display().to_string()])
}

fn conf_version_newline(t: &TestRoot, _: &Canary) -> Scenario {
    let dir = t.add_source_text(
        "evil",
        "1",
        &[(
            "dkms.conf",
            "PACKAGE_NAME=evil\nPACKAGE_VERSION=\"1\n2\"\nBUILT_MODULE_NAME[0]=x\nDEST_MODULE_LOCATION[0]=/updates\n",
        )],
    );
    run(&["add", &dir.display().to_string()])
}

// ---- module locations ------------------------------------------------

fn dest_location_climbs(t: &TestRoot, c: &Canary) -> Scenario {
    module_m(
        t,
        &format!(
            "{HEAD}BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=\"/kernel/{}\"\n",
            c.climb()
        ),
    );
    build_m()
}

fn dest_location_climbs_elsewhere(t: &TestRoot, c: &Canary) -> Scenario {
    // Not Debian: upstream would install to DEST_MODULE_LOCATION as written.
    t.set_os_release("ID=gentoo\nNAME=Gentoo\n");
    module_m(
        t,
        &format!(
            "{HEAD}BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=\"/kernel/{}\"\n",
            c.climb()
        ),
    );
    run(&["install", "-m", "m", "-v", "1.0", "-k", K1])
}

fn dest_location_updates_etc(t: &TestRoot, _: &Canary) -> Scenario {
    module_m(
        t,
        &format!(
            "{HEAD}BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/updates/../../../../etc\n"
        ),
    );
    build_m()
}

fn built_location_relative(t: &TestRoot, _: &Canary) -> Scenario {
    module_m(t, &hello_conf("BUILT_MODULE_LOCATION[0]=../../etc\n"));
    build_m()
}

fn built_location_absolute_climb(t: &TestRoot, c: &Canary) -> Scenario {
    module_m(
        t,
        &hello_conf(&format!(
            "BUILT_MODULE_LOCATION[0]=\"/kernel/{}\"\n",
            c.climb()
        )),
    );
    build_m()
}

fn built_name_climbs(t: &TestRoot, c: &Canary) -> Scenario {
    module_m(
        t,
        &format!(
            "{HEAD}BUILT_MODULE_NAME[0]=\"{}/victim\"\nDEST_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/updates\n",
            c.climb()
        ),
    );
    build_m()
}

fn dest_name_absolute(t: &TestRoot, c: &Canary) -> Scenario {
    module_m(
        t,
        &hello_conf(&format!(
            "DEST_MODULE_NAME[0]=\"{}/victim\"\n",
            c.path().display()
        )),
    );
    build_m()
}

fn patch_climbs(t: &TestRoot, c: &Canary) -> Scenario {
    module_m(
        t,
        &hello_conf(&format!("PATCH[0]=\"{}/victim\"\n", c.climb())),
    );
    build_m()
}

// ---- symlinks and special files in the source ------------------------

/// `m-1.0` whose PRE_BUILD appends to every name in `names` in its build
/// directory, as a build step writing to "its own" files would.
fn module_m_writing(t: &TestRoot, names: &[&str]) {
    module_m(t, &hello_conf("PRE_BUILD=\"pre.sh\"\n"));
    let mut pre = String::from("#!/bin/sh\n");
    for n in names {
        pre.push_str(&format!("echo pwned >> '{n}' || true\n"));
    }
    let p = t.path("/usr/src/m-1.0/pre.sh");
    write_file(&p, pre);
    make_executable(&p);
}

fn link_absolute_file(t: &TestRoot, c: &Canary) -> Scenario {
    module_m_writing(t, &["evil"]);
    symlink(c.path().join("victim"), t.path("/usr/src/m-1.0/evil")).expect("symlink");
    build_m()
}

fn link_climbs_to_file(t: &TestRoot, c: &Canary) -> Scenario {
    module_m_writing(t, &["evil"]);
    symlink(
        format!("{}/victim", c.climb()),
        t.path("/usr/src/m-1.0/evil"),
    )
    .expect("symlink");
    build_m()
}

fn link_dangling_outside(t: &TestRoot, c: &Canary) -> Scenario {
    module_m_writing(t, &["gone", "gone-rel"]);
    symlink(c.path().join("pwned"), t.path("/usr/src/m-1.0/gone")).expect("symlink");
    symlink(
        format!("{}/pwned2", c.climb()),
        t.path("/usr/src/m-1.0/gone-rel"),
    )
    .expect("symlink");
    build_m()
}

fn link_module_to_canary(t: &TestRoot, c: &Canary) -> Scenario {
    // strip and sign-file work on the built .ko in place: a link there
    // would make them write to the canary.
    module_m(t, &hello_conf(""));
    symlink(
        format!("{}/victim", c.climb()),
        t.path("/usr/src/m-1.0/hello.ko"),
    )
    .expect("symlink");
    build_m()
}

fn link_dir_outside(t: &TestRoot, c: &Canary) -> Scenario {
    module_m_writing(t, &["obj/pwned"]);
    symlink(c.path().join("sub"), t.path("/usr/src/m-1.0/obj")).expect("symlink");
    build_m()
}

fn link_dir_via_inner_link(t: &TestRoot, c: &Canary) -> Scenario {
    module_m(t, &hello_conf(""));
    std::fs::create_dir_all(t.path("/usr/src/m-1.0/sub")).expect("mkdir");
    symlink("..", t.path("/usr/src/m-1.0/sub/up")).expect("symlink");
    symlink(
        format!("sub/up/{}/sub", c.climb()),
        t.path("/usr/src/m-1.0/out"),
    )
    .expect("symlink");
    build_m()
}

fn link_private_file(t: &TestRoot, c: &Canary) -> Scenario {
    module_m(t, &hello_conf(""));
    let secret = c.path().join("secret");
    write_file(&secret, "only root reads this\n");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    symlink(&secret, t.path("/usr/src/m-1.0/key")).expect("symlink");
    build_m()
}

fn fifo_in_source(t: &TestRoot, _: &Canary) -> Scenario {
    module_m(t, &hello_conf(""));
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        t.path("/usr/src/m-1.0/pipe"),
        rustix::fs::Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    build_m()
}

// ---- dkms.conf size, content, run time -------------------------------

fn conf_10_mib(t: &TestRoot, _: &Canary) -> Scenario {
    let mut conf = hello_conf("");
    let filler = format!("# {}\n", "x".repeat(1021));
    while conf.len() < 10 << 20 {
        conf.push_str(&filler);
    }
    module_m(t, &conf);
    run(&["add", "-m", "m", "-v", "1.0"])
}

fn conf_binary_nul(t: &TestRoot, _: &Canary) -> Scenario {
    module_m(t, "");
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    write_file(&t.path("/usr/src/m-1.0/dkms.conf"), bytes);
    run(&["add", "-m", "m", "-v", "1.0"])
}

fn conf_binary_high_bytes(t: &TestRoot, _: &Canary) -> Scenario {
    module_m(t, "");
    let bytes: Vec<u8> = (0..4096u32).map(|i| 0x80 + (i * 13 % 128) as u8).collect();
    write_file(&t.path("/usr/src/m-1.0/dkms.conf"), bytes);
    run(&["add", "-m", "m", "-v", "1.0"])
}

/// Marks the background process an endless dkms.conf starts: the argument
/// of its `sleep`, unique to this test process, so another test run on the
/// same machine (whose mark has another process id) is never mistaken for
/// this one.
fn sleep_mark() -> String {
    format!("987654{}", std::process::id())
}

fn conf_endless_loop(t: &TestRoot, _: &Canary) -> Scenario {
    module_m(
        t,
        &format!(
            "{HEAD}BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/updates\nsleep {} &\nwhile :; do :; done\n",
            sleep_mark()
        ),
    );
    let mut s = run(&["add", "-m", "m", "-v", "1.0"]);
    s.env.push(("DKMS_CONF_TIMEOUT".into(), "2".into()));
    s
}

type Setup = fn(&TestRoot, &Canary) -> Scenario;

#[rstest]
#[case::name_dotdot(name_dotdot as Setup, 2, &["Error! Invalid module name '..'."], &[])]
#[case::version_climbs(version_climbs as Setup, 2, &["Error! Invalid module version name '../../"], &[])]
#[case::name_space(name_space as Setup, 2, &["Error! Invalid module name 'hello world'."], &[])]
#[case::name_newline(name_newline as Setup, 2, &["Error! Invalid module name 'hel\\nlo'."], &[])]
#[case::name_leading_dash(name_leading_dash as Setup, 2, &["Error! Invalid module name '-rf'."], &[])]
#[case::version_leading_dash(version_leading_dash as Setup, 2, &["Error! Invalid module version name '-1.0'."], &[])]
#[case::shorthand_extra_slashes(shorthand_extra_slashes as Setup, 2, &["Error! Invalid module version name '1.0/../../../x'."], &[])]
#[case::remove_dotdot_all(remove_dotdot_all as Setup, 2, &["Error! Invalid module name '..'."], &[])]
#[case::uninstall_dotdot(uninstall_dotdot as Setup, 2, &["Error! Invalid module version name '..'."], &[])]
#[case::conf_name_climbs(conf_name_climbs as Setup, 2, &["Error! Invalid module name '../../"], &[])]
#[case::conf_version_newline(conf_version_newline as Setup, 2, &["Error! Invalid module version name '1\\n2'."], &[])]
#[case::dest_location_climbs(dest_location_climbs as Setup, 8, &["dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' contains a '..' path component in record #0.", "Error! Bad conf file."], &[])]
#[case::dest_location_climbs_elsewhere(dest_location_climbs_elsewhere as Setup, 8, &["dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' contains a '..' path component in record #0.", "Error! Bad conf file."], &[])]
#[case::dest_location_updates_etc(dest_location_updates_etc as Setup, 8, &["dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' contains a '..' path component in record #0.", "Error! Bad conf file."], &[])]
#[case::built_location_relative(built_location_relative as Setup, 8, &["dkms.conf: Error! Directive 'BUILT_MODULE_LOCATION' contains a '..' path component in record #0.", "Error! Bad conf file."], &[])]
#[case::built_location_absolute_climb(built_location_absolute_climb as Setup, 8, &["dkms.conf: Error! Directive 'BUILT_MODULE_LOCATION' contains a '..' path component in record #0.", "Error! Bad conf file."], &[])]
#[case::built_name_climbs(built_name_climbs as Setup, 8, &["dkms.conf: Error! Directive 'BUILT_MODULE_NAME' contains a '..' path component or starts with '/' in record #0.", "Error! Bad conf file."], &[])]
#[case::dest_name_absolute(dest_name_absolute as Setup, 8, &["dkms.conf: Error! Directive 'DEST_MODULE_NAME' contains a '..' path component or starts with '/' in record #0.", "Error! Bad conf file."], &[])]
#[case::patch_climbs(patch_climbs as Setup, 5, &["as specified in dkms.conf contains '..' path component."], &["var/lib/dkms/m"])]
#[case::link_absolute_file(link_absolute_file as Setup, 0, &[], &["var/lib/dkms/m"])]
#[case::link_climbs_to_file(link_climbs_to_file as Setup, 0, &[], &["var/lib/dkms/m"])]
#[case::link_dangling_outside(link_dangling_outside as Setup, 0, &[], &["var/lib/dkms/m"])]
#[case::link_module_to_canary(link_module_to_canary as Setup, 0, &[], &["var/lib/dkms/m"])]
#[case::link_dir_outside(link_dir_outside as Setup, 8, &["contains a symbolic link outside it that cannot be copied into the build:", "obj -> /"], &["var/lib/dkms/m"])]
#[case::link_dir_via_inner_link(link_dir_via_inner_link as Setup, 8, &["contains a symbolic link outside it that cannot be copied into the build:", "out -> sub/up/../../"], &["var/lib/dkms/m"])]
#[case::link_private_file(link_private_file as Setup, 8, &["contains a symbolic link outside it that cannot be copied into the build:", "key -> /"], &["var/lib/dkms/m"])]
#[case::fifo_in_source(fifo_in_source as Setup, 8, &["contains a device node, fifo or socket: pipe"], &["var/lib/dkms/m"])]
#[case::conf_10_mib(conf_10_mib as Setup, 8, &["Error! Bad conf file.", "is larger than 1 MiB"], &[])]
#[case::conf_binary_nul(conf_binary_nul as Setup, 8, &["Error! Bad conf file.", "contains NUL bytes"], &[])]
#[case::conf_binary_high_bytes(conf_binary_high_bytes as Setup, 8, &["Error! Bad conf file."], &[])]
#[case::conf_endless_loop(conf_endless_loop as Setup, 8, &["Timed out after 2s reading", "/usr/src/m-1.0/dkms.conf"], &[])]
fn hostile_input_is_refused(
    #[case] setup: Setup,
    #[case] code: i32,
    #[case] stderr: &[&str],
    #[case] may_change: &[&str],
) {
    let t = TestRoot::with_kernel(K1);
    let canary = Canary::new();
    let s = setup(&t, &canary);
    let before = t.snapshot();
    let canary_before = snapshot_dir(canary.path());

    let args: Vec<&str> = s.args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = s
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let started = Instant::now();
    let out = t.dkms_env(&args, &env);
    let took = started.elapsed();

    out.assert_code(code);
    for needle in stderr {
        out.assert_stderr_contains(needle);
    }
    let mut ignore = vec![LOCK];
    ignore.extend_from_slice(may_change);
    t.assert_unchanged(&before, &ignore);
    // What a row may change must stay inside the dkms tree.
    for p in may_change {
        assert!(
            p.starts_with("var/lib/dkms/"),
            "{p} is outside the dkms tree"
        );
    }
    let diff = diff_snapshots(&canary_before, &snapshot_dir(canary.path()));
    assert!(
        diff.is_empty(),
        "the canary changed:\n{}\n{out}",
        diff.join("\n")
    );
    assert!(
        took < Duration::from_secs(20),
        "took {took:?}: the time limit did not hold\n{out}"
    );
    // Only the endless-loop row starts the marked process (rows run in
    // parallel, so the others must not look).
    if s.env.iter().any(|(k, _)| k == "DKMS_CONF_TIMEOUT") {
        assert!(
            !process_alive(&sleep_mark()),
            "a process started by dkms.conf outlived the time limit"
        );
    }
}

/// True if a process whose command line contains `mark` is running.
fn process_alive(mark: &str) -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .split('\0')
                    .any(|arg| arg == mark)
            })
            .unwrap_or(false)
    })
}

/// A symlink inside the source tree (to another file of the tree) is not
/// hostile: the module still builds.
#[test]
fn links_inside_the_source_tree_still_build() {
    let t = TestRoot::with_kernel(K1);
    module_m(&t, &hello_conf(""));
    std::fs::create_dir_all(t.path("/usr/src/m-1.0/sub")).expect("mkdir");
    symlink("../hello.c", t.path("/usr/src/m-1.0/sub/hello.c")).expect("symlink");
    symlink("Makefile", t.path("/usr/src/m-1.0/Kbuild")).expect("symlink");
    t.dkms(&["build", "-m", "m", "-v", "1.0", "-k", K1])
        .assert_ok();
    assert!(t.exists(&format!("/var/lib/dkms/m/1.0/{K1}/{ARCH}/module/hello.ko")));
}

/// An absolute BUILT_MODULE_LOCATION means "inside the build directory", as
/// upstream's text concatenation makes it.
#[test]
fn absolute_built_location_stays_in_the_build_directory() {
    let t = TestRoot::with_kernel(K1);
    module_m(&t, &hello_conf("BUILT_MODULE_LOCATION[0]=/src\nMAKE[0]=\"make -C $kernel_source_dir M=$dkms_tree/m/1.0/build/src\"\n"));
    let src = t.path("/usr/src/m-1.0");
    std::fs::create_dir_all(src.join("src")).expect("mkdir");
    std::fs::rename(src.join("hello.c"), src.join("src/hello.c")).expect("mv");
    std::fs::rename(src.join("Makefile"), src.join("src/Makefile")).expect("mv");
    t.dkms(&["build", "-m", "m", "-v", "1.0", "-k", K1])
        .assert_ok();
    assert!(t.exists(&format!("/var/lib/dkms/m/1.0/{K1}/{ARCH}/module/hello.ko")));
}

/// framework.conf is read, never run: code in it has no effect at all,
/// while the plain assignments around it still apply.
#[rstest]
#[case::command_substitution("$(touch @C@/pwned)")]
#[case::backticks("`touch @C@/pwned`")]
#[case::assignment_with_substitution("dkms_tree=$(touch @C@/pwned; echo /var/lib/evil)")]
#[case::function("f() { touch @C@/pwned; }\nf")]
#[case::function_keyword("function f {\n  touch @C@/pwned\n}\nf")]
#[case::semicolon_rm("verbose=1; rm -rf @C@")]
#[case::and_list("true && rm -rf @C@/sub")]
#[case::source("source @C@/evil.sh")]
#[case::dot(". @C@/evil.sh")]
#[case::eval("eval 'touch @C@/pwned'")]
#[case::heredoc("cat > @C@/pwned <<EOF\ndkms_tree=/var/lib/evil\nEOF")]
#[case::if_block("if true; then\n  touch @C@/pwned\nfi")]
#[case::redirect("echo x >> @C@/victim")]
#[case::exec("exec @C@/evil.sh")]
fn framework_conf_code_has_no_effect(#[case] code: &str, #[values(false, true)] in_d: bool) {
    let t = TestRoot::with_kernel(K1);
    let canary = Canary::new();
    t.add_source("hello-1.0");
    let code = code.replace("@C@", &canary.path().display().to_string());
    let text = format!("tmp_location=/tmp\n{code}\ndkms_tree=/var/lib/dkms2\n");
    if in_d {
        t.write("/etc/dkms/framework.conf.d/10-evil.conf", &text);
    } else {
        t.set_framework_conf(&text);
    }
    let before = t.snapshot();
    let canary_before = snapshot_dir(canary.path());

    let out = t.dkms(&["add", "-m", "hello", "-v", "1.0"]);
    out.assert_ok();
    out.assert_stdout_contains(&format!(
        "Creating symlink {}/var/lib/dkms2/hello/1.0/source",
        t.root().display()
    ));
    assert!(t.exists("/var/lib/dkms2/hello/1.0/source"));
    t.assert_unchanged(&before, &["var/lib/dkms2"]);
    let diff = diff_snapshots(&canary_before, &snapshot_dir(canary.path()));
    assert!(
        diff.is_empty(),
        "the canary changed:\n{}\n{out}",
        diff.join("\n")
    );
}

// ---- kernel versions and arches ----------------------------------------

fn built_hello(t: &TestRoot) {
    t.add_source("hello-1.0");
    t.dkms(&["build", "-m", "hello", "-v", "1.0", "-k", K1])
        .assert_ok();
}

fn unbuild_arch_climbs(t: &TestRoot, c: &Canary) -> Scenario {
    built_hello(t);
    let a = format!("{}/sub", c.climb());
    run(&["unbuild", "-m", "hello", "-v", "1.0", "-k", K1, "-a", &a])
}

fn build_arch_climbs(t: &TestRoot, c: &Canary) -> Scenario {
    t.add_source("hello-1.0");
    let a = format!("{}/sub", c.climb());
    run(&["build", "-m", "hello", "-v", "1.0", "-k", K1, "-a", &a])
}

fn build_kernel_dotdot(t: &TestRoot, _: &Canary) -> Scenario {
    built_hello(t);
    run(&["remove", "-m", "hello", "-v", "1.0", "-k", ".."])
}

/// Kernel versions and arches become path components too: `unbuild -a
/// ../../..` once deleted a directory outside the trees.
#[rstest]
#[case::unbuild_arch_climbs(unbuild_arch_climbs as Setup, 2, &["Error! Invalid arch '../../"])]
#[case::build_arch_climbs(build_arch_climbs as Setup, 2, &["Error! Invalid arch '../../"])]
#[case::remove_kernel_dotdot(build_kernel_dotdot as Setup, 2, &["Error! Invalid kernel version '..'."])]
fn hostile_kernel_or_arch_is_refused(
    #[case] setup: Setup,
    #[case] code: i32,
    #[case] stderr: &[&str],
) {
    hostile_input_is_refused(setup, code, stderr, &[]);
}
