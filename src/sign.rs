//! Module signing: find the kernel's `sign-file`, the MOK key and
//! certificate (creating them like upstream when missing), and sign a module.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::expand_kernel_vars;
use crate::context::Ctx;
use crate::distro::is_debian_like;
use crate::error::{Error, Result};
use crate::kernel::Kernel;

/// What signing a module for one kernel needs.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The `sign-file` program.
    pub sign_file: PathBuf,
    /// CONFIG_MODULE_SIG_HASH (e.g. sha256).
    pub hash: String,
    /// Private key.
    pub key: PathBuf,
    /// DER certificate.
    pub cert: PathBuf,
}

/// Upstream's `prepare_signing`: decide whether modules for `kernel` get
/// signed, printing the same lines. `None` means no signing.
pub fn prepare(ctx: &Ctx, kernel: &Kernel, arch: &str) -> Option<Signer> {
    let s = &ctx.settings;
    if matches!(
        s.try_sign_modules.to_ascii_lowercase().as_str(),
        "no" | "false" | "0"
    ) {
        return None;
    }
    let config = ctx.kernel_config(kernel);
    if !config.is_file() {
        crate::output::line(&format!(
            "Kernel config {} not found, modules won't be signed",
            config.display()
        ));
        return None;
    }
    let hash = match crate::kernel::config_file_value(&config, "CONFIG_MODULE_SIG_HASH") {
        Some(h) => h,
        None => {
            crate::output::line(
                "The kernel is built without module signing facility, modules won't be signed",
            );
            return None;
        }
    };
    let kver = &kernel.version;
    let sign_file = if !s.sign_file.is_empty() {
        s.root.join(expand_kernel_vars(&s.sign_file, kver, arch))
    } else {
        let mut p = PathBuf::new();
        if is_debian_like(&ctx.distribution) && ctx.distribution.starts_with("debian") {
            let short = kver.rsplit_once('.').map(|x| x.0).unwrap_or(kver);
            p = s
                .root
                .join(format!("/usr/lib/linux-kbuild-{short}/scripts/sign-file"));
        }
        if !p.is_file() {
            p = s.install_tree.join(kver).join("build/scripts/sign-file");
        }
        p
    };
    crate::output::line(&format!("Sign command: {}", sign_file.display()));
    if !is_executable(&sign_file) {
        crate::output::line(&format!(
            "Binary {} not found, modules won't be signed",
            sign_file.display()
        ));
        return None;
    }
    let (key, cert) = key_paths(ctx, kver, arch);
    match ensure_mok(&key, &cert) {
        Ok(()) => Some(Signer {
            sign_file,
            hash,
            key,
            cert,
        }),
        Err(msg) => {
            crate::output::line(&msg);
            None
        }
    }
}

/// The configured (or default) key and certificate paths.
pub fn key_paths(ctx: &Ctx, kver: &str, arch: &str) -> (PathBuf, PathBuf) {
    let s = &ctx.settings;
    let pick = |v: &str, default: &str| {
        if v.is_empty() {
            s.root.join(default)
        } else {
            s.root.join(expand_kernel_vars(v, kver, arch))
        }
    };
    (
        pick(&s.mok_signing_key, "/var/lib/dkms/mok.key"),
        pick(&s.mok_certificate, "/var/lib/dkms/mok.pub"),
    )
}

/// Upstream's `prepare_mok` minus the distribution-specific key locations:
/// print the paths, generate a self-signed key pair when missing.
pub fn ensure_mok(key: &Path, cert: &Path) -> std::result::Result<(), String> {
    crate::output::line(&format!("Signing key: {}", key.display()));
    crate::output::line(&format!("Public certificate (MOK): {}", cert.display()));
    if !key.is_file() || !cert.is_file() {
        crate::output::line(
            "Certificate or key are missing, generating self signed certificate for MOK...",
        );
        generate(key, cert)?;
    }
    if !cert.is_file() {
        return Err(format!(
            "Certificate file {} not found and can't be generated, modules won't be signed",
            cert.display()
        ));
    }
    Ok(())
}

/// Create a 2048-bit RSA key (mode 0600) and a DER certificate with the
/// codeSigning extended key usage, valid for 100 years, as upstream does.
pub fn generate(key: &Path, cert: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = key.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Some(dir) = cert.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // Create the key file 0600 before openssl writes into it, so it is never readable by others.
    let _ = std::fs::remove_file(key);
    if let Ok(f) = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(key)
    {
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
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
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let _ = std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600));
    match status {
        Err(_) => Err("openssl not found, can't generate key and certificate.".into()),
        Ok(_) if std::fs::metadata(key).map(|m| m.len() > 0).unwrap_or(false) => Ok(()),
        Ok(_) => {
            let _ = std::fs::remove_file(key);
            Err(format!(
                "Key file {} not found and can't be generated, modules won't be signed",
                key.display()
            ))
        }
    }
}

impl Signer {
    /// Sign `module` in place; on failure upstream only warns.
    pub fn sign(&self, module: &Path) {
        crate::output::line(&format!("Signing module {}", module.display()));
        let out = Command::new(&self.sign_file)
            .arg(&self.hash)
            .arg(&self.key)
            .arg(&self.cert)
            .arg(module)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stderr).into_owned()
                    + &String::from_utf8_lossy(&o.stdout);
                eprintln!(
                    "Warning: Failed to sign module '{}'!\n{}",
                    module.display(),
                    text.trim_end()
                );
            }
            Err(e) => eprintln!(
                "Warning: Failed to sign module '{}'!\n{e}",
                module.display()
            ),
        }
    }
}

/// `dkms generate_mok`: create the key pair if missing, printing upstream's lines.
pub fn generate_mok(ctx: &Ctx) -> Result<()> {
    let (key, cert) = key_paths(ctx, "", "");
    ensure_mok(&key, &cert).map_err(|m| Error::msg(1, m))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
