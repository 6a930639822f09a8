//! Upstream's text for `dkms uninstall`, `unbuild` and `remove`.

/// Upstream's skip line when there is nothing to uninstall:
/// `Module m/v is not installed for kernel k (a). Skipping...`
pub fn not_installed(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} is not installed for kernel {k} ({a}). Skipping...")
}

/// Upstream's skip line when there is nothing to unbuild:
/// `Module m/v is not built for kernel k (a). Skipping...`
pub fn not_built(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} is not built for kernel {k} ({a}). Skipping...")
}
