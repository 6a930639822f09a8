//! Upstream's text for `dkms build`: its checks, its errors, its lines.

/// Upstream's skip line when m/v is already built for k/a:
/// `Module m/v already built for kernel k (a), skip. ...`
pub fn already_built(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} already built for kernel {k} ({a}), skip. You may override by specifying --force.")
}

/// Upstream's missing-headers error (exit 21), naming where the headers
/// were looked for.
pub fn no_headers(install_tree: &str, k: &str) -> Vec<String> {
    vec![
        format!("Your kernel headers for kernel {k} cannot be found at {install_tree}/{k}/build or {install_tree}/{k}/source."),
        format!("Please install your distribution's kernel headers package matching {k}, or use the --kernelsourcedir option to tell DKMS where it's located."),
    ]
}
