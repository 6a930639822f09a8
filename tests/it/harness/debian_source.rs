//! Debian's own `*-dkms` packages for the real-kernel tier: unpacked from the
//! archive by `tests/real/fetch-sources.sh` into a cache, and found there by
//! the name and version their dkms.conf declares.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::repo;

/// The cache that `tests/real/fetch-sources.sh` fills.
pub fn source_cache() -> PathBuf {
    std::env::var_os("DKMS_HOOK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("tests/.cache"))
}

/// A Debian `*-dkms` package unpacked from the archive: its source dir and
/// the name and version its dkms.conf declares.
pub struct DebianSource {
    /// `.../usr/src/<name>-<version>` in the cache.
    pub dir: PathBuf,
    /// PACKAGE_NAME.
    pub name: String,
    /// PACKAGE_VERSION.
    pub version: String,
}

/// The value of a plain `KEY=value` / `KEY="value"` line in a dkms.conf.
fn conf_value(conf: &str, key: &str) -> Option<String> {
    conf.lines().find_map(|l| {
        let v = l.trim().strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

fn find_source(pkg: &str) -> Option<DebianSource> {
    let usr_src = source_cache().join("src").join(pkg).join("usr/src");
    let dir = fs::read_dir(&usr_src)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("dkms.conf").is_file())?;
    let conf = fs::read_to_string(dir.join("dkms.conf")).ok()?;
    let name = conf_value(&conf, "PACKAGE_NAME")?;
    let version = conf_value(&conf, "PACKAGE_VERSION")?;
    Some(DebianSource { dir, name, version })
}

/// Serialises calls to fetch-sources.sh from parallel tests (the script also
/// takes a file lock against other processes).
static FETCH: Mutex<()> = Mutex::new(());

/// The unpacked source of Debian package `pkg` (e.g. `tp-smapi-dkms`),
/// running `tests/real/fetch-sources.sh` first if the cache lacks it.
pub fn debian_source(pkg: &str) -> DebianSource {
    if let Some(s) = find_source(pkg) {
        return s;
    }
    {
        let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
        if find_source(pkg).is_none() {
            let script = repo().join("tests/real/fetch-sources.sh");
            let st = Command::new("bash")
                .arg(&script)
                .stdout(Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                st.success(),
                "{} failed ({st}); it needs the Debian archive (apt-get download)",
                script.display()
            );
        }
    }
    let s = find_source(pkg).unwrap_or_else(|| {
        panic!(
            "fetch-sources.sh ran but {pkg} is not in {}",
            source_cache().display()
        )
    });
    let dirname = s
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert_eq!(
        dirname,
        format!("{}-{}", s.name, s.version),
        "{pkg}: source dir name does not match its dkms.conf"
    );
    s
}
