//! What this run has done so far: the World is what was observed before
//! the run; the ledger records the changes the run made on top of it, so
//! later jobs decide from "observed + done" without reading the trees
//! again (a dependency installed earlier in the run satisfies a
//! BUILD_DEPENDS check; a kernel prepared once is not prepared again).

use std::collections::{BTreeMap, BTreeSet};

use crate::exec::sign::Signer;
use crate::observe::version::sort_v_cmp;
use crate::observe::{Mvka, World};
use crate::report::msg::guard as guard_msg;
pub use crate::report::summary::HookResult;

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not run (yet, or skipped because a step it needs failed).
    NotRun,
    /// Succeeded.
    Ok,
    /// Skipped by BUILD_EXCLUSIVE (77): counts as done for dependents.
    Excluded,
    /// Failed with this exit status.
    Failed(i32),
}

impl Outcome {
    /// True when steps that come after this one (in its chain) may run.
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// True when a module depending on this one may be installed: it was
    /// installed, or BUILD_EXCLUSIVE ruled it out (upstream counts skipped
    /// modules as resolved dependencies).
    pub fn resolved(&self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Excluded)
    }
}

/// Which module's `kernel-<k>-<a>` link: the key of the links a run
/// changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Link {
    m: String,
    k: String,
    a: String,
}

impl Link {
    /// The link of module `m` on k/a.
    fn new(m: &str, k: &str, a: &str) -> Link {
        Link {
            m: m.into(),
            k: k.into(),
            a: a.into(),
        }
    }

    /// The link an install of `at` makes (its version aside).
    fn of(at: &Mvka) -> Link {
        Link::new(&at.m, &at.k, &at.a)
    }
}

/// The run's changes and memory.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Each link the run changed -> the version it now points at (None:
    /// removed).
    links: BTreeMap<Link, Option<String>>,
    /// Each build the run changed -> built now (true) or unbuilt (false).
    built: BTreeMap<Mvka, bool>,
    /// (m, v) registered by this run.
    added: BTreeSet<(String, String)>,
    /// Kernels prepared (headers checked, signing set up) in the current
    /// subshell context, with their signer.
    pub prepared: BTreeMap<(String, String), Option<Signer>>,
    /// Prepared in the parent context (autoinstall prepares before its
    /// subshells; they inherit it).
    pub prepared_parent: BTreeMap<(String, String), Option<Signer>>,
    /// Kernels whose signing files were refused (another user can change
    /// them): every build for them fails with that error, said once.
    pub signing_refused: BTreeMap<(String, String), crate::error::Error>,
    /// Kernels whose depmod is put off to the end of the run.
    pub depmod_later: BTreeSet<String>,
    /// The module whose install or uninstall asked for depmod last
    /// (upstream's `$package_name` when its depmod and post_transaction
    /// run): whether those steps print progress dots.
    pub package_name: Option<String>,
    /// Hook runs: what happened to each module, per kernel.
    pub results: Vec<(String, String, String, HookResult)>,
    /// Hook runs: kernels deferred for missing headers (kernel, package).
    pub headers_deferred: Vec<(String, String)>,
    /// Set when a real build or install failure happened in a hook run.
    pub hook_failed: bool,
    /// Set when a critical module could not be installed for a kernel in
    /// a hook run (the boot guard stands for that kernel).
    pub critical_failed: bool,
    /// The first line of the error each failed step ended with, by step:
    /// the reason a failure record keeps.
    pub step_errors: BTreeMap<usize, String>,
    /// Hook runs: one line for each failure or deferral whose record could
    /// not be written (`dkms-hook pending` will not show it); the summary
    /// prints them.
    pub unrecorded: Vec<String>,
    /// Depth of rebuilds of dependent modules (upstream recurses; we stop).
    pub rebuild_depth: usize,
}

impl Ledger {
    /// m/v is registered (observed, or added by this run).
    pub fn is_added(&self, w: &World, m: &str, v: &str) -> bool {
        self.added.contains(&(m.into(), v.into())) || w.tree.is_added(m, v)
    }

    /// Record that m/v was registered.
    pub fn set_added(&mut self, m: &str, v: &str) {
        self.added.insert((m.into(), v.into()));
    }

    /// `at` is built (observed, as changed by this run).
    pub fn is_built(&self, w: &World, at: &Mvka) -> bool {
        match self.built.get(at) {
            Some(b) => *b,
            None => w.tree.is_built(&at.m, &at.v, &at.k, &at.a),
        }
    }

    /// Record a build (true) or unbuild (false) of `at`.
    pub fn set_built(&mut self, at: &Mvka, built: bool) {
        self.built.insert(at.clone(), built);
    }

    /// The version `kernel-k-a` of m now points at.
    pub fn linked(&self, w: &World, m: &str, k: &str, a: &str) -> Option<String> {
        match self.links.get(&Link::new(m, k, a)) {
            Some(v) => v.clone(),
            None => w.tree.linked_version(m, k, a).map(str::to_string),
        }
    }

    /// The `kernel-k-a` link of `at`'s module points at `at`'s version.
    pub fn links_to(&self, w: &World, at: &Mvka) -> bool {
        match self.links.get(&Link::of(at)) {
            Some(v) => v.as_deref() == Some(at.v.as_str()),
            None => w.tree.linked_version(&at.m, &at.k, &at.a) == Some(at.v.as_str()),
        }
    }

    /// A `kernel-k-a` link of m exists (even one that does not resolve).
    pub fn has_link(&self, w: &World, m: &str, k: &str, a: &str) -> bool {
        match self.links.get(&Link::new(m, k, a)) {
            Some(v) => v.is_some(),
            None => w.tree.has_link(m, k, a),
        }
    }

    /// Record that `at`'s module is now linked to `at`'s version on its
    /// kernel (install).
    pub fn set_linked(&mut self, at: &Mvka) {
        self.links.insert(Link::of(at), Some(at.v.clone()));
    }

    /// Record that `at`'s module has no link on its kernel any more
    /// (uninstall).
    pub fn set_unlinked(&mut self, at: &Mvka) {
        self.links.insert(Link::of(at), None);
    }

    /// `at` is installed (built and linked).
    pub fn is_installed(&self, w: &World, at: &Mvka) -> bool {
        self.is_built(w, at) && self.links_to(w, at)
    }

    /// The BUILD_DEPENDS of a build for k/a that no version is installed of.
    pub fn missing_deps(&self, w: &World, deps: &[String], k: &str, a: &str) -> Vec<String> {
        deps.iter()
            .filter(|d| self.installed_version(w, d, k, a).is_none())
            .cloned()
            .collect()
    }

    /// The newest version of `m` installed for k/a (upstream's
    /// `module_status "$bd" "*" k a` filtered to installed, `sort -V | tail -1`).
    pub fn installed_version(&self, w: &World, m: &str, k: &str, a: &str) -> Option<String> {
        let mut vs: Vec<String> = w
            .tree
            .versions(m)
            .into_iter()
            .chain(
                self.added
                    .iter()
                    .filter(|(mm, _)| mm == m)
                    .map(|(_, v)| v.clone()),
            )
            .filter(|v| self.is_installed(w, &Mvka::new(m, v, k, a)))
            .collect();
        vs.sort_by(|x, y| sort_v_cmp(x, y));
        vs.dedup();
        vs.pop()
    }

    /// The modules that failed in this hook run, as `m/v for K`, each once.
    pub fn failed_modules(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .results
            .iter()
            .filter(|(.., r)| matches!(r, HookResult::Failed(..) | HookResult::FailedBecause(..)))
            .map(|(k, m, v, _)| guard_msg::failed_module(m, v, k))
            .collect();
        out.dedup();
        out
    }

    /// Whether k/a was prepared in the current context; its signer.
    pub fn prepared_signer(&self, k: &str, a: &str) -> Option<&Option<Signer>> {
        let key = (k.to_string(), a.to_string());
        self.prepared
            .get(&key)
            .or_else(|| self.prepared_parent.get(&key))
    }
}
