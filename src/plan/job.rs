//! The units of work a plan is made of. Each job says *what* to do with
//! the values the planner chose; how is the executor's business.

use std::path::PathBuf;

use crate::error::Error;
use crate::observe::status::StatusView;
use crate::observe::{ConfKey, Mvka};
use crate::plan::package::Format;
use crate::report::Stream;

/// When depmod runs after an install or uninstall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depmod {
    /// At once, printing `Running depmod... done.` (upstream's `dkms`).
    Now,
    /// Once per kernel at the end of the run ([`Job::FlushDepmod`]).
    Later,
}

/// One module of an autoinstall, for its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoModule {
    /// Module.
    pub m: String,
    /// Version.
    pub v: String,
    /// Its BUILD_DEPENDS.
    pub deps: Vec<String>,
    /// The step that installs it, when it could be scheduled.
    pub step: Option<usize>,
}

/// What an autoinstall for one kernel must report at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSummary {
    /// Kernel.
    pub k: String,
    /// Arch.
    pub a: String,
    /// Modules installed before this run (they count as succeeded).
    pub already: Vec<String>,
    /// Modules autoinstall handles, in upstream's order.
    pub modules: Vec<AutoModule>,
    /// Every module with a registered version (upstream's `known_modules`).
    pub known: Vec<String>,
}

/// A kernel whose removal hook runs, for its closing error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovalSummary {
    /// Kernel.
    pub k: String,
    /// Arch.
    pub a: String,
    /// `kernel_preinst` rather than `kernel_prerm`.
    pub preinst: bool,
    /// (m/v, step) of each module removed.
    pub modules: Vec<(String, usize)>,
}

/// A module version built for a kernel whose BUILD_DEPENDS may have
/// changed version (upstream's `check_and_rebuild_dependent_modules`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildCandidate {
    /// Module.
    pub m: String,
    /// Version.
    pub v: String,
    /// Its dkms.conf read strictly (the rebuild).
    pub strict: ConfKey,
    /// Its dkms.conf read as uninstall reads it.
    pub plain: ConfKey,
    /// The dependency versions its build was made against (its
    /// `.dep_<module>` records), as observed: dependency -> version.
    pub recorded: std::collections::BTreeMap<String, String>,
}

/// The boot guard's step at the end of a hook run (see [`crate::plan::guard`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardJob {
    /// Kernels this run defers for missing headers, each with the critical
    /// modules (m, v) an autoinstall would build there.
    pub deferred: Vec<(String, Vec<(String, String)>)>,
    /// Kernels installed after the run (image and modules directory): the
    /// only ones a guard may name and the loader may be pointed at.
    pub bootable: Vec<String>,
    /// The running kernel, when the event is boot (the boot unit says when
    /// it is guarded).
    pub booted: Option<String>,
}

/// A kernel that prune takes away, and what is built for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneKernel {
    /// Kernel.
    pub k: String,
    /// Each module version built for it, with the dkms.conf read its
    /// uninstall needs.
    pub builds: Vec<(Mvka, ConfKey)>,
}

/// A unit of work that changes no tree: it may run without the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadJob {
    /// Print text the planner decided on.
    Say(Stream, String),
    /// Fail with this error (a check the planner made).
    Fail(Error),
    /// Show what reading a dkms.conf prints and fail if it is bad
    /// (upstream's `read_conf_or_die` where it stands alone).
    ReadConf(ConfKey),
    /// `dkms status`.
    Status {
        /// What status observed.
        view: StatusView,
        /// Text, JSON or YAML.
        format: crate::report::status::StatusFormat,
    },
    /// Hook: the closing summary of a hook run.
    HookSummary,
    /// `dkms-hook pending`.
    Pending,
    /// `dkms-hook doctor`: report what needs attention.
    Doctor,
    /// `dkms-hook critical list`.
    CriticalList,
    /// A binary module package of the installed build of m/v for k/a,
    /// written into `out` (`dkms-hook package`, `dkms mkbmdeb`).
    Package {
        /// What.
        at: Mvka,
        /// The package format.
        format: Format,
        /// The directory the package goes to (created when missing).
        out: PathBuf,
    },
    /// Copy package files into a repository and index it.
    Publish {
        /// The repository directory.
        repo: PathBuf,
        /// The package files to add.
        files: Vec<PathBuf>,
    },
    /// `dkms-hook why`: check why a module does or does not load.
    Why {
        /// The module name asked about.
        module: String,
        /// The kernel (default: the running one under the root).
        kernel: Option<String>,
        /// Print JSON.
        json: bool,
    },
    /// `dkms-hook prune --dry-run`: say what prune would take away.
    PrunePreview {
        /// The kernels prune would take.
        kernels: Vec<PruneKernel>,
    },
}

/// A unit of work that changes a tree: only a run holding the lock can
/// execute it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteJob {
    /// Register m/v (upstream's `add_module`): `source` is the dkms.conf
    /// checked; a blank line follows when `blank`.
    Add {
        /// Module.
        m: String,
        /// Version.
        v: String,
        /// The dkms.conf read strictly for the check.
        conf: ConfKey,
        /// Print an empty line afterwards (an add implied by build/install).
        blank: bool,
    },
    /// Copy a source directory given on the command line into the source
    /// tree as `<PACKAGE_NAME>-<PACKAGE_VERSION>` (upstream's `add_source_tree`).
    AddSourceTree {
        /// The directory.
        dir: PathBuf,
        /// Its dkms.conf.
        conf: ConfKey,
    },
    /// Load a DKMS tarball, then register what it holds.
    LoadTarball {
        /// The archive.
        archive: PathBuf,
        /// Register afterwards (`ldtarball`, or `add` of an archive).
        add: bool,
    },
    /// Check the headers and prepare signing for a kernel (upstream's
    /// `prepare_kernel_and_signing`, once per kernel).
    PrepareKernel {
        /// Kernel.
        k: String,
        /// Arch.
        a: String,
    },
    /// Build m/v for k/a (upstream's `do_build`).
    Build {
        /// What.
        at: Mvka,
        /// Its dkms.conf, read strictly.
        conf: ConfKey,
        /// Unbuild first (`--force` on a built module).
        unbuild_first: bool,
    },
    /// Install built m/v into k/a (upstream's `do_install`), building first
    /// when it is not built by then.
    Install {
        /// What.
        at: Mvka,
        /// Its dkms.conf, read strictly.
        conf: ConfKey,
        /// When depmod runs.
        depmod: Depmod,
    },
    /// `maybe_install_module` as autoinstall runs it: skip when installed.
    AutoInstall {
        /// What.
        at: Mvka,
        /// Its dkms.conf, read strictly.
        conf: ConfKey,
        /// When depmod runs.
        depmod: Depmod,
    },
    /// Take m/v off k/a (upstream's `do_uninstall`).
    Uninstall {
        /// What.
        at: Mvka,
        /// Its dkms.conf (not strict).
        conf: ConfKey,
        /// When depmod runs.
        depmod: Depmod,
    },
    /// Delete the build of m/v for k/a (upstream's `do_unbuild`).
    Unbuild(Mvka),
    /// `remove`'s first step: temporary leftovers of m/v.
    CleanVersion {
        /// Module.
        m: String,
        /// Version.
        v: String,
    },
    /// `remove`'s last step: delete m/v when no kernel is left under it,
    /// then the module directory when empty.
    DeleteVersion {
        /// Module.
        m: String,
        /// Version.
        v: String,
    },
    /// After an install: rebuild modules built for k/a whose
    /// BUILD_DEPENDS changed version (upstream's
    /// `check_and_rebuild_dependent_modules`).
    RebuildDependents {
        /// Kernel.
        k: String,
        /// Arch.
        a: String,
        /// The modules that may be rebuilt.
        candidates: Vec<RebuildCandidate>,
    },
    /// A kernel_prerm/preinst removal of one module (upstream's
    /// `unbuild_module` in a subshell), with its stderr line first.
    RemoveFromKernel {
        /// What.
        at: Mvka,
        /// Its dkms.conf (not strict).
        conf: ConfKey,
        /// Its dkms.conf has BUILD_EXCLUSIVE rules: a module that is not
        /// installed is not said to be "not installed".
        exclusive: bool,
    },
    /// The closing error of kernel_preinst/prerm when a module failed.
    RemovalSummary(RemovalSummary),
    /// The closing lines of an autoinstall (and exit 11 on failures).
    AutoSummary(AutoSummary),
    /// depmod for every kernel whose depmod was put off.
    FlushDepmod,
    /// The depmod an interrupted run left due for kernel k, quietly (or,
    /// when the kernel's module tree is gone, only its marker goes).
    FinishDepmod {
        /// Kernel.
        k: String,
        /// Its module tree is gone: only the marker goes.
        gone: bool,
    },
    /// Boot: load what this run installed for the running kernel k, as the
    /// boot would have (modules-load.d, device aliases); after depmod.
    LoadInstalled {
        /// The running kernel.
        k: String,
    },
    /// framework.conf's `post_transaction` command, with `${kernelver}` and
    /// `${arch}` of the run's first kernel in its environment (upstream evals
    /// it in its own shell).
    PostTransaction {
        /// Kernel.
        k: String,
        /// Arch.
        a: String,
    },
    /// `dkms mktarball`.
    MkTarball {
        /// Module.
        m: String,
        /// Version.
        v: String,
        /// Kernels and arches.
        pairs: Vec<(String, String)>,
        /// `--archive`.
        archive: Option<PathBuf>,
        /// `--binaries-only`.
        binaries_only: bool,
        /// `--source-only`.
        source_only: bool,
        /// The dkms.conf.
        conf: ConfKey,
    },
    /// `dkms generate_mok`.
    GenerateMok,
    /// Hook: headers of k missing: say so and remember the kernel.
    DeferHeaders {
        /// Kernel.
        k: String,
        /// Arch.
        a: String,
        /// The headers package to install.
        package: String,
    },
    /// Hook: a module waits for BUILD_DEPENDS not registered: remember it.
    DeferModule {
        /// Kernel.
        k: String,
        /// Arch.
        a: String,
        /// Module.
        m: String,
        /// The missing dependencies.
        deps: Vec<String>,
    },
    /// Hook: the headers of k are here; forget that k waited for them.
    ClearHeadersDeferral {
        /// Kernel.
        k: String,
        /// Arch.
        a: String,
    },
    /// m is installed for k/a (found so by an autoinstall): forget the
    /// failures and deferrals recorded for it there.
    ClearModuleRecords {
        /// Kernel.
        k: String,
        /// Arch.
        a: String,
        /// Module.
        m: String,
    },
    /// Hook: forget everything pending or failed for a kernel that is gone.
    DropKernelRecords {
        /// Kernel.
        k: String,
    },
    /// Hook: remove builds and links of kernels that are no longer installed.
    Prune {
        /// Kernels to prune, with their builds.
        kernels: Vec<PruneKernel>,
        /// Asked for by hand: say so when there is nothing to prune.
        explicit: bool,
    },
    /// Hook: package every module this run installed into `repo` and index
    /// it (framework.conf `publish_repo`); failures only warn.
    PublishBuilt {
        /// The repository directory.
        repo: PathBuf,
        /// The package format.
        format: Format,
    },
    /// `dkms-hook doctor --repair`: report and repair.
    Repair,
    /// Hook: guard the boot against kernels that lack a critical module,
    /// lift the guards whose modules are installed now.
    Guard(GuardJob),
    /// `dkms-hook critical add|remove`: write `critical_modules`.
    SetCritical {
        /// The words the setting has afterwards.
        value: Vec<String>,
        /// The file written (host path).
        file: PathBuf,
        /// Lines to say after writing (modules that stay critical anyway).
        notes: Vec<String>,
    },
    /// `dkms-hook sign`: sign the installed modules of these builds again
    /// with the configured key, each file replaced atomically, the built
    /// copy and the installed one alike.
    Sign {
        /// The installed builds.
        targets: Vec<Mvka>,
    },
    /// `dkms mkbmdeb`: a `.deb` of the installed build of m/v for k/a, left
    /// in `out` inside the dkms tree.
    MkBmDeb {
        /// What.
        at: Mvka,
        /// The directory in the dkms tree.
        out: PathBuf,
    },
}

/// A unit of work: one that only reads, or one that writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Runs with or without the lock.
    Read(ReadJob),
    /// Runs only with the lock.
    Write(WriteJob),
}

impl Job {
    /// Move the step indices this job holds (the steps its summary reads
    /// the outcomes of) up by `n`: the plan put `n` steps in front.
    pub fn shift_steps(&mut self, n: usize) {
        match self {
            Job::Write(WriteJob::AutoSummary(s)) => {
                for i in s.modules.iter_mut().filter_map(|m| m.step.as_mut()) {
                    *i += n;
                }
            }
            Job::Write(WriteJob::RemovalSummary(s)) => {
                for (_, i) in &mut s.modules {
                    *i += n;
                }
            }
            _ => {}
        }
    }
}

impl From<ReadJob> for Job {
    fn from(j: ReadJob) -> Job {
        Job::Read(j)
    }
}

impl From<WriteJob> for Job {
    fn from(j: WriteJob) -> Job {
        Job::Write(j)
    }
}

/// What a plan's jobs look up in the World.
#[derive(Debug, Default)]
pub struct References<'a> {
    /// Kernels whose facts are looked up.
    pub kernels: Vec<&'a str>,
    /// dkms.conf reads.
    pub confs: Vec<&'a ConfKey>,
    /// Kernels something may be built for (their build facts).
    pub builds: Vec<&'a str>,
}

impl<'a> References<'a> {
    /// A kernel something may be built for (its facts are needed too).
    pub fn build(&mut self, k: &'a str) {
        self.kernels.push(k);
        self.builds.push(k);
    }
}

impl Job {
    /// Add what this job looks up in the World to `r`.
    pub fn references<'a>(&'a self, r: &mut References<'a>) {
        match self {
            Job::Read(j) => j.references(r),
            Job::Write(j) => j.references(r),
        }
    }

    /// The job changes a tree.
    pub fn writes(&self) -> bool {
        matches!(self, Job::Write(_))
    }
}

impl ReadJob {
    /// Add what this job looks up in the World to `r`.
    pub fn references<'a>(&'a self, r: &mut References<'a>) {
        match self {
            ReadJob::Say(..)
            | ReadJob::Fail(_)
            | ReadJob::Status { .. }
            | ReadJob::HookSummary
            | ReadJob::Pending
            | ReadJob::Doctor
            | ReadJob::CriticalList
            | ReadJob::Why { .. }
            | ReadJob::Publish { .. } => {}
            ReadJob::ReadConf(key) => r.confs.push(key),
            ReadJob::Package { at, .. } => r.kernels.push(&at.k),
            ReadJob::PrunePreview { kernels } => {
                r.kernels.extend(kernels.iter().map(|pk| pk.k.as_str()));
            }
        }
    }
}

impl WriteJob {
    /// Add what this job looks up in the World to `r`.
    pub fn references<'a>(&'a self, r: &mut References<'a>) {
        match self {
            WriteJob::LoadTarball { .. }
            | WriteJob::RemovalSummary(_)
            | WriteJob::AutoSummary(_)
            | WriteJob::FlushDepmod
            | WriteJob::GenerateMok
            | WriteJob::DeferHeaders { .. }
            | WriteJob::DeferModule { .. }
            | WriteJob::ClearHeadersDeferral { .. }
            | WriteJob::DropKernelRecords { .. }
            | WriteJob::ClearModuleRecords { .. }
            | WriteJob::PublishBuilt { .. }
            | WriteJob::CleanVersion { .. }
            | WriteJob::DeleteVersion { .. }
            | WriteJob::SetCritical { .. }
            | WriteJob::Repair => {}
            WriteJob::Guard(g) => r.kernels.extend(g.bootable.iter().map(String::as_str)),
            WriteJob::Add { conf, .. } | WriteJob::AddSourceTree { conf, .. } => r.confs.push(conf),
            WriteJob::PrepareKernel { k, .. } => r.build(k),
            WriteJob::FinishDepmod { k, .. }
            | WriteJob::LoadInstalled { k }
            | WriteJob::PostTransaction { k, .. } => r.kernels.push(k),
            // An install builds first when the module is not built.
            WriteJob::Build { at, conf, .. }
            | WriteJob::Install { at, conf, .. }
            | WriteJob::AutoInstall { at, conf, .. } => {
                r.build(&at.k);
                r.confs.push(conf);
            }
            WriteJob::Uninstall { at, conf, .. } | WriteJob::RemoveFromKernel { at, conf, .. } => {
                r.kernels.push(&at.k);
                r.confs.push(conf);
            }
            WriteJob::Unbuild(at) | WriteJob::MkBmDeb { at, .. } => r.kernels.push(&at.k),
            WriteJob::Sign { targets } => {
                for t in targets {
                    r.build(&t.k);
                }
            }
            WriteJob::RebuildDependents { k, candidates, .. } => {
                r.build(k);
                for c in candidates {
                    r.confs.push(&c.strict);
                    r.confs.push(&c.plain);
                }
            }
            WriteJob::MkTarball { pairs, conf, .. } => {
                r.kernels.extend(pairs.iter().map(|(k, _)| k.as_str()));
                r.confs.push(conf);
            }
            WriteJob::Prune { kernels, .. } => {
                for pk in kernels {
                    r.kernels.push(&pk.k);
                    r.confs.extend(pk.builds.iter().map(|(_, c)| c));
                }
            }
        }
    }
}
