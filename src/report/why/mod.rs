//! `dkms-hook why`: the observed facts ([`WhyFacts`]) turned into the
//! checks, in order, each passed, failed or not checked with the fact in
//! one line, and the verdict: the first failed check's cause in plain words
//! with the command that fixes it. Printed as text or as JSON. Pure: the
//! facts decide everything, so each cause is a unit test.
//!
//! - [`checks`]: each check from the facts;
//! - [`render`]: the text and the JSON.

mod checks;
pub mod msg;
mod render;

pub use render::{render_json, render_text};

use checks::{
    built_check, cmd, dep_check, fail, installed_check, loaded_check, modprobe_check, pass,
    signature_check, signature_doc, skipped,
};

use serde::Serialize;

use crate::observe::why::WhyFacts;

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
            msg::why_registered(&r.module, &r.version, &f.asked),
        )),
        Err(nr) => {
            let fix = match (nr.unadded.first(), nr.packages.first()) {
                (Some((m, v)), _) => Some(cmd(f, "dkms", &format!("add {m}/{v}"))),
                (None, Some(p)) => Some(format!("apt-get install {p}")),
                _ => None,
            };
            checks.push(fail(
                "registered",
                msg::why_not_registered(&f.asked, &nr.similar, &nr.unadded, &nr.packages),
                msg::why_cause_not_registered(&f.asked),
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
        None => skipped("vermagic", msg::why_no_file()),
        Some(file) => match file.vermagic_release() {
            Some(r) if r == k => pass("vermagic", msg::why_vermagic_ok(k)),
            other => {
                let got = other.unwrap_or("").to_string();
                fail(
                    "vermagic",
                    msg::why_vermagic_bad(&got, k),
                    msg::why_cause_vermagic(&got, k),
                    Some(cmd(f, "dkms", &format!("install {mv} -k {k} --force"))),
                )
            }
        },
    });
    // 6. Blacklists and install redirections.
    checks.push(modprobe_check(f));
    // 7. depends.
    checks.push(match file {
        None => skipped("depends", msg::why_no_file()),
        Some(file) if f.missing_depends.is_empty() => {
            pass("depends", msg::why_depends_ok(&file.depends(), k))
        }
        Some(_) => fail(
            "depends",
            msg::why_depends_missing(&f.missing_depends, k),
            msg::why_cause_depends(&f.missing_depends, k),
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
        None => skipped("compression", msg::why_no_file()),
        Some(file) => match file.compression.config_option() {
            None => pass("compression", msg::why_uncompressed()),
            Some(opt) if f.config_compress.iter().any(|o| o == opt) || !f.config_readable => pass(
                "compression",
                msg::why_compressed_ok(file.compression.name()),
            ),
            Some(opt) => fail(
                "compression",
                msg::why_compressed_bad(file.compression.name(), opt, k),
                msg::why_cause_compression(file.compression.name(), k, &f.config_compress),
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
                pass("kernel log", msg::why_log_quiet())
            } else {
                skipped("kernel log", msg::why_log_unreadable())
            }
        } else {
            fail(
                "kernel log",
                msg::why_log_refused(refusals.len()),
                if signature_refused {
                    msg::why_cause_log_signature()
                } else {
                    msg::why_cause_log()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Root;
    use crate::observe::modinfo::ModInfo;
    use crate::observe::modprobe_conf::ConfLine;
    use crate::observe::module_file::{Compression, ModuleFile};
    use crate::observe::signature::Signature;
    use crate::observe::why::{ConfFacts, DepFacts, Registration};
    use std::path::PathBuf;

    const K: &str = "6.1.0-57-amd64";

    /// The facts of hello/1.0 installed for K, which would load.
    fn loads() -> WhyFacts {
        let file = PathBuf::from(format!("/lib/modules/{K}/updates/dkms/hello.ko"));
        WhyFacts {
            asked: "hello".into(),
            kernel: K.into(),
            arch: "x86_64".into(),
            registration: Ok(Registration {
                module: "hello".into(),
                version: "1.0".into(),
                dest_name: "hello".into(),
            }),
            kernel_dir: true,
            headers: true,
            headers_package: format!("linux-headers-{K}"),
            conf: Some(Ok(ConfFacts {
                autoinstall: true,
                excluded_by: None,
                build_depends: Vec::new(),
            })),
            built: true,
            waiting_for: None,
            failed: None,
            installed_version: Some("1.0".into()),
            built_file: Some(PathBuf::from("/var/lib/dkms/hello/1.0/k/a/module/hello.ko")),
            installed_file: Some(file.clone()),
            same_as_built: true,
            file: Some(Ok(ModuleFile {
                path: file,
                compression: Compression::None,
                modinfo: ModInfo {
                    fields: vec![("vermagic".into(), format!("{K} SMP mod_unload"))],
                },
                signature: Signature::Unsigned,
            })),
            dep: DepFacts {
                exists: true,
                listed: Some("updates/dkms/hello.ko".into()),
            },
            overrides: Vec::new(),
            searches: Vec::new(),
            blacklist: Vec::new(),
            redirected: Vec::new(),
            missing_depends: Vec::new(),
            enforcement: None,
            sig_checked: true,
            keys: Default::default(),
            configured_cert: (PathBuf::from("/var/lib/dkms/mok.pub"), None),
            config_compress: Vec::new(),
            config_readable: true,
            running: None,
            root: Root::new(PathBuf::from("/")),
        }
    }

    fn names(v: &Verdict) -> Vec<&str> {
        v.checks.iter().map(|c| c.check).collect()
    }

    #[test]
    fn every_check_passes_in_order_and_the_module_loads() {
        let v = verdict(&loads());
        assert!(v.loads && v.cause.is_none(), "{v:#?}");
        assert_eq!(
            names(&v),
            [
                "registered",
                "built",
                "installed",
                "modules.dep",
                "vermagic",
                "modprobe.d",
                "depends",
                "signature",
                "compression"
            ]
        );
        assert!(v.checks.iter().all(|c| c.result == Outcome::Pass));
        assert!(
            render_text(&v).ends_with("hello would load on 6.1.0-57-amd64: every check passed.\n")
        );
    }

    #[test]
    fn the_first_failed_check_is_the_cause() {
        let mut f = loads();
        f.blacklist = vec![ConfLine {
            file: PathBuf::from("/etc/modprobe.d/x.conf"),
            line: 3,
            text: "blacklist hello".into(),
        }];
        f.dep.listed = None;
        let v = verdict(&f);
        assert!(!v.loads);
        assert_eq!(v.cause.as_ref().map(|c| c.check), Some("modules.dep"));
        assert_eq!(
            v.checks
                .iter()
                .filter(|c| c.result == Outcome::Fail)
                .count(),
            2
        );
        assert_eq!(
            v.cause.and_then(|c| c.fix).as_deref(),
            Some(format!("depmod -a {K}").as_str())
        );
    }

    #[test]
    fn an_unsigned_module_fails_only_where_signatures_are_required() {
        let mut f = loads();
        assert!(verdict(&f).loads);
        f.enforcement = Some("lockdown=integrity".into());
        let v = verdict(&f);
        assert_eq!(v.cause.as_ref().map(|c| c.check), Some("signature"));
        assert_eq!(
            v.cause.and_then(|c| c.fix).as_deref(),
            Some("dkms-hook sign hello/1.0 -k 6.1.0-57-amd64")
        );
    }

    #[test]
    fn without_a_file_the_file_checks_are_not_made() {
        let mut f = loads();
        f.built = false;
        f.installed_version = None;
        f.installed_file = None;
        f.file = None;
        f.headers = false;
        let v = verdict(&f);
        assert_eq!(v.cause.as_ref().map(|c| c.check), Some("built"));
        for c in ["installed", "modules.dep", "vermagic", "signature"] {
            let check = v.checks.iter().find(|x| x.check == c).expect(c);
            assert_eq!(check.result, Outcome::Skipped, "{c}");
        }
        assert_eq!(
            v.cause.and_then(|c| c.fix).as_deref(),
            Some("apt-get install linux-headers-6.1.0-57-amd64")
        );
    }
}
