//! Upstream's text for `dkms autoinstall` (and `kernel_postinst`).

/// Upstream's line before each module autoinstall tries:
/// `Autoinstall of module m/v for kernel k (a)`
pub fn autoinstall_of(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Autoinstall of module {m}/{v} for kernel {k} ({a})")
}
