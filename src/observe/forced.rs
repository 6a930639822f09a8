//! Upstream's forced installs: files under
//! `/usr/share/dkms/modules_to_force_install/` list module names to install
//! with `--force`, or `<module>_version-override` to skip only the version
//! check; and framework.conf's `build_environment` file, whose exported
//! variables reach every build.

use std::path::Path;
use std::process::Command;

use crate::child::Run;

use crate::layout::Root;

/// What the force lists say for `module`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    /// Not listed.
    No,
    /// Listed: install as with `--force`.
    Force,
    /// Listed as `<module>_version-override`.
    VersionOverride,
}

/// Every word of the force lists under the root.
pub fn force_words(root: &Root) -> Vec<String> {
    let dir = root.join("/usr/share/dkms/modules_to_force_install");
    let mut words = Vec::new();
    for name in crate::fs::list_names(&dir) {
        if let Ok(text) = crate::fs::read_regular_text(&dir.join(name), 1 << 20) {
            words.extend(text.split_whitespace().map(str::to_string));
        }
    }
    words
}

/// What the force lists (`words`, from [`force_words`]) say for `module`.
pub fn forced(words: &[String], module: &str) -> Forced {
    let vo = format!("{module}_version-override");
    for w in words {
        if w == module {
            return Forced::Force;
        }
        if *w == vo {
            return Forced::VersionOverride;
        }
    }
    Forced::No
}

/// The variables a `build_environment` file exports, evaluated by bash with
/// its output discarded (as upstream sources it). Empty when unset or unreadable.
pub fn build_environment(file: Option<&Path>) -> Vec<(String, String)> {
    let Some(f) = file.filter(|f| f.is_file()) else {
        return Vec::new();
    };
    let out = Command::new("bash")
        .args([
            "--norc",
            "--noprofile",
            "-c",
            "set -a; . \"$1\" >/dev/null 2>&1; env -0",
            "bash",
        ])
        .arg(f)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .run_stdout();
    // Upstream sources it and goes on whatever it does: so do we.
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            log::debug!("{e}");
            return Vec::new();
        }
    };
    out.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            (!matches!(k, "PATH" | "PWD" | "SHLVL" | "_" | "OLDPWD"))
                .then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_environment_exports_assignments() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("env");
        std::fs::write(&f, "FOO=bar\nexport BAZ=\"a b\"\necho noise\n").unwrap();
        let env = build_environment(Some(&f));
        assert!(
            env.contains(&("FOO".to_string(), "bar".to_string())),
            "{env:?}"
        );
        assert!(
            env.contains(&("BAZ".to_string(), "a b".to_string())),
            "{env:?}"
        );
        assert!(build_environment(Some(&d.path().join("missing"))).is_empty());
    }
}
