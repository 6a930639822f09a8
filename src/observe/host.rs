//! The machine a run acts on: the `--root` prefix and the three trees,
//! framework.conf, the distribution, `uname`, the force lists and the
//! command-line options that change how things are read.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout::{Layout, Root};
use crate::observe::settings::{cpu_count, Settings, TreeOverrides};
use crate::observe::trust::Trust;
use crate::observe::{distro, forced, kernel};
use crate::text;

/// Command-line options that change what is observed or how work is done
/// (upstream's globals).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--force`.
    pub force: bool,
    /// `--force-version-override`.
    pub force_version_override: bool,
    /// `--verbose`.
    pub verbose: bool,
    /// `--no-depmod`.
    pub no_depmod: bool,
    /// `--directive NAME=VALUE`, in order.
    pub directives: Vec<(String, String)>,
    /// `--kernelsourcedir`.
    pub kernel_source_dir: Option<PathBuf>,
    /// `--config` (kernel config file).
    pub kernel_config: Option<PathBuf>,
    /// `-c` (dkms.conf location).
    pub conf: Option<PathBuf>,
    /// `--rpm_safe_upgrade`.
    pub rpm_safe_upgrade: bool,
    /// `--modprobe-on-install`.
    pub modprobe_on_install: bool,
    /// `--symlink-modules`.
    pub symlink_modules: bool,
    /// `-j N` (overrides parallel_jobs).
    pub jobs: Option<String>,
}

/// The machine.
#[derive(Debug, Clone)]
pub struct Host {
    /// The root prefix and the trees.
    pub layout: Layout,
    /// framework.conf.
    pub settings: Settings,
    /// Upstream's `running_distribution`.
    pub distribution: String,
    /// `uname -r`.
    pub running_kernel: String,
    /// `uname -m`.
    pub machine_arch: String,
    /// `/etc/dkms/no-autoinstall` exists.
    pub no_autoinstall: bool,
    /// The words of `/usr/share/dkms/modules_to_force_install/*`.
    pub force_words: Vec<String>,
    /// The command-line options.
    pub opts: Options,
    /// `/etc/dkms/<m>.conf` ... override files present (names only).
    pub etc_dkms: Vec<String>,
    /// We run as root (upstream's `check_root`).
    pub is_root: bool,
    /// The dkms tree is writable (upstream's `check_rw_dkms_tree`).
    pub dkms_tree_writable: bool,
    /// Running in a chroot (upstream's `running_in_chroot`): no signing
    /// unless `try_sign_modules=true`.
    pub in_chroot: bool,
    /// Which files another user can change (as root): `/etc/dkms` observed
    /// when the run starts, the rule for the files found later.
    pub trust: Trust,
}

/// Largest number of parallel jobs accepted; larger values are clamped.
pub const MAX_JOBS: usize = 1024;

impl Host {
    /// Observe the machine under `root` (`--root`, else `DKMS_ROOT`, else `/`).
    pub fn observe(root: Option<PathBuf>, trees: &TreeOverrides, opts: Options) -> Result<Host> {
        let root = match root {
            Some(r) => Root::new(r),
            None => match std::env::var("DKMS_ROOT") {
                Ok(r) if !r.is_empty() => Root::new(r),
                _ => Root::default(),
            },
        };
        if !root.dir().is_dir() {
            return Err(Error::usage([text::root_missing(
                &root.dir().display().to_string(),
            )]));
        }
        let distribution = distro::running_distribution(&root)?;
        let is_root = rustix::process::geteuid().is_root();
        let trust = Trust::observe(&root, is_root);
        let settings = Settings::load(&root, trees, &trust);
        let layout = Layout {
            root: root.clone(),
            dkms: settings.dkms_tree.clone(),
            source: settings.source_tree.clone(),
            install: settings.install_tree.clone(),
        };
        let etc = root.join("/etc/dkms");
        let dkms_tree_writable =
            rustix::fs::access(&settings.dkms_tree, rustix::fs::Access::WRITE_OK).is_ok();
        Ok(Host {
            no_autoinstall: etc.join("no-autoinstall").exists(),
            force_words: forced::force_words(&root),
            etc_dkms: crate::fs::list_names(&etc),
            layout,
            settings,
            distribution,
            is_root,
            dkms_tree_writable,
            in_chroot: running_in_chroot(),
            trust,
            running_kernel: kernel::running_kernel(),
            machine_arch: kernel::machine_arch(),
            opts,
        })
    }

    /// The override files upstream reads after dkms.conf, in order (existing only).
    pub fn override_files(&self, m: &str, v: &str, k: &str, a: &str) -> Vec<PathBuf> {
        let etc = self.layout.root.join("/etc/dkms");
        [
            format!("{m}.conf"),
            format!("{m}-{v}.conf"),
            format!("{m}-{v}-{k}.conf"),
            format!("{m}-{v}-{k}-{a}.conf"),
            format!("{m}--{k}.conf"),
            format!("{m}--{k}-{a}.conf"),
        ]
        .into_iter()
        .filter(|f| self.etc_dkms.iter().any(|e| e == f))
        .map(|f| etc.join(f))
        .collect()
    }

    /// A host for planner tests: the given trees, no configuration, root.
    #[cfg(test)]
    pub fn for_tests(layout: Layout) -> Host {
        Host {
            settings: Settings::from_raw(
                &layout.root,
                Default::default(),
                &TreeOverrides::default(),
            ),
            trust: Trust::off(&layout.root),
            layout,
            distribution: "debian".into(),
            running_kernel: "6.1.0-1-amd64".into(),
            machine_arch: "x86_64".into(),
            no_autoinstall: false,
            force_words: Vec::new(),
            opts: Options::default(),
            etc_dkms: Vec::new(),
            is_root: true,
            dkms_tree_writable: true,
            in_chroot: false,
        }
    }

    /// Verbose output requested (`--verbose` or framework `verbose`).
    pub fn verbose(&self) -> bool {
        self.opts.verbose || self.settings.verbose
    }

    /// The make jobs asked for: `-j`, else parallel_jobs. `None` when unset
    /// or not a number; a number too large to hold counts as the largest.
    fn asked_jobs(&self) -> Option<usize> {
        let raw = match &self.opts.jobs {
            Some(j) => j.as_str(),
            None => self.settings.parallel_jobs.as_str(),
        };
        match raw.trim().parse::<usize>() {
            Ok(n) => Some(n),
            Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => Some(usize::MAX),
            Err(_) => None,
        }
    }

    /// make jobs for the hooks' jobserver: `-j`, else parallel_jobs, else
    /// the CPU count; never 0, and never more than [`MAX_JOBS`] (a
    /// jobserver of 100000 tokens would hang filling its pipe).
    pub fn jobs(&self) -> usize {
        self.asked_jobs()
            .filter(|n| *n > 0)
            .unwrap_or_else(cpu_count)
            .min(MAX_JOBS)
    }

    /// Upstream's `-j$parallel_jobs` for `dkms build`: `-j`, else
    /// parallel_jobs, else the CPU count; `None` for 0 (upstream's bare
    /// `-j`, which the administrator asks for by name). Never more than
    /// [`MAX_JOBS`]: the limit holds for every entry point, silently for
    /// `dkms`, which prints upstream's text only.
    pub fn upstream_jobs(&self) -> Option<usize> {
        match self.asked_jobs() {
            Some(0) => None,
            Some(n) => Some(n.min(MAX_JOBS)),
            None => Some(cpu_count().min(MAX_JOBS)),
        }
    }

    /// True when the jobs asked for were more than [`MAX_JOBS`].
    pub fn jobs_clamped(&self) -> bool {
        self.asked_jobs().is_some_and(|n| n > MAX_JOBS)
    }
}

/// Upstream's `running_in_chroot` (a port of Debian's `ischroot`): true
/// under fakechroot, when our mount table differs from init's, or (as root)
/// when our `/` is not init's.
pub fn running_in_chroot() -> bool {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    if env("FAKECHROOT") == "true"
        && std::env::var_os("FAKECHROOT_BASE").is_some()
        && env("LD_PRELOAD").contains("libfakechroot.so")
    {
        return true;
    }
    if let (Ok(a), Ok(b)) = (
        crate::fs::read_regular(Path::new("/proc/1/mountinfo"), 1 << 24),
        crate::fs::read_regular(Path::new("/proc/self/mountinfo"), 1 << 24),
    ) {
        if a != b {
            return true;
        }
    }
    if rustix::process::geteuid().is_root() {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (std::fs::metadata("/proc/1/root"), std::fs::metadata("/")) {
            if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
                return true;
            }
        }
    }
    false
}

/// Secure Boot as the firmware reports it under `root`: `None` without EFI
/// (no `/sys/firmware/efi`), else whether the `SecureBoot` EFI variable is 1.
pub fn secure_boot(root: &crate::layout::Root) -> Option<bool> {
    let efi = root.join("/sys/firmware/efi");
    if !efi.is_dir() {
        return None;
    }
    let var = efi.join("efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c6b8a0b8c");
    let data = crate::fs::read_regular(&var, 64).unwrap_or_default();
    // 4 bytes of attributes, then the value.
    Some(data.get(4) == Some(&1))
}
