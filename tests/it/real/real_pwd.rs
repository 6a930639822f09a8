//! The real-kernel tier: out-of-tree Makefiles that rely on `$(PWD)` (the
//! common `$(MAKE) -C $(KDIR) M=$(PWD) modules` and `ccflags-y :=
//! -I$(PWD)/include`) build with real kbuild, because MAKE runs through
//! bash in the build directory with `PWD` set to it, as upstream runs it,
//! whatever directory `dkms` was started from.

use crate::harness::{headers_dir, require_real_kernels, TestRoot};
use std::fs;
use std::process::Command;

/// Run `bin --root <root> args` from `/` (cwd and `PWD`), panicking unless it exits 0.
fn run_from_slash(bin: &str, root: &TestRoot, args: &[&str]) {
    let out = Command::new(bin)
        .arg("--root")
        .arg(root.root())
        .args(args)
        .current_dir("/")
        .env("PWD", "/")
        .env("LC_ALL", "C")
        .env_remove("DKMS_ROOT")
        .env_remove("MAKEFLAGS")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pwd_module(root: &TestRoot) {
    let dir = root.path("/usr/src/pwdmod-1.0");
    fs::create_dir_all(dir.join("include")).expect("mkdir");
    fs::write(
        dir.join("dkms.conf"),
        "PACKAGE_NAME=pwdmod\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=pwdmod\n\
         DEST_MODULE_LOCATION[0]=/updates/dkms\n\
         MAKE=\"make KDIR=${kernel_source_dir} all\"\nAUTOINSTALL=yes\n",
    )
    .expect("dkms.conf");
    fs::write(
        dir.join("Makefile"),
        "obj-m := pwdmod.o\nccflags-y := -I$(PWD)/include\n\
         KDIR ?= /lib/modules/$(shell uname -r)/build\n\
         all:\n\t$(MAKE) -C $(KDIR) M=$(PWD) modules\n",
    )
    .expect("Makefile");
    fs::write(dir.join("include/pwdmod.h"), "#define PWDMOD_MAGIC 42\n").expect("header");
    fs::write(
        dir.join("pwdmod.c"),
        "// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\n#include <pwdmod.h>\n\
         static int __init pwdmod_init(void) { return PWDMOD_MAGIC - 42; }\n\
         static void __exit pwdmod_exit(void) { }\n\
         module_init(pwdmod_init);\nmodule_exit(pwdmod_exit);\nMODULE_LICENSE(\"GPL\");\n",
    )
    .expect("pwdmod.c");
}

#[test]
fn a_makefile_using_pwd_builds_with_real_kbuild_from_any_directory() {
    let Some(kernels) =
        require_real_kernels("a_makefile_using_pwd_builds_with_real_kbuild_from_any_directory")
    else {
        return;
    };
    let k = kernels.last().expect("a kernel").clone();
    let root = TestRoot::new();
    root.add_real_kernel(&k, Some(&headers_dir(&k)));
    pwd_module(&root);
    run_from_slash(
        env!("CARGO_BIN_EXE_dkms"),
        &root,
        &["install", "pwdmod/1.0", "-k", &k],
    );
    root.assert_installed_module(&k, "pwdmod");
    let hook_root = TestRoot::new();
    hook_root.add_real_kernel(&k, Some(&headers_dir(&k)));
    pwd_module(&hook_root);
    hook_root.dkms(&["add", "pwdmod/1.0"]).assert_ok();
    run_from_slash(
        env!("CARGO_BIN_EXE_dkms-hook"),
        &hook_root,
        &["kernel-postinst", &k],
    );
    hook_root.assert_installed_module(&k, "pwdmod");
}
