//! systemd-boot and other Boot Loader Specification loaders as the root
//! has them: the entries in `loader/entries/*.conf` of the ESP (or
//! `$BOOT`), `loader/loader.conf`'s `default`, and, on the running system,
//! the `LoaderEntryDefault` EFI variable `bootctl set-default` writes
//! (which wins over loader.conf).

use std::path::{Path, PathBuf};

use crate::layout::{looks_like_kernel, Root};
use crate::observe::boot::BootEntry;

/// The vendor GUID of systemd-boot's EFI variables.
pub const LOADER_GUID: &str = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

/// A BLS loader in a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bls {
    /// The partition holding `loader/` (host path).
    pub esp: PathBuf,
    /// Entries, each with its id (the file name, `.conf` included, boot
    /// counting suffix taken off, as bootctl shows it).
    pub entries: Vec<BootEntry>,
    /// loader.conf's `default`, when set.
    pub default: Option<String>,
    /// loader.conf as read ("" when there is none): a change keeps every
    /// other line.
    pub conf_text: String,
    /// The `LoaderEntryDefault` EFI variable, on the running system.
    pub efi_default: Option<String>,
    /// `bootctl` can set the EFI variable (the running system, booted with
    /// EFI, bootctl present).
    pub efi_writable: bool,
}

impl Bls {
    /// loader.conf's path.
    pub fn loader_conf(&self) -> PathBuf {
        self.esp.join("loader/loader.conf")
    }
}

/// Find a BLS loader in `root`: the first of `/efi`, `/boot/efi` and
/// `/boot` with a `loader/loader.conf` or `loader/entries/`.
pub fn observe(root: &Root) -> Option<Bls> {
    let esp = ["/efi", "/boot/efi", "/boot"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| d.join("loader/loader.conf").is_file() || d.join("loader/entries").is_dir())?;
    let mut entries = entries(&esp.join("loader/entries"), true);
    let xbootldr = root.join("/boot");
    if xbootldr != esp {
        entries.extend(self::entries(&xbootldr.join("loader/entries"), true));
    }
    let conf_text =
        crate::fs::read_regular_text(&esp.join("loader/loader.conf"), 1 << 20).unwrap_or_default();
    let default = loader_default(&conf_text);
    let efi = Path::new("/sys/firmware/efi/efivars");
    let running = root.is_slash() && efi.is_dir();
    let efi_default = running
        .then(|| efi_string(&efi.join(format!("LoaderEntryDefault-{LOADER_GUID}"))))
        .flatten();
    Some(Bls {
        esp,
        entries,
        default,
        conf_text,
        efi_default,
        efi_writable: running && crate::child::in_path("bootctl"),
    })
}

/// The entries of one `loader/entries` directory. `with_suffix`: the id
/// keeps `.conf` (systemd-boot's ids); GRUB's blscfg names them without.
pub fn entries(dir: &Path, with_suffix: bool) -> Vec<BootEntry> {
    let mut names = crate::fs::list_names(dir);
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let stem = name.strip_suffix(".conf")?;
            // Boot counting: `ID+LEFT[-DONE].conf` is entry `ID.conf`.
            let stem = stem.split_once('+').map_or(stem, |(s, _)| s);
            let text = crate::fs::read_regular_text(&dir.join(&name), 1 << 16).ok()?;
            let (title, kernel) = parse_entry(&text);
            let id = if with_suffix {
                format!("{stem}.conf")
            } else {
                stem.to_string()
            };
            Some(BootEntry {
                id,
                title,
                kernel: kernel?,
            })
        })
        .collect()
}

/// An entry's title and kernel version (`version`, else the kernel-looking
/// directory or `vmlinuz-` name of its `linux` path).
fn parse_entry(text: &str) -> (String, Option<String>) {
    let mut title = String::new();
    let mut version = None;
    let mut from_linux = None;
    for l in text.lines() {
        let Some((k, v)) = l.trim().split_once(char::is_whitespace) else {
            continue;
        };
        let v = v.trim();
        match k {
            "title" => title = v.to_string(),
            "version" => version = Some(v.to_string()),
            "linux" => {
                from_linux = v.split('/').rev().find_map(|c| {
                    let c = c.strip_prefix("vmlinuz-").unwrap_or(c);
                    looks_like_kernel(c).then(|| c.to_string())
                })
            }
            _ => {}
        }
    }
    (title, version.or(from_linux))
}

/// loader.conf's `default` value.
pub fn loader_default(text: &str) -> Option<String> {
    text.lines().rev().find_map(|l| {
        let (k, v) = l.trim().split_once(char::is_whitespace)?;
        (k == "default").then(|| v.trim().to_string())
    })
}

/// loader.conf with its `default` line set to `value` (or taken out when
/// `None`); every other line kept.
pub fn with_default(text: &str, value: Option<&str>) -> String {
    let mut out = String::new();
    let mut done = false;
    for l in text.lines() {
        let is_default = l
            .trim()
            .split_once(char::is_whitespace)
            .is_some_and(|(k, _)| k == "default");
        if is_default {
            if let (Some(v), false) = (value, done) {
                out.push_str(&format!("default {v}\n"));
                done = true;
            }
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    if let (Some(v), false) = (value, done) {
        out.push_str(&format!("default {v}\n"));
    }
    out
}

/// An EFI variable holding a UTF-16LE string (after its 4 attribute bytes).
fn efi_string(p: &Path) -> Option<String> {
    let b = crate::fs::read_regular(p, 4096).ok()?;
    let units: Vec<u16> = b
        .get(4..)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    let s = String::from_utf16(&units).ok()?;
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_conf_default_is_replaced_in_place() {
        let t = "timeout 3\ndefault old.conf\neditor no\n";
        assert_eq!(loader_default(t).as_deref(), Some("old.conf"));
        assert_eq!(
            with_default(t, Some("new.conf")),
            "timeout 3\ndefault new.conf\neditor no\n"
        );
        assert_eq!(with_default(t, None), "timeout 3\neditor no\n");
        assert_eq!(
            with_default("timeout 3\n", Some("a.conf")),
            "timeout 3\ndefault a.conf\n"
        );
    }

    #[test]
    fn entry_versions() {
        let (t, k) =
            parse_entry("title Debian\nversion 6.1.0-2-amd64\nlinux /x/6.1.0-2-amd64/linux\n");
        assert_eq!(
            (t.as_str(), k.as_deref()),
            ("Debian", Some("6.1.0-2-amd64"))
        );
        let (_, k) = parse_entry("title X\nlinux /vmlinuz-6.1.0-3-amd64\n");
        assert_eq!(k.as_deref(), Some("6.1.0-3-amd64"));
    }
}
