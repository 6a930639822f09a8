//! The configuration of modprobe and depmod that can keep a module from
//! loading: `blacklist` and `install` lines in `modprobe.d`, and the
//! `override` and `search` lines of `depmod.d` that decide which of two
//! files with the same module name `modules.dep` lists. Read under the
//! root in kmod's order: a file name in an earlier directory hides the
//! same name in a later one.

use std::path::{Path, PathBuf};

use crate::layout::Root;
use crate::observe::module_file::normalized;

/// Where kmod reads `modprobe.d` files, first wins.
pub const MODPROBE_DIRS: &[&str] = &[
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
];

/// Where kmod reads `depmod.d` files, first wins.
pub const DEPMOD_DIRS: &[&str] = &[
    "/etc/depmod.d",
    "/run/depmod.d",
    "/usr/local/lib/depmod.d",
    "/usr/lib/depmod.d",
    "/lib/depmod.d",
];

/// One configuration line that concerns a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfLine {
    /// The file, as seen inside the root.
    pub file: PathBuf,
    /// Its line number (from 1).
    pub line: usize,
    /// The line as written.
    pub text: String,
}

/// The `*.conf` files of `dirs` under `root`, in kmod's order (sorted by
/// name; a name seen in an earlier directory hides later ones), each with
/// its path inside the root.
fn conf_files(root: &Root, dirs: &[&str]) -> Vec<(PathBuf, PathBuf)> {
    let mut seen = std::collections::BTreeMap::new();
    for d in dirs {
        let host = root.join(d);
        for n in crate::fs::list_names(&host) {
            if n.ends_with(".conf") && !seen.contains_key(&n) {
                seen.insert(n.clone(), (host.join(&n), Path::new(d).join(&n)));
            }
        }
    }
    seen.into_values().collect()
}

/// The lines of the configuration files in `dirs` whose first word is
/// one of `keywords` and whose second word names `module` (or `*`).
fn lines_about(root: &Root, dirs: &[&str], keywords: &[&str], module: &str) -> Vec<ConfLine> {
    let want = normalized(module);
    let mut out = Vec::new();
    for (host, inside) in conf_files(root, dirs) {
        let Ok(text) = crate::fs::read_regular_text(&host, 1 << 20) else {
            continue;
        };
        for (i, l) in text.lines().enumerate() {
            let mut w = l.split_whitespace();
            let (Some(k), Some(m)) = (w.next(), w.next()) else {
                continue;
            };
            if keywords.contains(&k) && (normalized(m) == want || m == "*") {
                out.push(ConfLine {
                    file: inside.clone(),
                    line: i + 1,
                    text: l.trim().to_string(),
                });
            }
        }
    }
    out
}

/// `blacklist MODULE` lines.
pub fn blacklisted(root: &Root, module: &str) -> Vec<ConfLine> {
    lines_about(root, MODPROBE_DIRS, &["blacklist"], module)
}

/// `install MODULE COMMAND` lines whose command only fails or does
/// nothing (`/bin/false`, `/bin/true`, ...): modprobe then never loads it.
pub fn redirected(root: &Root, module: &str) -> Vec<ConfLine> {
    lines_about(root, MODPROBE_DIRS, &["install"], module)
        .into_iter()
        .filter(|c| {
            let cmd: Vec<&str> = c.text.split_whitespace().skip(2).collect();
            matches!(
                cmd.first().map(|p| p.rsplit('/').next().unwrap_or(p)),
                Some("false" | "true")
            ) && cmd.len() == 1
        })
        .collect()
}

/// depmod.d `override MODULE KVER DIR` lines that apply to kernel `k`.
pub fn overrides(root: &Root, module: &str, k: &str) -> Vec<ConfLine> {
    lines_about(root, DEPMOD_DIRS, &["override"], module)
        .into_iter()
        .filter(|c| {
            let kv = c.text.split_whitespace().nth(2).unwrap_or("");
            kv == "*" || kv == k
        })
        .collect()
}

/// depmod.d `search` lines (they order the directories for every module).
pub fn searches(root: &Root) -> Vec<ConfLine> {
    let mut out = Vec::new();
    for (host, inside) in conf_files(root, DEPMOD_DIRS) {
        let Ok(text) = crate::fs::read_regular_text(&host, 1 << 20) else {
            continue;
        };
        for (i, l) in text.lines().enumerate() {
            if l.split_whitespace().next() == Some("search") {
                out.push(ConfLine {
                    file: inside.clone(),
                    line: i + 1,
                    text: l.trim().to_string(),
                });
            }
        }
    }
    out
}

/// Module names on a kernel command line's `modprobe.blacklist=` and
/// `module_blacklist=`.
pub fn cmdline_blacklist(cmdline: &str) -> Vec<String> {
    cmdline
        .split_whitespace()
        .filter_map(|w| {
            w.strip_prefix("modprobe.blacklist=")
                .or_else(|| w.strip_prefix("module_blacklist="))
        })
        .flat_map(|v| v.split(','))
        .map(normalized)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_directories_hide_later_files() {
        let d = tempfile::tempdir().unwrap();
        let r = Root::new(d.path().to_path_buf());
        std::fs::create_dir_all(r.join("/etc/modprobe.d")).unwrap();
        std::fs::create_dir_all(r.join("/lib/modprobe.d")).unwrap();
        std::fs::write(r.join("/lib/modprobe.d/a.conf"), "blacklist hello\n").unwrap();
        std::fs::write(r.join("/lib/modprobe.d/b.conf"), "# x\nblacklist hel_lo2\n").unwrap();
        std::fs::write(
            r.join("/etc/modprobe.d/a.conf"),
            "install hello /bin/false\ninstall other /sbin/modprobe --ignore-install other\n",
        )
        .unwrap();
        assert!(blacklisted(&r, "hello").is_empty());
        let b = blacklisted(&r, "hel-lo2");
        assert_eq!(
            (b[0].file.as_path(), b[0].line),
            (Path::new("/lib/modprobe.d/b.conf"), 2)
        );
        assert_eq!(redirected(&r, "hello")[0].text, "install hello /bin/false");
        assert!(redirected(&r, "other").is_empty());
        assert_eq!(
            cmdline_blacklist("quiet modprobe.blacklist=a-b,c module_blacklist=d"),
            ["a_b", "c", "d"]
        );
    }
}
