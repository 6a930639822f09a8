//! The autoinstall DAG: (module, kernel) nodes with BUILD_DEPENDS edges,
//! built in parallel under one GNU make jobserver sized to `parallel_jobs`
//! (no `-j` stacking: each build holds one token for its make and make
//! takes the rest from the shared pool), installed one at a time in
//! dependency order by the coordinating thread, one depmod per kernel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;

use crate::build::{self, Jobs};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::exec::autoinstall::Outcome;
use crate::install::{self, run_depmod, Depmod};
use crate::output;
use crate::pending::{Failure, Item, Queue, Reason};

/// One kernel's share of the work.
#[derive(Debug, Clone)]
pub struct KernelWork {
    /// Kernel.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// Modules already installed (they satisfy dependencies).
    pub installed: Vec<String>,
    /// (module, version, BUILD_DEPENDS) to build and install.
    pub todo: Vec<(String, String, Vec<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Waiting,
    Running,
    Done,
}

struct Node {
    w: usize,
    m: String,
    v: String,
    deps: Vec<String>,
    st: St,
    /// Expected cost, to start the longest builds first.
    cost: u64,
}

/// A build's expected cost in milliseconds: the longest earlier build of
/// this module version (make.log's elapsed times, derived data already in the
/// tree), else a guess from the size of its C sources plus a bonus for a
/// `configure` script (a serial PRE_BUILD step).
pub fn estimate(ctx: &Ctx, m: &str, v: &str) -> u64 {
    let tree = ctx.tree();
    let history = tree
        .built_kernels(m, v)
        .into_iter()
        .filter_map(|(k, a)| {
            std::fs::read_to_string(tree.base_dir(m, v, &k, &a).join("log/make.log")).ok()
        })
        .map(|log| log_seconds(&log) * 1000)
        .max();
    if let Some(ms) = history.filter(|ms| *ms > 0) {
        return ms;
    }
    let src = tree.source_dir(m, v);
    let bonus = if src.join("configure").is_file() {
        20_000
    } else {
        0
    };
    source_bytes(&src, 4) / 20 + bonus
}

/// Sum of the `# elapsed time: HH:MM:SS` lines of a make.log, in seconds.
fn log_seconds(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.strip_prefix("# elapsed time: "))
        .map(|t| {
            t.split(':')
                .filter_map(|x| x.trim().parse::<u64>().ok())
                .fold(0, |acc, x| acc * 60 + x)
        })
        .sum()
}

fn source_bytes(dir: &std::path::Path, depth: u32) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() && depth > 0 {
            total += source_bytes(&e.path(), depth - 1);
        } else if ft.is_file() && e.file_name().to_string_lossy().ends_with(".c") {
            total += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

/// Run the work of every kernel as one DAG; fills and returns the outcomes
/// (one per kernel, in the order given).
pub fn run(ctx: &Ctx, work: &[KernelWork], mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
    let jobs = ctx.jobs().max(1);
    let client = match jobserver::Client::new(jobs) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "Warning: cannot create a make jobserver ({e}); building one module at a time."
            );
            return run_serial(ctx, work, outcomes);
        }
    };
    let queue = Queue::new(&ctx.settings.dkms_tree);
    let mut nodes: Vec<Node> = Vec::new();
    for (w, kw) in work.iter().enumerate() {
        for (m, v, deps) in &kw.todo {
            nodes.push(Node {
                w,
                m: m.clone(),
                v: v.clone(),
                deps: deps.clone(),
                st: St::Waiting,
                cost: estimate(ctx, m, v),
            });
        }
    }
    let mut satisfied: Vec<BTreeSet<String>> = work
        .iter()
        .map(|kw| kw.installed.iter().cloned().collect())
        .collect();
    let mut depmod: Vec<Depmod> = work
        .iter()
        .map(|_| Depmod::Later(BTreeSet::new()))
        .collect();
    // Longest builds start first, so a long one never ends up alone at the end.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|a, b| nodes[*b].cost.cmp(&nodes[*a].cost));
    let (tx, rx) = mpsc::channel::<(usize, Result<()>, String)>();
    let mut running = 0usize;
    std::thread::scope(|scope| loop {
        // Dispatch every ready node, at most `jobs` threads at a time.
        for i in order.iter().copied() {
            if running >= jobs {
                break;
            }
            let n = &nodes[i];
            if n.st != St::Waiting || !n.deps.iter().all(|d| satisfied[n.w].contains(d)) {
                continue;
            }
            nodes[i].st = St::Running;
            running += 1;
            let (m, v, k, a) = (
                nodes[i].m.clone(),
                nodes[i].v.clone(),
                work[nodes[i].w].kernel.clone(),
                work[nodes[i].w].arch.clone(),
            );
            let tx = tx.clone();
            let client = &client;
            scope.spawn(move || {
                output::capture_start();
                let res = if ctx.tree().is_built(&m, &v, &k, &a) {
                    Ok(())
                } else {
                    match client.acquire() {
                        Ok(_token) => {
                            build::build(ctx, &m, &v, &k, &a, Jobs::Server(client)).map(|_| ())
                        }
                        Err(e) => Err(Error::msg(1, format!("Cannot take a jobserver token: {e}"))),
                    }
                };
                let text = output::capture_take();
                let _ = tx.send((i, res, text));
            });
        }
        if running == 0 {
            break;
        }
        let Ok((i, res, text)) = rx.recv() else { break };
        running -= 1;
        nodes[i].st = St::Done;
        let (w, m, v) = (nodes[i].w, nodes[i].m.clone(), nodes[i].v.clone());
        let (k, a) = (work[w].kernel.clone(), work[w].arch.clone());
        println!("Autoinstall of module {m}/{v} for kernel {k} ({a})");
        print!("{text}");
        let res = res.and_then(|()| install_built(ctx, &m, &v, &k, &a, &mut depmod[w]));
        record(
            ctx,
            &queue,
            &mut outcomes[w],
            &mut satisfied[w],
            &m,
            &v,
            &k,
            &a,
            res,
        );
        println!();
    });
    for (w, n) in nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.st == St::Waiting)
    {
        let _ = w;
        let missing: Vec<String> = n
            .deps
            .iter()
            .filter(|d| !satisfied[n.w].contains(*d))
            .cloned()
            .collect();
        outcomes[n.w]
            .missing_deps
            .push((n.m.clone(), n.v.clone(), missing));
    }
    finish_depmod(ctx, depmod);
    outcomes
}

fn install_built(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str, depmod: &mut Depmod) -> Result<()> {
    if ctx.tree().is_installed(m, v, k, a) {
        println!("Module {m}/{v} already installed on kernel {k} ({a}), skip. You may override by specifying --force.");
        return Ok(());
    }
    install::install(ctx, m, v, k, a, depmod)
}

#[allow(clippy::too_many_arguments)]
fn record(
    ctx: &Ctx,
    queue: &Queue,
    out: &mut Outcome,
    satisfied: &mut BTreeSet<String>,
    m: &str,
    v: &str,
    k: &str,
    a: &str,
    res: Result<()>,
) {
    match res {
        Ok(()) => {
            satisfied.insert(m.to_string());
            out.installed.push(m.to_string());
            queue.clear_failure(m, k, a);
            queue.remove(&Item {
                kernel: k.into(),
                arch: a.into(),
                reason: Reason::BuildDepends,
                module: m.into(),
                detail: String::new(),
                since: 0,
            });
        }
        Err(e) if e.is_skip() => {
            e.report();
            satisfied.insert(m.to_string());
            out.skipped.push(m.to_string());
        }
        Err(e) => {
            e.report();
            let log = build::build_dir(ctx, m, v, k, a).join("make.log");
            let log = log.is_file().then_some(log);
            let _ = queue.fail(Failure {
                module: m.into(),
                version: v.into(),
                kernel: k.into(),
                arch: a.into(),
                code: e.code,
                log: log
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                when: 0,
            });
            out.failed.push((m.to_string(), v.to_string(), e.code, log));
        }
    }
}

fn finish_depmod(ctx: &Ctx, depmod: Vec<Depmod>) {
    let mut kernels: BTreeMap<String, ()> = BTreeMap::new();
    for d in depmod {
        if let Depmod::Later(set) = d {
            for k in set {
                kernels.insert(k, ());
            }
        }
    }
    for k in kernels.keys() {
        run_depmod(ctx, k);
    }
}

/// Upstream's order exactly, one module at a time (fallback when no
/// jobserver can be made).
fn run_serial(ctx: &Ctx, work: &[KernelWork], mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
    let queue = Queue::new(&ctx.settings.dkms_tree);
    let mut depmod: Vec<Depmod> = Vec::new();
    for (w, kw) in work.iter().enumerate() {
        let (k, a) = (&kw.kernel, &kw.arch);
        let mut d = Depmod::Later(BTreeSet::new());
        let mut satisfied: BTreeSet<String> = kw.installed.iter().cloned().collect();
        let mut todo = kw.todo.clone();
        loop {
            let (ready, rest): (Vec<_>, Vec<_>) = todo
                .into_iter()
                .partition(|(_, _, deps)| deps.iter().all(|x| satisfied.contains(x)));
            todo = rest;
            if ready.is_empty() {
                break;
            }
            for (m, v, _) in ready {
                println!("Autoinstall of module {m}/{v} for kernel {k} ({a})");
                let res = if ctx.tree().is_built(&m, &v, k, a) {
                    Ok(())
                } else {
                    build::build(ctx, &m, &v, k, a, Jobs::Fixed(ctx.jobs())).map(|_| ())
                };
                let res = res.and_then(|()| install_built(ctx, &m, &v, k, a, &mut d));
                record(
                    ctx,
                    &queue,
                    &mut outcomes[w],
                    &mut satisfied,
                    &m,
                    &v,
                    k,
                    a,
                    res,
                );
                println!();
            }
        }
        for (m, v, deps) in todo {
            let missing = deps
                .into_iter()
                .filter(|x| !satisfied.contains(x))
                .collect();
            outcomes[w].missing_deps.push((m, v, missing));
        }
        depmod.push(d);
    }
    finish_depmod(ctx, depmod);
    outcomes
}

#[cfg(test)]
mod tests {
    use super::log_seconds;

    #[test]
    fn elapsed_times_add_up() {
        let log = "x\n# elapsed time: 00:00:07\n---\n# elapsed time: 00:01:02\n";
        assert_eq!(log_seconds(log), 69);
    }
}
