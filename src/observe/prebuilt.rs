//! Modules provided by binary module packages (`dkms-hook package`): each
//! package ships one small JSON record in [`PREBUILT_DIR`] naming the
//! module, version, kernel, arch and the files it installed. On a fleet
//! machine with no source, compiler or headers, these records are how
//! `dkms status` shows the module and how the hooks know not to wait for
//! headers to build it. A record that cannot be read or names something the
//! command line would refuse is skipped.
//!
//! [`PREBUILT_DIR`]: crate::layout::PREBUILT_DIR

use serde::{Deserialize, Serialize};

use crate::layout::{is_safe_component, Layout};
use crate::observe::version::sort_v_cmp;

/// Largest record read (a real one is a few hundred bytes).
const MAX_RECORD: u64 = 64 * 1024;

/// What one binary module package provides.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Prebuilt {
    /// The dkms module name.
    pub module: String,
    /// The module version.
    pub version: String,
    /// The kernel release it was built for.
    pub kernel: String,
    /// The arch it was built for.
    pub arch: String,
    /// The package that ships it.
    pub package: String,
    /// The module files it installed, as absolute paths inside the root.
    pub files: Vec<String>,
}

impl Prebuilt {
    /// The names are ones the command line would accept and every file is
    /// under `/lib/modules/<kernel>/` without `..`.
    pub fn is_sane(&self) -> bool {
        let lib = format!("/lib/modules/{}/", self.kernel);
        [&self.module, &self.version, &self.kernel, &self.arch]
            .iter()
            .all(|s| is_safe_component(s))
            && self
                .files
                .iter()
                .all(|f| f.starts_with(&lib) && !f.split('/').any(|c| c == ".." || c == "."))
    }
}

/// Every record under the root's [`Layout::prebuilt_dir`], sorted by
/// module, version (`sort -V`), kernel (`sort -V`) and arch.
pub fn read_all(layout: &Layout) -> Vec<Prebuilt> {
    let dir = layout.prebuilt_dir();
    let mut out: Vec<Prebuilt> = crate::fs::list_names(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .filter_map(|n| crate::fs::read_regular(&dir.join(n), MAX_RECORD).ok())
        .filter_map(|b| serde_json::from_slice::<Prebuilt>(&b).ok())
        .filter(Prebuilt::is_sane)
        .collect();
    out.sort_by(|x, y| {
        x.module
            .cmp(&y.module)
            .then_with(|| sort_v_cmp(&x.version, &y.version))
            .then_with(|| sort_v_cmp(&x.kernel, &y.kernel))
            .then_with(|| x.arch.cmp(&y.arch))
    });
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(files: &[&str]) -> Prebuilt {
        Prebuilt {
            module: "hello".into(),
            version: "1.0".into(),
            kernel: "6.1.0-1-amd64".into(),
            arch: "x86_64".into(),
            package: "hello-modules-6.1.0-1-amd64".into(),
            files: files.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn records_must_stay_under_their_kernel() {
        assert!(p(&["/lib/modules/6.1.0-1-amd64/updates/dkms/hello.ko"]).is_sane());
        assert!(!p(&["/lib/modules/6.1.0-1-amd64/../x/hello.ko"]).is_sane());
        assert!(!p(&["/etc/passwd"]).is_sane());
        let mut bad = p(&[]);
        bad.module = "../x".into();
        assert!(!bad.is_sane());
    }
}
