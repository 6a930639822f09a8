//! Names and versions of binary module packages, made valid for the
//! package formats: Debian package names are lowercase `[a-z0-9+.-]`,
//! start with a letter or digit and are at least two characters long;
//! Debian versions start with a digit and use `[A-Za-z0-9.+~]` (no `-`,
//! which would start a revision, no `:`, which would be an epoch); RPM
//! versions use `[A-Za-z0-9.+~_^]` and no `-`.

/// A Debian-valid package name from `s`: lowercase, `_` becomes `-`, any
/// other character outside `[a-z0-9+.-]` becomes `-`; a name that would
/// not start with a letter or digit gets a leading `0`.
pub fn debian_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.insert(0, '0');
    }
    if out.len() < 2 {
        out.push('0');
    }
    out
}

/// `<module>-modules-<kernel>`, made a valid package name (the same name
/// serves RPM, whose rules are looser).
pub fn package_name(module: &str, kernel: &str) -> String {
    debian_name(&format!("{module}-modules-{kernel}"))
}

/// `<module>-dkms`, the source package a binary one conflicts with.
pub fn dkms_package_name(module: &str) -> String {
    debian_name(&format!("{module}-dkms"))
}

/// `v` made a valid Debian version: characters outside `[A-Za-z0-9.+~]`
/// become `+`; a version that does not start with a digit gets `0+` in
/// front (so `git20240101` becomes `0+git20240101`).
pub fn deb_version(v: &str) -> String {
    version_with(v, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~')
    })
}

/// `v` made a valid RPM version: characters outside `[A-Za-z0-9.+~_^]`
/// become `+`; a version that does not start with a digit gets `0+`.
pub fn rpm_version(v: &str) -> String {
    version_with(v, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '_' | '^')
    })
}

fn version_with(v: &str, ok: impl Fn(char) -> bool) -> String {
    let body: String = v.chars().map(|c| if ok(c) { c } else { '+' }).collect();
    if body.starts_with(|c: char| c.is_ascii_digit()) {
        body
    } else {
        format!("0+{body}")
    }
}

/// What an `.rpm` of modules for kernel `k` requires: the exact kernel,
/// as RPM distributions' kernel packages provide it
/// (`kernel-core-uname-r = 6.5.6-300.fc39.x86_64`): a release of their
/// shape, `<version>-<release>` whose release part holds a `.`
/// (`300.fc39.x86_64`). Any other release (Debian's `6.1.0-18-amd64` and
/// `6.12.118+deb13-amd64`, Ubuntu's `6.8.0-51-generic`, SUSE's
/// `6.4.0-150600.23.7-default`) is no kernel such a package provides; the
/// package then requires a file only that kernel's package ships,
/// `/lib/modules/<k>/modules.builtin`.
pub fn rpm_kernel_requirement(k: &str) -> String {
    match k.split_once('-') {
        Some((_, release)) if !release.contains('-') && release.contains('.') => {
            format!("kernel-core-uname-r = {k}")
        }
        _ => format!("/lib/modules/{k}/modules.builtin"),
    }
}

/// Debian's name for a machine architecture (`uname -m`).
pub fn deb_arch(machine: &str) -> String {
    match machine {
        "x86_64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "i386" | "i486" | "i586" | "i686" => "i386",
        "armv7l" | "armv7" | "armhf" => "armhf",
        "ppc64le" => "ppc64el",
        "loongarch64" => "loong64",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("acpi_call", "6.1.0-18-amd64", "acpi-call-modules-6.1.0-18-amd64")]
    #[case(
        "v4l2loopback",
        "6.1.0-18-amd64",
        "v4l2loopback-modules-6.1.0-18-amd64"
    )]
    #[case(
        "NVIDIA_Thing",
        "6.5.6-300.fc39.x86_64",
        "nvidia-thing-modules-6.5.6-300.fc39.x86-64"
    )]
    #[case("_x", "6.1+rt", "0-x-modules-6.1+rt")]
    #[case(
        "v4l2loopback",
        "6.12.118+deb13-amd64",
        "v4l2loopback-modules-6.12.118+deb13-amd64"
    )]
    #[case(
        "acpi_call",
        "6.12.118+deb13-cloud-amd64",
        "acpi-call-modules-6.12.118+deb13-cloud-amd64"
    )]
    #[case(
        "vhba",
        "6.12.118+deb13-rt-amd64",
        "vhba-modules-6.12.118+deb13-rt-amd64"
    )]
    #[case("vhba", "6.8.0-51-generic", "vhba-modules-6.8.0-51-generic")]
    #[case("vhba", "6.8.0-51-lowlatency", "vhba-modules-6.8.0-51-lowlatency")]
    #[case("Vhba", "6.8.0-1019-AWS", "vhba-modules-6.8.0-1019-aws")]
    fn package_names(#[case] m: &str, #[case] k: &str, #[case] want: &str) {
        assert_eq!(package_name(m, k), want);
    }

    #[rstest]
    #[case("1.2.2", "1.2.2", "1.2.2")]
    #[case("0.12.7-2", "0.12.7+2", "0.12.7+2")]
    #[case("git20240101", "0+git20240101", "0+git20240101")]
    #[case("1:2.0_rc1", "1+2.0+rc1", "1+2.0_rc1")]
    #[case("1.0~beta", "1.0~beta", "1.0~beta")]
    fn versions(#[case] v: &str, #[case] deb: &str, #[case] rpm: &str) {
        assert_eq!(deb_version(v), deb);
        assert_eq!(rpm_version(v), rpm);
    }

    #[test]
    fn names_are_never_too_short() {
        assert_eq!(debian_name("a"), "a0");
        assert_eq!(debian_name(""), "00");
    }

    #[rstest]
    #[case("6.5.6-300.fc39.x86_64", "kernel-core-uname-r = 6.5.6-300.fc39.x86_64")]
    #[case("5.14.0-427.el9.x86_64", "kernel-core-uname-r = 5.14.0-427.el9.x86_64")]
    #[case("6.1.0-18-amd64", "/lib/modules/6.1.0-18-amd64/modules.builtin")]
    #[case(
        "6.12.118+deb13-amd64",
        "/lib/modules/6.12.118+deb13-amd64/modules.builtin"
    )]
    #[case(
        "6.12.118+deb13-rt-amd64",
        "/lib/modules/6.12.118+deb13-rt-amd64/modules.builtin"
    )]
    #[case("6.8.0-51-generic", "/lib/modules/6.8.0-51-generic/modules.builtin")]
    #[case(
        "6.4.0-150600.23.7-default",
        "/lib/modules/6.4.0-150600.23.7-default/modules.builtin"
    )]
    #[case("6.9.1", "/lib/modules/6.9.1/modules.builtin")]
    fn rpm_kernel_requirements(#[case] k: &str, #[case] want: &str) {
        assert_eq!(rpm_kernel_requirement(k), want);
    }

    #[rstest]
    #[case("x86_64", "amd64")]
    #[case("aarch64", "arm64")]
    #[case("i686", "i386")]
    #[case("ppc64le", "ppc64el")]
    #[case("s390x", "s390x")]
    fn arches(#[case] m: &str, #[case] want: &str) {
        assert_eq!(deb_arch(m), want);
    }
}
