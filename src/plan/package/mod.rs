//! Binary module packages ("build once, install everywhere"): what a
//! package of one installed module build for one kernel is called, what it
//! depends on and conflicts with, and the text of its control file, RPM
//! spec and maintainer scripts. Pure: the executor (`exec::package`)
//! gathers the files and runs dpkg-deb or rpmbuild.
//!
//! - [`naming`]: package names, versions and architectures, made valid
//!   for Debian and RPM;
//! - [`control`]: the `.deb`'s `DEBIAN/control`;
//! - [`scripts`]: the depmod the maintainer scripts run;
//! - [`rpm_spec`]: the spec rpmbuild builds the `.rpm` from;
//! - [`steps`]: the plans of `package`, `mkbmdeb` and `publish`.

pub mod control;
pub mod msg;
pub mod naming;
pub mod rpm_spec;
pub mod scripts;
pub mod steps;

use crate::observe::prebuilt::Prebuilt;

/// The two package formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Debian package, built with dpkg-deb.
    Deb,
    /// An RPM package, built with rpmbuild.
    Rpm,
}

impl Format {
    /// The format a distribution installs: `.deb` on Debian and its
    /// derivatives, `.rpm` elsewhere.
    pub fn native(distribution: &str) -> Format {
        if crate::observe::distro::is_debian_like(distribution) {
            Format::Deb
        } else {
            Format::Rpm
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Deb => "deb",
            Format::Rpm => "rpm",
        }
    }
}

/// One file of the payload: where it comes from on this host and where it
/// goes inside the package (an absolute path as installed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFile {
    /// The host path read.
    pub source: std::path::PathBuf,
    /// The installed path, e.g. `/lib/modules/K/updates/dkms/m.ko.xz`.
    pub dest: String,
}

/// Everything a binary module package holds and declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPackage {
    /// Package name: `<module>-modules-<kernel>`, made valid.
    pub name: String,
    /// The module version made a valid version of the format.
    pub version: String,
    /// The package architecture (Debian's or RPM's name for it).
    pub arch: String,
    /// The module files.
    pub files: Vec<PayloadFile>,
    /// The record shipped in the prebuilt directory (`dkms status` reads it).
    pub record: Prebuilt,
    /// The record's installed path.
    pub record_dest: String,
    /// The package this one conflicts with: the source-built `<module>-dkms`.
    pub conflicts: String,
    /// The kernel package this one depends on.
    pub depends: String,
    /// The module's license (from `.modinfo`), for RPM's License tag.
    pub license: String,
    /// Timestamps of every entry and the build time (SOURCE_DATE_EPOCH).
    pub epoch: u64,
}

/// Describe the package of the build `record` names, holding `files`, in
/// `format`: its name, version, architecture and relations.
pub fn package(
    format: Format,
    record: Prebuilt,
    files: Vec<PayloadFile>,
    license: &str,
    epoch: u64,
) -> BinaryPackage {
    let (m, v, k, a) = (
        record.module.as_str(),
        record.version.as_str(),
        record.kernel.as_str(),
        record.arch.as_str(),
    );
    let (version, arch, depends) = match format {
        Format::Deb => (
            naming::deb_version(v),
            naming::deb_arch(a),
            format!("linux-image-{k}"),
        ),
        Format::Rpm => (
            naming::rpm_version(v),
            a.to_string(),
            naming::rpm_kernel_requirement(k),
        ),
    };
    let record_dest = format!(
        "{}/{}",
        crate::layout::PREBUILT_DIR,
        crate::layout::prebuilt_file_name(m, v, k, a)
    );
    BinaryPackage {
        name: record.package.clone(),
        version,
        arch,
        files,
        conflicts: naming::dkms_package_name(m),
        depends,
        license: if license.trim().is_empty() {
            "Unknown".to_string()
        } else {
            license.trim().to_string()
        },
        record_dest,
        record,
        epoch,
    }
}

impl BinaryPackage {
    /// The package's file name: `name_version_arch.deb` or
    /// `name-version-1.arch.rpm`.
    pub fn file_name(&self, format: Format) -> String {
        match format {
            Format::Deb => format!("{}_{}_{}.deb", self.name, self.version, self.arch),
            Format::Rpm => format!(
                "{}-{}-{}.{}.rpm",
                self.name,
                self.version,
                rpm_spec::RELEASE,
                self.arch
            ),
        }
    }

    /// The record's bytes: pretty JSON with a final newline.
    pub fn record_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec_pretty(&self.record).unwrap_or_default();
        b.push(b'\n');
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> Prebuilt {
        Prebuilt {
            module: "acpi_call".into(),
            version: "1.2.2".into(),
            kernel: "6.1.0-18-amd64".into(),
            arch: "x86_64".into(),
            package: naming::package_name("acpi_call", "6.1.0-18-amd64"),
            files: vec!["/lib/modules/6.1.0-18-amd64/updates/dkms/acpi_call.ko".into()],
        }
    }

    #[test]
    fn debian_package_declares_kernel_and_conflict() {
        let p = package(Format::Deb, rec(), Vec::new(), "GPL", 0);
        assert_eq!(p.name, "acpi-call-modules-6.1.0-18-amd64");
        assert_eq!(p.depends, "linux-image-6.1.0-18-amd64");
        assert_eq!(p.conflicts, "acpi-call-dkms");
        assert_eq!(
            p.file_name(Format::Deb),
            "acpi-call-modules-6.1.0-18-amd64_1.2.2_amd64.deb"
        );
        assert_eq!(
            p.record_dest,
            "/usr/share/dkms-hook/prebuilt/acpi_call_1.2.2_6.1.0-18-amd64_x86_64.json"
        );
    }

    #[test]
    fn rpm_package_requires_the_exact_kernel() {
        let p = package(Format::Rpm, rec(), Vec::new(), "", 0);
        assert_eq!(p.depends, "/lib/modules/6.1.0-18-amd64/modules.builtin");
        assert_eq!(p.license, "Unknown");
        assert_eq!(
            p.file_name(Format::Rpm),
            "acpi-call-modules-6.1.0-18-amd64-1.2.2-1.x86_64.rpm"
        );
    }
}
