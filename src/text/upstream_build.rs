//! Upstream's text for `dkms build`: its checks, its errors, its lines.

use std::path::Path;

use super::{consult, each_after_space, RELEASE};

/// Upstream's skip line when m/v is already built for k/a:
/// `Module m/v already built for kernel k (a), skip. ...`
pub fn already_built(m: &str, v: &str, k: &str, a: &str) -> String {
    format!("Module {m}/{v} already built for kernel {k} ({a}), skip. You may override by specifying --force.")
}

/// Upstream's missing-headers error (exit 21), naming where the headers
/// were looked for.
pub fn no_headers(install_tree: &str, k: &str) -> Vec<String> {
    vec![
        format!("Your kernel headers for kernel {k} cannot be found at {install_tree}/{k}/build or {install_tree}/{k}/source."),
        format!("Please install your distribution's kernel headers package matching {k}, or use the --kernelsourcedir option to tell DKMS where it's located."),
    ]
}

/// Upstream's `do_build` guard (exit 16) when the kernel or arch is empty.
pub const DO_BUILD_EMPTY_KERNEL: &str = "do_build: Empty $kernelver or $arch";

/// Upstream's refusal (exit 3) to build over a build directory that has no
/// `module` directory.
pub fn already_built_dir(k: &str, base_dir: &Path) -> Vec<String> {
    vec![
        format!("This module/version has already been built on: {k}"),
        format!(
            "Directory {} already exists. Use the dkms remove function before trying to build again.",
            base_dir.display()
        ),
    ]
}

/// Upstream's BUILD_EXCLUSIVE skip (exit 77, printed as a warning).
pub fn build_excluded(base_dir: &Path, m: &str, v: &str) -> Vec<String> {
    vec![
        format!("The {}/dkms.conf", base_dir.display()),
        format!("for module {m}/{v} includes BUILD_EXCLUSIVE directives"),
        "which do not match this kernel/arch/config for any modules.".to_string(),
        "This indicates that it should not be built.".to_string(),
    ]
}

/// Upstream's error (exit 8) for a source directory with nothing in it.
pub fn no_module_source(source_link: &Path) -> Vec<String> {
    vec![
        format!(
            "The directory {} does not appear to have module source located within it.",
            source_link.display()
        ),
        "Build halted.".to_string(),
    ]
}

/// Upstream's warning when `--force` builds despite missing BUILD_DEPENDS.
pub fn build_depends_forced(m: &str, v: &str, k: &str, a: &str, deps: &[String]) -> String {
    format!(
        "Trying to build module {m}/{v} for kernel {k} ({a}) despite of missing BUILD_DEPENDS:{}.",
        each_after_space(deps)
    )
}

/// Upstream's error (exit 13) for missing BUILD_DEPENDS.
pub fn build_depends_missing(m: &str, v: &str, k: &str, a: &str, deps: &[String]) -> Vec<String> {
    vec![
        format!(
            "Aborting build of module {m}/{v} for kernel {k} ({a}) due to missing BUILD_DEPENDS:{}.",
            each_after_space(deps)
        ),
        "You may override by specifying --force.".to_string(),
    ]
}

/// Upstream's first lines of a make.log: the release, what is built, and
/// the date.
pub fn make_log_header(m: &str, v: &str, k: &str, a: &str, date: &str) -> String {
    format!("DKMS ({RELEASE}) make.log for {m}/{v} for kernel {k} ({a})\n{date}\n")
}

/// Upstream's refusal (exit 5) of a PATCH with a `..` component.
pub fn patch_dotdot(p: &str) -> String {
    format!("Patch {p} as specified in dkms.conf contains '..' path component.")
}

/// Upstream's error (exit 5) for a PATCH that is not in `patches/`.
pub fn patch_missing(p: &str, build_dir: &Path) -> Vec<String> {
    vec![
        format!("Patch {p} as specified in dkms.conf cannot be"),
        format!("found in {}/patches/.", build_dir.display()),
    ]
}

/// Upstream's error (exit 6) for a patch that does not apply.
pub fn patch_failed(p: &str, log: &Path) -> Vec<String> {
    vec![format!("Application of patch {p} failed."), consult(log)]
}

/// Upstream's error (exit 10) when make fails.
pub fn make_failed(k: &str, a: &str, log: &Path) -> Vec<String> {
    vec![
        format!("Bad return status for module build on kernel: {k} ({a})"),
        consult(log),
    ]
}

/// Upstream's error (exit 7) when make succeeded but a module it should
/// have built is not there.
pub fn built_module_missing(
    location: &str,
    name: &str,
    k: &str,
    a: &str,
    log: &Path,
) -> Vec<String> {
    vec![
        format!("Build of {location}{name}.ko failed for: {k} ({a})"),
        "Make sure the name and location of the generated module are correct,".to_string(),
        format!("or consult {} for more information.", log.display()),
    ]
}

/// Upstream's error (exit 7) when the finished build cannot be moved into
/// place; `cause` is the OS error.
pub fn final_mv_failed(cause: &str) -> String {
    format!("do_build: final mv failed ({cause})")
}

/// Ours: the headers package's name where the distribution's naming is
/// not known.
pub fn headers_package_unknown(k: &str) -> String {
    format!("kernel headers for {k}")
}
