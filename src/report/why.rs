//! `dkms-hook why`: the observed facts ([`WhyFacts`]) turned into the
//! checks, in order, each passed, failed or not checked with the fact in
//! one line, and the verdict: the first failed check's cause in plain words
//! with the command that fixes it. Printed as text or as JSON. Pure: the
//! facts decide everything, so each cause is a unit test.

use serde::Serialize;

use crate::observe::der::hex_colons;
use crate::observe::module_file::normalized;
use crate::observe::secure_boot::KeyTrust;
use crate::observe::signature::Signature;
use crate::observe::why::WhyFacts;
use crate::text;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The module passes it.
    Pass,
    /// The module fails it: it will not load (or not as built).
    Fail,
    /// Not checked: what it needs is missing (an earlier check says why),
    /// or it does not apply.
    Skipped,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Its name (`registered`, `built`, ...).
    pub check: &'static str,
    /// How it came out.
    pub result: Outcome,
    /// The fact, in one line.
    pub fact: String,
    /// Why the module will not load, in plain words (failed checks).
    #[serde(skip)]
    pub cause: Option<String>,
    /// The command that fixes it (failed checks).
    #[serde(skip)]
    pub fix: Option<String>,
}

/// The first cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// The failed check.
    pub check: &'static str,
    /// Why, in plain words.
    pub text: String,
    /// The command that fixes it.
    pub fix: Option<String>,
}

/// The module file's signature, for the JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureDoc {
    /// A signature is appended.
    pub signed: bool,
    /// The signer (the certificate issuer's name).
    pub signer: Option<String>,
    /// The key id (the certificate's serial number), as `modinfo` shows it.
    pub key_id: Option<String>,
    /// The digest.
    pub hash: Option<String>,
    /// The key is the configured one (framework.conf's `mok_certificate`).
    pub configured_key: bool,
    /// `keyring`, `mok`, `pending` or `untrusted`; `null` when unsigned.
    pub trust: Option<&'static str>,
}

/// Everything `why` says, as data (`--output json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The name asked about.
    pub module: String,
    /// The dkms module it belongs to, when registered.
    pub dkms_module: Option<String>,
    /// Its version looked at.
    pub version: Option<String>,
    /// The kernel.
    pub kernel: String,
    /// The arch.
    pub arch: String,
    /// The kernel is the running one.
    pub running: bool,
    /// The module would load.
    pub loads: bool,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// The first failed check's cause.
    pub cause: Option<Cause>,
    /// The installed file (inside the root).
    pub file: Option<String>,
    /// Its signature.
    pub signature: Option<SignatureDoc>,
    /// What the kernel said when it refused the module (running kernel).
    pub kernel_log: Vec<String>,
}

/// A command to run, with `--root` when the run has one.
fn cmd(f: &WhyFacts, program: &str, rest: &str) -> String {
    if f.root.is_slash() {
        format!("{program} {rest}")
    } else {
        format!("{program} --root {} {rest}", f.root.dir().display())
    }
}

/// A check builder.
fn pass(check: &'static str, fact: String) -> Check {
    Check {
        check,
        result: Outcome::Pass,
        fact,
        cause: None,
        fix: None,
    }
}

fn fail(check: &'static str, fact: String, cause: String, fix: Option<String>) -> Check {
    Check {
        check,
        result: Outcome::Fail,
        fact,
        cause: Some(cause),
        fix,
    }
}

fn skipped(check: &'static str, fact: String) -> Check {
    Check {
        check,
        result: Outcome::Skipped,
        fact,
        cause: None,
        fix: None,
    }
}

/// The checks and the verdict for `f`.
pub fn verdict(f: &WhyFacts) -> Verdict {
    let mut checks = Vec::new();
    let k = &f.kernel;
    let reg = f.registration.as_ref().ok();
    let mv = reg
        .map(|r| format!("{}/{}", r.module, r.version))
        .unwrap_or_default();
    // 1. Registered.
    match &f.registration {
        Ok(r) => checks.push(pass(
            "registered",
            text::why_registered(&r.module, &r.version, &f.asked),
        )),
        Err(nr) => {
            let fix = match (nr.unadded.first(), nr.packages.first()) {
                (Some((m, v)), _) => Some(cmd(f, "dkms", &format!("add {m}/{v}"))),
                (None, Some(p)) => Some(format!("apt-get install {p}")),
                _ => None,
            };
            checks.push(fail(
                "registered",
                text::why_not_registered(&f.asked, &nr.similar, &nr.unadded, &nr.packages),
                text::why_cause_not_registered(&f.asked),
                fix,
            ));
        }
    }
    // 2. Built.
    checks.push(built_check(f, &mv));
    // 3. Installed, and the file the one built.
    checks.push(installed_check(f, &mv));
    // 4. modules.dep.
    checks.push(dep_check(f));
    let file = f.file.as_ref().and_then(|r| r.as_ref().ok());
    // 5. vermagic.
    checks.push(match file {
        None => skipped("vermagic", text::why_no_file()),
        Some(file) => match file.vermagic_release() {
            Some(r) if r == k => pass("vermagic", text::why_vermagic_ok(k)),
            other => {
                let got = other.unwrap_or("").to_string();
                fail(
                    "vermagic",
                    text::why_vermagic_bad(&got, k),
                    text::why_cause_vermagic(&got, k),
                    Some(cmd(f, "dkms", &format!("install {mv} -k {k} --force"))),
                )
            }
        },
    });
    // 6. Blacklists and install redirections.
    checks.push(modprobe_check(f));
    // 7. depends.
    checks.push(match file {
        None => skipped("depends", text::why_no_file()),
        Some(file) if f.missing_depends.is_empty() => {
            pass("depends", text::why_depends_ok(&file.depends(), k))
        }
        Some(_) => fail(
            "depends",
            text::why_depends_missing(&f.missing_depends, k),
            text::why_cause_depends(&f.missing_depends, k),
            Some(cmd(
                f,
                "dkms-hook",
                &format!("why {} -k {k}", f.missing_depends[0]),
            )),
        ),
    });
    // 8. Signature.
    checks.push(signature_check(f, &mv));
    // 9. Compression.
    checks.push(match file {
        None => skipped("compression", text::why_no_file()),
        Some(file) => match file.compression.config_option() {
            None => pass("compression", text::why_uncompressed()),
            Some(opt) if f.config_compress.iter().any(|o| o == opt) || !f.config_readable => pass(
                "compression",
                text::why_compressed_ok(file.compression.name()),
            ),
            Some(opt) => fail(
                "compression",
                text::why_compressed_bad(file.compression.name(), opt, k),
                text::why_cause_compression(file.compression.name(), k, &f.config_compress),
                Some(cmd(f, "dkms", &format!("install {mv} -k {k} --force"))),
            ),
        },
    });
    // 10. The running kernel.
    let refusals = refusals(f, &checks);
    if let Some(run) = &f.running {
        checks.push(loaded_check(f));
        let signature_refused = refusals
            .iter()
            .any(|l| crate::observe::kernel_log::is_signature_refusal(l));
        checks.push(if run.loaded.is_some() || refusals.is_empty() {
            if run.log_readable {
                pass("kernel log", text::why_log_quiet())
            } else {
                skipped("kernel log", text::why_log_unreadable())
            }
        } else {
            fail(
                "kernel log",
                text::why_log_refused(refusals.len()),
                if signature_refused {
                    text::why_cause_log_signature()
                } else {
                    text::why_cause_log()
                },
                None,
            )
        });
    }
    let cause = checks
        .iter()
        .find(|c| c.result == Outcome::Fail)
        .map(|c| Cause {
            check: c.check,
            text: c.cause.clone().unwrap_or_default(),
            fix: c.fix.clone(),
        });
    Verdict {
        module: f.asked.clone(),
        dkms_module: reg.map(|r| r.module.clone()),
        version: reg.map(|r| r.version.clone()),
        kernel: k.clone(),
        arch: f.arch.clone(),
        running: f.running.is_some(),
        loads: cause.is_none(),
        checks,
        cause,
        file: f
            .installed_file
            .as_ref()
            .map(|p| f.root.inside(p).display().to_string()),
        signature: file.map(|file| signature_doc(f, &file.signature)),
        kernel_log: refusals,
    }
}

/// The kernel's refusals that concern this module: those that name it,
/// and those that name no module (a signature check) unless the module's
/// signature passed, when they must be another module's.
fn refusals(f: &WhyFacts, checks: &[Check]) -> Vec<String> {
    let Some(run) = &f.running else {
        return Vec::new();
    };
    let name = match &f.registration {
        Ok(r) => r.dest_name.as_str(),
        Err(_) => f.asked.as_str(),
    };
    let signature_ok = checks
        .iter()
        .any(|c| c.check == "signature" && c.result == Outcome::Pass);
    run.refusals
        .iter()
        .filter(|l| crate::observe::kernel_log::names_module(l, name) || !signature_ok)
        .cloned()
        .collect()
}

fn built_check(f: &WhyFacts, mv: &str) -> Check {
    let k = &f.kernel;
    if f.registration.is_err() {
        return skipped("built", text::why_not_registered_short());
    }
    if f.built {
        return pass("built", text::why_built(mv, k));
    }
    let not_built = text::why_not_built(mv, k);
    if !f.kernel_dir {
        return fail("built", not_built, text::why_cause_no_kernel(k), None);
    }
    if let Some(Err(e)) = &f.conf {
        return fail("built", not_built, text::why_cause_bad_conf(mv, e), None);
    }
    let conf = f.conf.as_ref().and_then(|c| c.as_ref().ok());
    if let Some(rule) = conf.and_then(|c| c.excluded_by.as_ref()) {
        return fail(
            "built",
            text::why_excluded(mv, k, rule),
            text::why_cause_excluded(mv, k, rule),
            None,
        );
    }
    if !f.headers {
        return fail(
            "built",
            text::why_no_headers(k),
            text::why_cause_no_headers(mv, k),
            Some(format!("apt-get install {}", f.headers_package)),
        );
    }
    if let Some(failed) = &f.failed {
        return fail(
            "built",
            text::why_build_failed(mv, k, &failed.log),
            text::why_cause_build_failed(mv, k, &failed.log, &failed.tail),
            Some(format!("less {}", failed.log.display())),
        );
    }
    if let Some(deps) = &f.waiting_for {
        return fail(
            "built",
            text::why_waiting(mv, deps),
            text::why_cause_waiting(mv, k, deps),
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
            text::why_no_autoinstall(mv),
            text::why_cause_no_autoinstall(mv, k),
            install,
        );
    }
    fail(
        "built",
        not_built,
        text::why_cause_not_built(mv, k),
        install,
    )
}

fn installed_check(f: &WhyFacts, mv: &str) -> Check {
    let k = &f.kernel;
    if f.registration.is_err() || !f.built {
        return skipped("installed", text::why_not_built_short());
    }
    let reinstall = Some(cmd(f, "dkms", &format!("install {mv} -k {k} --force")));
    match (&f.installed_version, &f.installed_file) {
        (None, _) => fail(
            "installed",
            text::why_not_installed(mv, k),
            text::why_cause_not_installed(mv, k),
            Some(cmd(f, "dkms", &format!("install {mv} -k {k}"))),
        ),
        (Some(_), None) => fail(
            "installed",
            text::why_installed_file_missing(mv, k),
            text::why_cause_installed_file_missing(mv, k),
            reinstall,
        ),
        (Some(_), Some(p)) if !f.same_as_built => fail(
            "installed",
            text::why_installed_differs(&f.root.inside(p)),
            text::why_cause_installed_differs(mv),
            reinstall,
        ),
        (Some(_), Some(p)) => pass("installed", text::why_installed(&f.root.inside(p))),
    }
}

fn dep_check(f: &WhyFacts) -> Check {
    let k = &f.kernel;
    let Some(inst) = &f.installed_file else {
        return skipped("modules.dep", text::why_no_file());
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
            text::why_no_modules_dep(k),
            text::why_cause_no_modules_dep(k),
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
            pass("modules.dep", text::why_modules_dep_ok(l))
        }
        Some(winner) => {
            let why = if let Some(o) = f.overrides.first() {
                text::why_winner_override(&o.file, o.line, &o.text)
            } else if winner.starts_with("kernel/") {
                match f.searches.first() {
                    Some(s) => text::why_winner_search(&s.file, s.line, &s.text),
                    None => text::why_winner_kernel(),
                }
            } else {
                text::why_winner_other()
            };
            fail(
                "modules.dep",
                text::why_modules_dep_other(winner, &ours),
                text::why_cause_other_file(winner, &ours, &why),
                f.overrides
                    .first()
                    .or(f.searches.first())
                    .map(|o| text::why_fix_conf_line(&o.file, o.line, k, &f.root)),
            )
        }
        None => fail(
            "modules.dep",
            text::why_modules_dep_missing(&ours),
            text::why_cause_no_modules_dep(k),
            depmod,
        ),
    }
}

fn modprobe_check(f: &WhyFacts) -> Check {
    if let Some(b) = f.blacklist.first() {
        return fail(
            "modprobe.d",
            text::why_blacklisted(&b.file, b.line, &b.text),
            text::why_cause_blacklisted(&f.asked, &b.file, b.line),
            Some(text::why_fix_remove_line(&b.file, b.line, &f.root)),
        );
    }
    if let Some(r) = f.redirected.first() {
        return fail(
            "modprobe.d",
            text::why_redirected(&r.file, r.line, &r.text),
            text::why_cause_redirected(&f.asked, &r.file, r.line),
            Some(text::why_fix_remove_line(&r.file, r.line, &f.root)),
        );
    }
    if f.running.as_ref().is_some_and(|r| r.cmdline_blacklisted) {
        return fail(
            "modprobe.d",
            text::why_cmdline_blacklisted(&f.asked),
            text::why_cause_cmdline_blacklisted(&f.asked),
            None,
        );
    }
    pass("modprobe.d", text::why_not_blacklisted())
}

fn signature_check(f: &WhyFacts, mv: &str) -> Check {
    let k = &f.kernel;
    let Some(file) = f.file.as_ref().and_then(|r| r.as_ref().ok()) else {
        return skipped("signature", text::why_no_file());
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
            Some(s) => text::why_signed_by(&s.issuer_cn, &hex_colons(&s.key_id)),
            None if file.signature.present() => text::why_signature_unreadable(),
            None => text::why_unsigned(),
        };
        return pass("signature", text::why_not_enforced(k, f.sig_checked, &fact));
    };
    match &file.signature {
        Signature::Unsigned => fail(
            "signature",
            text::why_unsigned_enforced(enforced),
            text::why_cause_unsigned(k, enforced),
            sign,
        ),
        Signature::Unreadable => fail(
            "signature",
            text::why_signature_unreadable(),
            text::why_cause_unsigned(k, enforced),
            sign,
        ),
        Signature::Signed(s) => {
            let who = text::why_signed_by(&s.issuer_cn, &hex_colons(&s.key_id));
            let is_configured = configured.is_some_and(|c| c.signed(s));
            match f.keys.trust(s, configured) {
                KeyTrust::Keyring(desc) => {
                    pass("signature", text::why_trusted_keyring(&who, &desc))
                }
                KeyTrust::Mok => pass("signature", text::why_trusted_mok(&who)),
                KeyTrust::Pending => fail(
                    "signature",
                    text::why_key_pending(&who),
                    text::why_cause_key_pending(),
                    Some("reboot".into()),
                ),
                KeyTrust::Untrusted if is_configured => fail(
                    "signature",
                    text::why_untrusted(&who, enforced),
                    text::why_cause_configured_untrusted(&f.configured_cert.0),
                    enrol,
                ),
                KeyTrust::Untrusted => {
                    let configured_known =
                        configured.is_some_and(|c| f.keys.enrolled(c) || f.keys.pending(c));
                    fail(
                        "signature",
                        text::why_untrusted(&who, enforced),
                        text::why_cause_other_key(configured_known),
                        if configured.is_some() { sign } else { None },
                    )
                }
            }
        }
    }
}

fn loaded_check(f: &WhyFacts) -> Check {
    let Some(run) = &f.running else {
        return skipped("loaded", String::new());
    };
    let file = f.file.as_ref().and_then(|r| r.as_ref().ok());
    let name = match &f.registration {
        Ok(r) => normalized(&r.dest_name),
        Err(_) => normalized(&f.asked),
    };
    match (&run.loaded, file) {
        (None, _) => pass("loaded", text::why_not_loaded(&name)),
        (Some(l), Some(file)) => {
            let disk = file.modinfo.srcversion().unwrap_or("");
            match &l.srcversion {
                Some(s) if !disk.is_empty() && s != disk => fail(
                    "loaded",
                    text::why_loaded_other(s, disk),
                    text::why_cause_loaded_other(&name),
                    Some(format!("modprobe -r {name} && modprobe {name}")),
                ),
                _ => pass("loaded", text::why_loaded()),
            }
        }
        (Some(_), None) => pass("loaded", text::why_loaded()),
    }
}

fn signature_doc(f: &WhyFacts, sig: &Signature) -> SignatureDoc {
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

/// The text form: a heading, one line per check, then the cause and the
/// fix (or that the module would load).
pub fn render_text(v: &Verdict) -> String {
    let mut s = text::why_heading(&v.module, &v.kernel);
    s.push('\n');
    for c in &v.checks {
        let mark = match c.result {
            Outcome::Pass => text::WHY_PASS,
            Outcome::Fail => text::WHY_FAIL,
            Outcome::Skipped => text::WHY_SKIPPED,
        };
        s.push_str(&format!("{mark} {}: {}\n", c.check, c.fact));
    }
    s.push('\n');
    match &v.cause {
        Some(c) => {
            s.push_str(&text::why_cause_line(&c.text));
            s.push('\n');
            if !v.kernel_log.is_empty() {
                s.push_str(text::WHY_KERNEL_SAID);
                s.push('\n');
                for l in &v.kernel_log {
                    s.push_str(&format!("    {l}\n"));
                }
            }
            if let Some(fix) = &c.fix {
                s.push_str(&text::why_fix_line(fix));
                s.push('\n');
            }
        }
        None => {
            s.push_str(&text::why_loads(&v.module, &v.kernel));
            s.push('\n');
        }
    }
    s
}

/// The JSON form.
pub fn render_json(v: &Verdict) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}
