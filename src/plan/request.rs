//! What was asked, as typed values: a `dkms` action with upstream's
//! arguments, or a `dkms-hook` event. The command-line parsers produce a
//! [`Request`]; the planner decides from it and the observed World.

use std::path::PathBuf;

use crate::observe::settings::TreeOverrides;
use crate::observe::Options;
pub use crate::report::status::StatusFormat;
use crate::report::Style;

/// A `dkms` action, parsed once from its name (in `cli/`) into a value
/// that carries the arguments only it uses. Every decision below the
/// parser matches on it exhaustively, so a new action cannot be half
/// handled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Action {
    /// No action on the command line (upstream: "Unknown action specified").
    #[default]
    Missing,
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `build`.
    Build,
    /// `unbuild`.
    Unbuild,
    /// `install`.
    Install,
    /// `uninstall`.
    Uninstall,
    /// `autoinstall`.
    Autoinstall,
    /// `match --templatekernel K`.
    Match {
        /// `--templatekernel` ("" when not given: upstream's usage error).
        template_kernel: String,
    },
    /// `mktarball`.
    MkTarball {
        /// `--binaries-only` / `--source-only` (never both: refused when parsed).
        contents: TarballContents,
    },
    /// `ldtarball`.
    LdTarball,
    /// `status [--output FORMAT]`.
    Status {
        /// `--output` (our extension).
        format: StatusFormat,
    },
    /// `generate_mok`.
    GenerateMok,
    /// `kernel_preinst`.
    KernelPreinst,
    /// `kernel_postinst`.
    KernelPostinst,
    /// `kernel_prerm`.
    KernelPrerm,
    /// `mkbmdeb` (Debian's binary module package, our compatibility alias).
    MkBmDeb,
}

impl Action {
    /// The action's name as upstream prints it in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Missing => "",
            Action::Add => "add",
            Action::Remove => "remove",
            Action::Build => "build",
            Action::Unbuild => "unbuild",
            Action::Install => "install",
            Action::Uninstall => "uninstall",
            Action::Autoinstall => "autoinstall",
            Action::Match { .. } => "match",
            Action::MkTarball { .. } => "mktarball",
            Action::LdTarball => "ldtarball",
            Action::Status { .. } => "status",
            Action::GenerateMok => "generate_mok",
            Action::KernelPreinst => "kernel_preinst",
            Action::KernelPostinst => "kernel_postinst",
            Action::KernelPrerm => "kernel_prerm",
            Action::MkBmDeb => "mkbmdeb",
        }
    }

    /// Whether the action may change the trees (and so takes the lock
    /// before it observes them).
    pub fn writes(&self) -> bool {
        match self {
            Action::Missing | Action::Status { .. } => false,
            Action::Add
            | Action::Remove
            | Action::Build
            | Action::Unbuild
            | Action::Install
            | Action::Uninstall
            | Action::Autoinstall
            | Action::Match { .. }
            | Action::MkTarball { .. }
            | Action::LdTarball
            | Action::GenerateMok
            | Action::KernelPreinst
            | Action::KernelPostinst
            | Action::KernelPrerm
            | Action::MkBmDeb => true,
        }
    }

    /// The `kernel_*` actions, which need exactly one kernel on the command
    /// line (checked while parsing, as upstream does).
    pub fn is_kernel_hook(&self) -> bool {
        matches!(
            self,
            Action::KernelPreinst | Action::KernelPostinst | Action::KernelPrerm
        )
    }
}

/// What `mktarball` puts into the archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TarballContents {
    /// Sources and every build (the default).
    #[default]
    Both,
    /// `--binaries-only`.
    BinariesOnly,
    /// `--source-only`.
    SourceOnly,
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
    /// The action, with the arguments only it uses.
    pub action: Action,
    /// `-m` / positional module.
    pub module: String,
    /// `-v` / positional version.
    pub version: String,
    /// `-k` values in order.
    pub kernels: Vec<String>,
    /// `-a` values (and `/arch` of `-k K/A`) in order.
    pub arches: Vec<String>,
    /// `--all`.
    pub all: bool,
    /// `--archive` or a positional file.
    pub archive: Option<PathBuf>,
    /// A positional source directory (or its dkms.conf).
    pub try_source_tree: Option<SourceDir>,
}

/// A source directory named on the command line, as given and as
/// `readlink -f` resolved it while the command line was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDir {
    /// As given (messages name it so).
    pub given: PathBuf,
    /// Resolved (what is copied into the source tree).
    pub real: PathBuf,
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
    /// `dkms-hook autoinstall`: for which kernels.
    Autoinstall(AutoinstallFor),
    /// `dkms-hook prune [--dry-run]`.
    Prune {
        /// Only say what would go.
        dry_run: bool,
    },
    /// `dkms-hook pending`.
    Pending,
    /// `dkms-hook doctor [--repair]`.
    Doctor {
        /// Repair (`--repair`); without it doctor only looks.
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
    /// `dkms-hook why MODULE [-k K] [--output json]`: why a module does
    /// or does not load.
    Why {
        /// The module name asked about.
        module: String,
        /// `-k` (default: the running kernel under the root).
        kernel: Option<String>,
        /// `--output json`.
        json: bool,
    },
    /// `dkms-hook sign [M[/V]|--all] [-k K]`: sign installed modules again
    /// with the configured key.
    Sign {
        /// The module (empty with `--all`).
        module: String,
        /// Its version (empty: every version installed).
        version: String,
        /// `-k` values (empty: every kernel the module is installed for).
        kernels: Vec<String>,
    },
}

/// The kernels `dkms-hook autoinstall` builds for. Whether the user named
/// a kernel matters: one named that is not installed is an error, while
/// the running kernel missing from a `--root` is normal (image builders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoinstallFor {
    /// No `-k`: the running kernel (`uname -r`).
    Running(String),
    /// The kernels given with `-k`.
    Named(Vec<String>),
    /// `--all-kernels`: every kernel under the install tree.
    All,
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
            Event::Autoinstall(AutoinstallFor::Named(ks)) => {
                ks.iter().map(String::as_str).collect()
            }
            Event::Autoinstall(AutoinstallFor::Running(k)) => vec![k.as_str()],
            Event::Why {
                kernel: Some(k), ..
            } => vec![k.as_str()],
            Event::Sign { kernels, .. } => kernels.iter().map(String::as_str).collect(),
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
                | Event::Why { .. }
                | Event::Sign { .. }
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
                | Event::Why { .. }
        )
    }
}
