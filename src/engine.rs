//! The one path every entry point takes: observe the machine, take the
//! lock when the request writes (and only then observe the trees, so a run
//! that waited for another decides from what that one left), observe what
//! the request needs, plan, execute. Returns the exit status; the hooks'
//! exit policy is applied in `plan::hook` (what fails) and here (errors
//! before planning never fail a package operation that must not fail).

use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::{self, Locked};
use crate::layout::is_safe_component;
use crate::observe::{Facts, Host, World};
use crate::plan::{self, Command, Event, Request};
use crate::report::{Say, Style};
use crate::text;

/// Whether the request may change the trees (and so takes the lock).
fn writes(req: &Request) -> bool {
    match &req.command {
        Command::Dkms(a) => a.action.writes(),
        Command::Hook(e) => e.writes(),
    }
}

/// Run `req`, printing through `say`; returns the exit status.
pub fn run(req: &Request, say: &mut dyn Say) -> i32 {
    for w in &req.warnings {
        say.eline(w);
    }
    // A kernel name that could escape the trees or reach a shell is bad
    // input for every event, including the ones that never fail.
    if let Command::Hook(ev) = &req.command {
        for k in ev.named_kernels() {
            if !is_safe_component(k) {
                let e = Error::usage(text::invalid_name(text::NAME_KERNEL_VERSION, k));
                say.error(&e);
                return e.code();
            }
        }
    }
    match run_inner(req, say) {
        Ok(code) => code,
        Err(e) => {
            say.error(&e);
            let Command::Hook(ev) = &req.command else {
                return e.code();
            };
            let (code, warn) = plan::hook::exit_status_on_error(ev, e.code());
            if warn {
                say.warning(&[msg::HOOK_ERROR_IGNORED.to_string()]);
            }
            code
        }
    }
}

fn run_inner(req: &Request, say: &mut dyn Say) -> Result<i32> {
    let host = Host::observe(req.root.clone(), &req.trees, req.opts.clone())?;
    // Configuration another user can change: nothing is done.
    if let Some(e) = host.settings.refusal() {
        return Err(e);
    }
    for w in &host.settings.warnings {
        say.warning(std::slice::from_ref(w));
    }
    if host.jobs_clamped() && say.style() == Style::Hook {
        say.warning(&[msg::jobs_clamped(crate::observe::host::MAX_JOBS)]);
    }
    // The lock, or why the run has none.
    let lock = if writes(req) {
        take_lock(&host, say)?
    } else {
        Err(Error::msg(msg::READ_ONLY_REQUEST))
    };
    let mut host = host;
    if lock.is_ok() {
        // Taking the lock creates the dkms tree when it was missing.
        host.dkms_tree_writable =
            rustix::fs::access(&host.layout.dkms, rustix::fs::Access::WRITE_OK).is_ok();
    }
    let world = World::observe(host);
    let facts = Facts::new(&world);
    let plan = plan::plan(req, &facts);
    // What the jobs will look up, observed now: the executor only reads.
    let refs = plan.references();
    for k in refs.kernels {
        facts.kernel(k);
    }
    for k in refs.builds {
        facts.build_facts(k);
    }
    for key in refs.confs {
        facts.conf(key);
    }
    log::debug!("plan: {:#?}", plan.jobs());
    // A plan that only reads runs without the lock; one that writes cannot
    // run without it (the executor's writers take the lock as a value).
    match (plan.read_only(), &lock) {
        (Ok(plan), _) => Ok(exec::run_read(&plan, &world, say)),
        (Err(plan), Ok(lock)) => Ok(exec::run_write(&plan, &world, lock, say)),
        (Err(_), Err(why)) => Err(why.clone()),
    }
}

/// Take the writers' lock. Without write access to the dkms tree (a
/// non-root `dkms build` on /var/lib/dkms) the run goes on unlocked, with
/// the reason kept: the plan then fails with upstream's own check before
/// any write, and a plan that would write anyway is refused with it.
fn take_lock(host: &Host, say: &mut dyn Say) -> Result<std::result::Result<Locked, Error>> {
    let path = host.layout.lock_file();
    let res = Locked::acquire(&path, &mut |p| {
        say.eline(&msg::waiting_for_lock(p));
    });
    match res {
        Ok(a) => {
            // Whatever this run starts from now on dies with it before the
            // lock can be taken by another run.
            if let Err(e) = crate::child::hold_lock(&a.lock) {
                log::debug!("the watchdog will not hold the lock: {e}");
            }
            // What a killed run was deleting goes before the tree is read.
            exec::gone::sweep(&a.lock, &host.layout);
            Ok(Ok(a.lock))
        }
        Err(e) if !host.is_root => {
            log::debug!("running without the lock: {e}");
            Ok(Err(e.with_lines([msg::NEEDS_ROOT])))
        }
        Err(e) => Err(e),
    }
}

/// The hook event a request carries, if any.
pub fn event(req: &Request) -> Option<&Event> {
    match &req.command {
        Command::Hook(e) => Some(e),
        _ => None,
    }
}
