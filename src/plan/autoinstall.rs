//! Autoinstall for one kernel: the newest registered version of every
//! module, AUTOINSTALL=yes only, not installed yet; in upstream's order
//! (rounds: each round installs, in listing order, every module whose
//! BUILD_DEPENDS are all installed or skipped). A module whose dependency
//! is not registered with DKMS at all never becomes ready and is reported
//! as deferred; one waiting for a registered module that did not get
//! installed fails (exit 11), exactly as upstream. In the hooks a module
//! whose dkms.conf cannot be read or names no module fails alone
//! ([`Problem`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;
use crate::observe::Facts;
use crate::plan::msg;
use crate::plan::{
    rebuild, AutoModule, AutoSummary, Depmod, ExitRule, Mvka, Plan, ReadJob, WriteJob,
};
use crate::report::Stream;
use crate::text;

/// What autoinstall knows about one module for the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Module.
    pub module: String,
    /// Its newest registered version.
    pub version: String,
    /// Installed already.
    pub installed: bool,
    /// AUTOINSTALL=yes.
    pub autoinstall: bool,
    /// BUILD_DEPENDS.
    pub deps: Vec<String>,
    /// Built for the kernel already.
    pub built: bool,
    /// What is wrong with its dkms.conf, if anything.
    pub problem: Option<Problem>,
}

/// A dkms.conf autoinstall cannot build from. Upstream's autoinstall dies
/// on the first and installs nothing, without a word, on the second; the
/// hooks fail the module alone for either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// It cannot be read (a bad conf): the key to show its errors.
    Unreadable(crate::observe::ConfKey),
    /// It names no module (all four module arrays are empty, as after an
    /// error that stopped its reading before them).
    ZeroModules,
}

/// The modules autoinstall takes on, each with its round (1-based; `None`
/// when it can never become ready in this run).
pub fn rounds(cands: &[Candidate]) -> Vec<(usize, Option<usize>)> {
    let installed: BTreeSet<&str> = cands
        .iter()
        .filter(|c| c.installed)
        .map(|c| c.module.as_str())
        .collect();
    let todo: Vec<usize> = (0..cands.len())
        .filter(|&i| !cands[i].installed && cands[i].autoinstall)
        .collect();
    let mut round: BTreeMap<usize, usize> = BTreeMap::new();
    let mut done: BTreeMap<&str, usize> = BTreeMap::new();
    let mut r = 1;
    loop {
        let mut progress = Vec::new();
        for &i in &todo {
            if round.contains_key(&i) {
                continue;
            }
            let ready = cands[i].deps.iter().all(|d| {
                installed.contains(d.as_str()) || done.get(d.as_str()).is_some_and(|dr| *dr < r)
            });
            if ready {
                progress.push(i);
            }
        }
        if progress.is_empty() {
            break;
        }
        for i in progress {
            round.insert(i, r);
            done.insert(cands[i].module.as_str(), r);
        }
        r += 1;
    }
    todo.into_iter()
        .map(|i| (i, round.get(&i).copied()))
        .collect()
}

/// The candidates for k/a from the World, in listing order. A module
/// whose dkms.conf cannot be read is taken on (its AUTOINSTALL and
/// BUILD_DEPENDS unknown) with that [`Problem`].
pub fn candidates(world: &Facts, k: &str, a: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (m, v) in world.tree.latest_versions() {
        // A binary module package that provides the module for this kernel
        // counts as installed: building it here would fight over its files.
        if world.tree.link_points_here(&m, &v, k, a) || world.provided_prebuilt(&m, k, a) {
            out.push(Candidate {
                module: m,
                version: v,
                installed: true,
                autoinstall: true,
                deps: Vec::new(),
                built: true,
                problem: None,
            });
            continue;
        }
        let key = world.source_conf_key(&m, &v, k, a, false);
        let built = world.tree.is_built(&m, &v, k, a);
        out.push(match &world.conf(&key).result {
            Ok(conf) => Candidate {
                built,
                module: m,
                version: v,
                installed: false,
                autoinstall: conf.autoinstall,
                deps: conf.build_depends.clone(),
                problem: conf.modules.is_empty().then_some(Problem::ZeroModules),
            },
            Err(_) => Candidate {
                built,
                module: m,
                version: v,
                installed: false,
                autoinstall: true,
                deps: Vec::new(),
                problem: Some(Problem::Unreadable(key)),
            },
        });
    }
    out
}

/// `dkms autoinstall` / `dkms kernel_postinst` for k/a.
pub fn plan_dkms(world: &Facts, k: &str, a: &str) -> Plan {
    let mut p = Plan::new(ExitRule::Stop);
    plan_into(&mut p, world, k, a, Depmod::Now, false);
    p
}

/// Add the autoinstall of k/a to `p`. With `hook` (dkms-hook's events),
/// builds may run side by side (the output still comes in upstream's
/// order), and a module whose dkms.conf cannot be read or names no module
/// fails on its own ([`Problem`]); without, the first unreadable dkms.conf
/// stops the autoinstall, as upstream's does. Returns the steps that
/// install modules.
pub fn plan_into(
    p: &mut Plan,
    world: &Facts,
    k: &str,
    a: &str,
    depmod: Depmod,
    hook: bool,
) -> Vec<usize> {
    if world.host.no_autoinstall {
        p.say(text::AUTOINSTALL_DISABLED, &[], 0);
        return Vec::new();
    }
    fail_broken_versions(p, world);
    let mut cands = candidates(world, k, a);
    if !hook {
        let unreadable = cands.iter().find_map(|c| match &c.problem {
            Some(Problem::Unreadable(key)) => Some(key.clone()),
            _ => None,
        });
        if let Some(key) = unreadable {
            p.push(ReadJob::ReadConf(key), &[], 0);
            return Vec::new();
        }
        // Upstream builds a module that names none and installs nothing.
        for c in &mut cands {
            c.problem = None;
        }
    }
    clear_records_of_installed(p, world, k, a, &cands);
    let order = rounds(&cands);
    if order.is_empty() {
        return Vec::new();
    }
    let mut ready: Vec<(usize, usize)> = order
        .iter()
        .filter_map(|(i, r)| r.map(|r| (r, *i)))
        .collect();
    ready.sort();
    let target = Target {
        world,
        k,
        a,
        depmod,
        hook,
    };
    let base_chain = p.steps.iter().map(|s| s.chain).max().unwrap_or(0) + 1;
    let mut step_of: BTreeMap<usize, usize> = BTreeMap::new();
    let mut prepared = false;
    for (n, (_, i)) in ready.iter().enumerate() {
        let c = &cands[*i];
        let deps: Vec<usize> = c
            .deps
            .iter()
            .filter_map(|d| cands.iter().position(|x| &x.module == d))
            .filter_map(|j| step_of.get(&j).copied())
            .collect();
        if !c.built && !prepared && c.problem.is_none() {
            prepared = true;
            p.push(
                WriteJob::PrepareKernel {
                    k: k.into(),
                    a: a.into(),
                },
                &[],
                0,
            );
        }
        let s = module_steps(p, &target, c, base_chain + n, &deps);
        step_of.insert(*i, s);
    }
    let summary = summary(k, a, &cands, &order, &step_of);
    p.push(WriteJob::AutoSummary(summary), &[], 0);
    step_of.values().copied().collect()
}

/// The autoinstall being planned: for which kernel, and how.
struct Target<'w> {
    world: &'w Facts<'w>,
    k: &'w str,
    a: &'w str,
    depmod: Depmod,
    /// dkms-hook's events (see [`plan_into`]).
    hook: bool,
}

/// Upstream's autoinstall first refuses every broken module version (its
/// source or dkms.conf is gone), each failing on its own.
fn fail_broken_versions(p: &mut Plan, world: &Facts) {
    for (m, v) in world.tree.module_versions() {
        if world.tree.is_broken(&m, &v) {
            p.push_soft(
                ReadJob::Fail(Error::denied(text::autoinstall_broken(&m, &v))),
                &[],
                0,
            );
        }
    }
}

/// Installed already: what a hook recorded as failed or waiting for such
/// a module on this kernel is no longer true, and goes.
fn clear_records_of_installed(p: &mut Plan, world: &Facts, k: &str, a: &str, cands: &[Candidate]) {
    for c in cands.iter().filter(|c| c.installed) {
        if world.records.concern(k, a, &c.module) {
            p.push_soft(
                WriteJob::ClearModuleRecords {
                    k: k.into(),
                    a: a.into(),
                    m: c.module.clone(),
                },
                &[],
                0,
            );
        }
    }
}

/// The steps of one module's autoinstall, in subshell `chain`, each
/// waiting for the installs of its BUILD_DEPENDS (`deps`): its
/// `Autoinstall of module` line, its install (or, in the hooks, its
/// dkms.conf's failure), upstream's rebuild of dependent modules, a blank
/// line. Returns the install's step.
fn module_steps(p: &mut Plan, t: &Target, c: &Candidate, chain: usize, deps: &[usize]) -> usize {
    let (world, k, a) = (t.world, t.k, t.a);
    let line = p.push_soft(
        ReadJob::Say(
            Stream::Out,
            format!("{}\n", text::autoinstall_of(&c.module, &c.version, k, a)),
        ),
        &[],
        chain,
    );
    p.steps[line].deps = deps.to_vec();
    let at = Mvka::new(&c.module, &c.version, k, a);
    let strict = world.conf_key(&c.module, &c.version, k, a, true);
    let s = match &c.problem {
        None => {
            let s = p.push_soft(
                WriteJob::AutoInstall {
                    conf: strict,
                    at,
                    depmod: t.depmod,
                },
                &[],
                chain,
            );
            p.steps[s].parallel = t.hook;
            if t.hook {
                p.steps[s].cost = world.cost(&c.module, &c.version);
            }
            s
        }
        // Its errors, as a build would show them; the module fails (8).
        Some(Problem::Unreadable(key)) => p.push_soft(ReadJob::ReadConf(key.clone()), &[], chain),
        // What reading it says (its warnings), then the failure.
        Some(Problem::ZeroModules) => {
            let read = p.push_soft(ReadJob::ReadConf(strict), &[], chain);
            p.steps[read].deps = deps.to_vec();
            p.push_soft(
                ReadJob::Fail(Error::bad_conf([msg::zero_modules_in_hook(
                    &c.module, &c.version, k,
                )])),
                &[],
                chain,
            )
        }
    };
    p.steps[s].deps = deps.to_vec();
    if t.depmod == Depmod::Now {
        p.push_soft(
            WriteJob::RebuildDependents {
                k: k.into(),
                a: a.into(),
                candidates: rebuild::candidates(world, k, a),
            },
            &[s],
            chain,
        );
    }
    let blank = p.push_soft(ReadJob::Say(Stream::Out, "\n".into()), &[], chain);
    p.steps[blank].deps = deps.to_vec();
    s
}

/// What the summary of the autoinstall of k/a reports on: the modules in
/// `order` with their install steps (`step_of`), those installed already,
/// every module known.
fn summary(
    k: &str,
    a: &str,
    cands: &[Candidate],
    order: &[(usize, Option<usize>)],
    step_of: &BTreeMap<usize, usize>,
) -> AutoSummary {
    let modules: Vec<AutoModule> = order
        .iter()
        .map(|(i, _)| AutoModule {
            m: cands[*i].module.clone(),
            v: cands[*i].version.clone(),
            deps: cands[*i].deps.clone(),
            step: step_of.get(i).copied(),
        })
        .collect();
    AutoSummary {
        k: k.into(),
        a: a.into(),
        already: cands
            .iter()
            .filter(|c| c.installed)
            .map(|c| c.module.clone())
            .collect(),
        modules,
        known: cands.iter().map(|c| c.module.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn c(m: &str, installed: bool, auto: bool, deps: &[&str]) -> Candidate {
        Candidate {
            module: m.into(),
            version: "1.0".into(),
            installed,
            autoinstall: auto,
            deps: deps.iter().map(|s| s.to_string()).collect(),
            built: false,
            problem: None,
        }
    }

    #[rstest]
    // independent modules: all in round 1, listing order
    #[case(vec![c("a", false, true, &[]), c("b", false, true, &[])], vec![(0, Some(1)), (1, Some(1))])]
    // installed and AUTOINSTALL=no modules are not taken on
    #[case(vec![c("a", false, true, &[]), c("b", true, true, &[]), c("c", false, false, &[])], vec![(0, Some(1))])]
    // a dependency listed after its dependent still comes first
    #[case(vec![c("b", false, true, &["a"]), c("a", false, true, &[])], vec![(0, Some(2)), (1, Some(1))])]
    // an installed dependency is satisfied at once
    #[case(vec![c("b", false, true, &["a"]), c("a", true, true, &[])], vec![(0, Some(1))])]
    // not registered: never ready; its dependents neither
    #[case(vec![c("a", false, true, &["ghost"]), c("b", false, true, &["a"]), c("c", false, true, &[])], vec![(0, None), (1, None), (2, Some(1))])]
    // a cycle never becomes ready
    #[case(vec![c("a", false, true, &["b"]), c("b", false, true, &["a"])], vec![(0, None), (1, None)])]
    // depending on an AUTOINSTALL=no module that is not installed: never ready
    #[case(vec![c("a", false, true, &["n"]), c("n", false, false, &[])], vec![(0, None)])]
    // a chain of three takes three rounds
    #[case(vec![c("c", false, true, &["b"]), c("b", false, true, &["a"]), c("a", false, true, &[])], vec![(0, Some(3)), (1, Some(2)), (2, Some(1))])]
    fn upstream_rounds(#[case] cands: Vec<Candidate>, #[case] want: Vec<(usize, Option<usize>)>) {
        assert_eq!(rounds(&cands), want);
    }
}
