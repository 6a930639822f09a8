//! Plan: one pure function from what was asked ([`Request`]) and the facts
//! it asks for ([`Facts`]: observed on the first question, kept) to the
//! work to do ([`Plan`]), for every `dkms` action and every `dkms-hook`
//! event. The planner reads nothing itself, so every decision is a fast
//! unit test over a described World.
//!
//! - [`dkms`]: upstream's actions, their checks and their order.
//! - [`autoinstall`]: which modules, in which BUILD_DEPENDS order.
//! - [`hook`]: package-manager events, deferral and pruning; the exit
//!   policy.
//! - [`guard`]: the boot guard (kernels that lack a critical module).
//! - [`package`]: binary module packages (names, control, spec, scripts).
//! - [`sign`]: which installed modules `dkms-hook sign` signs again.

pub mod autoinstall;
pub mod checks;
pub mod critical;
pub mod dkms;
pub mod guard;
pub mod hook;
mod job;
pub mod msg;
pub mod package;
pub mod rebuild;
pub mod removal;
pub mod request;
pub mod sign;
#[cfg(test)]
mod tests;

pub use crate::observe::Mvka;
pub use job::{
    AutoModule, AutoSummary, Depmod, GuardJob, Job, PruneKernel, ReadJob, RebuildCandidate,
    References, RemovalSummary, WriteJob,
};
pub use request::{AutoinstallFor, Command, CriticalCmd, DkmsArgs, Event, PackageArgs, Request};

use crate::error::Error;
use crate::observe::Facts;
use crate::report::Stream;

/// A job and how it hangs together with the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<J = Job> {
    /// The work.
    pub job: J,
    /// Steps that must have succeeded; otherwise this one is skipped.
    pub after: Vec<usize>,
    /// Module steps whose module must be installed or ruled out by
    /// BUILD_EXCLUSIVE (autoinstall's BUILD_DEPENDS edges).
    pub deps: Vec<usize>,
    /// Its failure ends the run (upstream's `die` outside a subshell).
    pub fatal: bool,
    /// Which chain it belongs to (for [`ExitRule::LastChain`]).
    pub chain: usize,
    /// Only run when the run's status so far is 0.
    pub if_ok: bool,
    /// May run in parallel with other parallel steps (hook builds).
    pub parallel: bool,
    /// Expected cost in milliseconds (parallel builds start longest first).
    pub cost: u64,
}

/// How the exit status follows from what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitRule {
    /// The first fatal failure's status, else 0.
    Stop,
    /// The status of the last chain (upstream's loops over kernels whose
    /// iterations run in subshells: the last iteration's status wins).
    LastChain,
    /// A hook event: what a real build or install failure does to the
    /// exit status (see [`hook::exit_status`]); any other failure gives 0.
    Hook(FailurePolicy),
}

/// What a real build or install failure in a hook does to its exit status
/// (decided once, in [`hook::failure_policy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Never fails (removal hooks, apt, dpkg triggers, boot).
    Never,
    /// Exit 11 (`dkms-hook autoinstall` by hand, and every event that may
    /// fail with `autoinstall_failure=strict`).
    Fail,
    /// Exit 0 with a warning (`autoinstall_failure=warn`).
    Warn,
    /// Exit 0 with a line saying why the package operation goes on (the
    /// default for kernel-postinst, header-postinst and kernel-install:
    /// a critical module's failure guards the boot instead).
    GoOn,
}

/// The work of one run. A plan whose jobs all only read converts into a
/// `Plan<ReadJob>` ([`Plan::read_only`]), which the executor runs without
/// the lock; any other needs the lock to run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<J = Job> {
    /// The steps, in the order their output appears.
    pub steps: Vec<Step<J>>,
    /// How the exit status is decided.
    pub exit: ExitRule,
}

impl Plan {
    /// An empty plan with `exit`.
    pub fn new(exit: ExitRule) -> Plan {
        Plan {
            steps: Vec::new(),
            exit,
        }
    }

    /// Some job changes a tree.
    pub fn writes(&self) -> bool {
        self.steps.iter().any(|s| s.job.writes())
    }

    /// The same plan as one that only reads, when no job writes.
    pub fn read_only(self) -> std::result::Result<Plan<ReadJob>, Plan> {
        if self.writes() {
            return Err(self);
        }
        let steps = self
            .steps
            .into_iter()
            .filter_map(|s| match s.job {
                Job::Read(job) => Some(Step {
                    job,
                    after: s.after,
                    deps: s.deps,
                    fatal: s.fatal,
                    chain: s.chain,
                    if_ok: s.if_ok,
                    parallel: s.parallel,
                    cost: s.cost,
                }),
                Job::Write(_) => None,
            })
            .collect();
        Ok(Plan {
            steps,
            exit: self.exit,
        })
    }

    /// Add a fatal step after `after`; returns its index.
    pub fn push(&mut self, job: impl Into<Job>, after: &[usize], chain: usize) -> usize {
        self.steps.push(Step {
            job: job.into(),
            after: after.to_vec(),
            deps: Vec::new(),
            fatal: true,
            chain,
            if_ok: false,
            parallel: false,
            cost: 0,
        });
        self.steps.len() - 1
    }

    /// Add a step whose failure does not end the run.
    pub fn push_soft(&mut self, job: impl Into<Job>, after: &[usize], chain: usize) -> usize {
        let i = self.push(job, after, chain);
        self.steps[i].fatal = false;
        i
    }

    /// Add a line of text on stdout.
    pub fn say(&mut self, text: impl Into<String>, after: &[usize], chain: usize) -> usize {
        self.push(
            ReadJob::Say(Stream::Out, format!("{}\n", text.into())),
            after,
            chain,
        )
    }

    /// A plan that only fails with `e`.
    pub fn fail(e: Error) -> Plan {
        let mut p = Plan::new(ExitRule::Stop);
        p.push(ReadJob::Fail(e), &[], 0);
        p
    }

    /// The jobs, for tests and logs.
    pub fn jobs(&self) -> Vec<&Job> {
        self.steps.iter().map(|s| &s.job).collect()
    }

    /// Put `before` ahead of every step (their indices move up, also
    /// those the jobs hold).
    fn prepend(&mut self, before: Vec<Step>) {
        let n = before.len();
        for s in &mut self.steps {
            for i in s.after.iter_mut().chain(s.deps.iter_mut()) {
                *i += n;
            }
            s.job.shift_steps(n);
        }
        let mut steps = before;
        steps.append(&mut self.steps);
        self.steps = steps;
    }

    /// What the jobs will look up in the World, so the engine has it
    /// observed first: the kernels, the dkms.conf reads, and the kernels
    /// something may be built for (their build facts).
    pub fn references(&self) -> References<'_> {
        let mut r = References::default();
        for s in &self.steps {
            s.job.references(&mut r);
        }
        for v in [&mut r.kernels, &mut r.builds] {
            v.sort();
            v.dedup();
        }
        r.confs.sort();
        r.confs.dedup();
        r
    }
}

/// Plan `req` from `facts`. A plan that writes starts by finishing the
/// depmod runs an interrupted run left due.
pub fn plan(req: &Request, facts: &Facts) -> Plan {
    let mut p = match &req.command {
        Command::Dkms(args) => dkms::plan(args, facts),
        Command::Hook(event) => hook::plan(event, facts),
    };
    if p.writes() && !facts.records.depmod_due.is_empty() {
        let repairs = facts
            .records
            .depmod_due
            .iter()
            .map(|d| Step {
                job: Job::Write(WriteJob::FinishDepmod {
                    k: d.kernel.clone(),
                    gone: !facts.kernel(&d.kernel).dir,
                }),
                after: Vec::new(),
                deps: Vec::new(),
                fatal: false,
                chain: 0,
                if_ok: false,
                parallel: false,
                cost: 0,
            })
            .collect();
        p.prepend(repairs);
    }
    p
}
