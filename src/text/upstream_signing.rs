//! Upstream's lines of `prepare_signing`, `prepare_mok` and module
//! signing (also `dkms generate_mok`).

use std::path::Path;

/// Upstream's line when framework.conf's sign policy says no.
pub const SIGN_DISABLED: &str = "Module signing is disabled by policy, modules won't be signed";

/// Upstream's line in a chroot (where signing is off unless forced).
pub const SIGN_IN_CHROOT: &str = "Running in chroot, modules won't be signed";

/// Upstream's line when the kernel's config cannot be read.
pub fn sign_no_config(config: &Path) -> String {
    format!(
        "Kernel config {} not found, modules won't be signed",
        config.display()
    )
}

/// Upstream's line for a kernel without CONFIG_MODULE_SIG_HASH.
pub const SIGN_NO_FACILITY: &str =
    "The kernel is built without module signing facility, modules won't be signed";

/// Upstream's line naming the sign-file program.
pub fn sign_command(sign_file: &Path) -> String {
    format!("Sign command: {}", sign_file.display())
}

/// Upstream's line when the sign-file program is missing.
pub fn sign_no_binary(sign_file: &Path) -> String {
    format!(
        "Binary {} not found, modules won't be signed",
        sign_file.display()
    )
}

/// Upstream's line on Ubuntu without update-secureboot-policy.
pub const SIGN_NO_SECUREBOOT_POLICY: &str =
    "Binary update-secureboot-policy not found, modules won't be signed";

/// Upstream's line before Ubuntu's key pair is generated.
pub const SIGN_GENERATING_SHIM_KEY: &str =
    "Certificate or key are missing, generating them using update-secureboot-policy...";

/// Upstream's line naming the private key.
pub fn signing_key(key: &Path) -> String {
    format!("Signing key: {}", key.display())
}

/// Upstream's line naming the certificate.
pub fn public_certificate(cert: &Path) -> String {
    format!("Public certificate (MOK): {}", cert.display())
}

/// Upstream's line before a self-signed pair is generated.
pub const SIGN_GENERATING_SELF_SIGNED: &str =
    "Certificate or key are missing, generating self signed certificate for MOK...";

/// Upstream's line when openssl is missing.
pub const SIGN_NO_OPENSSL: &str = "openssl not found, can't generate key and certificate.";

/// Upstream's line when openssl ran but made no key.
pub fn sign_no_key(key: &Path) -> String {
    format!(
        "Key file {} not found and can't be generated, modules won't be signed",
        key.display()
    )
}

/// Upstream's line when there is no certificate after generating.
pub fn sign_no_certificate(cert: &Path) -> String {
    format!(
        "Certificate file {} not found and can't be generated, modules won't be signed",
        cert.display()
    )
}

/// Upstream's line before each module is signed.
pub fn signing_module(module: &Path) -> String {
    format!("Signing module {}", module.display())
}

/// Upstream's warning when sign-file fails (followed by its output).
pub fn sign_failed(module: &Path) -> String {
    format!("Failed to sign module '{}'!", module.display())
}
