//! The values every action needs, observed once per run: settings from
//! framework.conf, the distribution, and the command-line options that change
//! how work is done.

use std::path::PathBuf;

use crate::conf::resolve::{load, ResolveOpts};
use crate::conf::{ConfContext, ConfFiles, ModuleConf};
use crate::config::Settings;
use crate::error::Result;
use crate::kernel::Kernel;
use crate::tree::Tree;

/// Command-line options shared by the actions (upstream's globals).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--force`.
    pub force: bool,
    /// `--force-version-override`.
    pub force_version_override: bool,
    /// `--verbose` (or framework `verbose`).
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

/// One run's observed world.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// framework.conf and tree locations.
    pub settings: Settings,
    /// Upstream's `running_distribution`.
    pub distribution: String,
    /// Command-line options.
    pub opts: Options,
}

impl Ctx {
    /// The dkms tree view.
    pub fn tree(&self) -> Tree {
        Tree::new(
            self.settings.root.clone(),
            self.settings.dkms_tree.clone(),
            self.settings.source_tree.clone(),
        )
    }

    /// The kernel `kver` under the install tree (with `--kernelsourcedir` applied).
    pub fn kernel(&self, kver: &str) -> Kernel {
        Kernel::new(
            &self.settings.install_tree,
            kver,
            self.opts.kernel_source_dir.as_deref(),
        )
    }

    /// Verbose output requested.
    pub fn verbose(&self) -> bool {
        self.opts.verbose || self.settings.verbose
    }

    /// make jobs.
    pub fn jobs(&self) -> usize {
        match &self.opts.jobs {
            Some(j) => j
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or_else(crate::config::cpu_count),
            None => self.settings.jobs(),
        }
    }

    /// The kernel config file used for BUILD_EXCLUSIVE_CONFIG and signing.
    pub fn kernel_config(&self, kernel: &Kernel) -> PathBuf {
        self.opts
            .kernel_config
            .clone()
            .unwrap_or_else(|| kernel.config_path())
    }

    /// The variables upstream has in scope while sourcing dkms.conf.
    pub fn conf_context(&self, m: &str, v: &str, kver: &str, arch: &str) -> ConfContext {
        let kernel = self.kernel(kver);
        let s = &self.settings;
        ConfContext {
            kernelver: kver.to_string(),
            arch: arch.to_string(),
            kernel_source_dir: kernel.source_dir.display().to_string(),
            dkms_tree: s.dkms_tree.display().to_string(),
            source_tree: s.source_tree.display().to_string(),
            install_tree: s.install_tree.display().to_string(),
            module: m.to_string(),
            module_version: v.to_string(),
            kernel_config: self.kernel_config(&kernel).display().to_string(),
            tmp_location: s.tmp_location.display().to_string(),
        }
    }

    /// The override files upstream reads after dkms.conf, in order (existing only).
    pub fn override_files(&self, m: &str, v: &str, k: &str, a: &str) -> Vec<PathBuf> {
        let etc = self.settings.root.join("/etc/dkms");
        [
            format!("{m}.conf"),
            format!("{m}-{v}.conf"),
            format!("{m}-{v}-{k}.conf"),
            format!("{m}-{v}-{k}-{a}.conf"),
            format!("{m}--{k}.conf"),
            format!("{m}--{k}-{a}.conf"),
        ]
        .into_iter()
        .map(|f| etc.join(f))
        .filter(|p| p.exists())
        .collect()
    }

    /// Read and resolve a dkms.conf for m/v on k/a. `main` defaults to the
    /// registered source's dkms.conf (or `-c`).
    pub fn read_conf(
        &self,
        m: &str,
        v: &str,
        k: &str,
        a: &str,
        main: Option<PathBuf>,
        strict: bool,
    ) -> Result<ModuleConf> {
        // Messages name the file as upstream does (through the `source`
        // link); reading goes through the link resolved under the root.
        let (main, shown) = match main.or_else(|| self.opts.conf.clone()) {
            Some(p) => (p.clone(), p),
            None => {
                let tree = self.tree();
                (
                    tree.source_dir(m, v).join("dkms.conf"),
                    tree.source_link(m, v).join("dkms.conf"),
                )
            }
        };
        let files = ConfFiles {
            overrides: self.override_files(m, v, k, a),
            main: main.clone(),
        };
        let ctx = self.conf_context(m, v, k, a);
        let opts = ResolveOpts {
            distribution: self.distribution.clone(),
            strict,
            directives: self.opts.directives.clone(),
            conf_path: shown.display().to_string(),
        };
        let conf = load(&files, &ctx, &opts)?;
        if strict {
            for d in &conf.deprecations {
                eprintln!("{d}");
            }
        }
        Ok(conf)
    }
}
