//! Upstream's text for `dkms install`.

/// Upstream's skip line when m/v is already installed on k/a:
/// `Module m/v already installed on kernel k (a), skip. ...`
pub fn already_installed(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} already installed on kernel {k} ({a}), skip. You may override by specifying --force.")
}
