//! GRUB as the root has it: the menu entries of `grub.cfg` with their ids
//! (what `grub-reboot` and `saved_entry` name), the environment block
//! `grubenv`, and whether `/etc/default/grub` says `GRUB_DEFAULT=saved`.
//! Only read: `/etc/default/grub` is the administrator's and never written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::layout::Root;
use crate::observe::boot::BootEntry;

/// Size of GRUB's environment block (`grub-editenv create` makes it so).
pub const ENV_BLOCK: usize = 1024;

/// The first line of the environment block.
pub const ENV_HEADER: &str = "# GRUB Environment Block\n";

/// GRUB in a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grub {
    /// The directory of grub.cfg and grubenv (host path).
    pub dir: PathBuf,
    /// The menu entries that boot a kernel (recovery entries left out).
    pub entries: Vec<BootEntry>,
    /// The environment block as read (empty when there is none).
    pub env: BTreeMap<String, String>,
    /// `GRUB_DEFAULT=saved`: the default is `saved_entry`.
    pub saved: bool,
}

impl Grub {
    /// The environment block's path.
    pub fn env_file(&self) -> PathBuf {
        self.dir.join("grubenv")
    }
}

/// Find GRUB in `root`: `/boot/grub/grub.cfg` (Debian) or
/// `/boot/grub2/grub.cfg` (Fedora, SUSE).
pub fn observe(root: &Root) -> Option<Grub> {
    let dir = ["/boot/grub", "/boot/grub2"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| d.join("grub.cfg").is_file())?;
    let cfg = crate::fs::read_regular_text(&dir.join("grub.cfg"), 16 << 20).ok()?;
    let mut entries = menu_entries(&cfg);
    if cfg.lines().any(|l| l.trim() == "blscfg") {
        entries.extend(crate::observe::boot::bls::entries(
            &root.join("/boot/loader/entries"),
            false,
        ));
    }
    let env = crate::fs::read_regular_text(&dir.join("grubenv"), ENV_BLOCK as u64 * 4)
        .map(|t| parse_env(&t))
        .unwrap_or_default();
    Some(Grub {
        dir,
        entries,
        env,
        saved: grub_default(root).as_deref() == Some("saved"),
    })
}

/// `GRUB_DEFAULT` from `/etc/default/grub` and `/etc/default/grub.d/*.cfg`
/// (the last assignment wins, as update-grub sources them).
fn grub_default(root: &Root) -> Option<String> {
    let mut files = vec![root.join("/etc/default/grub")];
    let d = root.join("/etc/default/grub.d");
    let mut extra: Vec<PathBuf> = crate::fs::list_names(&d)
        .into_iter()
        .filter(|n| n.ends_with(".cfg"))
        .map(|n| d.join(n))
        .collect();
    extra.sort();
    files.extend(extra);
    let mut value = None;
    for f in files {
        let Ok(t) = crate::fs::read_regular_text(&f, 1 << 20) else {
            continue;
        };
        if let Ok(raw) =
            crate::observe::conf::static_reader::read_static(&t, &BTreeMap::new(), true)
        {
            if raw.vars.contains_key("GRUB_DEFAULT") {
                value = Some(raw.scalar("GRUB_DEFAULT").to_string());
            }
        }
    }
    value
}

/// The `key=value` lines of an environment block.
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An environment block holding `env`, as `grub-editenv` writes it: the
/// header, one `key=value` line each, `#` up to [`ENV_BLOCK`] bytes. `None`
/// when it does not fit (or a value holds a newline).
pub fn render_env(env: &BTreeMap<String, String>) -> Option<Vec<u8>> {
    let mut s = String::from(ENV_HEADER);
    for (k, v) in env {
        if k.contains(['\n', '=']) || v.contains('\n') {
            return None;
        }
        s.push_str(&format!("{k}={v}\n"));
    }
    if s.len() > ENV_BLOCK {
        return None;
    }
    let mut b = s.into_bytes();
    b.resize(ENV_BLOCK, b'#');
    Some(b)
}

/// The kernel-booting menu entries of a grub.cfg, each with the id GRUB
/// selects it by: the ids (or titles, for an entry without one) of its
/// submenus and itself, joined by `>`.
pub fn menu_entries(cfg: &str) -> Vec<BootEntry> {
    // Each open block: Some(id) for a menu entry or submenu, None for
    // another block (a function, an if).
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut current: Option<(String, String, Option<String>, bool)> = None;
    let mut out = Vec::new();
    for line in cfg.lines() {
        let words = split_words(line.trim());
        let Some(first) = words.first() else {
            continue;
        };
        match first.as_str() {
            "menuentry" | "submenu" if line.trim_end().ends_with('{') => {
                let title = words.get(1).cloned().unwrap_or_default();
                let id = words
                    .iter()
                    .position(|w| w == "$menuentry_id_option" || w == "--id")
                    .and_then(|i| words.get(i + 1))
                    .cloned()
                    .unwrap_or_else(|| title.clone());
                if first == "menuentry" {
                    let path: Vec<String> = stack.iter().flatten().cloned().collect();
                    let mut full = path.join(">");
                    if !full.is_empty() {
                        full.push('>');
                    }
                    full.push_str(&id);
                    let recovery = title.contains("recovery mode") || id.contains("recovery");
                    current = Some((full, title, None, recovery));
                }
                stack.push(Some(id));
            }
            "linux" | "linux16" | "linuxefi" if current.is_some() => {
                if let (Some(c), Some(image)) = (current.as_mut(), words.get(1)) {
                    let name = Path::new(image)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    c.2 = name.strip_prefix("vmlinuz-").map(str::to_string);
                    if words
                        .iter()
                        .skip(2)
                        .any(|w| w == "single" || w == "recovery")
                    {
                        c.3 = true;
                    }
                }
            }
            "}" => {
                if let Some(Some(_)) = stack.pop() {
                    if let Some((id, title, Some(kernel), false)) = current.take() {
                        out.push(BootEntry { id, title, kernel });
                    }
                    current = None;
                }
            }
            _ if line.trim_end().ends_with('{') => stack.push(None),
            _ => {}
        }
    }
    out
}

/// The words of a grub.cfg line, with `'..'`, `".."` and `\` quoting
/// undone (enough for menu entry lines; no expansion).
fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                has = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    cur.push(d);
                }
            }
            '"' => {
                has = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        _ => cur.push(d),
                    }
                }
            }
            '\\' => {
                has = true;
                cur.extend(chars.next());
            }
            '#' if !has => break,
            c if c.is_whitespace() => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                has = true;
                cur.push(c);
            }
        }
    }
    if has {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape update-grub writes on Debian 12.
    pub const DEBIAN_CFG: &str = r#"
function load_video {
  if [ x$feature_all_video_module = xy ]; then
    insmod all_video
  fi
}
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-1234' {
	load_video
	linux	/boot/vmlinuz-6.1.0-2-amd64 root=UUID=1234 ro  quiet
	initrd	/boot/initrd.img-6.1.0-2-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-1234' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-2-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-2-amd64-advanced-1234' {
		linux	/boot/vmlinuz-6.1.0-2-amd64 root=UUID=1234 ro  quiet
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-2-amd64 (recovery mode)' --class debian $menuentry_id_option 'gnulinux-6.1.0-2-amd64-recovery-1234' {
		linux	/boot/vmlinuz-6.1.0-2-amd64 root=UUID=1234 ro single
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-1-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-1-amd64-advanced-1234' {
		linux	/boot/vmlinuz-6.1.0-1-amd64 root=UUID=1234 ro  quiet
	}
}
"#;

    #[test]
    fn debian_menu_ids() {
        let e = menu_entries(DEBIAN_CFG);
        let ids: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.id.as_str(), e.kernel.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("gnulinux-simple-1234", "6.1.0-2-amd64"),
                (
                    "gnulinux-advanced-1234>gnulinux-6.1.0-2-amd64-advanced-1234",
                    "6.1.0-2-amd64"
                ),
                (
                    "gnulinux-advanced-1234>gnulinux-6.1.0-1-amd64-advanced-1234",
                    "6.1.0-1-amd64"
                ),
            ]
        );
    }

    #[test]
    fn env_block_round_trip() {
        let mut env = BTreeMap::new();
        env.insert("next_entry".to_string(), "a>b".to_string());
        let b = render_env(&env).unwrap();
        assert_eq!(b.len(), ENV_BLOCK);
        assert_eq!(parse_env(&String::from_utf8(b).unwrap()), env);
        env.insert("x".into(), "y".repeat(2000));
        assert!(render_env(&env).is_none());
    }
}
