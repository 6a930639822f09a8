//! What this run has done so far: the World is what was observed before
//! the run; the ledger records the changes the run made on top of it, so
//! later jobs decide from "observed + done" without reading the trees
//! again (a dependency installed earlier in the run satisfies a
//! BUILD_DEPENDS check; a kernel prepared once is not prepared again).

use std::collections::{BTreeMap, BTreeSet};

use crate::exec::sign::Signer;
use crate::observe::version::sort_v_cmp;
use crate::observe::World;
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

/// The run's changes and memory.
#[derive(Debug, Default)]
pub struct Ledger {
    /// (m, k, a) -> the version now linked (None: unlinked).
    links: BTreeMap<(String, String, String), Option<String>>,
    /// (m, v, k, a) -> built now (true) or unbuilt (false).
    built: BTreeMap<(String, String, String, String), bool>,
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
    /// Hook runs: what happened to each module, per kernel.
    pub results: Vec<(String, String, String, HookResult)>,
    /// Hook runs: kernels deferred for missing headers (kernel, package).
    pub headers_deferred: Vec<(String, String)>,
    /// Set when a real build or install failure happened in a hook run.
    pub hook_failed: bool,
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

    /// m/v is built for k/a (observed, as changed by this run).
    pub fn is_built(&self, w: &World, m: &str, v: &str, k: &str, a: &str) -> bool {
        match self.built.get(&(m.into(), v.into(), k.into(), a.into())) {
            Some(b) => *b,
            None => w.tree.is_built(m, v, k, a),
        }
    }

    /// Record a build (true) or unbuild (false).
    pub fn set_built(&mut self, m: &str, v: &str, k: &str, a: &str, built: bool) {
        self.built
            .insert((m.into(), v.into(), k.into(), a.into()), built);
    }

    /// The version `kernel-k-a` of m now points at.
    pub fn linked(&self, w: &World, m: &str, k: &str, a: &str) -> Option<String> {
        match self.links.get(&(m.into(), k.into(), a.into())) {
            Some(v) => v.clone(),
            None => w.tree.linked_version(m, k, a).map(str::to_string),
        }
    }

    /// A `kernel-k-a` link of m exists (even one that does not resolve).
    pub fn has_link(&self, w: &World, m: &str, k: &str, a: &str) -> bool {
        match self.links.get(&(m.into(), k.into(), a.into())) {
            Some(v) => v.is_some(),
            None => w.tree.has_link(m, k, a),
        }
    }

    /// Record the link of m on k/a.
    pub fn set_linked(&mut self, m: &str, k: &str, a: &str, v: Option<&str>) {
        self.links
            .insert((m.into(), k.into(), a.into()), v.map(str::to_string));
    }

    /// m/v is installed on k/a (built and linked).
    pub fn is_installed(&self, w: &World, m: &str, v: &str, k: &str, a: &str) -> bool {
        self.is_built(w, m, v, k, a) && self.linked(w, m, k, a).as_deref() == Some(v)
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
            .filter(|v| self.is_installed(w, m, v, k, a))
            .collect();
        vs.sort_by(|x, y| sort_v_cmp(x, y));
        vs.dedup();
        vs.pop()
    }

    /// Whether k/a was prepared in the current context; its signer.
    pub fn prepared_signer(&self, k: &str, a: &str) -> Option<&Option<Signer>> {
        let key = (k.to_string(), a.to_string());
        self.prepared
            .get(&key)
            .or_else(|| self.prepared_parent.get(&key))
    }
}
