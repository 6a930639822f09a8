//! The boot guard and critical modules, against fake kernels in a
//! `--root`: a module is critical by the setting, by providing the root's
//! file system type, or by being loaded (the root's `/proc/self/mounts` and
//! `/proc/modules` are what is read); when it fails for a kernel, that
//! kernel is guarded and the loader (GRUB's grubenv, a BLS loader.conf) is
//! set to the newest kernel that has it, the hook exits 0; when the module
//! builds later, the guard is lifted and the setting put back. A module
//! that is not critical never fails the package hooks.

use crate::harness::*;
use serde_json::Value;

/// A module `m` that builds (its kernel module provides file system type
/// `m` through `alias=fs-m`).
fn good_source(m: &str) -> String {
    format!(
        "#include <fake_module.h>\nFAKE_MODULE_VERSION(\"1.0\");\nFAKE_MODULE_INFO(alias, \"fs-{m}\");\nint {m}_init(void) {{ return 0; }}\n"
    )
}

/// Register `m`/1.0 (AUTOINSTALL) and install it for K1.
fn module_on_k1(root: &TestRoot, m: &str) {
    let conf = format!(
        "PACKAGE_NAME=\"{m}\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\"{m}\"\n\
         DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nAUTOINSTALL=\"yes\"\n"
    );
    root.add_source_text(
        m,
        "1.0",
        &[
            ("dkms.conf", &conf),
            ("Makefile", &format!("obj-m += {m}.o\n")),
            (&format!("{m}.c"), &good_source(m)),
        ],
    );
    root.dkms(&["add", &format!("{m}/1.0")]).assert_ok();
    root.hook(&["kernel-postinst", K1]).assert_ok();
    assert!(
        root.exists(&format!("/lib/modules/{K1}/updates/dkms/{m}.ko")),
        "{m} not installed for {K1}"
    );
}

/// Make `m`'s source stop compiling, or compile again.
fn set_broken(root: &TestRoot, m: &str, broken: bool) {
    let src = if broken {
        format!("int {m}_init(void) {{ return 0 this_does_not_compile }}\n")
    } else {
        good_source(m)
    };
    root.write(&format!("/usr/src/{m}-1.0/{m}.c"), src);
}

/// The GRUB of a Debian root: grub.cfg with every kernel in `kernels`
/// (as update-grub writes it) and an empty environment block.
fn grub(root: &TestRoot, kernels: &[&str]) {
    let mut cfg = String::from(
        "if [ -s $prefix/grubenv ]; then\n  load_env\nfi\n\
         if [ \"${next_entry}\" ] ; then\n   set default=\"${next_entry}\"\n   set next_entry=\n   save_env next_entry\nelse\n   set default=\"0\"\nfi\n\
         function load_video {\n  insmod all_video\n}\n",
    );
    let newest = kernels.last().expect("a kernel");
    cfg.push_str(&format!(
        "menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-u1' {{\n\tload_video\n\tlinux\t/boot/vmlinuz-{newest} root=UUID=u1 ro quiet\n}}\n\
         submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-u1' {{\n"
    ));
    for k in kernels.iter().rev() {
        cfg.push_str(&format!(
            "\tmenuentry 'Debian GNU/Linux, with Linux {k}' --class debian $menuentry_id_option 'gnulinux-{k}-advanced-u1' {{\n\t\tlinux\t/boot/vmlinuz-{k} root=UUID=u1 ro quiet\n\t}}\n\
             \tmenuentry 'Debian GNU/Linux, with Linux {k} (recovery mode)' --class debian $menuentry_id_option 'gnulinux-{k}-recovery-u1' {{\n\t\tlinux\t/boot/vmlinuz-{k} root=UUID=u1 ro single\n\t}}\n"
        ));
    }
    cfg.push_str("}\n");
    root.write("/boot/grub/grub.cfg", cfg);
    let mut env = b"# GRUB Environment Block\n".to_vec();
    env.resize(1024, b'#');
    root.write("/boot/grub/grubenv", env);
}

/// GRUB's id of kernel k's own entry in [`grub`]'s grub.cfg.
fn grub_id(k: &str) -> String {
    format!("gnulinux-advanced-u1>gnulinux-{k}-advanced-u1")
}

/// The environment block's variables, through GRUB's own reader when it is
/// installed (`grub-editenv FILE list`), else as the file says.
fn grubenv(root: &TestRoot) -> Vec<String> {
    let file = root.path("/boot/grub/grubenv");
    let bytes = std::fs::read(&file).expect("grubenv");
    assert_eq!(bytes.len(), 1024, "grubenv is not one 1024-byte block");
    if have("grub-editenv") {
        let out = run_command(
            {
                let mut c = std::process::Command::new("grub-editenv");
                c.arg(&file).arg("list");
                c
            },
            std::time::Duration::from_secs(30),
        );
        out.assert_ok();
        return out.stdout_lines().iter().map(|l| l.to_string()).collect();
    }
    skip_unless_ci(
        "grubenv check through grub-editenv",
        "grub-editenv not found (grub-common)",
    );
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `dkms-hook pending`'s stdout.
fn pending(root: &TestRoot) -> String {
    let out = root.hook(&["pending"]);
    out.assert_ok();
    out.stdout.clone()
}

/// `dkms status --output json`'s `guarded`.
fn guarded(root: &TestRoot) -> Vec<Value> {
    let out = root.dkms(&["status", "--output", "json"]);
    out.assert_ok();
    let v: Value = serde_json::from_str(&out.stdout).expect("JSON");
    v["guarded"].as_array().expect("guarded is a list").clone()
}

/// K1 with `m` installed, then K2 installed (image and headers) with `m`
/// failing to build there.
fn failing_on_k2(root: &TestRoot, m: &str) -> Output {
    set_broken(root, m, true);
    root.add_fake_kernel(K2, true, true);
    root.hook(&["kernel-postinst", K2, &format!("/boot/vmlinuz-{K2}")])
}

#[test]
fn critical_by_setting_guards_grub_next_entry_until_the_module_builds() {
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "crit");
    root.set_framework_conf("critical_modules=\"crit\"\n");
    grub(&root, &[K1, K2]);

    let out = failing_on_k2(&root, "crit");
    out.assert_ok();
    out.assert_stderr_contains(&format!(
        "dkms-hook: GUARD: {K2} must not be booted next: the critical module crit failed to build or install (exit 10) (named in critical_modules in /etc/dkms/framework.conf)."
    ));
    out.assert_stderr_contains(&format!(
        "dkms-hook: GUARD: the next boot stays on {K1}: boot entry {} set in GRUB's next_entry in /boot/grub/grubenv",
        grub_id(K1)
    ));
    out.assert_stderr_contains(text_of_critical_goes_on());
    // The full report is still there: the summary with the make.log tail.
    out.assert_stdout_contains(&format!("  failed: crit/1.0 for {K2} (exit 10); log: "));
    assert_eq!(grubenv(&root), vec![format!("next_entry={}", grub_id(K1))]);
    // The initramfs hooks after ours run: the package operation goes on.
    let p = pending(&root);
    assert!(p.contains(&format!("{K2} ({ARCH}): guarded, not to be booted: critical module crit failed to build or install (exit 10)")), "{p}");
    assert!(
        p.contains(&format!("points at {K1} ({})", grub_id(K1))),
        "{p}"
    );
    let g = guarded(&root);
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(g[0]["kernel"], K2);
    assert_eq!(g[0]["modules"][0]["module"], "crit");
    assert_eq!(g[0]["boots_instead"], K1);
    let doctor = root.hook(&["doctor"]);
    assert!(
        doctor.stdout.contains(&format!("{K2} ({ARCH}): guarded")),
        "{doctor}"
    );

    // Kept: GRUB cleared next_entry when it booted K1 (grub-reboot is for
    // one boot); the next hook run sets it again.
    grub(&root, &[K1, K2]);
    root.hook(&["apt-post-invoke"]).assert_ok();
    assert_eq!(grubenv(&root), vec![format!("next_entry={}", grub_id(K1))]);

    // Lifted: the module is fixed and built for K2.
    set_broken(&root, "crit", false);
    let out = root.hook(&["autoinstall", "-k", K2]);
    out.assert_ok();
    out.assert_stdout_contains(&format!(
        "dkms-hook: guard lifted: every critical module is installed for {K2} now; it may boot."
    ));
    out.assert_stdout_contains(
        "dkms-hook: the boot entry is back to what it was: unset in GRUB's next_entry",
    );
    assert_eq!(grubenv(&root), Vec::<String>::new());
    assert!(pending(&root).contains("Nothing is pending."));
    assert!(guarded(&root).is_empty());
    assert!(!root.exists("/var/lib/dkms/.dkms-hook/boot-change.json"));
}

/// The line a package hook ends with when a critical module failed.
fn text_of_critical_goes_on() -> &'static str {
    "dkms-hook: a critical module failed (see GUARD above): this package operation goes on (exit 0)"
}

#[test]
fn critical_by_root_file_system_uses_saved_entry_with_grub_default_saved() {
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "myfs");
    root.write(
        "/proc/self/mounts",
        "pool/root / myfs rw 0 0\nproc /proc proc rw 0 0\n",
    );
    let default_grub = "GRUB_DEFAULT=saved\nGRUB_TIMEOUT=5\n";
    root.write("/etc/default/grub", default_grub);
    grub(&root, &[K1, K2]);
    let mut env = b"# GRUB Environment Block\nsaved_entry=0\n".to_vec();
    env.resize(1024, b'#');
    root.write("/boot/grub/grubenv", env);

    let list = root.hook(&["critical", "list"]);
    list.assert_ok();
    list.assert_stdout_contains("myfs: critical: the myfs file system mounted on / needs it\n");

    let out = failing_on_k2(&root, "myfs");
    out.assert_ok();
    out.assert_stderr_contains("(the myfs file system mounted on / needs it)");
    assert_eq!(grubenv(&root), vec![format!("saved_entry={}", grub_id(K1))]);
    assert_eq!(
        root.read("/etc/default/grub"),
        default_grub,
        "/etc/default/grub changed"
    );

    set_broken(&root, "myfs", false);
    root.hook(&["autoinstall", "-k", K2]).assert_ok();
    assert_eq!(grubenv(&root), vec!["saved_entry=0".to_string()]);
    assert_eq!(root.read("/etc/default/grub"), default_grub);
}

/// A systemd-boot ESP at /boot/efi with an entry for each kernel.
fn bls(root: &TestRoot, kernels: &[&str]) {
    root.write(
        "/boot/efi/loader/loader.conf",
        "timeout 3\n#console-mode keep\n",
    );
    for k in kernels {
        root.write(
            &format!("/boot/efi/loader/entries/deb-{k}.conf"),
            format!(
                "title Debian\nversion {k}\nlinux /deb/{k}/linux\ninitrd /deb/{k}/initrd.img\n"
            ),
        );
        root.write(&format!("/boot/efi/deb/{k}/linux"), "kernel");
    }
}

/// What `bootctl list` calls the default entry of the root's ESP (bootctl
/// needs the ESP to be a mount point: a bind mount in a private mount
/// namespace makes it one). `None` when bootctl cannot run here.
fn bootctl_default(root: &TestRoot) -> Option<String> {
    let bootctl = bootctl()?;
    let esp = root.path("/boot/efi");
    let script = format!(
        "mount --bind '{0}' '{0}' && '{1}' --esp-path='{0}' --boot-path='{0}' list",
        esp.display(),
        bootctl
    );
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "sh", "-c", &script])
        .env("SYSTEMD_RELAX_ESP_CHECKS", "1")
        .env("SYSTEMD_RELAX_XBOOTLDR_CHECKS", "1");
    let out = run_command(c, std::time::Duration::from_secs(60));
    out.assert_ok();
    // Each entry: "title: ... (default)" then "id: X".
    let mut default = false;
    for l in out.stdout.lines() {
        let l = l.trim();
        if l.starts_with("title:") {
            default = l.contains("(default)");
        }
        if let (Some(id), true) = (l.strip_prefix("id: "), default) {
            return Some(id.to_string());
        }
    }
    Some(String::new())
}

/// bootctl: on PATH, or unpacked by .ci/run from Debian's systemd-boot
/// into tests/.cache/bootctl (installing that package would make the CI
/// machine's kernel hooks its own). Needs root for the bind mount.
fn bootctl() -> Option<String> {
    let cached = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/.cache/bootctl/usr/bin/bootctl");
    let found = if have("bootctl") {
        Some("bootctl".to_string())
    } else if cached.is_file() {
        Some(cached.display().to_string())
    } else {
        None
    };
    let root = rustix_is_root();
    match found {
        Some(b) if root => Some(b),
        _ => {
            skip_unless_ci(
                "the BLS default through bootctl",
                "bootctl (systemd-boot) or root is missing",
            );
            None
        }
    }
}

/// Whether the tests run as root.
fn rustix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

#[test]
fn critical_by_being_loaded_guards_the_bls_default_entry() {
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "vpn");
    root.write(
        "/proc/modules",
        "vpn 16384 0 - Live 0x0000000000000000\next4 1 2 - Live 0x0\n",
    );
    bls(&root, &[K1, K2]);
    let before = bootctl_default(&root);
    if let Some(d) = &before {
        assert_eq!(d, &format!("deb-{K2}.conf"), "bootctl's default before");
    }

    let out = failing_on_k2(&root, "vpn");
    out.assert_ok();
    out.assert_stderr_contains("(its kernel module vpn is loaded now)");
    out.assert_stderr_contains(&format!(
        "dkms-hook: GUARD: the next boot stays on {K1}: boot entry deb-{K1}.conf set in the default entry of /boot/efi/loader/loader.conf."
    ));
    assert_eq!(
        root.read("/boot/efi/loader/loader.conf"),
        format!("timeout 3\n#console-mode keep\ndefault deb-{K1}.conf\n")
    );
    if let Some(d) = bootctl_default(&root) {
        assert_eq!(
            d,
            format!("deb-{K1}.conf"),
            "bootctl's default while guarded"
        );
    }

    set_broken(&root, "vpn", false);
    let out = root.hook(&["autoinstall", "-k", K2]);
    out.assert_ok();
    out.assert_stdout_contains("guard lifted");
    assert_eq!(
        root.read("/boot/efi/loader/loader.conf"),
        "timeout 3\n#console-mode keep\n"
    );
    if let Some(d) = bootctl_default(&root) {
        assert_eq!(d, format!("deb-{K2}.conf"), "bootctl's default after");
    }
}

#[test]
fn without_a_loader_the_entry_is_not_changed_and_the_hook_says_why() {
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "crit");
    root.set_framework_conf("critical_modules=\"crit\"\n");
    let out = failing_on_k2(&root, "crit");
    out.assert_ok();
    out.assert_stderr_contains(&format!(
        "dkms-hook: GUARD: the boot entry was NOT changed: no boot loader this tool can set was found (no /boot/grub/grub.cfg, /boot/grub2/grub.cfg or BLS loader entries). Do not boot {K2} until the module is fixed."
    ));
    assert!(pending(&root).contains(&format!("{K2} ({ARCH}): guarded")));
    assert!(!root.exists("/var/lib/dkms/.dkms-hook/boot-change.json"));
}

#[test]
fn two_kernels_without_headers_then_failing_are_both_guarded_and_both_lifted() {
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "crit");
    root.set_framework_conf("critical_modules=\"crit\"\n");
    grub(&root, &[K1, K2, K3]);
    // Installed without headers: deferred, and so guarded.
    for k in [K2, K3] {
        root.add_fake_kernel(k, false, true);
        let out = root.hook(&["kernel-postinst", k]);
        out.assert_ok();
        out.assert_stderr_contains(&format!(
            "dkms-hook: GUARD: {k} must not be booted next: the critical module crit is not built: the kernel headers are missing"
        ));
    }
    assert_eq!(grubenv(&root), vec![format!("next_entry={}", grub_id(K1))]);
    // Headers arrive for both, the module fails on both.
    set_broken(&root, "crit", true);
    root.add_headers(K2);
    root.add_headers(K3);
    let out = root.hook(&["header-postinst", K3]);
    out.assert_ok();
    for k in [K2, K3] {
        out.assert_stderr_contains(&format!(
            "dkms-hook: GUARD: {k} must not be booted next: the critical module crit failed to build or install (exit 10)"
        ));
    }
    assert_eq!(guarded(&root).len(), 2);
    assert_eq!(grubenv(&root), vec![format!("next_entry={}", grub_id(K1))]);
    // Fixed for K3 only: K3 is lifted, K2 stays guarded, K1 is still the
    // newest kernel that may boot... until K3 is: it is newer.
    set_broken(&root, "crit", false);
    let out = root.hook(&["autoinstall", "-k", K3]);
    out.assert_ok();
    out.assert_stdout_contains(&format!(
        "guard lifted: every critical module is installed for {K3}"
    ));
    assert_eq!(grubenv(&root), vec![format!("next_entry={}", grub_id(K3))]);
    let out = root.hook(&["autoinstall", "-k", K2]);
    out.assert_ok();
    assert_eq!(grubenv(&root), Vec::<String>::new());
    assert!(guarded(&root).is_empty());
}

#[test]
fn removing_a_guarded_kernel_drops_its_guard_and_restores_the_entry() {
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "crit");
    root.set_framework_conf("critical_modules=\"crit\"\n");
    grub(&root, &[K1, K2]);
    failing_on_k2(&root, "crit").assert_ok();
    root.remove_kernel_image(K2);
    let out = root.hook(&["kernel-prerm", K2]);
    out.assert_ok();
    out.assert_stdout_contains(&format!(
        "guard of {K2} dropped: the kernel is no longer installed."
    ));
    assert_eq!(grubenv(&root), Vec::<String>::new());
    assert!(guarded(&root).is_empty());
}

#[test]
fn a_failure_of_a_module_that_is_not_critical_never_fails_the_package_hooks() {
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "plain");
    grub(&root, &[K1, K2]);
    let out = failing_on_k2(&root, "plain");
    out.assert_ok();
    out.assert_stdout_contains(&format!("  failed: plain/1.0 for {K2} (exit 10); log: "));
    out.assert_stderr_contains(&format!(
        "dkms-hook: plain/1.0 for {K2} failed (see above) but no critical module did: this package operation goes on (exit 0)."
    ));
    assert!(!out.stderr.contains("GUARD"), "{out}");
    assert_eq!(grubenv(&root), Vec::<String>::new());
    assert!(pending(&root).contains(&format!("{K2} ({ARCH}): plain/1.0 failed (exit 10)")));
    // A person's autoinstall still fails; the strict policy fails the hook.
    root.hook(&["autoinstall", "-k", K2]).assert_code(11);
    root.set_framework_conf("autoinstall_failure=strict\n");
    root.hook(&["kernel-postinst", K2]).assert_code(11);
}

#[test]
fn critical_add_remove_and_list() {
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "crit");
    root.hook(&["critical"]).assert_ok().assert_stdout_contains(
        "No module is critical. Mark one with: dkms-hook critical add MODULE",
    );
    let out = root.hook(&["critical", "add", "crit", "zfs"]);
    out.assert_ok();
    out.assert_stdout_contains(
        "critical_modules=\"crit zfs\" written to /etc/dkms/framework.conf.d/critical.conf",
    );
    assert!(root
        .read("/etc/dkms/framework.conf.d/critical.conf")
        .ends_with("critical_modules=\"crit zfs\"\n"));
    let list = root.hook(&["critical", "list"]);
    list.assert_ok();
    assert_eq!(
        list.stdout_lines(),
        vec![
            "crit: critical: named in critical_modules in /etc/dkms/framework.conf.d/critical.conf",
            "zfs: critical: named in critical_modules in /etc/dkms/framework.conf.d/critical.conf (not registered with DKMS)",
        ]
    );
    // Loaded now: it stays critical after remove, and remove says why.
    root.write("/proc/modules", "crit 16384 0 - Live 0x0\n");
    let out = root.hook(&["critical", "remove", "crit"]);
    out.assert_ok();
    out.assert_stdout_contains("critical_modules=\"zfs\" written to");
    out.assert_stdout_contains("crit stays critical: its kernel module crit is loaded now");
    // A file read later that sets it too: refused, nothing written.
    root.write(
        "/etc/dkms/framework.conf.d/zz-local.conf",
        "critical_modules=\"x\"\n",
    );
    let before = root.read("/etc/dkms/framework.conf.d/critical.conf");
    let out = root.hook(&["critical", "add", "y"]);
    out.assert_failed();
    out.assert_stderr_contains(
        "/etc/dkms/framework.conf.d/zz-local.conf sets critical_modules too",
    );
    assert_eq!(
        root.read("/etc/dkms/framework.conf.d/critical.conf"),
        before
    );
    root.hook(&["critical", "add", "../x"]).assert_code(2);
}

#[test]
fn the_boot_unit_says_when_the_machine_was_booted_into_a_guarded_kernel() {
    // The running kernel is the host's: install a fake kernel of that name.
    let running = String::from_utf8(
        std::process::Command::new("uname")
            .arg("-r")
            .output()
            .expect("uname")
            .stdout,
    )
    .expect("utf-8")
    .trim()
    .to_string();
    let root = TestRoot::with_kernel(K1);
    module_on_k1(&root, "crit");
    root.set_framework_conf("critical_modules=\"crit\"\n");
    grub(&root, &[&running, K1]);
    set_broken(&root, "crit", true);
    root.add_fake_kernel(&running, true, true);
    root.hook(&["kernel-postinst", &running]).assert_ok();
    let out = root.hook(&["boot"]);
    out.assert_ok();
    out.assert_stderr_contains(&format!(
        "dkms-hook: WARNING: this machine was booted into {running}, which the boot guard keeps from booting: the critical module(s) crit are not installed for it."
    ));
    // The unit that runs `dkms-hook boot` sends that line to the journal
    // and to the console.
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/dkms-hook.service"),
    )
    .expect("hooks/dkms-hook.service");
    for line in [
        "ExecStart=/usr/sbin/dkms-hook boot",
        "StandardError=journal+console",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line:?} in the unit");
    }
}
