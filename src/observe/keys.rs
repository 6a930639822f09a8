//! Where the module signing key and certificate are: framework.conf's
//! `mok_signing_key` and `mok_certificate` (with `${kernelver}` and
//! `${arch}` expanded), else Ubuntu's shim pair, else upstream's pair under
//! `/var/lib/dkms`. A key given as a PKCS#11 URI (`pkcs11:...`) is a token,
//! not a path: it is passed to sign-file as written, never under the root.

use std::path::PathBuf;

use crate::observe::settings::expand_kernel_vars;
use crate::observe::Host;

/// Ubuntu's shim MOK pair, used when no key is configured.
pub const UBUNTU_KEY: &str = "/var/lib/shim-signed/mok/MOK.priv";
/// Ubuntu's shim MOK certificate.
pub const UBUNTU_CERT: &str = "/var/lib/shim-signed/mok/MOK.der";

/// Whether a key names a PKCS#11 object rather than a file.
pub fn is_pkcs11(key: &std::path::Path) -> bool {
    key.to_string_lossy().starts_with("pkcs11:")
}

/// The configured key and certificate (host paths; a PKCS#11 key as
/// written), or the distribution's default pair; the flag says the pair is
/// Ubuntu's shim one.
pub fn key_paths(host: &Host, kver: &str, arch: &str) -> (PathBuf, PathBuf, bool) {
    let s = &host.settings;
    let root = &host.layout.root;
    let ubuntu = host.distribution.starts_with("ubuntu") && s.mok_signing_key.is_empty();
    let pick = |v: &str, default: &str, ubuntu_default: &str| {
        if !v.is_empty() {
            let v = expand_kernel_vars(v, kver, arch);
            if v.starts_with("pkcs11:") {
                PathBuf::from(v)
            } else {
                root.join(v)
            }
        } else if ubuntu {
            root.join(ubuntu_default)
        } else {
            root.join(default)
        }
    };
    (
        pick(&s.mok_signing_key, "/var/lib/dkms/mok.key", UBUNTU_KEY),
        pick(&s.mok_certificate, "/var/lib/dkms/mok.pub", UBUNTU_CERT),
        ubuntu,
    )
}
