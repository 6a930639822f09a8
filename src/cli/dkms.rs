//! Upstream-compatible argument handling for `dkms`: the same actions,
//! option spellings (`-k K/A`, `m/v`, `--opt=value` and `--opt value`,
//! prefix forms like `--kernelver*`), the same checks in the same order and
//! the same error texts and exit codes.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::plan::request::{Action, SourceDir, StatusFormat, TarballContents};
use crate::plan::{Command, DkmsArgs, Request};
use crate::text;

/// Every action name `dkms` accepts (documented and completed: the docs
/// tests check both against this list).
pub const ACTIONS: &[&str] = &[
    "add",
    "remove",
    "build",
    "unbuild",
    "install",
    "uninstall",
    "autoinstall",
    "match",
    "mktarball",
    "ldtarball",
    "status",
    "generate_mok",
    "kernel_preinst",
    "kernel_postinst",
    "kernel_prerm",
    "mkbmdeb",
];

/// The action named `word`, before its own arguments are known; `None`
/// for a word that is not one of upstream's actions (or our `mkbmdeb`).
fn action_named(word: &str) -> Option<Action> {
    Some(match word {
        "add" => Action::Add,
        "remove" => Action::Remove,
        "build" => Action::Build,
        "unbuild" => Action::Unbuild,
        "install" => Action::Install,
        "uninstall" => Action::Uninstall,
        "autoinstall" => Action::Autoinstall,
        "match" => Action::Match {
            template_kernel: String::new(),
        },
        "mktarball" => Action::MkTarball {
            contents: TarballContents::Both,
        },
        "ldtarball" => Action::LdTarball,
        "status" => Action::Status {
            format: StatusFormat::Text,
        },
        "generate_mok" => Action::GenerateMok,
        "kernel_preinst" => Action::KernelPreinst,
        "kernel_postinst" => Action::KernelPostinst,
        "kernel_prerm" => Action::KernelPrerm,
        "mkbmdeb" => Action::MkBmDeb,
        _ => return None,
    })
}

/// What the loop over the words collects before the action gets its own
/// arguments (upstream reads options in any order around the action).
#[derive(Default)]
struct Loose {
    template_kernel: String,
    binaries_only: bool,
    source_only: bool,
    output: String,
}

/// A parsed `dkms` command line: the request, and what the program itself
/// answers without running anything.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The request.
    pub request: Request,
    /// `--version`.
    pub show_version: bool,
    /// `--help`.
    pub show_help: bool,
    /// `--debug`: diagnostics on stderr.
    pub debug: bool,
}

/// Parse `args` (without argv[0]). `Err` carries upstream's text and code
/// (unknown option: exit 2, with the usage printed by the caller).
pub fn parse(args: &[String]) -> Result<Parsed> {
    let mut out = Parsed::default();
    let mut a_ = DkmsArgs::default();
    let mut req = Request::default();
    let inv = &mut a_;
    let mut loose = Loose::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        // upstream's read_arg: "--x=value" or "--x value"
        let value = |i: &mut usize| -> String {
            match a.split_once('=') {
                Some((_, v)) => v.to_string(),
                None => {
                    *i += 1;
                    args.get(*i).cloned().unwrap_or_default()
                }
            }
        };
        if a.starts_with("--module") || a == "-m" {
            let mv = value(&mut i);
            parse_module_version(inv, &mv);
        } else if a == "-v" {
            inv.version = value(&mut i);
        } else if a.starts_with("--kernelver") || a == "-k" {
            let ka = value(&mut i);
            match ka.split_once('/') {
                Some((k, ar)) => {
                    inv.kernels.push(k.to_string());
                    inv.arches.push(ar.to_string());
                }
                None => inv.kernels.push(ka),
            }
        } else if a.starts_with("--templatekernel") {
            loose.template_kernel = value(&mut i);
        } else if a == "-c" {
            req.opts.conf = Some(PathBuf::from(value(&mut i)));
        } else if a == "--quiet" || a == "-q" {
            req.quiet = true;
        } else if a == "--version" || a == "-V" {
            out.show_version = true;
            return Ok(out);
        } else if matches!(
            a,
            "--no-initrd" | "--no-clean-kernel" | "--no-prepare-kernel"
        ) {
            req.warnings.push(text::deprecated_feature(a));
        } else if a == "--binaries-only" {
            loose.binaries_only = true;
        } else if a == "--source-only" {
            loose.source_only = true;
        } else if a == "--force" {
            req.opts.force = true;
        } else if a == "--force-version-override" {
            req.opts.force_version_override = true;
        } else if a == "--all" {
            inv.all = true;
        } else if a == "--verbose" {
            req.opts.verbose = true;
        } else if a == "--rpm_safe_upgrade" {
            req.opts.rpm_safe_upgrade = true;
        } else if a.starts_with("--dkmstree") {
            req.trees.dkms_tree = Some(PathBuf::from(value(&mut i)));
        } else if a.starts_with("--sourcetree") {
            req.trees.source_tree = Some(PathBuf::from(value(&mut i)));
        } else if a.starts_with("--installtree") {
            req.trees.install_tree = Some(PathBuf::from(value(&mut i)));
        } else if a == "--symlink-modules" {
            req.opts.symlink_modules = true;
        } else if a.starts_with("--config") {
            req.opts.kernel_config = Some(PathBuf::from(value(&mut i)));
        } else if a.starts_with("--archive") {
            inv.archive = Some(PathBuf::from(value(&mut i)));
        } else if a.starts_with("--arch") || a == "-a" {
            inv.arches.push(value(&mut i));
        } else if a.starts_with("--kernelsourcedir") {
            req.opts.kernel_source_dir = Some(PathBuf::from(value(&mut i)));
        } else if a.starts_with("--directive") {
            let d = value(&mut i);
            let (n, v) = d.split_once('=').unwrap_or((d.as_str(), ""));
            req.opts.directives.push((n.to_string(), v.to_string()));
        } else if a == "--no-depmod" {
            req.opts.no_depmod = true;
        } else if a == "--modprobe-on-install" {
            req.opts.modprobe_on_install = true;
        } else if a == "--debug" {
            // upstream turns on `set -x`; we turn on debug logging.
            out.debug = true;
        } else if a == "-j" {
            req.opts.jobs = Some(value(&mut i));
        } else if a == "--help" || a == "-h" {
            out.show_help = true;
            return Ok(out);
        } else if a.starts_with("--root") {
            req.root = Some(PathBuf::from(value(&mut i)));
        } else if a.starts_with("--output") {
            loose.output = value(&mut i);
        } else if a.starts_with('-') {
            return Err(Error::usage([text::unknown_option(a)]));
        } else if let Some(action) = action_named(a) {
            if inv.action != Action::Missing {
                return Err(Error::unusable([text::MORE_THAN_ONE_ACTION]));
            }
            inv.action = action;
        } else {
            let p = PathBuf::from(a);
            if p.is_file() && a.ends_with("dkms.conf") {
                let dir = a.strip_suffix("dkms.conf").unwrap_or("");
                inv.try_source_tree = Some(source_dir(PathBuf::from(format!("{dir}./"))));
            } else if p.is_dir() && p.join("dkms.conf").is_file() {
                inv.try_source_tree = Some(source_dir(p));
            } else if p.is_file() {
                inv.archive = Some(p);
            } else if inv.module.is_empty() {
                parse_module_version(inv, a);
            } else {
                req.warnings.push(text::cannot_handle(a));
            }
        }
        i += 1;
    }

    if loose.binaries_only && loose.source_only {
        return Err(Error::bad_conf(text::BINARIES_AND_SOURCE_ONLY));
    }
    if inv.kernels.len() != inv.arches.len() && inv.arches.len() > 1 {
        return Err(Error::denied(text::ARCHES_WITHOUT_KERNELS));
    }
    if !inv.kernels.is_empty() && inv.all {
        return Err(Error::usage(text::KERNEL_AND_ALL));
    }
    if !inv.arches.is_empty() && inv.all {
        return Err(Error::state(text::ARCH_AND_ALL));
    }
    if inv.action.is_kernel_hook() {
        have_one_kernel(inv)?;
    }
    // Our extension has output only for status; elsewhere it would be
    // silently ignored, so it is an error.
    let is_status = matches!(inv.action, Action::Status { .. });
    if !loose.output.is_empty() && !is_status {
        return Err(Error::usage([text::output_only_for_status(
            inv.action.name(),
        )]));
    }
    inv.action = with_arguments(std::mem::take(&mut inv.action), loose)?;
    req.command = Command::Dkms(a_);
    out.request = req;
    Ok(out)
}

/// The action with the arguments only it uses; the others are ignored, as
/// upstream ignores them.
fn with_arguments(action: Action, loose: Loose) -> Result<Action> {
    Ok(match action {
        Action::Match { .. } => Action::Match {
            template_kernel: loose.template_kernel,
        },
        Action::MkTarball { .. } => Action::MkTarball {
            contents: match (loose.binaries_only, loose.source_only) {
                (true, _) => TarballContents::BinariesOnly,
                (_, true) => TarballContents::SourceOnly,
                _ => TarballContents::Both,
            },
        },
        Action::Status { .. } => Action::Status {
            format: match loose.output.as_str() {
                "" | "text" => StatusFormat::Text,
                "json" => StatusFormat::Json,
                "yaml" => StatusFormat::Yaml,
                other => return Err(Error::usage([text::unknown_output_format(other)])),
            },
        },
        other => other,
    })
}

/// A source directory named on the command line, resolved now (upstream's
/// `readlink -f`); a path that cannot be resolved is used as given.
fn source_dir(given: PathBuf) -> SourceDir {
    let real = std::fs::canonicalize(&given).unwrap_or_else(|_| given.clone());
    SourceDir { given, real }
}

/// upstream's `m/v` split: everything before the first `/` is the module.
fn parse_module_version(inv: &mut DkmsArgs, s: &str) {
    match s.split_once('/') {
        Some((m, v)) => {
            inv.module = m.to_string();
            inv.version = v.to_string();
        }
        None => inv.module = s.to_string(),
    }
}

/// upstream's `have_one_kernel` for the kernel_* actions (checked while
/// parsing, as upstream does).
fn have_one_kernel(inv: &DkmsArgs) -> Result<()> {
    crate::plan::checks::have_one_kernel(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn p(args: &[&str]) -> Result<DkmsArgs> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map(|x| {
            match x.request.command {
                Command::Dkms(d) => d,
                _ => unreachable!(),
            }
        })
    }

    fn full(args: &[&str]) -> Parsed {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[rstest]
    #[case(&["install", "hello/1.0"], "hello", "1.0")]
    #[case(&["install", "-m", "hello/1.0"], "hello", "1.0")]
    #[case(&["install", "-m", "hello", "-v", "1.0"], "hello", "1.0")]
    #[case(&["install", "--module=hello/1.0"], "hello", "1.0")]
    #[case(&["build", "a/b/c"], "a", "b/c")]
    fn module_forms(#[case] args: &[&str], #[case] m: &str, #[case] v: &str) {
        let inv = p(args).unwrap();
        assert_eq!((inv.module.as_str(), inv.version.as_str()), (m, v));
    }

    #[rstest]
    #[case(&["build", "m/1", "-k", "6.1/x86_64"], &["6.1"], &["x86_64"])]
    #[case(&["build", "m/1", "-k", "6.1", "-k", "6.2"], &["6.1", "6.2"], &[])]
    #[case(&["build", "m/1", "--kernelver=6.1", "-a", "i686"], &["6.1"], &["i686"])]
    #[case(&["build", "m/1", "--kernelver", "6.1", "--arch=i686"], &["6.1"], &["i686"])]
    fn kernel_forms(#[case] args: &[&str], #[case] ks: &[&str], #[case] arches: &[&str]) {
        let inv = p(args).unwrap();
        assert_eq!(inv.kernels, ks);
        assert_eq!(inv.arches, arches);
    }

    #[rstest]
    #[case(&["status", "--bogus"], 2, "Unknown option: --bogus")]
    #[case(&["add", "build"], 4, "Cannot specify more than one action.")]
    #[case(&["build", "--binaries-only", "--source-only"], 8, "You have specified both --binaries-only and --source-only.")]
    #[case(&["build", "m/1", "-k", "6.1", "--all"], 2, "You cannot specify a kernel version and also specify")]
    #[case(&["build", "m/1", "-a", "x", "--all"], 3, "You cannot specify an arch and also specify")]
    #[case(&["build", "m/1", "-k", "1", "-a", "x", "-a", "y", "-k", "2", "-k", "3"], 1, "If more than one arch is specified on the command line, then there")]
    #[case(&["kernel_postinst"], 4, "The action kernel_postinst requires exactly one kernel version parameter on the command line.")]
    #[case(&["kernel_prerm", "-k", "1", "--all"], 2, "You cannot specify a kernel version and also specify")]
    #[case(&["build", "-j4"], 2, "Unknown option: -j4")]
    #[case(&["install", "m/1", "--output", "json"], 2, "The --output option applies only to the status action, not to install.")]
    fn errors(#[case] args: &[&str], #[case] code: i32, #[case] first: &str) {
        let e = p(args).unwrap_err();
        assert_eq!(e.code(), code);
        assert_eq!(e.lines()[0], first);
    }

    #[test]
    fn every_action_name_parses_to_the_action_of_that_name() {
        for name in ACTIONS {
            let a = action_named(name).unwrap_or_else(|| panic!("{name} is not parsed"));
            assert_eq!(a.name(), *name);
        }
        assert!(action_named("bogus").is_none());
    }

    #[test]
    fn options_and_directives() {
        let inv = full(&[
            "build",
            "m/1",
            "--force",
            "--no-depmod",
            "-j",
            "3",
            "--directive=MAKE=make foo",
            "--dkmstree",
            "/t/d",
            "--root=/r",
        ]);
        let r = &inv.request;
        assert!(r.opts.force && r.opts.no_depmod);
        assert_eq!(r.opts.jobs.as_deref(), Some("3"));
        assert_eq!(
            r.opts.directives,
            vec![("MAKE".to_string(), "make foo".to_string())]
        );
        assert_eq!(r.trees.dkms_tree, Some(PathBuf::from("/t/d")));
        assert_eq!(r.root, Some(PathBuf::from("/r")));
    }
}
