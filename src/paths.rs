//! Where things live. Every absolute path the tool touches goes through
//! [`Root`], so `--root DIR` / `DKMS_ROOT` can point the whole tool at an image
//! or a throwaway test root without chrooting.

use std::path::{Component, Path, PathBuf};

/// The root prefix (`/` normally). Absolute paths from configuration,
/// defaults and symlink targets are re-based under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
}

impl Default for Root {
    fn default() -> Self {
        Root {
            dir: PathBuf::from("/"),
        }
    }
}

impl Root {
    /// A root at `dir` (`/` means no prefix).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Root { dir: dir.into() }
    }

    /// The prefix directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when there is no prefix.
    pub fn is_slash(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// `p` (an absolute path as seen inside the root) as a path on this host.
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        let p = p.as_ref();
        if self.is_slash() {
            return p.to_path_buf();
        }
        let rel: PathBuf = p
            .components()
            .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
            .collect();
        self.dir.join(rel)
    }

    /// The inverse of [`Root::join`]: a host path under the root as the path
    /// seen inside it (used for symlink targets written into the trees).
    pub fn inside(&self, host: &Path) -> PathBuf {
        if self.is_slash() {
            return host.to_path_buf();
        }
        match host.strip_prefix(&self.dir) {
            Ok(rest) => Path::new("/").join(rest),
            Err(_) => host.to_path_buf(),
        }
    }

    /// Resolve the target of symlink `link` as the system inside the root
    /// would: absolute targets are re-based under the root, relative ones are
    /// taken from the link's directory. `None` if `link` is not a symlink.
    pub fn read_link(&self, link: &Path) -> Option<PathBuf> {
        let target = std::fs::read_link(link).ok()?;
        if target.is_absolute() {
            Some(self.join(&target))
        } else {
            Some(link.parent().unwrap_or(Path::new("/")).join(target))
        }
    }
}

/// True if `name` is safe as a single path component for a module name,
/// version, kernel version or arch: not empty, not `.`/`..`, no `/`, no
/// whitespace or control characters, and no leading `-`.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('-')
        && !name
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/", "/var/lib/dkms", "/var/lib/dkms")]
    #[case("/tmp/r", "/var/lib/dkms", "/tmp/r/var/lib/dkms")]
    #[case("/tmp/r", "/", "/tmp/r")]
    fn join_rebases(#[case] root: &str, #[case] p: &str, #[case] want: &str) {
        assert_eq!(Root::new(root).join(p), PathBuf::from(want));
    }

    #[rstest]
    #[case("v4l2loopback", true)]
    #[case("0.12.7", true)]
    #[case("a/b", false)]
    #[case("..", false)]
    #[case("a b", false)]
    #[case("a\nb", false)]
    #[case("-rf", false)]
    #[case("", false)]
    fn safe_components(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(is_safe_component(s), ok);
    }
}
