//! Turn the raw dkms.conf variables into a [`ModuleConf`] for one kernel and
//! arch, exactly as upstream's `read_conf` (and `read_conf_strict`) do:
//! defaults, validation (`dkms.conf: Error! ...` lines), MAKE/MAKE_MATCH and
//! PATCH/PATCH_MATCH selection, BUILD_EXCLUSIVE_* evaluation and the
//! distribution's module location.
//!
//! Warnings: `ModuleConf::deprecations` holds, in upstream's order, every
//! line upstream prints on stderr for a conf that is accepted: the
//! `Deprecated feature: X (file)` lines and, last, `dkms.conf: Warning! Zero
//! modules specified.` (strict mode only, like upstream). Callers print them
//! verbatim.
//!
//! Upstream's "Module name/location array length mismatch" check compares
//! arrays that read_conf itself fills for every index, so it can never fire;
//! it has no counterpart here.

use super::bash_eval::DIRECTIVES;
use super::clang::kernel_uses_clang;
use super::ere::{ere_match, ere_no_match};
use super::{ConfContext, ModuleConf, ModuleRecord, RawConf, Reader};
use crate::observe::version::ver_key;
use crate::text;

/// How to resolve a dkms.conf beyond the raw variables.
#[derive(Debug, Clone, Default)]
pub struct ResolveOpts {
    /// The running distribution as upstream's `distro_version()` reports it
    /// (os-release `ID` for ubuntu, else the first `ID_LIKE`, else `ID`):
    /// decides the DEST_MODULE_LOCATION override.
    pub distribution: String,
    /// Also apply `read_conf_strict`'s checks (add/build/install).
    pub strict: bool,
    /// `--directive NAME=VALUE`, applied after reading as element 0.
    pub directives: Vec<(String, String)>,
    /// The dkms.conf path named in messages.
    pub conf_path: String,
}

/// Resolve `raw` for `ctx.kernelver`/`ctx.arch`. On failure the `Err` holds
/// the `dkms.conf: Error! ...` lines upstream prints, in its order.
///
/// Deprecation warnings are computed from `raw` as one file named
/// `opts.conf_path`; the returned `reader` is [`Reader::Static`] (use
/// [`load`] for the full pipeline, which fills both in properly).
pub fn resolve(
    raw: &RawConf,
    ctx: &ConfContext,
    opts: &ResolveOpts,
) -> Result<ModuleConf, Vec<String>> {
    let deprecations = if opts.strict {
        deprecation_lines(raw, &opts.conf_path)
    } else {
        Vec::new()
    };
    resolve_with(raw, ctx, opts, deprecations, Reader::Static)
}

/// Upstream's `Deprecated feature: NAME (file)` lines for the variables set
/// after sourcing `file`.
pub fn deprecation_lines(raw: &RawConf, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    let set = |n: &str| !raw.indices(n).is_empty();
    if set("CLEAN") && !matches!(raw.scalar("CLEAN"), "true" | "/bin/true" | "/usr/bin/true") {
        out.push(text::deprecated_directive("CLEAN", file));
    }
    for n in [
        "REMAKE_INITRD",
        "MODULES_CONF",
        "MODULES_CONF_OBSOLETES",
        "MODULES_CONF_ALIAS_TYPE",
        "MODULES_CONF_OBSOLETE_ONLY",
    ] {
        if set(n) {
            out.push(text::deprecated_directive(n, file));
        }
    }
    if set("OBSOLETE_BY") {
        out.push(text::deprecated_obsolete_by(file));
    }
    out
}

/// The DEST_MODULE_LOCATION upstream installs to on `distribution` (when
/// `ADDON_MODULES_DIR` is not set in the environment; [`resolve`] handles that).
pub fn override_dest_module_location(distribution: &str, orig: &str) -> String {
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| distribution.starts_with(p));
    if starts(&["fedora", "rhel", "ovm"]) {
        "/extra".into()
    } else if starts(&["sles", "suse", "opensuse"]) {
        "/updates".into()
    } else if starts(&["debian", "ubuntu", "arch"]) {
        "/updates/dkms".into()
    } else {
        orig.into()
    }
}

/// [`resolve`] with precomputed deprecation lines and the reader used.
pub(crate) fn resolve_with(
    raw: &RawConf,
    ctx: &ConfContext,
    opts: &ResolveOpts,
    deprecations: Vec<String>,
    reader: Reader,
) -> Result<ModuleConf, Vec<String>> {
    let mut raw = raw.clone();
    for (name, value) in &opts.directives {
        raw.set(name, 0, value.clone());
    }
    let raw = &raw;
    let mut errors: Vec<String> = Vec::new();

    let package_name = raw.scalar("PACKAGE_NAME").to_string();
    let package_version = raw.scalar("PACKAGE_VERSION").to_string();
    if package_name.is_empty() {
        errors.push(text::conf_no_directive("PACKAGE_NAME"));
    }
    if package_version.is_empty() {
        errors.push(text::conf_no_directive("PACKAGE_VERSION"));
    }
    let mut modules = module_records(raw, &opts.distribution, &package_name, &mut errors);
    let make_command = make_command(raw, ctx);
    let patches = patches(raw, &ctx.kernelver);
    let exclusive = build_exclusive(raw, ctx, &mut modules);

    let mut yes_no = |name: &str| -> bool {
        let v = raw.scalar(name);
        if v.is_empty() || v.eq_ignore_ascii_case("no") {
            false
        } else if v.eq_ignore_ascii_case("yes") {
            true
        } else {
            errors.push(text::conf_unsupported_value(name, v));
            false
        }
    };
    let autoinstall = yes_no("AUTOINSTALL");
    let build_depends_rebuild = yes_no("BUILD_DEPENDS_REBUILD");
    let no_weak_modules = yes_no("NO_WEAK_MODULES");

    if !errors.is_empty() {
        return Err(errors);
    }
    let strict_warnings = if opts.strict {
        strict_checks(&modules)?
    } else {
        Vec::new()
    };

    Ok(ModuleConf {
        package_name,
        package_version,
        modules,
        make_command,
        patches,
        pre_build: raw.scalar("PRE_BUILD").into(),
        post_build: raw.scalar("POST_BUILD").into(),
        pre_install: raw.scalar("PRE_INSTALL").into(),
        post_install: raw.scalar("POST_INSTALL").into(),
        post_add: raw.scalar("POST_ADD").into(),
        post_remove: raw.scalar("POST_REMOVE").into(),
        autoinstall,
        // Upstream's autoinstall joins the array and splits it on blanks:
        // empty elements are no dependency, "a b" is two.
        build_depends: raw
            .values("BUILD_DEPENDS")
            .iter()
            .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect(),
        build_depends_rebuild,
        no_weak_modules,
        obsolete_by: exclusive.obsolete_by,
        build_exclude: exclusive.build_exclude,
        has_build_exclusive: exclusive.has_build_exclusive,
        excluded_by: exclusive.excluded_by,
        deprecations,
        strict_warnings,
        reader,
    })
}

/// The module records: one for each index any of BUILT_MODULE_NAME,
/// BUILT_MODULE_LOCATION, DEST_MODULE_NAME and DEST_MODULE_LOCATION sets,
/// with upstream's defaults and the DEST_MODULE_LOCATION `distribution`
/// (or `ADDON_MODULES_DIR`) installs to. Their `dkms.conf: Error!` lines
/// go to `errors`, in upstream's order.
fn module_records(
    raw: &RawConf,
    distribution: &str,
    package_name: &str,
    errors: &mut Vec<String>,
) -> Vec<ModuleRecord> {
    // Upstream takes ADDON_MODULES_DIR from its environment; when set it
    // replaces every DEST_MODULE_LOCATION.
    let addon_modules_dir = std::env::var("ADDON_MODULES_DIR")
        .ok()
        .filter(|d| !d.is_empty());
    let num_modules = [
        "BUILT_MODULE_NAME",
        "BUILT_MODULE_LOCATION",
        "DEST_MODULE_NAME",
        "DEST_MODULE_LOCATION",
    ]
    .iter()
    .filter_map(|n| raw.indices(n).last().copied())
    .max()
    .map_or(0, |m| m + 1);

    let mut modules = Vec::with_capacity(num_modules);
    let strip0 = strip_value(raw.get("STRIP", 0));
    for i in 0..num_modules {
        let mut built_name = raw.get("BUILT_MODULE_NAME", i).to_string();
        let mut built_location = raw.get("BUILT_MODULE_LOCATION", i).to_string();
        let mut dest_name = raw.get("DEST_MODULE_NAME", i).to_string();
        let dest_location_orig = raw.get("DEST_MODULE_LOCATION", i).to_string();
        // Upstream leaves strip[i] unset for other values, which later
        // counts as "not no": strip.
        let strip = match raw.get("STRIP", i) {
            "" => strip0.unwrap_or(true),
            v => strip_value(v).unwrap_or(true),
        };
        if built_name.is_empty() && num_modules == 1 {
            built_name = package_name.to_string();
        }
        if dest_name.is_empty() {
            dest_name = built_name.clone();
        }
        if !built_location.is_empty() && !built_location.ends_with('/') {
            built_location.push('/');
        }
        // Upstream appends the location to the build directory as text, so a
        // leading `/` still means "inside the build directory"; keep it so.
        if built_location.starts_with('/') {
            built_location = built_location.trim_start_matches('/').to_string();
        }
        if built_name.is_empty() {
            errors.push(text::conf_no_directive_in_record("BUILT_MODULE_NAME", i));
        }
        if built_name.ends_with(".o") || built_name.ends_with(".ko") {
            errors.push(text::conf_name_has_suffix("BUILT_MODULE_NAME", i));
        }
        if dest_name.ends_with(".o") || dest_name.ends_with(".ko") {
            errors.push(text::conf_name_has_suffix("DEST_MODULE_NAME", i));
        }
        let dest_location = match &addon_modules_dir {
            Some(dir) => format!("/{dir}"),
            None => override_dest_module_location(distribution, &dest_location_orig),
        };
        if dest_location_orig.is_empty() {
            errors.push(text::conf_no_directive_in_record("DEST_MODULE_LOCATION", i));
        } else if !["/kernel", "/updates", "/extra"]
            .iter()
            .any(|p| dest_location_orig.starts_with(p))
        {
            errors.extend(text::conf_bad_dest_location(i));
        }
        errors.extend(escape_errors(
            i,
            &built_name,
            &built_location,
            &dest_name,
            &dest_location_orig,
            &dest_location,
        ));
        modules.push(ModuleRecord {
            built_name,
            built_location,
            dest_name,
            dest_location,
            dest_location_orig,
            strip,
            buildable: true,
        });
    }
    modules
}

/// The MAKE command for the kernel: MAKE[0] unless MAKE_MATCH[0] is set;
/// then the last MAKE[i] whose MAKE_MATCH[i] matches the kernel version;
/// upstream's default when none; ` LLVM=1` for a kernel built with clang.
fn make_command(raw: &RawConf, ctx: &ConfContext) -> String {
    let mut make_command = String::new();
    if raw.get("MAKE_MATCH", 0).is_empty() {
        make_command = raw.get("MAKE", 0).to_string();
    }
    // Upstream walks 0..count of set elements.
    for i in 0..raw.indices("MAKE").len() {
        let (make, matcher) = (raw.get("MAKE", i), raw.get("MAKE_MATCH", i));
        if !make.is_empty() && !matcher.is_empty() && ere_match(matcher, &ctx.kernelver) {
            make_command = make.to_string();
        }
    }
    if make_command.is_empty() {
        make_command = format!(
            "make -C {} M={}/{}/{}/build",
            ctx.kernel_source_dir, ctx.dkms_tree, ctx.module, ctx.module_version
        );
    }
    if kernel_uses_clang(&ctx.kernel_source_dir, &ctx.kernel_config) {
        make_command.push_str(" LLVM=1");
    }
    make_command
}

/// The PATCH[i] to apply for `kernelver`: those without a PATCH_MATCH[i]
/// and those whose PATCH_MATCH[i] matches it.
fn patches(raw: &RawConf, kernelver: &str) -> Vec<String> {
    let mut patches = Vec::new();
    for i in 0..raw.indices("PATCH").len() {
        let (patch, matcher) = (raw.get("PATCH", i), raw.get("PATCH_MATCH", i));
        if !patch.is_empty() && (matcher.is_empty() || ere_match(matcher, kernelver)) {
            patches.push(patch.to_string());
        }
    }
    patches
}

/// What BUILD_EXCLUSIVE_* (and OBSOLETE_BY) decide for the kernel.
struct Exclusive {
    /// OBSOLETE_BY.
    obsolete_by: String,
    /// No record is buildable because of them (upstream's exit 77).
    build_exclude: bool,
    /// Some record has a BUILD_EXCLUSIVE_* directive.
    has_build_exclusive: bool,
    /// The rule that ruled the kernel out (when `build_exclude`).
    excluded_by: Option<String>,
}

/// Evaluate BUILD_EXCLUSIVE_* for the kernel and arch: marks each record
/// of `modules` buildable or not. OBSOLETE_BY acts as a global
/// BUILD_EXCLUSIVE_KERNEL_MAX when no KERNEL_MAX is given at all.
fn build_exclusive(raw: &RawConf, ctx: &ConfContext, modules: &mut [ModuleRecord]) -> Exclusive {
    let num_modules = modules.len();
    let obsolete_by = raw.scalar("OBSOLETE_BY").to_string();
    let mut ex = raw.clone();
    if !obsolete_by.is_empty()
        && ex.scalar("BUILD_EXCLUSIVE_KERNEL_MAX").is_empty()
        && (0..num_modules).all(|i| ex.get("BUILD_EXCLUSIVE_KERNEL_MAX", i).is_empty())
    {
        ex.set("BUILD_EXCLUSIVE_KERNEL_MAX", 0, obsolete_by.clone());
    }
    // Never blocks on a FIFO nor reads a device: regular files only.
    let config = crate::fs::read_regular_text(std::path::Path::new(&ctx.kernel_config), 16 << 20)
        .ok()
        .filter(|_| !ctx.kernel_config.is_empty());
    let mut has_exclusive = false;
    let mut buildable_count = 0;
    let mut excluded_by = None;
    for (i, m) in modules.iter_mut().enumerate() {
        let (buildable, has, rule) =
            check_build_exclusive(&ex, i, &ctx.kernelver, &ctx.arch, config.as_deref());
        has_exclusive |= has;
        if excluded_by.is_none() {
            excluded_by = rule;
        }
        m.buildable = buildable;
        buildable_count += usize::from(buildable);
    }
    // What upstream's maybe_uninstall_module looks at: any BUILD_EXCLUSIVE_*
    // element set for a module record (index 0 is also the global one).
    let has_build_exclusive = (0..num_modules).any(|i| {
        [
            "BUILD_EXCLUSIVE_KERNEL",
            "BUILD_EXCLUSIVE_KERNEL_MIN",
            "BUILD_EXCLUSIVE_KERNEL_MAX",
            "BUILD_EXCLUSIVE_ARCH",
            "BUILD_EXCLUSIVE_CONFIG",
        ]
        .iter()
        .any(|n| !ex.get(n, i).is_empty())
    });
    let build_exclude = buildable_count == 0 && has_exclusive;
    Exclusive {
        obsolete_by,
        build_exclude,
        has_build_exclusive,
        excluded_by: excluded_by.filter(|_| build_exclude),
    }
}

/// `read_conf_strict`'s checks of an otherwise valid conf: its warning
/// for zero modules, or the `dkms.conf: Error!` lines of records that
/// build the same file or install under the same name.
fn strict_checks(modules: &[ModuleRecord]) -> Result<Vec<String>, Vec<String>> {
    let mut strict_warnings = Vec::new();
    if modules.is_empty() {
        strict_warnings.push(text::CONF_ZERO_MODULES.into());
    }
    let mut errors = Vec::new();
    let mut names = String::new();
    for (i, m) in modules.iter().enumerate() {
        let full = format!("{}{}", m.built_location, m.built_name);
        if format!(" {names} ").contains(&format!(" {full} ")) {
            errors.push(text::conf_duplicate_built(&full, i));
        }
        names = format!("{names} {full}");
    }
    let mut names = String::new();
    for (i, m) in modules.iter().enumerate() {
        if format!(" {names} ").contains(&format!(" {} ", m.dest_name)) {
            errors.push(text::conf_duplicate_dest(&m.dest_name, i));
        }
        names = format!("{names} {}", m.dest_name);
    }
    if errors.is_empty() {
        Ok(strict_warnings)
    } else {
        Err(errors)
    }
}

/// True when `p` has a `..` path component (`..`, `../x`, `x/..`, `a/../b`).
fn has_dotdot(p: &str) -> bool {
    p.split('/').any(|c| c == "..")
}

/// Beyond upstream (which only checks DEST_MODULE_LOCATION's prefix): module
/// names and locations must not lead out of the build directory or the
/// kernel's module directory. A `..` component is refused everywhere; a name
/// must not start with `/` (it would replace the directory it is joined to).
fn escape_errors(
    i: usize,
    built_name: &str,
    built_location: &str,
    dest_name: &str,
    dest_location_orig: &str,
    dest_location: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for (directive, value) in [
        ("BUILT_MODULE_NAME", built_name),
        ("DEST_MODULE_NAME", dest_name),
    ] {
        if has_dotdot(value) || value.starts_with('/') {
            out.push(text::conf_name_escapes(directive, i));
        }
    }
    for (directive, value) in [
        ("BUILT_MODULE_LOCATION", built_location),
        ("DEST_MODULE_LOCATION", dest_location_orig),
    ] {
        if has_dotdot(value) {
            out.push(text::conf_location_escapes(directive, i));
        }
    }
    if dest_location != dest_location_orig && has_dotdot(dest_location) {
        out.push(text::conf_addon_dir_escapes(dest_location, i));
    }
    out
}

/// STRIP[i]: `Some(false)` for n..., `Some(true)` for y..., None otherwise.
fn strip_value(v: &str) -> Option<bool> {
    match v.chars().next() {
        Some('n' | 'N') => Some(false),
        Some('y' | 'Y') => Some(true),
        _ => None,
    }
}

/// Upstream's `check_build_exclusive_for_module`: (buildable, whether any
/// BUILD_EXCLUSIVE directive applies to record `i`, the rule that rules the
/// kernel out as `NAME="value"`).
fn check_build_exclusive(
    raw: &RawConf,
    i: usize,
    kernelver: &str,
    arch: &str,
    config: Option<&str>,
) -> (bool, bool, Option<String>) {
    const NAMES: [&str; 5] = [
        "BUILD_EXCLUSIVE_KERNEL",
        "BUILD_EXCLUSIVE_KERNEL_MIN",
        "BUILD_EXCLUSIVE_KERNEL_MAX",
        "BUILD_EXCLUSIVE_ARCH",
        "BUILD_EXCLUSIVE_CONFIG",
    ];
    let has = NAMES
        .iter()
        .any(|n| !raw.get(n, 0).is_empty() || !raw.get(n, i).is_empty());
    let kver = ver_key(kernelver);
    for idx in [0, i] {
        let kernel = raw.get("BUILD_EXCLUSIVE_KERNEL", idx);
        if !kernel.is_empty() && ere_no_match(kernel, kernelver) {
            return (
                false,
                has,
                Some(rule("BUILD_EXCLUSIVE_KERNEL", idx, kernel)),
            );
        }
        let min = raw.get("BUILD_EXCLUSIVE_KERNEL_MIN", idx);
        if !min.is_empty() && kver < ver_key(min) {
            return (
                false,
                has,
                Some(rule("BUILD_EXCLUSIVE_KERNEL_MIN", idx, min)),
            );
        }
        let max = raw.get("BUILD_EXCLUSIVE_KERNEL_MAX", idx);
        if !max.is_empty() && kver > ver_key(max) {
            return (
                false,
                has,
                Some(rule("BUILD_EXCLUSIVE_KERNEL_MAX", idx, max)),
            );
        }
        let a = raw.get("BUILD_EXCLUSIVE_ARCH", idx);
        if !a.is_empty() && ere_no_match(a, arch) {
            return (false, has, Some(rule("BUILD_EXCLUSIVE_ARCH", idx, a)));
        }
    }
    if let Some(config) = config {
        for idx in [0, i] {
            for kconf in raw.get("BUILD_EXCLUSIVE_CONFIG", idx).split_whitespace() {
                let ok = match kconf.strip_prefix('!') {
                    Some(name) => !config_enabled(config, name),
                    None => config_enabled(config, kconf),
                };
                if !ok {
                    let all = raw.get("BUILD_EXCLUSIVE_CONFIG", idx);
                    return (false, has, Some(rule("BUILD_EXCLUSIVE_CONFIG", idx, all)));
                }
            }
        }
    }
    (true, has, None)
}

/// A BUILD_EXCLUSIVE directive as written in dkms.conf.
fn rule(name: &str, idx: usize, value: &str) -> String {
    if idx == 0 {
        format!("{name}=\"{value}\"")
    } else {
        format!("{name}[{idx}]=\"{value}\"")
    }
}

/// A line `NAME=y` or `NAME=m` starts the kernel config (upstream's
/// `grep -q "^NAME=[ym]"`).
fn config_enabled(config: &str, name: &str) -> bool {
    config.lines().any(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix('='))
            .is_some_and(|r| r.starts_with('y') || r.starts_with('m'))
    })
}

/// True when `name` is one of upstream's dkms.conf directives.
pub fn is_directive(name: &str) -> bool {
    DIRECTIVES.contains(&name)
}

#[cfg(test)]
mod escape_tests {
    use rstest::rstest;

    use super::*;

    fn raw_of(pairs: &[(&str, &str)]) -> RawConf {
        let mut r = RawConf::default();
        r.set("PACKAGE_NAME", 0, "m");
        r.set("PACKAGE_VERSION", 0, "1.0");
        r.set("BUILT_MODULE_NAME", 0, "hello");
        r.set("DEST_MODULE_LOCATION", 0, "/updates");
        for (k, v) in pairs {
            r.set(k, 0, *v);
        }
        r
    }

    fn run(pairs: &[(&str, &str)], distribution: &str) -> Result<ModuleConf, Vec<String>> {
        let opts = ResolveOpts {
            distribution: distribution.into(),
            strict: true,
            directives: vec![],
            conf_path: "dkms.conf".into(),
        };
        resolve(&raw_of(pairs), &ConfContext::default(), &opts)
    }

    #[rstest]
    #[case("DEST_MODULE_LOCATION", "/kernel/../../../../tmp/x", "dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' contains a '..' path component in record #0.")]
    #[case("DEST_MODULE_LOCATION", "/updates/..", "dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' contains a '..' path component in record #0.")]
    #[case("BUILT_MODULE_LOCATION", "../../etc", "dkms.conf: Error! Directive 'BUILT_MODULE_LOCATION' contains a '..' path component in record #0.")]
    #[case("BUILT_MODULE_LOCATION", "src/../../x/", "dkms.conf: Error! Directive 'BUILT_MODULE_LOCATION' contains a '..' path component in record #0.")]
    #[case("BUILT_MODULE_NAME", "../../../etc/x", "dkms.conf: Error! Directive 'BUILT_MODULE_NAME' contains a '..' path component or starts with '/' in record #0.")]
    #[case("BUILT_MODULE_NAME", "/etc/x", "dkms.conf: Error! Directive 'BUILT_MODULE_NAME' contains a '..' path component or starts with '/' in record #0.")]
    #[case("DEST_MODULE_NAME", "../x", "dkms.conf: Error! Directive 'DEST_MODULE_NAME' contains a '..' path component or starts with '/' in record #0.")]
    fn escapes_are_refused(#[case] name: &str, #[case] value: &str, #[case] want: &str) {
        for distro in ["debian", "other"] {
            let errs = run(&[(name, value)], distro).expect_err(value);
            assert!(errs.iter().any(|e| e == want), "{distro}: {errs:?}");
        }
    }

    #[rstest]
    #[case("BUILT_MODULE_LOCATION", "/src", "src/")]
    #[case("BUILT_MODULE_LOCATION", "./bundle/fs/nfsd/", "./bundle/fs/nfsd/")]
    #[case("BUILT_MODULE_LOCATION", "//", "")]
    #[case("BUILT_MODULE_LOCATION", "a..b", "a..b/")]
    fn locations_stay_relative(#[case] name: &str, #[case] value: &str, #[case] want: &str) {
        let conf = run(&[(name, value)], "other").expect("accepted");
        assert_eq!(conf.modules[0].built_location, want);
    }

    #[test]
    fn dotted_names_that_are_not_components_are_fine() {
        let conf = run(
            &[
                ("BUILT_MODULE_NAME", "a..b"),
                ("DEST_MODULE_LOCATION", "/kernel/x..y"),
            ],
            "other",
        )
        .expect("accepted");
        assert_eq!(conf.modules[0].dest_location, "/kernel/x..y");
    }
}
