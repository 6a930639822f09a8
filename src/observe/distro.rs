//! The running distribution, read from os-release the way upstream's
//! `distro_version()` does, and the module-location rule that depends on it.

use crate::error::{Error, Result};
use crate::layout::Root;
use crate::text;

/// Upstream's `running_distribution`: `ubuntu` for Ubuntu, else the first
/// `ID_LIKE` string when set, else `ID`. Read from `/etc/os-release`, then
/// `/usr/lib/os-release`, under the root.
pub fn running_distribution(root: &Root) -> Result<String> {
    for f in ["/etc/os-release", "/usr/lib/os-release"] {
        let p = root.join(f);
        if std::fs::symlink_metadata(&p).is_err() {
            continue;
        }
        // A FIFO or device there must not hang or flood us: refused, and
        // the next candidate is tried, as for a missing file.
        if let Ok(text) = crate::fs::read_regular_text(&p, 64 * 1024) {
            return Ok(from_os_release(&text));
        }
    }
    Err(Error::unusable([text::NO_OS_RELEASE]))
}

/// The distribution name from os-release text (see [`running_distribution`]).
pub fn from_os_release(text: &str) -> String {
    let mut id = String::new();
    let mut id_like = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
            match k.trim() {
                "ID" => id = v,
                "ID_LIKE" => id_like = v,
                _ => {}
            }
        }
    }
    if id == "ubuntu" {
        id
    } else if !id_like.is_empty() {
        id_like
    } else {
        id
    }
}

/// True on Debian and its derivatives (Debian, Ubuntu), where module
/// packages and headers follow Debian's names.
pub fn is_debian_like(distribution: &str) -> bool {
    distribution.starts_with("debian") || distribution.starts_with("ubuntu")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("ID=debian\nVERSION_ID=\"12\"\n", "debian")]
    #[case("ID=ubuntu\nID_LIKE=debian\n", "ubuntu")]
    #[case("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", "ubuntu debian")]
    #[case("ID=\"rhel\"\nID_LIKE=\"fedora\"\n", "fedora")]
    #[case("ID=fedora\n", "fedora")]
    #[case("ID=arch\n", "arch")]
    fn distro_from_os_release(#[case] text: &str, #[case] want: &str) {
        assert_eq!(from_os_release(text), want);
    }

    #[test]
    fn missing_os_release_is_exit_4() {
        let d = tempfile::tempdir().unwrap();
        let e = running_distribution(&Root::new(d.path())).unwrap_err();
        assert_eq!(e.code(), 4);
        assert_eq!(e.lines(), ["System is missing os-release file."]);
    }
}
