//! The checks of `why`, one function each: from the facts to a passed,
//! failed or skipped check with its fact, cause and fix.

use crate::observe::der::hex_colons;
use crate::observe::module_file::normalized;
use crate::observe::secure_boot::KeyTrust;
use crate::observe::signature::Signature;
use crate::observe::why::WhyFacts;
use crate::report::why::msg;

use super::{Check, Outcome, SignatureDoc};

/// A command to run, with `--root` when the run has one.
pub(super) fn cmd(f: &WhyFacts, program: &str, rest: &str) -> String {
    if f.root.is_slash() {
        format!("{program} {rest}")
    } else {
        format!("{program} --root {} {rest}", f.root.dir().display())
    }
}

/// A passed check.
pub(super) fn pass(check: &'static str, fact: String) -> Check {
    Check {
        check,
        result: Outcome::Pass,
        fact,
        cause: None,
        fix: None,
    }
}

/// A failed check.
pub(super) fn fail(check: &'static str, fact: String, cause: String, fix: Option<String>) -> Check {
    Check {
        check,
        result: Outcome::Fail,
        fact,
        cause: Some(cause),
        fix,
    }
}

/// A check not made.
pub(super) fn skipped(check: &'static str, fact: String) -> Check {
    Check {
        check,
        result: Outcome::Skipped,
        fact,
        cause: None,
        fix: None,
    }
}

/// The `built` check, with the reason when not built.
pub(super) fn built_check(f: &WhyFacts, mv: &str) -> Check {
    let k = &f.kernel;
    if f.registration.is_err() {
        return skipped("built", msg::why_not_registered_short());
    }
    if f.built {
        return pass("built", msg::why_built(mv, k));
    }
    let not_built = msg::why_not_built(mv, k);
    if !f.kernel_dir {
        return fail("built", not_built, msg::why_cause_no_kernel(k), None);
    }
    if let Some(Err(e)) = &f.conf {
        return fail("built", not_built, msg::why_cause_bad_conf(mv, e), None);
    }
    let conf = f.conf.as_ref().and_then(|c| c.as_ref().ok());
    if let Some(rule) = conf.and_then(|c| c.excluded_by.as_ref()) {
        return fail(
            "built",
            msg::why_excluded(mv, k, rule),
            msg::why_cause_excluded(mv, k, rule),
            None,
        );
    }
    if !f.headers {
        return fail(
            "built",
            msg::why_no_headers(k),
            msg::why_cause_no_headers(mv, k),
            Some(format!("apt-get install {}", f.headers_package)),
        );
    }
    if let Some(failed) = &f.failed {
        return fail(
            "built",
            msg::why_build_failed(mv, k, &failed.log),
            msg::why_cause_build_failed(mv, k, &failed.log, &failed.tail),
            Some(format!("less {}", failed.log.display())),
        );
    }
    if let Some(deps) = &f.waiting_for {
        return fail(
            "built",
            msg::why_waiting(mv, deps),
            msg::why_cause_waiting(mv, k, deps),
            Some(cmd(
                f,
                "dkms",
                &format!("add {}", deps.split_whitespace().next().unwrap_or(deps)),
            )),
        );
    }
    let install = Some(cmd(f, "dkms", &format!("install {mv} -k {k}")));
    if conf.is_some_and(|c| !c.autoinstall) {
        return fail(
            "built",
            msg::why_no_autoinstall(mv),
            msg::why_cause_no_autoinstall(mv, k),
            install,
        );
    }
    fail("built", not_built, msg::why_cause_not_built(mv, k), install)
}

/// The `installed` check: installed, and the file the one built.
pub(super) fn installed_check(f: &WhyFacts, mv: &str) -> Check {
    let k = &f.kernel;
    if f.registration.is_err() || !f.built {
        return skipped("installed", msg::why_not_built_short());
    }
    let reinstall = Some(cmd(f, "dkms", &format!("install {mv} -k {k} --force")));
    match (&f.installed_version, &f.installed_file) {
        (None, _) => fail(
            "installed",
            msg::why_not_installed(mv, k),
            msg::why_cause_not_installed(mv, k),
            Some(cmd(f, "dkms", &format!("install {mv} -k {k}"))),
        ),
        (Some(_), None) => fail(
            "installed",
            msg::why_installed_file_missing(mv, k),
            msg::why_cause_installed_file_missing(mv, k),
            reinstall,
        ),
        (Some(_), Some(p)) if !f.same_as_built => fail(
            "installed",
            msg::why_installed_differs(&f.root.inside(p)),
            msg::why_cause_installed_differs(mv),
            reinstall,
        ),
        (Some(_), Some(p)) => pass("installed", msg::why_installed(&f.root.inside(p))),
    }
}

/// The `modules.dep` check: our file is the one listed, else which wins and why.
pub(super) fn dep_check(f: &WhyFacts) -> Check {
    let k = &f.kernel;
    let Some(inst) = &f.installed_file else {
        return skipped("modules.dep", msg::why_no_file());
    };
    let depmod = Some(format!(
        "depmod {}-a {k}",
        if f.root.is_slash() {
            String::new()
        } else {
            format!("-b {} ", f.root.dir().display())
        }
    ));
    if !f.dep.exists {
        return fail(
            "modules.dep",
            msg::why_no_modules_dep(k),
            msg::why_cause_no_modules_dep(k),
            depmod,
        );
    }
    let lib = f.root.join(format!("/lib/modules/{k}"));
    let ours = inst
        .strip_prefix(&lib)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    match &f.dep.listed {
        Some(l) if l == &ours || l.ends_with(&format!("/{ours}")) => {
            pass("modules.dep", msg::why_modules_dep_ok(l))
        }
        Some(winner) => {
            let why = if let Some(o) = f.overrides.first() {
                msg::why_winner_override(&o.file, o.line, &o.text)
            } else if winner.starts_with("kernel/") {
                match f.searches.first() {
                    Some(s) => msg::why_winner_search(&s.file, s.line, &s.text),
                    None => msg::why_winner_kernel(),
                }
            } else {
                msg::why_winner_other()
            };
            fail(
                "modules.dep",
                msg::why_modules_dep_other(winner, &ours),
                msg::why_cause_other_file(winner, &ours, &why),
                f.overrides
                    .first()
                    .or(f.searches.first())
                    .map(|o| msg::why_fix_conf_line(&o.file, o.line, k, &f.root)),
            )
        }
        None => fail(
            "modules.dep",
            msg::why_modules_dep_missing(&ours),
            msg::why_cause_no_modules_dep(k),
            depmod,
        ),
    }
}

/// The `modprobe.d` check: blacklists, install redirections, the command line.
pub(super) fn modprobe_check(f: &WhyFacts) -> Check {
    if let Some(b) = f.blacklist.first() {
        return fail(
            "modprobe.d",
            msg::why_blacklisted(&b.file, b.line, &b.text),
            msg::why_cause_blacklisted(&f.asked, &b.file, b.line),
            Some(msg::why_fix_remove_line(&b.file, b.line, &f.root)),
        );
    }
    if let Some(r) = f.redirected.first() {
        return fail(
            "modprobe.d",
            msg::why_redirected(&r.file, r.line, &r.text),
            msg::why_cause_redirected(&f.asked, &r.file, r.line),
            Some(msg::why_fix_remove_line(&r.file, r.line, &f.root)),
        );
    }
    if f.running.as_ref().is_some_and(|r| r.cmdline_blacklisted) {
        return fail(
            "modprobe.d",
            msg::why_cmdline_blacklisted(&f.asked),
            msg::why_cause_cmdline_blacklisted(&f.asked),
            None,
        );
    }
    pass("modprobe.d", msg::why_not_blacklisted())
}

/// The `signature` check, where the kernel requires one.
pub(super) fn signature_check(f: &WhyFacts, mv: &str) -> Check {
    let k = &f.kernel;
    let Some(file) = f.file.as_ref().and_then(|r| r.as_ref().ok()) else {
        return skipped("signature", msg::why_no_file());
    };
    let configured = f.configured_cert.1.as_ref();
    let enforced = f.enforcement.as_deref();
    let sign = Some(cmd(f, "dkms-hook", &format!("sign {mv} -k {k}")));
    let enrol = Some(format!(
        "mokutil --import {}",
        f.configured_cert.0.display()
    ));
    let Some(enforced) = enforced else {
        let fact = match file.signature.signer() {
            Some(s) => msg::why_signed_by(&s.issuer_cn, &hex_colons(&s.key_id)),
            None if file.signature.present() => msg::why_signature_unreadable(),
            None => msg::why_unsigned(),
        };
        return pass("signature", msg::why_not_enforced(k, f.sig_checked, &fact));
    };
    match &file.signature {
        Signature::Unsigned => fail(
            "signature",
            msg::why_unsigned_enforced(enforced),
            msg::why_cause_unsigned(k, enforced),
            sign,
        ),
        Signature::Unreadable => fail(
            "signature",
            msg::why_signature_unreadable(),
            msg::why_cause_unsigned(k, enforced),
            sign,
        ),
        Signature::Signed(s) => {
            let who = msg::why_signed_by(&s.issuer_cn, &hex_colons(&s.key_id));
            let is_configured = configured.is_some_and(|c| c.signed(s));
            match f.keys.trust(s, configured) {
                KeyTrust::Keyring(desc) => pass("signature", msg::why_trusted_keyring(&who, &desc)),
                KeyTrust::Mok => pass("signature", msg::why_trusted_mok(&who)),
                KeyTrust::Pending => fail(
                    "signature",
                    msg::why_key_pending(&who),
                    msg::why_cause_key_pending(),
                    Some("reboot".into()),
                ),
                KeyTrust::Untrusted if is_configured => fail(
                    "signature",
                    msg::why_untrusted(&who, enforced),
                    msg::why_cause_configured_untrusted(&f.configured_cert.0),
                    enrol,
                ),
                KeyTrust::Untrusted => {
                    let configured_known =
                        configured.is_some_and(|c| f.keys.enrolled(c) || f.keys.pending(c));
                    fail(
                        "signature",
                        msg::why_untrusted(&who, enforced),
                        msg::why_cause_other_key(configured_known),
                        if configured.is_some() { sign } else { None },
                    )
                }
            }
        }
    }
}

/// The `loaded` check (running kernel): the loaded copy is the file on disk.
pub(super) fn loaded_check(f: &WhyFacts) -> Check {
    let Some(run) = &f.running else {
        return skipped("loaded", String::new());
    };
    let file = f.file.as_ref().and_then(|r| r.as_ref().ok());
    let name = match &f.registration {
        Ok(r) => normalized(&r.dest_name),
        Err(_) => normalized(&f.asked),
    };
    match (&run.loaded, file) {
        (None, _) => pass("loaded", msg::why_not_loaded(&name)),
        (Some(l), Some(file)) => {
            let disk = file.modinfo.srcversion().unwrap_or("");
            match &l.srcversion {
                Some(s) if !disk.is_empty() && s != disk => fail(
                    "loaded",
                    msg::why_loaded_other(s, disk),
                    msg::why_cause_loaded_other(&name),
                    Some(format!("modprobe -r {name} && modprobe {name}")),
                ),
                _ => pass("loaded", msg::why_loaded()),
            }
        }
        (Some(_), None) => pass("loaded", msg::why_loaded()),
    }
}

/// The signature of the installed file, for the JSON form.
pub(super) fn signature_doc(f: &WhyFacts, sig: &Signature) -> SignatureDoc {
    let configured = f.configured_cert.1.as_ref();
    let signer = sig.signer();
    SignatureDoc {
        signed: sig.present(),
        signer: signer.map(|s| s.issuer_cn.clone()),
        key_id: signer.map(|s| hex_colons(&s.key_id)),
        hash: signer.map(|s| s.hash.clone()),
        configured_key: signer.is_some_and(|s| configured.is_some_and(|c| c.signed(s))),
        trust: signer.map(|s| match f.keys.trust(s, configured) {
            KeyTrust::Keyring(_) => "keyring",
            KeyTrust::Mok => "mok",
            KeyTrust::Pending => "pending",
            KeyTrust::Untrusted => "untrusted",
        }),
    }
}
