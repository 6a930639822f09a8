//! The serial model: what an uninterrupted run of the same events, one
//! after another, leaves behind. Written from the documented behaviour
//! (SPEC.md, README.md's failure policy, dkms(8) and dkms-hook(8)), not
//! from the engine:
//!
//! * `autoinstall` (and the hooks that run it) builds and installs, per
//!   kernel, the newest registered version of every AUTOINSTALL module, in
//!   BUILD_DEPENDS order; a module BUILD_EXCLUSIVE rules out is skipped; a
//!   module whose BUILD_DEPENDS is not registered at all is deferred and
//!   recorded as pending; one whose dependency failed in the same run
//!   fails; a failed build or install never removes the version that was
//!   installed before (dkms(8) autoinstall, BUILD_DEPENDS; SPEC 2).
//! * Headers missing in a hook: exit 0, the kernel recorded as pending
//!   when there is work for it (README "When the headers are not installed
//!   yet"); `header-postinst K` builds for K and for every pending kernel
//!   whose headers are present; `apt-post-invoke` and `boot` finish
//!   pending work whose headers are present, then prune (dkms-hook(8)).
//! * `kernel-prerm K` uninstalls and unbuilds every module built for K,
//!   drops K's pending records, then prunes; prune removes the builds and
//!   kernel links of kernels with neither image nor headers.
//! * Exit codes: hooks follow README's failure policy (11 on a real build
//!   or install failure of autoinstall; kernel-postinst and header-postinst
//!   go on with 0 when no critical module failed, and the campaign marks
//!   none critical; always 0 for kernel-prerm, apt-post-invoke and boot); `dkms` follows dkms(8) EXIT STATUS (3 not registered, 0
//!   and a skip line for a version already installed, 6 install failed, 10 build failed, 13 BUILD_DEPENDS
//!   missing, 21 headers missing, 77 BUILD_EXCLUSIVE).
//! * A module installed over a kernel's own module of that name sets that
//!   one aside and puts it back on uninstall (dkms(8) ORIGINAL MODULES).

use std::collections::{BTreeMap, BTreeSet};

use super::event::Step;
use super::universe::{Mv, Universe, CATALOG, MODULES, ORIGINAL_REL};

/// What the model says about an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly this code.
    Code(i32),
    /// The documentation does not say.
    Any,
}

impl Expect {
    /// True if `code` is what the model expects.
    pub fn admits(self, code: i32) -> bool {
        match self {
            Expect::Code(c) => c == code,
            Expect::Any => true,
        }
    }
}

/// The state a serial run leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Kernel release names, by index.
    pub kernels: Vec<String>,
    /// The kernel that ships an original hello.
    pub original_on: Option<usize>,
    /// Kernels excl may be built for.
    pub excl_allows: Vec<bool>,
    /// The kernel image is installed.
    pub image: Vec<bool>,
    /// The kernel headers are installed.
    pub headers: Vec<bool>,
    /// Sources present under /usr/src.
    pub sources: BTreeSet<Mv>,
    /// Registered with dkms (`added`).
    pub registered: BTreeSet<Mv>,
    /// Built for a kernel (installed ones included).
    pub built: BTreeSet<(Mv, usize)>,
    /// Per (module, kernel): the installed version.
    pub installed: BTreeMap<(&'static str, usize), Mv>,
    /// Kernels waiting for their headers.
    pub pending_headers: BTreeSet<usize>,
    /// (kernel, module) waiting for a BUILD_DEPENDS module to be registered.
    pub pending_deps: BTreeSet<(usize, &'static str)>,
    /// Whether the last command had a real build or install failure (the
    /// package hooks go on with exit 0 after one: it is not in their code).
    pub last_failed: bool,
}

/// A pending entry as compared: kernel, reason, module.
pub type PendingEntry = (String, String, Option<String>);

impl Model {
    /// The empty machine of `u`: no kernels, no modules.
    pub fn new(u: &Universe) -> Model {
        let n = u.kernels.len();
        Model {
            kernels: u.kernels.clone(),
            original_on: u
                .original_on
                .as_ref()
                .and_then(|o| u.kernels.iter().position(|k| k == o)),
            excl_allows: u.kernels.iter().map(|k| u.excl_allows(k)).collect(),
            image: vec![false; n],
            headers: vec![false; n],
            sources: BTreeSet::new(),
            registered: BTreeSet::new(),
            built: BTreeSet::new(),
            installed: BTreeMap::new(),
            pending_headers: BTreeSet::new(),
            pending_deps: BTreeSet::new(),
            last_failed: false,
        }
    }

    /// The newest registered version of module `m`.
    pub fn newest(&self, m: &str) -> Option<Mv> {
        self.registered
            .iter()
            .filter(|mv| mv.m == m)
            .max_by(|a, b| a.v.cmp(b.v))
            .copied()
    }

    fn excluded(&self, mv: Mv, k: usize) -> bool {
        mv.exclusive() && !self.excl_allows[k]
    }

    /// True if an autoinstall for `k` has something to build.
    pub fn would_build(&self, k: usize) -> bool {
        MODULES
            .iter()
            .filter_map(|m| self.newest(m))
            .any(|mv| !self.excluded(mv, k) && self.installed.get(&(mv.m, k)) != Some(&mv))
    }

    /// Autoinstall for `k` (headers present); `full`: the kernel whose
    /// install tree is full. True when a module failed.
    fn autoinstall_kernel(&mut self, k: usize, full: Option<usize>) -> bool {
        self.pending_headers.remove(&k);
        self.pending_deps.retain(|(kk, _)| *kk != k);
        let mut failed: BTreeSet<&str> = BTreeSet::new();
        for m in MODULES {
            let Some(mv) = self.newest(m) else { continue };
            if self.excluded(mv, k) || self.installed.get(&(mv.m, k)) == Some(&mv) {
                continue;
            }
            if let Some(d) = mv.depends() {
                if self.newest(d).is_none() {
                    self.pending_deps.insert((k, mv.m));
                    continue;
                }
                if failed.contains(d) {
                    failed.insert(mv.m);
                    continue;
                }
            }
            if mv.broken() {
                failed.insert(mv.m);
                continue;
            }
            self.built.insert((mv, k));
            if full == Some(k) {
                failed.insert(mv.m);
            } else {
                self.installed.insert((mv.m, k), mv);
            }
        }
        !failed.is_empty()
    }

    /// A hook's autoinstall of `k`: deferral without headers.
    fn hook_kernel(&mut self, k: usize, full: Option<usize>) -> bool {
        if !self.headers[k] {
            if self.would_build(k) {
                self.pending_headers.insert(k);
            }
            return false;
        }
        self.autoinstall_kernel(k, full)
    }

    /// Kernels with pending work whose headers are present.
    fn pending_ready(&self) -> Vec<usize> {
        let mut ks: BTreeSet<usize> = self.pending_headers.clone();
        ks.extend(self.pending_deps.iter().map(|(k, _)| *k));
        ks.into_iter().filter(|k| self.headers[*k]).collect()
    }

    fn uninstall(&mut self, m: &str, k: usize) {
        self.installed.retain(|(mm, kk), _| !(*mm == m && *kk == k));
    }

    /// Prune: kernels with neither image nor headers lose builds, links
    /// and records.
    fn prune(&mut self) {
        let gone: Vec<usize> = (0..self.kernels.len())
            .filter(|k| !self.image[*k] && !self.headers[*k])
            .collect();
        for k in gone {
            self.built.retain(|(_, kk)| *kk != k);
            self.installed.retain(|(_, kk), _| *kk != k);
            self.pending_headers.remove(&k);
            self.pending_deps.retain(|(kk, _)| *kk != k);
        }
    }

    /// `dkms remove mv --all`.
    fn dkms_remove(&mut self, mv: Mv) -> Expect {
        if !self.registered.contains(&mv) {
            return Expect::Code(3);
        }
        self.installed.retain(|_, v| *v != mv);
        self.built.retain(|(b, _)| *b != mv);
        self.registered.remove(&mv);
        if self.newest(mv.m).is_none() {
            self.pending_deps.retain(|(_, m)| *m != mv.m);
        }
        Expect::Code(0)
    }

    /// True if `step` makes sense in this state (the generator and the
    /// shrinker only play such steps).
    pub fn valid(&self, step: &Step) -> bool {
        let n = self.kernels.len();
        let k_ok = |k: usize| k < n;
        match step {
            // A kernel comes back only once prune forgot it: a kernel
            // package reinstalled over what dkms still holds for it brings
            // its own modules back beside ours, which no document covers.
            Step::InstallKernel { k, .. } => {
                k_ok(*k)
                    && !self.image[*k]
                    && !self.headers[*k]
                    && !self.built.iter().any(|(_, kk)| kk == k)
            }
            Step::InstallHeaders { k } => k_ok(*k) && self.image[*k] && !self.headers[*k],
            Step::RemoveKernel { k } | Step::RemoveKernelFiles { k } => k_ok(*k) && self.image[*k],
            Step::AddModule(mv) => !self.registered.contains(mv),
            Step::RemoveModule(mv) => {
                self.registered.contains(mv)
                    && self.sources.contains(mv)
                    && !self.restores_into_removed(*mv)
            }
            Step::Autoinstall(Some(k)) => k_ok(*k) && self.image[*k],
            Step::Autoinstall(None) | Step::AptPostInvoke | Step::Boot => true,
            Step::DkmsInstall(mv, k) => {
                k_ok(*k)
                    && self.image[*k]
                    && self.sources.contains(mv)
                    && self
                        .installed
                        .get(&(mv.m, *k))
                        .is_none_or(|cur| cur.v <= mv.v)
            }
            Step::DkmsUninstall(mv, k) => {
                k_ok(*k) && self.image[*k] && self.registered.contains(mv)
            }
            Step::DkmsRemove(mv) => {
                self.registered.contains(mv) && !self.restores_into_removed(*mv)
            }
        }
    }

    /// True if uninstalling `mv` everywhere would put a kernel's own
    /// module back into the tree of a kernel removed without its hooks
    /// (and not pruned yet): `dkms` does that as upstream does, and the
    /// restored file makes the removed kernel look installed again, a
    /// state no document describes. Sequences stay clear of it.
    fn restores_into_removed(&self, mv: Mv) -> bool {
        self.original_on
            .is_some_and(|k| !self.image[k] && self.installed.get(&(mv.m, k)) == Some(&mv))
    }

    /// What the package manager does before the command: files arrive.
    pub fn pre(&mut self, step: &Step) {
        match step {
            Step::InstallKernel { k, headers } => {
                self.image[*k] = true;
                self.headers[*k] = *headers;
            }
            Step::InstallHeaders { k } => self.headers[*k] = true,
            Step::AddModule(mv) => {
                self.sources.insert(*mv);
            }
            Step::RemoveKernelFiles { k } => {
                self.image[*k] = false;
                self.headers[*k] = false;
            }
            _ => {}
        }
    }

    /// What the package manager does after the command: files go.
    pub fn post(&mut self, step: &Step) {
        match step {
            Step::RemoveKernel { k } => {
                self.image[*k] = false;
                self.headers[*k] = false;
            }
            Step::RemoveModule(mv) => {
                self.sources.remove(mv);
            }
            _ => {}
        }
    }

    /// True if `step` runs a command.
    pub fn has_command(step: &Step) -> bool {
        !matches!(step, Step::RemoveKernelFiles { .. })
    }

    /// The command of `step`, with the install tree of `full` full:
    /// changes the state and says the exit code.
    pub fn command(&mut self, step: &Step, full: Option<usize>) -> Expect {
        self.last_failed = false;
        let hook = |failed: bool| Expect::Code(if failed { 11 } else { 0 });
        match step {
            // The package hooks go on after a failure of a module that is
            // not critical (dkms-hook(8), the failure policy); the campaign marks
            // no module critical.
            Step::InstallKernel { k, .. } => {
                self.last_failed = self.hook_kernel(*k, full);
                Expect::Code(0)
            }
            Step::InstallHeaders { k } => {
                let mut ks: BTreeSet<usize> = self.pending_ready().into_iter().collect();
                ks.insert(*k);
                let mut failed = false;
                for k in ks {
                    failed |= self.autoinstall_kernel(k, full);
                }
                self.last_failed = failed;
                Expect::Code(0)
            }
            Step::Autoinstall(Some(k)) => hook(self.hook_kernel(*k, full)),
            Step::Autoinstall(None) => {
                let mut failed = false;
                for k in 0..self.kernels.len() {
                    if self.image[k] {
                        failed |= self.hook_kernel(k, full);
                    }
                }
                hook(failed)
            }
            Step::AptPostInvoke | Step::Boot => {
                for k in self.pending_ready() {
                    self.autoinstall_kernel(k, full);
                }
                self.prune();
                Expect::Code(0)
            }
            Step::RemoveKernel { k } => {
                let k = *k;
                self.installed.retain(|(_, kk), _| *kk != k);
                self.built.retain(|(_, kk)| *kk != k);
                self.pending_headers.remove(&k);
                self.pending_deps.retain(|(kk, _)| *kk != k);
                self.prune();
                Expect::Code(0)
            }
            Step::RemoveKernelFiles { .. } => Expect::Any,
            Step::AddModule(mv) => {
                if self.registered.contains(mv) {
                    return Expect::Code(3);
                }
                if !self.sources.contains(mv) {
                    return Expect::Any;
                }
                self.registered.insert(*mv);
                Expect::Code(0)
            }
            Step::RemoveModule(mv) | Step::DkmsRemove(mv) => self.dkms_remove(*mv),
            Step::DkmsInstall(mv, k) => self.dkms_install(*mv, *k, full),
            Step::DkmsUninstall(mv, k) => {
                if !self.registered.contains(mv) {
                    return Expect::Code(3);
                }
                if self.installed.get(&(mv.m, *k)) != Some(mv) {
                    return Expect::Any;
                }
                self.uninstall(mv.m, *k);
                Expect::Code(0)
            }
        }
    }

    fn dkms_install(&mut self, mv: Mv, k: usize, full: Option<usize>) -> Expect {
        if !self.registered.contains(&mv) {
            if !self.sources.contains(&mv) {
                return Expect::Any;
            }
            self.registered.insert(mv);
        }
        // BUILD_EXCLUSIVE is read from dkms.conf before the kernel's
        // headers are looked for: a kernel it rules out is a skip either way.
        if self.excluded(mv, k) {
            return Expect::Code(77);
        }
        if !self.headers[k] {
            return Expect::Code(21);
        }
        if self.installed.get(&(mv.m, k)) == Some(&mv) {
            // "already installed ..., skip" (dkms(8) install).
            return Expect::Code(0);
        }
        // BUILD_DEPENDS "must be built and installed first" (dkms(8)).
        if let Some(d) = mv.depends() {
            if !self.installed.contains_key(&(d, k)) {
                return Expect::Code(13);
            }
        }
        if mv.broken() {
            return Expect::Code(10);
        }
        self.built.insert((mv, k));
        // "When the kernel already has a module of the same name whose
        // version is the same or newer, the install is refused unless
        // --force" (dkms(8) install): built, not installed. The same
        // version is the skip above; the catalogue's versions (one digit
        // each) compare as strings.
        if self
            .installed
            .get(&(mv.m, k))
            .is_some_and(|cur| cur.v > mv.v)
        {
            return Expect::Code(6);
        }
        if full == Some(k) {
            return Expect::Code(6);
        }
        self.installed.insert((mv.m, k), mv);
        Expect::Code(0)
    }

    /// A whole step, serially: files, command, files.
    pub fn apply(&mut self, step: &Step, full: Option<usize>) -> Expect {
        self.pre(step);
        let e = if Self::has_command(step) {
            self.command(step, full)
        } else {
            Expect::Any
        };
        self.post(step);
        e
    }

    /// `dkms status`, each line without its suffixes.
    pub fn status_lines(&self, arch: &str) -> Vec<String> {
        let mut out = Vec::new();
        for mv in CATALOG.iter().filter(|mv| self.registered.contains(mv)) {
            let mut ks: Vec<usize> = self
                .built
                .iter()
                .filter(|(b, _)| b == mv)
                .map(|(_, k)| *k)
                .collect();
            ks.sort_by(|a, b| self.kernels[*a].cmp(&self.kernels[*b]));
            if ks.is_empty() {
                out.push(format!("{mv}: added"));
            }
            for k in ks {
                let state = if self.installed.get(&(mv.m, k)) == Some(mv) {
                    "installed"
                } else {
                    "built"
                };
                out.push(format!("{mv}, {}, {arch}: {state}", self.kernels[k]));
            }
        }
        out.sort();
        out
    }

    /// The module files of installed kernel `k`: path below
    /// `lib/modules/K` -> `build m/v` or `original`.
    pub fn kernel_files(&self, k: usize) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for ((m, kk), mv) in &self.installed {
            if *kk == k {
                out.insert(format!("updates/dkms/{m}.ko"), format!("build {mv}"));
            }
        }
        if self.original_on == Some(k) && !self.installed.contains_key(&("hello", k)) {
            out.insert(ORIGINAL_REL.to_string(), "original".to_string());
        }
        out
    }

    /// True if the original hello of `k` is set aside in the dkms tree.
    pub fn archived(&self, k: usize) -> bool {
        self.original_on == Some(k) && self.installed.contains_key(&("hello", k))
    }

    /// The pending entries (kernel, reason, module).
    pub fn pending(&self) -> BTreeSet<PendingEntry> {
        let mut out = BTreeSet::new();
        for k in &self.pending_headers {
            out.insert((
                self.kernels[*k].clone(),
                "headers-missing".to_string(),
                None,
            ));
        }
        for (k, m) in &self.pending_deps {
            out.insert((
                self.kernels[*k].clone(),
                "build-depends".to_string(),
                Some(m.to_string()),
            ));
        }
        out
    }
}
