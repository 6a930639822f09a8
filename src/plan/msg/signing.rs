//! Ours: the signing lifecycle (`dkms-hook sign`, half a key pair, the
//! signature fields of status).

use std::path::Path;

/// The hooks' error for a key whose certificate is missing.
pub fn sign_certificate_missing(key: &Path, cert: &Path) -> Vec<String> {
    vec![
        format!(
            "The signing key {} exists but its certificate {} does not; the key is kept and nothing is signed.",
            key.display(),
            cert.display()
        ),
        format!(
            "Put the certificate back from a backup, or make it from the key: openssl req -new -x509 -key {} -outform DER -out {} -days 36500 -subj '/CN=DKMS module signing key' -addext extendedKeyUsage=codeSigning (then enrol it: mokutil --import {})",
            key.display(),
            cert.display(),
            cert.display()
        ),
    ]
}

/// The hooks' error for a certificate whose key is missing.
pub fn sign_key_missing(key: &Path, cert: &Path) -> Vec<String> {
    vec![
        format!(
            "The signing certificate {} exists but its key {} does not; the certificate is kept and nothing is signed.",
            cert.display(),
            key.display()
        ),
        format!(
            "Put the key back from a backup, or set mok_signing_key and mok_certificate in framework.conf to another pair (a new pair must be enrolled again: mokutil --import)."
        ),
    ]
}

/// `dkms-hook sign`: nothing installed matches.
pub fn sign_nothing(what: &str, kernels: &[String]) -> String {
    if kernels.is_empty() {
        format!("{what}: nothing is installed to sign.")
    } else {
        format!(
            "{what}: nothing is installed for {} to sign.",
            kernels.join(", ")
        )
    }
}

/// `dkms-hook sign`: the kernel cannot check signatures.
pub fn sign_no_hash(k: &str) -> String {
    format!("{k} is built without module signing (no CONFIG_MODULE_SIG_HASH in its configuration): there is nothing to sign for.")
}

/// `dkms-hook sign`: no sign-file.
pub fn sign_no_sign_file(p: &Path) -> String {
    format!("{} is missing or not executable: it signs modules (set sign_file in framework.conf, or install the kernel headers).", p.display())
}

/// `dkms-hook sign`: no key pair at all.
pub fn sign_no_pair(key: &Path, cert: &Path) -> Vec<String> {
    vec![
        format!(
            "There is no signing key: neither {} nor {} exists.",
            key.display(),
            cert.display()
        ),
        "Make one with: dkms generate_mok (then enrol it: mokutil --import the certificate, and reboot).".into(),
    ]
}

/// `dkms-hook sign`: one file signed.
pub fn signed_file(p: &Path, signer: &str, key_id: &str) -> String {
    format!("signed {} (\"{signer}\", key {key_id})", p.display())
}

/// `dkms-hook sign`: one file failed.
pub fn sign_file_failed(p: &Path, why: &str) -> String {
    format!("cannot sign {}: {why}", p.display())
}

/// `dkms-hook sign`: a module signature that cannot be taken off.
pub const SIGN_CANNOT_STRIP: &str =
    "its current signature cannot be taken off (the end of the file is damaged)";

/// `dkms-hook sign`: sign-file left no signature we can read.
pub const SIGN_NOT_READABLE: &str = "sign-file left no signature this tool can read";

/// `dkms-hook sign`: the summary.
pub fn signed_summary(n: usize, failed: usize) -> String {
    if failed == 0 {
        format!("dkms-hook: signed {n} module file(s).")
    } else {
        format!("dkms-hook: signed {n} module file(s); {failed} could not be signed.")
    }
}

/// `dkms-hook sign`: the installed copy is not the built one.
pub fn sign_installed_differs(m: &str, v: &str, k: &str) -> String {
    format!("the installed copy is not the file dkms built (dkms status says Differences); install it again first: dkms install {m}/{v} -k {k} --force")
}
