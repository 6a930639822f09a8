//! Execute: [`run_read`] runs a plan that only reads, [`run_write`] one
//! that writes, with the held lock ([`Locked`]) it needs: every write job
//! gets it as a parameter, and writing a tree is only possible through it
//! (the writes are methods of `Locked`). Steps run in plan order; a step
//! whose prerequisites did not succeed is skipped, a fatal failure ends the
//! run. In hook runs the builds of an autoinstall run in parallel under one
//! make jobserver ([`scheduler`]) while their output still appears in plan
//! order.

pub mod add;
pub mod build;
pub mod build_input;
pub mod build_result;
pub mod conf_output;
pub mod critical;
pub mod depmod;
pub mod doctor;
pub mod gone;
pub mod guard;
pub mod install;
pub mod ledger;
pub mod load;
pub mod msg;
pub mod package;
pub mod place;
pub mod privilege;
pub mod prune;
pub mod publish;
pub mod queue;
pub mod rebuild;
pub mod resign;
pub mod runner;
pub mod scheduler;
pub mod sign;
pub mod source_check;
pub mod summary;
pub mod tarball;
pub mod uninstall;
pub mod version_check;
pub mod why;

pub use crate::fs::Locked;
pub use ledger::{Ledger, Outcome};

use crate::error::{Error, Result};
use crate::observe::conf::ModuleConf;
use crate::observe::{ConfKey, World};
use crate::plan::hook::ExitNote;
use crate::plan::{ExitRule, Job, Plan, ReadJob, Step, WriteJob};
use std::collections::BTreeSet;

use crate::report::msg::guard as guard_msg;
use crate::report::{Buffer, Say, Style};

/// What a job runs with: the observed world and what the run did so far.
/// It holds no lock: a job that writes gets the lock as a parameter.
pub struct Ctx<'a> {
    /// The observation.
    pub world: &'a World,
    /// The run's changes.
    pub ledger: Ledger,
    /// Whose output.
    pub style: Style,
    /// The outcome of each step so far.
    pub outcomes: Vec<Outcome>,
    /// Which dkms.conf read was shown last (upstream says what reading
    /// printed once for the same read in a row).
    shown_conf: conf_output::Shown,
}

impl<'a> Ctx<'a> {
    /// A context for running a plan.
    pub fn new(world: &'a World, style: Style) -> Ctx<'a> {
        Ctx {
            world,
            ledger: Ledger::default(),
            style,
            outcomes: Vec::new(),
            shown_conf: conf_output::Shown::default(),
        }
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
            return Err(Error::msg(msg::conf_not_read(&key.shown)));
        };
        self.shown_conf.show(say, key, read)
    }

    /// What reading `key` printed was just shown by a build of its own (a
    /// hook's parallel build): the same read next in a row says it no more.
    pub fn conf_shown(&mut self, key: &ConfKey) {
        if let Some(read) = self.world.conf(key) {
            self.shown_conf.remember(key, read);
        }
    }
}

/// Run a plan that only reads; returns the exit status. Errors are
/// printed as they happen.
pub fn run_read(plan: &Plan<ReadJob>, world: &World, say: &mut dyn Say) -> i32 {
    let mut cx = Ctx::new(world, say.style());
    run_steps(
        plan,
        &mut cx,
        say,
        &BTreeSet::new(),
        |cx, _, step, say, block| {
            let out: &mut dyn Say = match block {
                Some(b) => b,
                None => say,
            };
            run_read_job(cx, &step.job, out)
        },
    )
}

/// Run a plan that writes, with the lock held; returns the exit status.
/// Errors are printed as they happen.
pub fn run_write(plan: &Plan, world: &World, lock: &Locked, say: &mut dyn Say) -> i32 {
    std::thread::scope(|scope| {
        let mut sched = scheduler::Scheduler::new(scope, world, lock, plan);
        let mut cx = Ctx::new(world, say.style());
        // A module's steps in a hook plan are one block: shown whole, in
        // plan order, never split by the live progress lines.
        let blocks: BTreeSet<usize> = plan
            .steps
            .iter()
            .filter(|s| s.parallel)
            .map(|s| s.chain)
            .collect();
        let code = run_steps(plan, &mut cx, say, &blocks, |cx, i, step, say, block| {
            if let Some(s) = sched.as_mut() {
                s.pump(cx, plan, say);
                if step.parallel {
                    return match block {
                        Some(out) => s.finish(cx, plan, i, say, out),
                        None => {
                            let mut out = Buffer::new(say.style());
                            let res = s.finish(cx, plan, i, say, &mut out);
                            out.replay(say);
                            res
                        }
                    };
                }
            }
            let out: &mut dyn Say = match block {
                Some(b) => b,
                None => say,
            };
            match &step.job {
                Job::Read(job) => run_read_job(cx, job, out),
                Job::Write(job) => run_write_job(cx, lock, job, out),
            }
        });
        if let Some(s) = sched.as_mut() {
            // A fatal failure ends the run: start no more builds (running
            // ones finish; the scope waits for them).
            s.abandon();
        }
        code
    })
}

/// The steps of `plan` in order, each through `run`; returns the exit
/// status the plan's rule gives.
/// The steps of a chain in `blocks` write into one buffer (`block` in
/// `run`), shown when the chain's last step is done.
fn run_steps<J>(
    plan: &Plan<J>,
    cx: &mut Ctx,
    say: &mut dyn Say,
    blocks: &BTreeSet<usize>,
    mut run: impl FnMut(&mut Ctx, usize, &Step<J>, &mut dyn Say, Option<&mut Buffer>) -> Result<()>,
) -> i32 {
    cx.outcomes = vec![Outcome::NotRun; plan.steps.len()];
    let mut status = 0;
    let mut chain_status: std::collections::BTreeMap<usize, i32> = Default::default();
    let mut chain = 0usize;
    let mut block: Option<Buffer> = None;
    for (i, step) in plan.steps.iter().enumerate() {
        if step.chain != chain {
            // A new subshell context: what the last one prepared is gone.
            chain = step.chain;
            cx.ledger.prepared.clear();
            if let Some(mut b) = block.take() {
                b.replay(say);
            }
            if blocks.contains(&chain) {
                block = Some(Buffer::new(say.style()));
            }
        }
        if step.after.iter().any(|j| !cx.outcomes[*j].succeeded())
            || step.deps.iter().any(|j| !cx.outcomes[*j].resolved())
        {
            continue;
        }
        if step.if_ok && status != 0 {
            continue;
        }
        let res = run(cx, i, step, say, block.as_mut());
        let outcome = match &res {
            Ok(()) => Outcome::Ok,
            Err(e) if e.is_skip() => Outcome::Excluded,
            Err(e) => Outcome::Failed(e.code()),
        };
        if let Err(e) = &res {
            match block.as_mut() {
                Some(b) => b.error(e),
                None => say.error(e),
            }
            if let Some(first) = e.lines().iter().find(|l| !l.trim().is_empty()) {
                cx.ledger.step_errors.insert(i, first.trim().to_string());
            }
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
                    if let Some(mut b) = block.take() {
                        b.replay(say);
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
            ExitRule::Hook(_) => {}
        }
    }
    if let Some(mut b) = block.take() {
        b.replay(say);
    }
    match plan.exit {
        ExitRule::Stop => 0,
        ExitRule::LastChain => status,
        ExitRule::Hook(policy) => {
            let (code, note) = crate::plan::hook::exit_status(policy, cx.ledger.hook_failed);
            match note {
                ExitNote::None => {}
                ExitNote::WarnOnly => say.warning(&[msg::HOOK_FAILURE_WARN_ONLY.to_string()]),
                ExitNote::GoesOn if cx.ledger.critical_failed => {
                    say.eline(guard_msg::CRITICAL_GOES_ON);
                }
                ExitNote::GoesOn => say.eline(&guard_msg::not_critical_goes_on(
                    &cx.ledger.failed_modules(),
                )),
            }
            code
        }
    }
}

/// Run one job that only reads.
fn run_read_job(cx: &mut Ctx, job: &ReadJob, say: &mut dyn Say) -> Result<()> {
    match job {
        ReadJob::Say(stream, text) => {
            if !text.is_empty() {
                say.emit(*stream, text);
            }
            Ok(())
        }
        ReadJob::Fail(e) => Err(e.clone()),
        ReadJob::ReadConf(key) => cx.conf(say, key).map(|_| ()),
        ReadJob::Status { view, format } => {
            crate::report::status::print(cx.world, say, view, *format)
        }
        ReadJob::HookSummary => {
            crate::report::summary::print(
                say,
                &cx.ledger.results,
                &cx.ledger.headers_deferred,
                &cx.ledger.unrecorded,
            );
            Ok(())
        }
        ReadJob::Pending => {
            crate::report::summary::pending(say, &cx.world.records);
            Ok(())
        }
        ReadJob::Doctor => doctor::run(cx, None, say),
        ReadJob::CriticalList => critical::list(cx, say),
        ReadJob::PrunePreview { kernels } => prune::preview(cx, say, kernels),
        ReadJob::Why {
            module,
            kernel,
            json,
        } => why::run(cx, say, module, kernel.as_deref(), *json),
        ReadJob::Package { at, format, out } => package::run(cx, say, at, *format, out),
        ReadJob::Publish { repo, files } => publish::run(say, repo, files),
    }
}

/// Run one job that writes (not a parallel build), with the lock held.
fn run_write_job(cx: &mut Ctx, lock: &Locked, job: &WriteJob, say: &mut dyn Say) -> Result<()> {
    match job {
        WriteJob::Add { m, v, conf, blank } => add::add(cx, lock, say, m, v, conf, *blank),
        WriteJob::AddSourceTree { dir, conf } => add::add_source_tree(cx, lock, say, dir, conf),
        WriteJob::LoadTarball { archive, add } => {
            tarball::ldtarball_and_add(cx, lock, say, archive, *add)
        }
        WriteJob::PrepareKernel { k, a } => build::prepare_kernel(cx, lock, say, k, a),
        WriteJob::Build {
            at,
            conf,
            unbuild_first,
        } => {
            if *unbuild_first {
                uninstall::unbuild(cx, lock, at)?;
            }
            build::build(cx, lock, say, at, conf)
        }
        WriteJob::Install { at, conf, depmod } => {
            install::install(cx, lock, say, at, conf, *depmod)?;
            // Installed by hand: what a hook recorded as failed or waiting
            // for this module and kernel is no longer true.
            queue::clear_module(cx, lock, &at.k, &at.a, &at.m);
            Ok(())
        }
        WriteJob::AutoInstall { at, conf, depmod } => {
            install::maybe_install(cx, lock, say, at, conf, *depmod)
        }
        WriteJob::Uninstall { at, conf, depmod } => {
            uninstall::uninstall(cx, lock, say, at, conf, *depmod)
        }
        WriteJob::Unbuild(at) => uninstall::unbuild(cx, lock, at),
        WriteJob::CleanVersion { m, v } => uninstall::clean_version(cx, lock, m, v),
        WriteJob::DeleteVersion { m, v } => uninstall::delete_version(cx, lock, say, m, v),
        WriteJob::RebuildDependents { k, a, candidates } => {
            rebuild::rebuild_dependents(cx, lock, say, k, a, candidates)
        }
        WriteJob::RemoveFromKernel {
            at,
            conf,
            exclusive,
        } => uninstall::remove_from_kernel(cx, lock, say, at, conf, *exclusive),
        WriteJob::RemovalSummary(r) => summary::removal(cx, lock, r),
        WriteJob::AutoSummary(s) => summary::autoinstall(cx, lock, say, s),
        WriteJob::FlushDepmod => depmod::flush(cx, lock, say),
        WriteJob::FinishDepmod { k, gone } => depmod::finish(cx, lock, say, k, *gone),
        WriteJob::LoadInstalled { k } => load::load_installed(cx, say, k),
        WriteJob::PostTransaction { k, a } => depmod::post_transaction(cx, lock, say, k, a),
        WriteJob::MkTarball {
            m,
            v,
            pairs,
            archive,
            binaries_only,
            source_only,
            ..
        } => tarball::mktarball(
            cx,
            lock,
            say,
            m,
            v,
            pairs,
            archive.as_deref(),
            *binaries_only,
            *source_only,
        ),
        WriteJob::GenerateMok => sign::generate_mok(cx, lock, say),
        WriteJob::DeferHeaders { k, a, package } => {
            queue::defer_headers(cx, lock, say, k, a, package)
        }
        WriteJob::DeferModule { k, a, m, deps } => queue::defer_module(cx, lock, k, a, m, deps),
        WriteJob::ClearHeadersDeferral { k, a } => queue::clear_headers(cx, lock, k, a),
        WriteJob::DropKernelRecords { k } => queue::drop_kernel(cx, lock, k),
        WriteJob::ClearModuleRecords { k, a, m } => {
            queue::clear_module(cx, lock, k, a, m);
            Ok(())
        }
        WriteJob::Prune { kernels, explicit } => prune::prune(cx, lock, say, kernels, *explicit),
        WriteJob::Repair => doctor::run(cx, Some(lock), say),
        WriteJob::Guard(job) => guard::run(cx, lock, say, job),
        WriteJob::SetCritical { value, file, notes } => {
            critical::set(cx, lock, say, value, file, notes)
        }
        WriteJob::PublishBuilt { repo, format } => publish::built::run(cx, say, repo, *format),
        WriteJob::MkBmDeb { at, out } => package::run_in_tree(cx, lock, say, at, out),
        WriteJob::Sign { targets } => resign::run(cx, lock, say, targets),
    }
}
