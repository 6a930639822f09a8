//! Execute: one [`execute`] runs any plan, step by step in plan order,
//! with the lock held for plans that write; a step whose prerequisites did
//! not succeed is skipped, a fatal failure ends the run. In hook runs the
//! builds of an autoinstall run in parallel under one make jobserver
//! ([`scheduler`]) while their output still appears in plan order.
//!
//! Every function here that changes a tree takes the [`Locked`] guard.

pub mod add;
pub mod build;
pub mod children;
pub mod depmod;
pub mod doctor;
pub mod install;
pub mod ledger;
pub mod load;
pub mod lock;
pub mod package;
pub mod privilege;
pub mod prune;
pub mod publish;
pub mod queue;
pub mod rebuild;
pub mod runner;
pub mod scheduler;
pub mod sign;
pub mod source_check;
pub mod summary;
pub mod tarball;
pub mod uninstall;

pub use ledger::{Ledger, Outcome};
pub use lock::Locked;

use crate::error::{Error, Result};
use crate::observe::conf::ModuleConf;
use crate::observe::{ConfKey, World};
use crate::plan::{ExitRule, Job, Plan};
use crate::report::{Say, Style};
use crate::text;

/// What a job runs with: the observed world, the lock (for plans that
/// write), and what the run did so far.
pub struct Ctx<'a> {
    /// The observation.
    pub world: &'a World,
    lock: Option<&'a Locked>,
    /// The run's changes.
    pub ledger: Ledger,
    /// Whose output.
    pub style: Style,
    /// The outcome of each step so far.
    pub outcomes: Vec<Outcome>,
    /// Confs whose reading output was shown (upstream reads each once in a row).
    shown_conf: Option<ConfKey>,
}

impl<'a> Ctx<'a> {
    /// A context for running a plan.
    pub fn new(world: &'a World, lock: Option<&'a Locked>, style: Style) -> Ctx<'a> {
        Ctx {
            world,
            lock,
            ledger: Ledger::default(),
            style,
            outcomes: Vec::new(),
            shown_conf: None,
        }
    }

    /// The lock: the capability to write. An error when the run could not
    /// take it.
    pub fn locked(&self) -> Result<&'a Locked> {
        self.lock
            .ok_or_else(|| Error::msg(text::tree_not_locked(&self.world.host.layout.dkms)))
    }

    /// Verbose output requested.
    pub fn verbose(&self) -> bool {
        self.world.host.verbose()
    }

    /// A dkms.conf as upstream's `read_conf[_strict]_or_die` reads it: what
    /// reading prints is shown (once for the same read in a row), then the
    /// conf, or the failure.
    pub fn conf(&mut self, say: &mut dyn Say, key: &ConfKey) -> Result<&'a ModuleConf> {
        let world: &'a World = self.world;
        let Some(read) = world.conf(key) else {
            return Err(Error::msg(text::conf_not_read(&key.shown)));
        };
        let again = self.shown_conf.as_ref() == Some(key);
        if !again {
            if !read.bash_stderr.is_empty() {
                say.emit(crate::report::Stream::Err, &read.bash_stderr);
            }
            if let Ok(c) = &read.result {
                if key.strict {
                    for d in &c.deprecations {
                        say.eline(d);
                    }
                }
            }
            for l in &read.directive_lines {
                say.line(l);
            }
        }
        match &read.result {
            Ok(c) => {
                if key.strict {
                    for w in &c.strict_warnings {
                        say.eline(w);
                    }
                }
                self.shown_conf = Some(key.clone());
                Ok(c)
            }
            Err(e) => {
                self.shown_conf = None;
                for l in &e.lines {
                    say.eline(l);
                }
                Err(e.error.clone())
            }
        }
    }
}

/// Run `plan`; returns the exit status. Errors are printed as they happen.
pub fn execute(plan: &Plan, world: &World, lock: Option<&Locked>, say: &mut dyn Say) -> i32 {
    std::thread::scope(|scope| {
        let mut sched = scheduler::Scheduler::new(scope, world, lock, plan);
        run_steps(plan, world, lock, say, sched.as_mut())
    })
}

fn run_steps(
    plan: &Plan,
    world: &World,
    lock: Option<&Locked>,
    say: &mut dyn Say,
    mut sched: Option<&mut scheduler::Scheduler>,
) -> i32 {
    let mut cx = Ctx::new(world, lock, say.style());
    cx.outcomes = vec![Outcome::NotRun; plan.steps.len()];
    let mut status = 0;
    let mut chain_status: std::collections::BTreeMap<usize, i32> = Default::default();
    let mut chain = 0usize;
    for (i, step) in plan.steps.iter().enumerate() {
        if step.chain != chain {
            // A new subshell context: what the last one prepared is gone.
            chain = step.chain;
            cx.ledger.prepared.clear();
        }
        if step.after.iter().any(|j| !cx.outcomes[*j].succeeded())
            || step.deps.iter().any(|j| !cx.outcomes[*j].resolved())
        {
            continue;
        }
        if step.if_ok && status != 0 {
            continue;
        }
        if let Some(s) = sched.as_deref_mut() {
            s.pump(&mut cx, plan, say);
        }
        let res = match sched.as_deref_mut() {
            Some(s) if step.parallel => s.finish(&mut cx, plan, i, say),
            _ => run_job(&mut cx, &step.job, i, say),
        };
        let outcome = match &res {
            Ok(()) => Outcome::Ok,
            Err(e) if e.is_skip() => Outcome::Excluded,
            Err(e) => Outcome::Failed(e.code()),
        };
        if let Err(e) = &res {
            say.error(e);
        }
        cx.outcomes[i] = outcome;
        if chain == 0 {
            // The parent context keeps what it prepared.
            let p = cx.ledger.prepared.clone();
            cx.ledger.prepared_parent.extend(p);
        }
        let code = match outcome {
            Outcome::Failed(c) => c,
            Outcome::Excluded => 77,
            _ => 0,
        };
        match plan.exit {
            ExitRule::Stop => {
                if code != 0 && step.fatal {
                    if let Some(s) = sched.as_deref_mut() {
                        s.abandon();
                    }
                    return code;
                }
            }
            ExitRule::LastChain => {
                if step.chain != 0 {
                    chain_status.insert(step.chain, code);
                    status = chain_status.values().next_back().copied().unwrap_or(0);
                }
            }
            ExitRule::Hook { .. } => {}
        }
    }
    match plan.exit {
        ExitRule::Stop => 0,
        ExitRule::LastChain => status,
        ExitRule::Hook {
            may_fail,
            warn_only,
        } => {
            let (code, warn) =
                crate::plan::hook::exit_status(may_fail, warn_only, cx.ledger.hook_failed);
            if warn {
                say.warning(&[text::HOOK_FAILURE_WARN_ONLY.to_string()]);
            }
            code
        }
    }
}

/// Run one job (not a parallel build).
fn run_job(cx: &mut Ctx, job: &Job, step: usize, say: &mut dyn Say) -> Result<()> {
    match job {
        Job::Say(stream, text) => {
            if !text.is_empty() {
                say.emit(*stream, text);
            }
            Ok(())
        }
        Job::Fail(e) => Err(e.clone()),
        Job::ReadConf(key) => cx.conf(say, key).map(|_| ()),
        Job::Add { m, v, conf, blank } => add::add(cx, say, m, v, conf, *blank),
        Job::AddSourceTree { dir, conf } => add::add_source_tree(cx, say, dir, conf),
        Job::LoadTarball { archive, add } => tarball::ldtarball_and_add(cx, say, archive, *add),
        Job::PrepareKernel { k, a } => build::prepare_kernel(cx, say, k, a),
        Job::Build {
            at,
            conf,
            unbuild_first,
        } => {
            if *unbuild_first {
                uninstall::unbuild(cx, at)?;
            }
            build::build(cx, say, at, conf)
        }
        Job::Install { at, conf, depmod } => install::install(cx, say, at, conf, *depmod),
        Job::AutoInstall { at, conf, depmod } => install::maybe_install(cx, say, at, conf, *depmod),
        Job::Uninstall { at, conf, depmod } => uninstall::uninstall(cx, say, at, conf, *depmod),
        Job::Unbuild(at) => uninstall::unbuild(cx, at),
        Job::CleanVersion { m, v } => uninstall::clean_version(cx, m, v),
        Job::DeleteVersion { m, v } => uninstall::delete_version(cx, say, m, v),
        Job::RebuildDependents { k, a, candidates } => {
            rebuild::rebuild_dependents(cx, say, k, a, candidates)
        }
        Job::RemoveFromKernel {
            at,
            conf,
            exclusive,
        } => uninstall::remove_from_kernel(cx, say, at, conf, *exclusive),
        Job::RemovalSummary(r) => summary::removal(cx, say, r),
        Job::AutoSummary(s) => summary::autoinstall(cx, say, s, step),
        Job::FlushDepmod => depmod::flush(cx, say),
        Job::FinishDepmod { k, gone } => depmod::finish(cx, say, k, *gone),
        Job::LoadInstalled { k } => load::load_installed(cx, say, k),
        Job::PostTransaction { k, a } => depmod::post_transaction(cx, say, k, a),
        Job::Status { view, format } => crate::report::status::print(cx.world, say, view, *format),
        Job::MkTarball {
            m,
            v,
            pairs,
            archive,
            binaries_only,
            source_only,
            ..
        } => tarball::mktarball(
            cx,
            say,
            m,
            v,
            pairs,
            archive.as_deref(),
            *binaries_only,
            *source_only,
        ),
        Job::GenerateMok => sign::generate_mok(cx, say),
        Job::DeferHeaders { k, a, package } => queue::defer_headers(cx, say, k, a, package),
        Job::DeferModule { k, a, m, deps } => queue::defer_module(cx, k, a, m, deps),
        Job::ClearHeadersDeferral { k, a } => queue::clear_headers(cx, k, a),
        Job::DropKernelRecords { k } => queue::drop_kernel(cx, k),
        Job::Prune {
            kernels,
            dry_run,
            explicit,
        } => prune::prune(cx, say, kernels, *dry_run, *explicit),
        Job::HookSummary => {
            crate::report::summary::print(say, &cx.ledger.results, &cx.ledger.headers_deferred);
            Ok(())
        }
        Job::Pending => {
            crate::report::summary::pending(say, &cx.world.records);
            Ok(())
        }
        Job::Doctor { repair } => doctor::run(cx, say, *repair),
        Job::Package { at, format, out } => package::run(cx, say, at, *format, out),
        Job::Publish { repo, files } => publish::run(say, repo, files),
        Job::PublishBuilt { repo, format } => publish::built::run(cx, say, repo, *format),
    }
}
