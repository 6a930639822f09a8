//! What was asked, as typed values: a `dkms` action with upstream's
//! arguments, or a `dkms-hook` event. The command-line parsers produce a
//! [`Request`]; the planner decides from it and the observed World.

use std::path::PathBuf;

use crate::observe::settings::TreeOverrides;
use crate::observe::Options;
use crate::report::Style;

/// Every action `dkms` accepts.
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

/// True for one of [`ACTIONS`].
pub fn is_action(a: &str) -> bool {
    ACTIONS.contains(&a)
}

/// One run's request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// What to do.
    pub command: Command,
    /// Options that change how things are read and done.
    pub opts: Options,
    /// `--root` (else `DKMS_ROOT`).
    pub root: Option<PathBuf>,
    /// `--dkmstree` / `--sourcetree` / `--installtree`.
    pub trees: TreeOverrides,
    /// `-q`: everything to /dev/null.
    pub quiet: bool,
    /// Lines to print on stderr before anything else (deprecated options,
    /// words the parser did not understand).
    pub warnings: Vec<String>,
}

impl Request {
    /// Whose output this run prints.
    pub fn style(&self) -> Style {
        match self.command {
            Command::Dkms(_) => Style::Upstream,
            Command::Hook(_) => Style::Hook,
        }
    }
}

/// The two programs' requests.
#[derive(Debug, Clone)]
pub enum Command {
    /// A `dkms` action.
    Dkms(DkmsArgs),
    /// A `dkms-hook` event.
    Hook(Event),
}

impl Default for Command {
    fn default() -> Self {
        Command::Dkms(DkmsArgs::default())
    }
}

/// A parsed `dkms` command line (upstream's variables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DkmsArgs {
    /// The action ("" when none was given).
    pub action: String,
    /// `-m` / positional module.
    pub module: String,
    /// `-v` / positional version.
    pub version: String,
    /// `-k` values in order.
    pub kernels: Vec<String>,
    /// `-a` values (and `/arch` of `-k K/A`) in order.
    pub arches: Vec<String>,
    /// `--templatekernel`.
    pub template_kernel: String,
    /// `--all`.
    pub all: bool,
    /// `--binaries-only`.
    pub binaries_only: bool,
    /// `--source-only`.
    pub source_only: bool,
    /// `--archive` or a positional file.
    pub archive: Option<PathBuf>,
    /// A positional source directory (or its dkms.conf).
    pub try_source_tree: Option<PathBuf>,
    /// `--output` (extension: status as text, json or yaml).
    pub output: String,
}

/// A package-manager event or a `dkms-hook` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `/etc/kernel/postinst.d` or kernel-install `add`.
    KernelPostinst(String),
    /// `/etc/kernel/preinst.d` (kernel upgrade).
    KernelPreinst(String),
    /// `/etc/kernel/prerm.d` or kernel-install `remove`.
    KernelPrerm(String),
    /// `/etc/kernel/header_postinst.d`, or an RPM trigger naming a kernel.
    HeaderPostinst(String),
    /// apt `DPkg::Post-Invoke`.
    AptPostInvoke,
    /// dpkg file trigger on /usr/src or /lib/modules.
    DpkgTrigger,
    /// kernel-install with a command other than add/remove: nothing to do.
    KernelInstallOther,
    /// The systemd boot unit, for the running kernel.
    Boot,
    /// `dkms-hook autoinstall`: these kernels, or every kernel (`None`).
    Autoinstall(Option<Vec<String>>),
    /// `dkms-hook prune [--dry-run]`.
    Prune {
        /// Only say what would go.
        dry_run: bool,
    },
    /// `dkms-hook pending`.
    Pending,
    /// `dkms-hook doctor [--check]`.
    Doctor {
        /// Repair (without `--check`).
        repair: bool,
    },
    /// `dkms-hook package M/V -k K`: a binary module package of an
    /// installed build.
    Package(PackageArgs),
    /// `dkms-hook publish --repo DIR [FILES...]`: add packages to a
    /// repository and index it.
    Publish {
        /// The repository directory (a host path, used as given).
        repo: PathBuf,
        /// Package files to add first.
        files: Vec<PathBuf>,
    },
}

/// What `dkms-hook package` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageArgs {
    /// Module.
    pub module: String,
    /// Version.
    pub version: String,
    /// Kernel.
    pub kernel: String,
    /// Arch (default: the machine's).
    pub arch: Option<String>,
    /// `deb` or `rpm` (default: the distribution's own).
    pub format: Option<String>,
    /// Where the package goes (a host path, used as given).
    pub out: PathBuf,
}

impl Event {
    /// The kernel versions the event names on its command line.
    pub fn named_kernels(&self) -> Vec<&str> {
        match self {
            Event::KernelPostinst(k)
            | Event::KernelPreinst(k)
            | Event::KernelPrerm(k)
            | Event::HeaderPostinst(k) => vec![k.as_str()],
            Event::Package(p) => vec![p.kernel.as_str()],
            Event::Autoinstall(Some(ks)) => ks.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a real build failure fails the caller (dpkg reports it).
    /// Skips, missing headers and deferrals never do; removals, apt, dpkg
    /// triggers and boot never fail. `package` and `publish`, run by hand
    /// or by scripts, fail on every error.
    pub fn may_fail(&self) -> bool {
        matches!(
            self,
            Event::KernelPostinst(_)
                | Event::HeaderPostinst(_)
                | Event::Autoinstall(_)
                | Event::Package(_)
                | Event::Publish { .. }
        )
    }

    /// Whether the event changes the trees (and so takes the lock).
    /// `package` only reads them and `publish` writes only its repository.
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Event::Pending
                | Event::Prune { dry_run: true }
                | Event::Doctor { repair: false }
                | Event::KernelInstallOther
                | Event::Package(_)
                | Event::Publish { .. }
        )
    }
}
