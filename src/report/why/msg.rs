//! Ours: the words of `dkms-hook why` (one line per check, the cause in
//! plain words, the command that fixes it).

use std::path::Path;

use crate::layout::Root;

/// The mark of a passed check.
pub const WHY_PASS: &str = "✔";
/// The mark of a failed check.
pub const WHY_FAIL: &str = "✘";
/// The mark of a check not made.
pub const WHY_SKIPPED: &str = "-";
/// Before the kernel's own words.
pub const WHY_KERNEL_SAID: &str = "The kernel said:";

/// The first line.
pub fn why_heading(m: &str, k: &str) -> String {
    format!("Why module {m} does or does not load on {k}:")
}

/// The cause line.
pub fn why_cause_line(cause: &str) -> String {
    format!("Cause: {cause}")
}

/// The fix line.
pub fn why_fix_line(fix: &str) -> String {
    format!("Fix: {fix}")
}

/// The closing line when nothing failed.
pub fn why_loads(m: &str, k: &str) -> String {
    format!("{m} would load on {k}: every check passed.")
}

/// A check that needs the installed file, without one.
pub fn why_no_file() -> String {
    "not checked: no installed module file".into()
}

/// registered: yes.
pub fn why_registered(m: &str, v: &str, asked: &str) -> String {
    if m == asked {
        format!("{m}/{v} is registered with dkms")
    } else {
        format!("{asked} is a module of {m}/{v}, registered with dkms")
    }
}

/// registered: no, with what was found instead.
pub fn why_not_registered(
    asked: &str,
    similar: &[String],
    unadded: &[(String, String)],
    packages: &[String],
) -> String {
    let mut s = format!("no module named {asked} is registered with dkms");
    if !similar.is_empty() {
        s.push_str(&format!("; similar names: {}", similar.join(", ")));
    }
    if !unadded.is_empty() {
        let v: Vec<String> = unadded.iter().map(|(m, v)| format!("{m}/{v}")).collect();
        s.push_str(&format!(
            "; sources not registered: {} (in the source tree)",
            v.join(", ")
        ));
    }
    if !packages.is_empty() {
        s.push_str(&format!(
            "; packages that provide it: {}",
            packages.join(", ")
        ));
    }
    s
}

/// Cause: not registered.
pub fn why_cause_not_registered(asked: &str) -> String {
    format!("dkms does not know a module named {asked}, so nothing builds it for any kernel.")
}

/// built: not checked.
pub fn why_not_registered_short() -> String {
    "not checked: not registered".into()
}

/// built: yes.
pub fn why_built(mv: &str, k: &str) -> String {
    format!("{mv} is built for {k}")
}

/// built: no.
pub fn why_not_built(mv: &str, k: &str) -> String {
    format!("{mv} is not built for {k}")
}

/// Cause: the kernel is not installed.
pub fn why_cause_no_kernel(k: &str) -> String {
    format!("kernel {k} is not installed here (no /lib/modules/{k}).")
}

/// Cause: dkms.conf cannot be read.
pub fn why_cause_bad_conf(mv: &str, e: &str) -> String {
    format!("the dkms.conf of {mv} cannot be used: {e}")
}

/// built: BUILD_EXCLUSIVE.
pub fn why_excluded(mv: &str, k: &str, rule: &str) -> String {
    format!("{mv} is not built for {k}: its dkms.conf rules it out ({rule})")
}

/// Cause: BUILD_EXCLUSIVE.
pub fn why_cause_excluded(mv: &str, k: &str, rule: &str) -> String {
    format!("the dkms.conf of {mv} says it is not for {k} ({rule}); dkms skips it on purpose. A newer version of the module may support this kernel.")
}

/// built: headers missing.
pub fn why_no_headers(k: &str) -> String {
    format!("not built: the headers of {k} are not installed")
}

/// Cause: headers missing.
pub fn why_cause_no_headers(mv: &str, k: &str) -> String {
    format!("{mv} cannot be built for {k} without its headers; once they are installed the module is built and installed on its own.")
}

/// built: the build failed.
pub fn why_build_failed(mv: &str, k: &str, log: &Path) -> String {
    format!("the build of {mv} for {k} failed (log: {})", log.display())
}

/// Cause: the build failed, with the log's last lines.
pub fn why_cause_build_failed(mv: &str, k: &str, log: &Path, tail: &[String]) -> String {
    let mut s = format!("{mv} does not compile for {k}. From {}:", log.display());
    for l in tail {
        s.push_str("\n    ");
        s.push_str(l);
    }
    s.push_str(
        "\nA newer version of the module usually fixes a build that fails on a newer kernel.",
    );
    s
}

/// built: waiting for BUILD_DEPENDS.
pub fn why_waiting(mv: &str, deps: &str) -> String {
    format!("{mv} waits for modules it is built against: {deps}")
}

/// Cause: waiting for BUILD_DEPENDS.
pub fn why_cause_waiting(mv: &str, k: &str, deps: &str) -> String {
    format!("{mv} is built against {deps}, which is not registered with dkms; it is built for {k} once that is added.")
}

/// built: AUTOINSTALL off.
pub fn why_no_autoinstall(mv: &str) -> String {
    format!("not built: {mv} has AUTOINSTALL off, so new kernels do not get it")
}

/// Cause: AUTOINSTALL off.
pub fn why_cause_no_autoinstall(mv: &str, k: &str) -> String {
    format!("the dkms.conf of {mv} does not say AUTOINSTALL=\"yes\", so it is only built for a kernel when asked; it was never asked for {k}.")
}

/// Cause: not built, no reason recorded.
pub fn why_cause_not_built(mv: &str, k: &str) -> String {
    format!("{mv} was never built for {k}.")
}

/// installed: not checked.
pub fn why_not_built_short() -> String {
    "not checked: not built".into()
}

/// installed: no.
pub fn why_not_installed(mv: &str, k: &str) -> String {
    format!("{mv} is built for {k} but not installed")
}

/// Cause: not installed.
pub fn why_cause_not_installed(mv: &str, k: &str) -> String {
    format!("{mv} is built for {k} but was not installed into its module tree.")
}

/// installed: the file is gone.
pub fn why_installed_file_missing(mv: &str, k: &str) -> String {
    format!("{mv} is recorded as installed for {k} but its module file is not there")
}

/// Cause: the installed file is gone.
pub fn why_cause_installed_file_missing(mv: &str, k: &str) -> String {
    format!("the module file of {mv} was removed from the module tree of {k}.")
}

/// installed: a different file.
pub fn why_installed_differs(p: &Path) -> String {
    format!("{} is not the file dkms built", p.display())
}

/// Cause: a different file.
pub fn why_cause_installed_differs(mv: &str) -> String {
    format!("the installed file is not the one dkms built for {mv} (replaced or changed since).")
}

/// installed: yes.
pub fn why_installed(p: &Path) -> String {
    format!("{} is the file dkms built", p.display())
}

/// modules.dep: missing.
pub fn why_no_modules_dep(k: &str) -> String {
    format!("/lib/modules/{k}/modules.dep does not exist")
}

/// Cause: modules.dep missing or without the module.
pub fn why_cause_no_modules_dep(k: &str) -> String {
    format!("modprobe finds modules through modules.dep, and that of {k} does not list this module: depmod has not run since it was installed.")
}

/// modules.dep: lists ours.
pub fn why_modules_dep_ok(listed: &str) -> String {
    format!("modules.dep lists {listed}")
}

/// modules.dep: lists another file.
pub fn why_modules_dep_other(winner: &str, ours: &str) -> String {
    format!("modules.dep lists {winner}, not {ours}")
}

/// modules.dep: lists nothing of the name.
pub fn why_modules_dep_missing(ours: &str) -> String {
    format!("modules.dep does not list {ours}")
}

/// Why another file wins: a depmod.d override.
pub fn why_winner_override(file: &Path, line: usize, text: &str) -> String {
    format!("{}:{line} says `{text}`", file.display())
}

/// Why another file wins: a depmod.d search order.
pub fn why_winner_search(file: &Path, line: usize, text: &str) -> String {
    format!(
        "{}:{line} puts the kernel's own modules first (`{text}`)",
        file.display()
    )
}

/// Why another file wins: the kernel's own module.
pub fn why_winner_kernel() -> String {
    "it is the kernel's own module, which depmod prefers here".into()
}

/// Why another file wins: another directory.
pub fn why_winner_other() -> String {
    "another module directory takes precedence".into()
}

/// Cause: another file of the same name wins.
pub fn why_cause_other_file(winner: &str, ours: &str, why: &str) -> String {
    format!("modprobe loads {winner} instead of {ours}: {why}.")
}

/// Fix: edit a configuration line.
pub fn why_fix_conf_line(file: &Path, line: usize, k: &str, root: &Root) -> String {
    let b = if root.is_slash() {
        String::new()
    } else {
        format!("-b {} ", root.dir().display())
    };
    format!(
        "remove or change line {line} of {}, then run: depmod {b}-a {k}",
        file.display()
    )
}

/// Fix: remove a configuration line.
pub fn why_fix_remove_line(file: &Path, line: usize, root: &Root) -> String {
    format!("remove line {line} of {}", root.join(file).display())
}

/// vermagic: matches.
pub fn why_vermagic_ok(k: &str) -> String {
    format!("vermagic is {k}")
}

/// vermagic: another kernel's.
pub fn why_vermagic_bad(got: &str, k: &str) -> String {
    if got.is_empty() {
        format!("the file has no vermagic; {k} needs its own")
    } else {
        format!("vermagic is {got}, not {k}")
    }
}

/// Cause: vermagic.
pub fn why_cause_vermagic(got: &str, k: &str) -> String {
    format!("the installed file was built for kernel {got}, and {k} refuses a module built for another kernel (\"version magic\").")
}

/// modprobe.d: blacklisted.
pub fn why_blacklisted(file: &Path, line: usize, text: &str) -> String {
    format!("blacklisted: {}:{line} says `{text}`", file.display())
}

/// Cause: blacklisted.
pub fn why_cause_blacklisted(m: &str, file: &Path, line: usize) -> String {
    format!("{m} is blacklisted by line {line} of {}: it is not loaded for the devices it supports nor at boot (only `modprobe {m}` by hand still loads it).", file.display())
}

/// modprobe.d: install redirection.
pub fn why_redirected(file: &Path, line: usize, text: &str) -> String {
    format!("redirected: {}:{line} says `{text}`", file.display())
}

/// Cause: install redirection.
pub fn why_cause_redirected(m: &str, file: &Path, line: usize) -> String {
    format!("line {line} of {} tells modprobe to run a command that does nothing instead of loading {m}.", file.display())
}

/// modprobe.d: blacklisted on the kernel command line.
pub fn why_cmdline_blacklisted(m: &str) -> String {
    format!("the kernel command line blacklists {m}")
}

/// Cause: blacklisted on the kernel command line.
pub fn why_cause_cmdline_blacklisted(m: &str) -> String {
    format!("the running kernel was booted with {m} in modprobe.blacklist= or module_blacklist=; remove it from the boot loader's command line.")
}

/// modprobe.d: nothing.
pub fn why_not_blacklisted() -> String {
    "not blacklisted or redirected in modprobe.d".into()
}

/// depends: all there.
pub fn why_depends_ok(deps: &[String], k: &str) -> String {
    if deps.is_empty() {
        "needs no other module".into()
    } else {
        format!("{} available for {k}", deps.join(", "))
    }
}

/// depends: missing.
pub fn why_depends_missing(missing: &[String], k: &str) -> String {
    format!("{} not available for {k}", missing.join(", "))
}

/// Cause: depends missing.
pub fn why_cause_depends(missing: &[String], k: &str) -> String {
    format!(
        "the module needs {}, which {k} does not have; loading fails with \"Unknown symbol\".",
        missing.join(", ")
    )
}

/// Who signed a module.
pub fn why_signed_by(signer: &str, key_id: &str) -> String {
    format!("signed by \"{signer}\" (key {key_id})")
}

/// A signature that cannot be read.
pub fn why_signature_unreadable() -> String {
    "carries a signature this tool cannot read".into()
}

/// Not signed.
pub fn why_unsigned() -> String {
    "not signed".into()
}

/// signature: the kernel does not require one.
pub fn why_not_enforced(k: &str, checked: bool, fact: &str) -> String {
    if checked {
        format!("{fact}; {k} does not require a valid signature")
    } else {
        format!("{fact}; {k} does not check module signatures")
    }
}

/// signature: unsigned where required.
pub fn why_unsigned_enforced(why: &str) -> String {
    format!("not signed, and the kernel requires a valid signature ({why})")
}

/// Cause: unsigned where required.
pub fn why_cause_unsigned(k: &str, why: &str) -> String {
    format!(
        "{k} only loads modules signed with a key it trusts ({why}), and this one is not signed."
    )
}

/// signature: in the kernel's keyrings.
pub fn why_trusted_keyring(who: &str, desc: &str) -> String {
    format!("{who}; the kernel trusts that key ({desc})")
}

/// signature: enrolled with MOK.
pub fn why_trusted_mok(who: &str) -> String {
    format!("{who}; that key is enrolled with MOK")
}

/// signature: enrolment pending.
pub fn why_key_pending(who: &str) -> String {
    format!("{who}; that key waits to be enrolled at the next reboot")
}

/// Cause: enrolment pending.
pub fn why_cause_key_pending() -> String {
    "the key that signed the module is queued for enrolment (mokutil --list-new), which happens at the next reboot: confirm it in MokManager when it asks.".into()
}

/// signature: not trusted.
pub fn why_untrusted(who: &str, why: &str) -> String {
    format!("{who}; the kernel does not trust that key, and requires a valid signature ({why})")
}

/// Cause: the configured key is not enrolled.
pub fn why_cause_configured_untrusted(cert: &Path) -> String {
    format!("the module is signed with the configured key, but that key is not enrolled: enrol {} with MOK (mokutil asks for a password, then reboot and confirm in MokManager).", cert.display())
}

/// Cause: signed with a key that is not the configured one.
pub fn why_cause_other_key(configured_known: bool) -> String {
    if configured_known {
        "the module is signed with a key the kernel does not trust (not the configured one, which is enrolled or pending): sign it again with the configured key.".into()
    } else {
        "the module is signed with a key the kernel does not trust: sign it with the configured key and enrol that key with MOK (mokutil --import).".into()
    }
}

/// compression: none.
pub fn why_uncompressed() -> String {
    "not compressed".into()
}

/// compression: supported.
pub fn why_compressed_ok(name: &str) -> String {
    format!("{name}-compressed, as the kernel's own modules")
}

/// compression: not supported.
pub fn why_compressed_bad(name: &str, opt: &str, k: &str) -> String {
    format!("{name}-compressed, but {k} is configured without {opt}")
}

/// Cause: compression.
pub fn why_cause_compression(name: &str, k: &str, has: &[String]) -> String {
    let what = if has.is_empty() {
        "uncompressed modules".to_string()
    } else {
        has.join(", ")
    };
    format!("the file is {name}-compressed, and {k} cannot decompress it (its configuration has {what}).")
}

/// loaded: no.
pub fn why_not_loaded(name: &str) -> String {
    format!("{name} is not loaded now")
}

/// loaded: yes.
pub fn why_loaded() -> String {
    "loaded, the same build as the file on disk".into()
}

/// loaded: another build.
pub fn why_loaded_other(loaded: &str, disk: &str) -> String {
    format!("loaded, but the loaded copy (srcversion {loaded}) is not the file on disk ({disk})")
}

/// Cause: another build loaded.
pub fn why_cause_loaded_other(name: &str) -> String {
    format!("the kernel runs an older build of {name}; the new file takes effect after a reload or a reboot.")
}

/// kernel log: nothing.
pub fn why_log_quiet() -> String {
    "no refusal of this module in the kernel's log".into()
}

/// kernel log: unreadable.
pub fn why_log_unreadable() -> String {
    "not checked: the kernel's log cannot be read (run as root)".into()
}

/// kernel log: refusals.
pub fn why_log_refused(n: usize) -> String {
    format!("the kernel refused the module ({n} line(s) below)")
}

/// Cause: the kernel's refusal of a signature.
pub fn why_cause_log_signature() -> String {
    "the kernel refused the module's signature.".into()
}

/// Cause: the kernel's refusal.
pub fn why_cause_log() -> String {
    "the kernel refused to load the module.".into()
}
