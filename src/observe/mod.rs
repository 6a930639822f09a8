//! Observe: everything a run decides from, read once into plain values
//! ([`World`]) before anything is planned. Nothing here writes; nothing here
//! prints (what upstream would print while reading is carried as data).
//!
//! - [`host`]: uname, os-release, framework.conf, force lists.
//! - [`tree`]: the registered modules and their states.
//! - [`kernel`]: installed kernels, headers, config, module compression.
//! - [`conf`]: dkms.conf (static reader, bash evaluator, resolution).
//! - [`pending`]: the deferred-work queue and failure records.
//! - [`prebuilt`]: modules that binary module packages provide.
//! - [`files`]: where an installed module really is, byte comparisons.
//! - [`status`]: the facts behind each `dkms status` line.
//! - [`elf`]: the ELF reader (a named section of a module or vmlinux).
//! - [`trust`]: which files another user can change (refused as root).
//! - [`why`]: what `dkms-hook why` decides from, with [`module_file`]
//!   (compression, modinfo, signature of one file), [`signature`],
//!   [`x509`] and [`der`] (who signed it), [`secure_boot`] (enforcement,
//!   MOK, keyrings), [`keys`] (the configured pair), [`modprobe_conf`]
//!   (blacklists, depmod overrides), [`loaded`] and [`kernel_log`] (the
//!   running kernel).
//! - [`modinfo`], [`version`], [`distro`], [`settings`], [`forced`]: helpers.

pub mod build_facts;
pub mod conf;
pub mod der;
pub mod distro;
pub mod elf;
mod facts;
pub mod files;
pub mod forced;
pub mod history;
pub mod host;
pub mod kernel;
pub mod kernel_log;
pub mod keys;
pub mod loaded;
pub mod modinfo;
pub mod modprobe_conf;
pub mod module_file;
pub mod msg;
pub mod pending;
pub mod prebuilt;
pub mod secure_boot;
pub mod settings;
pub mod signature;
pub mod status;
pub mod tree;
pub mod trust;
pub mod version;
pub mod why;
pub mod x509;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use elsa::sync::FrozenBTreeMap;

pub use build_facts::BuildFacts;
pub use facts::Facts;
pub use host::{Host, Options};

use conf::resolve::ResolveOpts;
use conf::{ConfContext, ConfFiles, ConfRead};
use kernel::{Kernel, KernelFacts};
use pending::Records;
use tree::TreeState;

/// A module version on a kernel and arch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mvka {
    /// Module.
    pub m: String,
    /// Version.
    pub v: String,
    /// Kernel.
    pub k: String,
    /// Arch.
    pub a: String,
}

impl Mvka {
    /// m/v on k/a.
    pub fn new(m: &str, v: &str, k: &str, a: &str) -> Mvka {
        Mvka {
            m: m.into(),
            v: v.into(),
            k: k.into(),
            a: a.into(),
        }
    }
}

/// Which dkms.conf, read for which module, kernel and arch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfKey {
    /// The dkms.conf itself (host path).
    pub path: PathBuf,
    /// The path upstream names in messages (through the `source` link).
    pub shown: PathBuf,
    /// `$module` while reading.
    pub module: String,
    /// `$module_version` while reading.
    pub version: String,
    /// `$kernelver`.
    pub kernel: String,
    /// `$arch`.
    pub arch: String,
    /// Upstream's `read_conf_strict` (add/build/install) rather than `read_conf`.
    pub strict: bool,
}

impl ConfKey {
    /// The key for `path` (named `shown` in messages), read for module,
    /// version, kernel and arch `mvka`.
    pub fn new(path: PathBuf, shown: PathBuf, mvka: [&str; 4], strict: bool) -> ConfKey {
        let [m, v, k, a] = mvka;
        ConfKey {
            path,
            shown,
            module: m.into(),
            version: v.into(),
            kernel: k.into(),
            arch: a.into(),
            strict,
        }
    }
}

/// Everything one run knows: the host, the dkms tree, the queue and the
/// binary module packages, read when the World is made; and the facts of
/// kernels, dkms.conf reads and build costs, observed the first time the
/// planner asks for them ([`Facts`]) and kept, so that the plan and the
/// executor see one answer to each question. The executor's getters
/// ([`World::kernel`], [`World::conf`]) only answer what was observed.
pub struct World {
    /// The machine: trees, settings, distribution, uname.
    pub host: Host,
    /// The dkms tree.
    pub tree: TreeState,
    /// The pending queue and failure records.
    pub records: Records,
    /// Modules provided by installed binary module packages.
    pub prebuilt: Vec<prebuilt::Prebuilt>,
    kernels: FrozenBTreeMap<String, Box<KernelFacts>>,
    confs: FrozenBTreeMap<ConfKey, Box<ConfRead>>,
    costs: FrozenBTreeMap<(String, String), Box<u64>>,
    paths: FrozenBTreeMap<PathBuf, Box<PathKind>>,
    installed_kernels: OnceLock<Vec<String>>,
    build_facts: FrozenBTreeMap<String, Box<BuildFacts>>,
    // Boxed: the append-only map hands out references into stable heap
    // values (a BTreeMap itself is not one).
    #[allow(clippy::box_collection)]
    recorded_deps: FrozenBTreeMap<Mvka, Box<BTreeMap<String, String>>>,
    build_environment: OnceLock<Vec<(String, String)>>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("host", &self.host)
            .field("tree", &self.tree)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

/// What stands at a path the planner asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Nothing (or nothing we may follow).
    Missing,
    /// A regular file (after following links).
    File,
    /// A directory (after following links).
    Dir,
    /// Something else.
    Other,
}

impl World {
    /// Read the tree and the queue of `host`.
    pub fn observe(host: Host) -> World {
        let tree = TreeState::read(&host.layout);
        let records = Records::read(&host.layout);
        let prebuilt = prebuilt::read_all(&host.layout);
        World {
            host,
            tree,
            records,
            prebuilt,
            kernels: FrozenBTreeMap::new(),
            confs: FrozenBTreeMap::new(),
            costs: FrozenBTreeMap::new(),
            paths: FrozenBTreeMap::new(),
            installed_kernels: OnceLock::new(),
            build_facts: FrozenBTreeMap::new(),
            recorded_deps: FrozenBTreeMap::new(),
            build_environment: OnceLock::new(),
        }
    }

    /// The facts of kernel `k`, when they were observed.
    pub fn kernel(&self, k: &str) -> Option<&KernelFacts> {
        self.kernels.get(k)
    }

    /// A dkms.conf read, when it was observed.
    pub fn conf(&self, key: &ConfKey) -> Option<&ConfRead> {
        self.confs.get(key)
    }

    /// Record the facts of kernel `k` (tests describe kernels this way;
    /// observation fills them through [`Facts`]).
    #[cfg(test)]
    pub(crate) fn set_kernel(&self, k: &str, facts: KernelFacts) -> &KernelFacts {
        self.kernels.insert(k.to_string(), Box::new(facts))
    }

    /// Record a dkms.conf read (tests; observation fills them through
    /// [`Facts`]).
    #[cfg(test)]
    pub(crate) fn set_conf(&self, key: ConfKey, read: ConfRead) -> &ConfRead {
        self.confs.insert(key, Box::new(read))
    }

    /// Observe kernel `k` unless it was (only [`Facts`] asks).
    fn observe_kernel(&self, k: &str) -> &KernelFacts {
        if let Some(f) = self.kernels.get(k) {
            return f;
        }
        let h = &self.host;
        let kernel = Kernel::rooted(
            &h.layout.root,
            &h.layout.install,
            k,
            h.opts.kernel_source_dir.as_deref(),
        );
        let facts = KernelFacts::observe(kernel, &h.layout.root, h.opts.kernel_config.as_deref());
        self.kernels.insert(k.to_string(), Box::new(facts))
    }

    /// Read a dkms.conf unless it was (only [`Facts`] asks).
    fn observe_conf(&self, key: &ConfKey) -> &ConfRead {
        if let Some(r) = self.confs.get(key) {
            return r;
        }
        let read = self.read_conf(key);
        self.confs.insert(key.clone(), Box::new(read))
    }

    /// Estimate the build cost of m/v unless it was (only [`Facts`] asks).
    fn observe_cost(&self, m: &str, v: &str) -> u64 {
        let key = (m.to_string(), v.to_string());
        if let Some(c) = self.costs.get(&key) {
            return *c;
        }
        let c = history::estimate(&self.host.layout, &self.tree, m, v);
        *self.costs.insert(key, Box::new(c))
    }

    /// The kernels with a directory in the install tree (only [`Facts`] asks).
    fn observe_installed_kernels(&self) -> &[String] {
        self.installed_kernels
            .get_or_init(|| kernel::list_kernels(&self.host.layout.install))
    }

    /// What stands at `p` (only [`Facts`] asks).
    fn observe_path(&self, p: &Path) -> PathKind {
        if let Some(k) = self.paths.get(p) {
            return *k;
        }
        let kind = match std::fs::metadata(p) {
            Ok(m) if m.is_file() => PathKind::File,
            Ok(m) if m.is_dir() => PathKind::Dir,
            Ok(_) => PathKind::Other,
            Err(_) => PathKind::Missing,
        };
        *self.paths.insert(p.to_path_buf(), Box::new(kind))
    }

    /// The build facts of kernel `k`, when they were observed.
    pub fn build_facts(&self, k: &str) -> Option<&BuildFacts> {
        self.build_facts.get(k)
    }

    /// Observe kernel `k`'s build facts unless they were (only [`Facts`]
    /// asks): the configuration read, `build_environment` run once.
    fn observe_build_facts(&self, k: &str) -> &BuildFacts {
        if let Some(b) = self.build_facts.get(k) {
            return b;
        }
        let env = self.build_environment.get_or_init(|| {
            forced::build_environment(self.host.settings.build_environment.as_deref())
        });
        let b = BuildFacts::observe(self.observe_kernel(k), env);
        self.build_facts.insert(k.to_string(), Box::new(b))
    }

    /// The `.dep_` records of a build, read unless they were (only
    /// [`Facts`] asks).
    fn observe_recorded_deps(&self, at: &Mvka) -> &BTreeMap<String, String> {
        if let Some(d) = self.recorded_deps.get(at) {
            return d;
        }
        let d = tree::recorded_deps(&self.host.layout, &at.m, &at.v, &at.k, &at.a);
        self.recorded_deps.insert(at.clone(), Box::new(d))
    }

    /// The expected build cost of m/v in milliseconds, when it was estimated.
    pub fn cost(&self, m: &str, v: &str) -> Option<u64> {
        self.costs.get(&(m.to_string(), v.to_string())).copied()
    }

    /// True when an installed binary module package provides module `m`
    /// (any version) for k/a: nothing has to be built for it there.
    pub fn provided_prebuilt(&self, m: &str, k: &str, a: &str) -> bool {
        self.prebuilt
            .iter()
            .any(|p| p.module == m && p.kernel == k && p.arch == a)
    }

    /// The key for m/v's registered dkms.conf (or `-c`) on k/a.
    pub fn conf_key(&self, m: &str, v: &str, k: &str, a: &str, strict: bool) -> ConfKey {
        let l = &self.host.layout;
        let (path, shown) = match &self.host.opts.conf {
            Some(c) => (c.clone(), c.clone()),
            None => {
                let src = self
                    .tree
                    .version(m, v)
                    .filter(|s| s.added)
                    .map(|s| s.source_dir.clone())
                    .unwrap_or_else(|| l.source_tree_dir(m, v));
                (src.join("dkms.conf"), l.source_link(m, v).join("dkms.conf"))
            }
        };
        ConfKey::new(path, shown, [m, v, k, a], strict)
    }

    /// The registered source's dkms.conf named explicitly, as upstream reads
    /// it in status, autoinstall and maybe_uninstall (never `-c`).
    pub fn source_conf_key(&self, m: &str, v: &str, k: &str, a: &str, strict: bool) -> ConfKey {
        let l = &self.host.layout;
        let shown = l.source_link(m, v).join("dkms.conf");
        let path = self
            .tree
            .version(m, v)
            .map(|s| s.source_dir.join("dkms.conf"))
            .unwrap_or_else(|| shown.clone());
        ConfKey::new(path, shown, [m, v, k, a], strict)
    }

    /// The key for the dkms.conf at `path` itself (add, a source directory
    /// given on the command line), named as given.
    pub fn conf_key_at(
        &self,
        path: PathBuf,
        m: &str,
        v: &str,
        k: &str,
        a: &str,
        strict: bool,
    ) -> ConfKey {
        ConfKey::new(path.clone(), path, [m, v, k, a], strict)
    }

    /// Read one dkms.conf with its override files now. Planning and
    /// executing use the reads made when the World was filled; only a
    /// dkms.conf that did not exist then (one unpacked from an archive
    /// during the run) is read through this.
    pub fn read_conf_now(&self, key: &ConfKey) -> ConfRead {
        self.read_conf(key)
    }

    /// Read one dkms.conf with its override files. An override file another
    /// user can change makes the read fail (exit 1) unread: bash would
    /// source it as root.
    fn read_conf(&self, key: &ConfKey) -> ConfRead {
        let h = &self.host;
        let files = ConfFiles {
            overrides: h.override_files(&key.module, &key.version, &key.kernel, &key.arch),
            main: key.path.clone(),
        };
        if let Some(u) = files.overrides.iter().find_map(|f| h.trust.of(f)) {
            return ConfRead {
                bash_stderr: String::new(),
                directive_lines: Vec::new(),
                result: Err(conf::ConfError::plain(crate::error::Error::denied([
                    u.line()
                ]))),
            };
        }
        let ctx = self.conf_context(key);
        let opts = ResolveOpts {
            distribution: h.distribution.clone(),
            strict: key.strict,
            directives: h.opts.directives.clone(),
            conf_path: key.shown.display().to_string(),
        };
        conf::load::load(&files, &ctx, &opts)
    }

    /// The variables upstream has in scope while sourcing a dkms.conf.
    fn conf_context(&self, key: &ConfKey) -> ConfContext {
        let h = &self.host;
        let kernel = match self.kernels.get(key.kernel.as_str()) {
            Some(f) => f.kernel.clone(),
            None => Kernel::rooted(
                &h.layout.root,
                &h.layout.install,
                &key.kernel,
                h.opts.kernel_source_dir.as_deref(),
            ),
        };
        let config = h
            .opts
            .kernel_config
            .clone()
            .unwrap_or_else(|| kernel.config_path());
        ConfContext {
            kernelver: key.kernel.clone(),
            arch: key.arch.clone(),
            kernel_source_dir: kernel.source_dir.display().to_string(),
            dkms_tree: h.layout.dkms.display().to_string(),
            source_tree: h.layout.source.display().to_string(),
            install_tree: h.layout.install.display().to_string(),
            module: key.module.clone(),
            module_version: key.version.clone(),
            kernel_config: config.display().to_string(),
            tmp_location: h.settings.tmp_location.display().to_string(),
        }
    }
}
