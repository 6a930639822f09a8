//! Reading one value from a kernel configuration file (`.config` or
//! `include/config/auto.conf`), for signing and compiler selection.

use std::path::Path;

/// The value of `name=...` in the config file at `path`, with surrounding
/// double quotes removed; `None` when the file or the line is missing.
pub fn config_value_in(path: &Path, name: &str) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text);
    let prefix = format!("{name}=");
    text.lines().find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().trim_matches('"').to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_and_plain_values() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".config");
        std::fs::write(&p, "# c\nCONFIG_MODULE_SIG_HASH=\"sha256\"\nCONFIG_X=y\n").unwrap();
        assert_eq!(config_value_in(&p, "CONFIG_MODULE_SIG_HASH").as_deref(), Some("sha256"));
        assert_eq!(config_value_in(&p, "CONFIG_X").as_deref(), Some("y"));
        assert_eq!(config_value_in(&p, "CONFIG_Y"), None);
        assert_eq!(config_value_in(&d.path().join("nope"), "CONFIG_X"), None);
    }
}
