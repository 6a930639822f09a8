//! Least privilege on the real-kernel tier: with `build_user=dkmsbuild` in
//! framework.conf, a real module builds against the Debian headers while
//! PRE_BUILD, make and POST_BUILD run as that user, in a build directory
//! whose files are theirs, without network; a build script cannot write to
//! the root-owned trees; and installing still happens as root.
//!
//! Needs root (to switch users; the test creates the system user
//! `dkmsbuild` when missing) and the real headers; skipped otherwise unless
//! `CI` is set.

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use crate::harness::*;

const USER: &str = "dkmsbuild";

/// Creates the build user when missing; false (skip) when not root.
fn ensure_build_user(test: &str) -> bool {
    if !rustix::process::geteuid().is_root() {
        skip_unless_ci(test, "needs root (CI must run as root)");
        return false;
    }
    if dkms_hook::exec::privilege::lookup(USER).is_err() {
        let st = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ])
            .status()
            .expect("run useradd");
        assert!(st.success(), "useradd {USER} failed");
    }
    true
}

#[test]
fn build_runs_unprivileged_without_network_and_install_as_root() {
    let test = "build_runs_unprivileged_without_network_and_install_as_root";
    let Some(kernels) = require_real_kernels(test) else {
        return;
    };
    if !ensure_build_user(test) {
        return;
    }
    let k = kernels.last().expect("a kernel").clone();
    let root = TestRoot::new();
    // Like /var/lib/dkms on a real system, the way to the trees is open to
    // all; the trees themselves stay root's.
    std::fs::set_permissions(root.root(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod root");
    root.add_real_kernel(&k, Some(&headers_dir(&k)));
    std::fs::write(
        root.path("/etc/dkms/framework.conf"),
        format!("build_user={USER}\n"),
    )
    .expect("write framework.conf");

    // A port that accepts connections on the host's loopback.
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let host_can_connect = Command::new("bash")
        .arg("-c")
        .arg(format!("exec 3<>/dev/tcp/127.0.0.1/{port}"))
        .status()
        .expect("bash")
        .success();
    assert!(
        host_can_connect,
        "the host itself cannot reach the listener"
    );

    let src = root.add_hello("1.0", false);
    let mut conf = std::fs::read_to_string(src.join("dkms.conf")).expect("read dkms.conf");
    conf.push_str("PRE_BUILD=\"pre.sh\"\nPOST_BUILD=\"post.sh\"\n");
    std::fs::write(src.join("dkms.conf"), conf).expect("write dkms.conf");
    std::fs::write(
        src.join("Makefile"),
        "$(info make running as $(shell id -un))\nobj-m := hello.o\n",
    )
    .expect("write Makefile");
    let r = root.root().display().to_string();
    let targets = [
        format!("{r}/var/lib/dkms/pwned"),
        format!("{r}/var/lib/dkms/hello/pwned"),
        format!("{r}/usr/src/hello-1.0/pwned"),
        format!("{r}/lib/modules/{k}/pwned"),
        format!("{r}/etc/dkms/pwned"),
    ];
    let mut pre = String::from("#!/bin/bash\n");
    pre.push_str("echo \"PRE_BUILD running as $(id -un)\"\n");
    pre.push_str("echo \"owner of hello.c: $(stat -c %U hello.c)\"\n");
    pre.push_str("touch ./made-by-pre && echo 'build dir writable'\n");
    pre.push_str(
        "sed -i 's/loaded/loaded (edited by PRE_BUILD)/' hello.c && echo 'source edited'\n",
    );
    for t in &targets {
        pre.push_str(&format!(
            "if touch '{t}' 2>/dev/null; then echo 'WROTE {t}'; else echo 'cannot write {t}'; fi\n"
        ));
    }
    pre.push_str(&format!(
        "if bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null; then echo 'NETWORK REACHED'; else echo 'network unreachable'; fi\n"
    ));
    pre.push_str("exit 0\n");
    write_executable(&src.join("pre.sh"), &pre);
    write_executable(
        &src.join("post.sh"),
        "#!/bin/bash\necho \"POST_BUILD running as $(id -un)\"\n",
    );

    let run = root.dkms(&["install", "-m", "hello", "-v", "1.0", "-k", &k]);
    run.assert_ok();

    let log_path = root.path(&format!("/var/lib/dkms/hello/1.0/{k}/{ARCH}/log/make.log"));
    let log = std::fs::read_to_string(&log_path).expect("read make.log");
    for want in [
        format!("PRE_BUILD running as {USER}"),
        format!("owner of hello.c: {USER}"),
        "build dir writable".to_string(),
        "source edited".to_string(),
        format!("make running as {USER}"),
        format!("POST_BUILD running as {USER}"),
        "network unreachable".to_string(),
        "unshare --net".to_string(),
    ] {
        assert!(log.contains(&want), "make.log lacks {want:?}:\n{log}");
    }
    assert!(
        !log.contains("WROTE"),
        "a build script wrote outside:\n{log}"
    );
    assert!(
        !log.contains("NETWORK REACHED"),
        "a build script reached the network:\n{log}"
    );
    for t in &targets {
        assert!(
            std::fs::symlink_metadata(t).is_err(),
            "{t} exists: the build wrote outside its directory"
        );
    }

    // The result: built from the edited source, installed by root.
    root.assert_installed_module(&k, "hello");
    let ko = root.installed_ko(&k, "hello");
    let data = std::fs::read(&ko).expect("read module");
    assert!(
        data.windows(b"edited by PRE_BUILD".len())
            .any(|w| w == b"edited by PRE_BUILD"),
        "the module was not built from the build directory PRE_BUILD edited"
    );
    for p in [
        ko.clone(),
        root.path(&format!(
            "/var/lib/dkms/hello/1.0/{k}/{ARCH}/module/hello.ko"
        )),
        log_path,
    ] {
        let meta = std::fs::metadata(&p).expect("stat");
        assert_eq!(meta.uid(), 0, "{} is not root's", p.display());
    }
    // No build directory is left behind, and nothing in the dkms tree
    // belongs to the build user.
    let uid = dkms_hook::exec::privilege::lookup(USER)
        .expect("build user")
        .uid
        .as_raw();
    let mut stack = vec![root.path("/var/lib/dkms")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let meta = std::fs::symlink_metadata(e.path()).expect("lstat");
            assert_ne!(meta.uid(), uid, "{} belongs to {USER}", e.path().display());
            assert!(
                !e.file_name().to_string_lossy().starts_with("build-"),
                "leftover {}",
                e.path().display()
            );
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    drop(listener);
}

/// A build user that does not exist is an error, never a silent root build.
#[test]
fn unknown_build_user_is_refused() {
    let test = "unknown_build_user_is_refused";
    let Some(kernels) = require_real_kernels(test) else {
        return;
    };
    if !rustix::process::geteuid().is_root() {
        skip_unless_ci(test, "needs root (CI must run as root)");
        return;
    }
    let k = kernels.last().expect("a kernel").clone();
    let root = TestRoot::new();
    root.add_real_kernel(&k, Some(&headers_dir(&k)));
    std::fs::write(
        root.path("/etc/dkms/framework.conf"),
        "build_user=no-such-user-dkms-hook\n",
    )
    .expect("write framework.conf");
    root.add_hello("1.0", false);
    let run = root.dkms(&["build", "-m", "hello", "-v", "1.0", "-k", &k]);
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "The build_user 'no-such-user-dkms-hook' set in framework.conf does not exist."
        ),
        "{run}"
    );
    assert!(!root
        .path(&format!("/var/lib/dkms/hello/1.0/{k}/{ARCH}/module"))
        .exists());
}
