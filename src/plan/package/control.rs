//! The `.deb`'s `DEBIAN/control`: fixed field order and content, so the
//! same build gives the same bytes.

use super::BinaryPackage;
use crate::plan::package::msg;

/// The control file; `installed_kib` is the payload's size in KiB.
pub fn control(p: &BinaryPackage, installed_kib: u64) -> String {
    let r = &p.record;
    let (summary, body) = (
        msg::package_summary(&r.module, &r.version, &r.kernel),
        msg::package_description(&r.module, &r.kernel, &p.conflicts),
    );
    let body: String = body
        .lines()
        .map(|l| {
            if l.is_empty() {
                " .\n".to_string()
            } else {
                format!(" {l}\n")
            }
        })
        .collect();
    format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {}\nInstalled-Size: {installed_kib}\n\
         Depends: {}\nConflicts: {}\nSection: kernel\nPriority: optional\nDescription: {summary}\n{body}",
        p.name,
        p.version,
        p.arch,
        msg::PACKAGE_MAINTAINER,
        p.depends,
        p.conflicts,
    )
}

#[cfg(test)]
mod tests {
    use super::super::{naming, package, Format};
    use super::*;
    use crate::observe::prebuilt::Prebuilt;

    #[test]
    fn control_fields() {
        let r = Prebuilt {
            module: "hello".into(),
            version: "1.0".into(),
            kernel: "6.1.0-1-amd64".into(),
            arch: "x86_64".into(),
            package: naming::package_name("hello", "6.1.0-1-amd64"),
            files: Vec::new(),
        };
        let c = control(&package(Format::Deb, r, Vec::new(), "GPL", 0), 12);
        for want in [
            "Package: hello-modules-6.1.0-1-amd64\n",
            "Version: 1.0\n",
            "Architecture: amd64\n",
            "Installed-Size: 12\n",
            "Depends: linux-image-6.1.0-1-amd64\n",
            "Conflicts: hello-dkms\n",
        ] {
            assert!(c.contains(want), "{want:?} not in\n{c}");
        }
        assert!(c.ends_with('\n'));
        assert!(
            !c.contains("\n\n"),
            "no empty line inside a paragraph:\n{c}"
        );
    }
}
