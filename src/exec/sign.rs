//! Module signing as upstream's `prepare_signing` / `prepare_mok` decide
//! it: policy (`try_sign_modules`), chroots, the kernel's signing facility,
//! the `sign-file` program, the MOK key pair (shim's on Ubuntu, created
//! like upstream when missing), and signing one module.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::child::{self, Run};
use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::{Ctx, Locked};
use crate::observe::kernel::KernelFacts;
use crate::observe::settings::expand_kernel_vars;
use crate::observe::BuildFacts;
use crate::observe::Host;
use crate::report::Say;
use crate::text;

/// What signing a module for one kernel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The `sign-file` program.
    pub sign_file: PathBuf,
    /// CONFIG_MODULE_SIG_HASH (e.g. sha256).
    pub hash: String,
    /// Private key (or a `pkcs11:` URI).
    pub key: PathBuf,
    /// DER certificate.
    pub cert: PathBuf,
}

/// Upstream's `prepare_signing` for `kernel`, printing the same lines.
/// `None` means modules are not signed. A `sign-file`, key or certificate
/// another user can change is an error (exit 1): the build fails rather
/// than run that program as root, sign with a key others hold or can
/// swap, or replace a signed module that loads by an unsigned one that
/// Secure Boot refuses; the module built before stays.
pub fn prepare(
    host: &Host,
    lock: &Locked,
    say: &mut dyn Say,
    kernel: &KernelFacts,
    build: &BuildFacts,
    arch: &str,
) -> Result<Option<Signer>> {
    let s = &host.settings;
    let policy = s.try_sign_modules.as_str();
    if policy == "false" {
        say.line(text::SIGN_DISABLED);
        return Ok(None);
    }
    if policy != "true" && host.in_chroot {
        say.line(text::SIGN_IN_CHROOT);
        return Ok(None);
    }
    let config = &kernel.config;
    if !build.config_exists {
        say.line(&text::sign_no_config(config));
        return Ok(None);
    }
    let Some(hash) = build.sig_hash.clone() else {
        say.line(text::SIGN_NO_FACILITY);
        return Ok(None);
    };
    let kver = kernel.version();
    let sign_file = sign_file_path(host, kver, arch);
    say.line(&text::sign_command(&sign_file));
    if !child::is_executable(&sign_file) {
        say.line(&text::sign_no_binary(&sign_file));
        return Ok(None);
    }
    if let Some(u) = host.trust.of(&sign_file) {
        return Err(Error::denied([u.line()]));
    }
    let Some((key, cert)) = prepare_mok(host, lock, say, kver, arch)? else {
        return Ok(None);
    };
    Ok(Some(Signer {
        sign_file,
        hash,
        key,
        cert,
    }))
}

/// The `sign-file` program for `kver`: framework.conf's `sign_file`, else
/// the distribution's place for it, else the kernel's build tree.
pub fn sign_file_path(host: &Host, kver: &str, arch: &str) -> PathBuf {
    let s = &host.settings;
    let root = &host.layout.root;
    if !s.sign_file.is_empty() {
        root.join(expand_kernel_vars(&s.sign_file, kver, arch))
    } else {
        let d = &host.distribution;
        let mut p = PathBuf::new();
        if d.starts_with("debian") {
            let short = kver.rsplit_once('.').map(|x| x.0).unwrap_or(kver);
            p = root.join(format!("/usr/lib/linux-kbuild-{short}/scripts/sign-file"));
        } else if d.starts_with("ubuntu") {
            p = child::which("kmodsign").unwrap_or_else(|| {
                root.join(format!("/usr/src/linux-headers-{kver}/scripts/sign-file"))
            });
        } else if d.starts_with("gentoo") {
            p = root.join(format!("/usr/src/linux-{kver}/scripts/sign-file"));
        }
        if !p.is_file() {
            p = host
                .layout
                .install
                .join(kver)
                .join("build/scripts/sign-file");
        }
        p
    }
}

pub use crate::observe::keys::key_paths;

/// Upstream's `prepare_mok`: on Ubuntu shim's pair, made by
/// `update-secureboot-policy --new-key` when missing; elsewhere the
/// configured pair, or a self-signed one created under `/var/lib/dkms`.
/// A key or certificate another user can change, or could put in place
/// before it is created, is an error (exit 1).
pub fn prepare_mok(
    host: &Host,
    lock: &Locked,
    say: &mut dyn Say,
    kver: &str,
    arch: &str,
) -> Result<Option<(PathBuf, PathBuf)>> {
    let (key, cert, ubuntu) = key_paths(host, kver, arch);
    let pkcs11 = crate::observe::keys::is_pkcs11(&key);
    if ubuntu && !key.is_file() && !cert.is_file() {
        let Some(usp) = child::which("update-secureboot-policy") else {
            say.line(text::SIGN_NO_SECUREBOOT_POLICY);
            return Ok(None);
        };
        say.line(text::SIGN_GENERATING_SHIM_KEY);
        // Upstream runs both and checks for the files afterwards (below).
        let made = Command::new(&usp)
            .arg("--new-key")
            .env("SHIM_NOTRIGGER", "y")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .run_status();
        log::debug!("update-secureboot-policy --new-key: {made:?}");
        // --enroll-key asks for a password on the terminal: its streams stay ours.
        let enrolled = Command::new(&usp).arg("--enroll-key").run_status();
        log::debug!("update-secureboot-policy --enroll-key: {enrolled:?}");
    }
    say.line(&text::signing_key(&key));
    say.line(&text::public_certificate(&cert));
    let files = if pkcs11 {
        vec![&cert]
    } else {
        vec![&key, &cert]
    };
    if let Some(u) = files.into_iter().find_map(|f| host.trust.of(f)) {
        return Err(Error::denied([u.line()]));
    }
    // Half a pair is never completed by making a new one: that would
    // replace a key or certificate that may be enrolled.
    if let Some(missing) = half_pair(&key, &cert, pkcs11) {
        return half_pair_outcome(say, &key, &cert, missing);
    }
    if !pkcs11 && (!key.is_file() || !cert.is_file()) {
        say.line(text::SIGN_GENERATING_SELF_SIGNED);
        if let Err(msg) = generate(lock, &key, &cert) {
            say.line(&msg);
            return Ok(None);
        }
    }
    if !cert.is_file() {
        say.line(&text::sign_no_certificate(&cert));
        return Ok(None);
    }
    Ok(Some((key, cert)))
}

/// Which half of the key pair is missing while the other exists: the
/// certificate (`true`) or the key (`false`); `None` when both or neither
/// exist (a PKCS#11 key lives in its token: only the certificate counts).
pub(crate) fn half_pair(key: &Path, cert: &Path, pkcs11: bool) -> Option<bool> {
    let has_key = pkcs11 || key.is_file();
    match (has_key, cert.is_file()) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// What half a key pair gives: `dkms` signs nothing and says so in
/// upstream's words (upstream would make a new pair over the half that
/// exists); the hooks and `dkms-hook sign` fail with what to do.
fn half_pair_outcome(
    say: &mut dyn Say,
    key: &Path,
    cert: &Path,
    cert_missing: bool,
) -> Result<Option<(PathBuf, PathBuf)>> {
    if say.style() == crate::report::Style::Upstream {
        say.line(&if cert_missing {
            text::sign_no_certificate(cert)
        } else {
            text::sign_no_key(key)
        });
        return Ok(None);
    }
    Err(Error::denied(if cert_missing {
        msg::sign_certificate_missing(key, cert)
    } else {
        msg::sign_key_missing(key, cert)
    }))
}

/// Create a 2048-bit RSA key (mode 0600) and a DER certificate with the
/// codeSigning extended key usage, valid for 100 years, as upstream does.
pub fn generate(lock: &Locked, key: &Path, cert: &Path) -> std::result::Result<(), String> {
    if !crate::child::in_path("openssl") {
        return Err(text::SIGN_NO_OPENSSL.into());
    }
    // The key file is created 0600 before openssl writes into it, so it is
    // never readable by others; never through a symlink.
    let dir = parent(key);
    if let Err(e) = lock.write_atomic(dir, key, b"", 0o600) {
        return Err(text::sign_no_key(key) + ": " + &crate::error::os_error(&e));
    }
    let status = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-x509",
            "-nodes",
            "-days",
            "36500",
            "-subj",
            "/CN=DKMS module signing key",
        ])
        .args(["-newkey", "rsa:2048", "-keyout"])
        .arg(key)
        .args([
            "-addext",
            "extendedKeyUsage=codeSigning",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(cert)
        .run_ok();
    if let Err(e) = &status {
        log::debug!("{e}");
    }
    // openssl keeps the mode of the file it writes into; make sure.
    let kept_private = lock.set_mode(dir, key, 0o600);
    match status {
        Err(e) if e.start.is_some() => Err(text::SIGN_NO_OPENSSL.into()),
        _ if kept_private.is_ok()
            && std::fs::metadata(key).map(|m| m.len() > 0).unwrap_or(false) =>
        {
            Ok(())
        }
        _ => {
            // An empty or exposed key is no key: it goes (best effort; the
            // error below says the key could not be made).
            let _ = lock.remove_file(dir, key);
            Err(text::sign_no_key(key))
        }
    }
}

impl Signer {
    /// Sign `module` in place; on failure upstream only warns.
    pub fn sign(&self, say: &mut dyn Say, module: &Path) {
        say.line(&text::signing_module(module));
        if let Err(failure) = self.sign_file(module) {
            say.warning(&[text::sign_failed(module), failure]);
        }
    }

    /// Run sign-file on `module` (in place); its output when it fails. A
    /// key behind a passphrase or a PKCS#11 PIN takes it from
    /// `KBUILD_SIGN_PIN`, which sign-file reads from our environment.
    pub fn sign_file(&self, module: &Path) -> std::result::Result<(), String> {
        let out = child::spawn(
            Command::new(&self.sign_file)
                .arg(&self.hash)
                .arg(&self.key)
                .arg(&self.cert)
                .arg(module)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        )
        .and_then(|c| c.wait_with_output());
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => {
                let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&o.stderr));
                Err(text.trim_end().to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// `dkms generate_mok`: create the key pair if missing, printing upstream's lines.
pub fn generate_mok(cx: &mut Ctx, lock: &Locked, say: &mut dyn Say) -> Result<()> {
    prepare_mok(&cx.world.host, lock, say, "", "")?.ok_or_else(|| Error::msg("").shown())?;
    Ok(())
}

/// The directory a key or certificate is written in (its confinement).
fn parent(p: &Path) -> &Path {
    p.parent().unwrap_or(Path::new("/"))
}
