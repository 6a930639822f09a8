//! Parallel builds for the hooks: every autoinstall step of a hook plan is
//! a node; a node's build starts as soon as the installs it depends on are
//! done, its kernel is prepared, no build of the same module version runs
//! (they share `<m>/<v>/build`), and a slot of the one GNU make jobserver
//! sized to `parallel_jobs` is free (no `-j` stacking: each build holds one
//! token for its make, make takes the rest from the shared pool). Longest
//! builds start first. Each build writes into its own buffer; the executor
//! replays them and installs in plan order, so output never interleaves and
//! is the same from run to run.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::thread::Scope;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::exec::build::{self, BuildInput, Jobs};
use crate::exec::msg;
use crate::exec::{conf_output, install, Ctx, Locked};
use crate::observe::{ConfKey, World};
use crate::plan::{Job, Mvka, Plan, WriteJob};
use crate::report::progress::{Event as Progress, Progress as Live};
use crate::report::{Buffer, Say, Style};

/// How often the coordinator says what is still building.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

struct Node {
    step: usize,
    at: Mvka,
    conf: ConfKey,
    cost: u64,
    state: State,
}

#[derive(Debug)]
enum State {
    Waiting,
    Running(Instant),
    /// Built (or failed) after this long (`None`: nothing had to be
    /// built, it was built or installed already), its output in the buffer.
    Done(Result<()>, Buffer, Option<Duration>),
    Taken,
}

type Finished = (usize, Result<()>, Buffer);

/// The parallel builds of one run.
pub struct Scheduler<'s, 'w> {
    scope: &'s Scope<'s, 'w>,
    world: &'w World,
    lock: &'w Locked,
    client: Option<jobserver::Client>,
    slots: usize,
    nodes: Vec<Node>,
    tx: mpsc::Sender<Finished>,
    rx: mpsc::Receiver<Finished>,
    live: Live,
}

impl<'s, 'w> Scheduler<'s, 'w> {
    /// A scheduler for the parallel steps of `plan`, or `None` when it has none.
    pub fn new(
        scope: &'s Scope<'s, 'w>,
        world: &'w World,
        lock: &'w Locked,
        plan: &Plan,
    ) -> Option<Scheduler<'s, 'w>> {
        let nodes: Vec<Node> = plan
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.parallel)
            .filter_map(|(i, s)| match &s.job {
                Job::Write(WriteJob::AutoInstall { at, conf, .. }) => Some(Node {
                    step: i,
                    at: at.clone(),
                    conf: conf.clone(),
                    cost: s.cost,
                    state: State::Waiting,
                }),
                _ => None,
            })
            .collect();
        if nodes.is_empty() {
            return None;
        }
        let slots = world.host.jobs().max(1);
        let (tx, rx) = mpsc::channel();
        Some(Scheduler {
            scope,
            world,
            lock,
            client: jobserver::Client::new(slots).ok(),
            slots,
            nodes,
            tx,
            rx,
            live: Live::new(),
        })
    }

    fn running(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n.state, State::Running(_)))
            .count()
    }

    /// Start every build that may start now; take in the finished ones.
    pub fn pump(&mut self, cx: &mut Ctx, plan: &Plan, say: &mut dyn Say) {
        while let Ok(f) = self.rx.try_recv() {
            self.finished(f);
        }
        self.dispatch(cx, plan, say);
    }

    /// A build ended. How it ended is said after its block, in plan order
    /// (the heartbeat names it meanwhile).
    fn finished(&mut self, (i, res, buf): Finished) {
        if let Some(n) = self.nodes.iter_mut().find(|n| n.step == i) {
            let took = match n.state {
                State::Running(t) => Some(t.elapsed()),
                _ => None,
            };
            n.state = State::Done(res, buf, took);
        }
    }

    fn dispatch(&mut self, cx: &mut Ctx, plan: &Plan, say: &mut dyn Say) {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by(|a, b| self.nodes[*b].cost.cmp(&self.nodes[*a].cost).then(a.cmp(b)));
        for idx in order {
            if self.running() >= self.slots {
                break;
            }
            let n = &self.nodes[idx];
            if !matches!(n.state, State::Waiting) {
                continue;
            }
            let st = &plan.steps[n.step];
            if st.after.iter().any(|j| !cx.outcomes[*j].succeeded())
                || st.deps.iter().any(|j| !cx.outcomes[*j].resolved())
            {
                continue;
            }
            let busy: BTreeSet<(String, String)> = self
                .nodes
                .iter()
                .filter(|x| matches!(x.state, State::Running(_)))
                .map(|x| (x.at.m.clone(), x.at.v.clone()))
                .collect();
            if busy.contains(&(n.at.m.clone(), n.at.v.clone())) {
                continue;
            }
            let world = self.world;
            let at = n.at.clone();
            if cx.ledger.is_built(world, &at) || cx.ledger.is_installed(world, &at) {
                self.nodes[idx].state = State::Done(Ok(()), Buffer::new(Style::Hook), None);
                continue;
            }
            let Some(signer) = cx.ledger.prepared_signer(&at.k, &at.a).cloned() else {
                continue;
            };
            let missing: Vec<String> = match world.conf(&n.conf).map(|r| &r.result) {
                Some(Ok(c)) => cx
                    .ledger
                    .missing_deps(world, &c.build_depends, &at.k, &at.a),
                _ => Vec::new(),
            };
            let step = n.step;
            let key = n.conf.clone();
            let lock = self.lock;
            let client = self.client.clone();
            let tx = self.tx.clone();
            self.live.emit(say, Progress::Started(&at));
            self.nodes[idx].state = State::Running(Instant::now());
            self.scope.spawn(move || {
                let mut buf = Buffer::new(Style::Hook);
                let res = build_one(
                    world,
                    lock,
                    &at,
                    &key,
                    signer,
                    missing,
                    client.as_ref(),
                    &mut buf,
                );
                // The receiver only goes when the run is over: nobody is left to tell.
                let _ = tx.send((step, res, buf));
            });
        }
    }

    /// The step `i`'s module: wait for its build (starting others and
    /// saying live on `say` what still runs meanwhile), show its output on
    /// `out` (the module's block), install it, then say how its build
    /// ended, after its lines.
    pub fn finish(
        &mut self,
        cx: &mut Ctx,
        plan: &Plan,
        i: usize,
        say: &mut dyn Say,
        out: &mut dyn Say,
    ) -> Result<()> {
        let Some(idx) = self.nodes.iter().position(|n| n.step == i) else {
            return Err(Error::msg(msg::NO_SUCH_BUILD));
        };
        let mut last_beat = Instant::now();
        loop {
            self.pump(cx, plan, say);
            if matches!(self.nodes[idx].state, State::Done(..)) {
                break;
            }
            if matches!(self.nodes[idx].state, State::Waiting) && self.running() == 0 {
                // Nothing runs and it cannot start: its kernel was never
                // prepared (an earlier failure). Build it here.
                let (at, key) = (self.nodes[idx].at.clone(), self.nodes[idx].conf.clone());
                self.nodes[idx].state = State::Taken;
                return run_install(cx, self.lock, out, &at, &key, plan, i);
            }
            if let Ok(f) = self.rx.recv_timeout(Duration::from_millis(500)) {
                self.finished(f);
            }
            if last_beat.elapsed() >= HEARTBEAT {
                let running: Vec<&Mvka> = self
                    .nodes
                    .iter()
                    .filter(|n| matches!(n.state, State::Running(_)))
                    .map(|n| &n.at)
                    .collect();
                let done: Vec<&Mvka> = self
                    .nodes
                    .iter()
                    .filter(|n| matches!(n.state, State::Done(..)))
                    .map(|n| &n.at)
                    .collect();
                self.live.emit(say, Progress::Heartbeat(&running, &done));
                last_beat = Instant::now();
            }
        }
        let state = std::mem::replace(&mut self.nodes[idx].state, State::Taken);
        let State::Done(res, mut buf, took) = state else {
            return Err(Error::msg(msg::BUILD_NOT_DONE));
        };
        let at = self.nodes[idx].at.clone();
        buf.replay(out);
        if took.is_some() {
            // It began with what reading the dkms.conf printed: the
            // install reads it next and, as after a build in this thread,
            // does not say it again.
            cx.conf_shown(&self.nodes[idx].conf);
        }
        let res = res.and_then(|()| {
            cx.ledger.set_built(&at, true);
            let key = self.nodes[idx].conf.clone();
            run_install(cx, self.lock, out, &at, &key, plan, i)
        });
        // The error belongs to the block, before the line that says how the
        // build ended; the executor then has nothing more to show.
        if let Err(e) = &res {
            out.error(e);
        }
        if let Some(took) = took {
            self.live
                .emit(out, Progress::Finished(&at, took, res.as_ref().err()));
        }
        res.map_err(Error::shown)
    }

    /// Stop starting builds (running ones finish; the scope waits for them).
    pub fn abandon(&mut self) {
        for n in &mut self.nodes {
            if matches!(n.state, State::Waiting) {
                n.state = State::Taken;
            }
        }
    }
}

fn run_install(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    key: &ConfKey,
    plan: &Plan,
    i: usize,
) -> Result<()> {
    let depmod = match &plan.steps[i].job {
        Job::Write(WriteJob::AutoInstall { depmod, .. }) => *depmod,
        _ => crate::plan::Depmod::Later,
    };
    install::maybe_install(cx, lock, say, at, key, depmod)
}

/// One build in a worker thread, its output in `buf`.
#[allow(clippy::too_many_arguments)]
fn build_one(
    world: &World,
    lock: &Locked,
    at: &Mvka,
    key: &ConfKey,
    signer: Option<crate::exec::sign::Signer>,
    missing_deps: Vec<String>,
    client: Option<&jobserver::Client>,
    buf: &mut Buffer,
) -> Result<()> {
    let read = world
        .conf(key)
        .ok_or_else(|| Error::msg(msg::CONF_NOT_OBSERVED))?;
    let conf = conf_output::for_build(buf, key, read)?;
    build::checks_before_prepare(world, at, conf)?;
    let input = BuildInput {
        world,
        lock,
        at: at.clone(),
        conf,
        kernel: build::kernel(world, &at.k)?,
        signer,
        missing_deps,
        style: Style::Hook,
    };
    match client {
        Some(c) => {
            let _token = c
                .acquire()
                .map_err(|e| Error::msg(msg::no_jobserver_token(&e.to_string())))?;
            build::after_prepare(&input, buf, Jobs::Server(c))
        }
        None => build::after_prepare(&input, buf, Jobs::Fixed(Some(world.host.jobs()))),
    }
}
