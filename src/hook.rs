//! `dkms-hook` events: observe the kernels and the pending queue, plan with
//! [`crate::plan::plan_event`], execute under the tree lock, print one line
//! per module and kernel as work proceeds and a closing summary.
//!
//! Failure policy: a real build failure fails `kernel-postinst` and
//! `header-postinst` (dpkg then reports it), unless framework.conf sets
//! `autoinstall_failure=warn`. Skips, missing headers and deferrals never
//! fail anything; `kernel-preinst`, `kernel-prerm`, `apt-post-invoke`,
//! `dpkg-trigger` and `boot` never fail.

use crate::context::Ctx;
use crate::error::Result;
use crate::exec::autoinstall::{autoinstall_kernels, print_upstream_summary, Outcome};
use crate::exec::removal::kernel_prerm;
use crate::kernel::{headers_package, machine_arch};
use crate::pending::{Item, Queue, Reason};
use crate::plan::{plan_event, prune_kernels, Event, HookJob, KernelFacts};

/// Whether an event may fail its caller on a real build failure.
fn may_fail(event: &Event) -> bool {
    matches!(
        event,
        Event::KernelPostinst(_) | Event::HeaderPostinst(_) | Event::Autoinstall(_)
    )
}

/// Facts about kernel `k` under the run's trees.
pub fn kernel_facts(ctx: &Ctx, k: &str) -> KernelFacts {
    let kernel = ctx.kernel(k);
    let boot = ctx.settings.root.join("/boot");
    KernelFacts {
        version: k.to_string(),
        dir: kernel.dir_exists(),
        headers: kernel.has_headers(),
        installed: kernel.is_installed(&boot),
    }
}

/// Kernels with deferred work in the queue.
pub fn pending_kernels(ctx: &Ctx) -> Vec<String> {
    let mut v: Vec<String> = Queue::new(&ctx.settings.dkms_tree)
        .items()
        .into_iter()
        .map(|i| i.kernel)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Handle one event; returns the exit status for the package manager.
pub fn handle(ctx: &Ctx, event: &Event) -> i32 {
    match run(ctx, event) {
        Ok(code) => code,
        Err(e) => {
            e.report();
            if may_fail(event) && !warn_only(ctx) {
                e.code
            } else {
                eprintln!(
                    "Warning: dkms-hook: the error above does not fail this package operation."
                );
                0
            }
        }
    }
}

fn warn_only(ctx: &Ctx) -> bool {
    ctx.settings
        .autoinstall_failure
        .eq_ignore_ascii_case("warn")
}

fn run(ctx: &Ctx, event: &Event) -> Result<i32> {
    let _lock = crate::actions::lock(ctx)?;
    let pending = pending_kernels(ctx);
    let facts = |k: &str| kernel_facts(ctx, k);
    let jobs = plan_event(event, &facts, &pending);
    log::debug!("event {event:?} -> jobs {jobs:?}");
    let arch = machine_arch();
    let queue = Queue::new(&ctx.settings.dkms_tree);
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut deferred: Vec<(String, String)> = Vec::new();
    let mut failed = false;
    let kernels: Vec<String> = jobs
        .iter()
        .filter_map(|j| match j {
            HookJob::Autoinstall(k) => Some(k.clone()),
            _ => None,
        })
        .collect();
    for job in jobs {
        match job {
            HookJob::Autoinstall(_) => {
                // Every kernel of this event runs as one DAG (below).
            }
            HookJob::DeferHeaders(k) => {
                if let Some(pkg) = defer_headers(ctx, &k, &arch) {
                    deferred.push((k, pkg));
                }
            }
            HookJob::Remove { kernel, preinst } => {
                if let Err(e) = kernel_prerm(ctx, &kernel, &arch, preinst) {
                    e.report();
                }
            }
            HookJob::DropPending(k) => {
                for it in queue.items().into_iter().filter(|i| i.kernel == k) {
                    queue.remove(&it);
                }
                queue.clear_kernel_failures(&k);
            }
            HookJob::Prune => {
                prune(ctx, false);
            }
        }
    }
    if !kernels.is_empty() {
        let pairs: Vec<(String, String)> =
            kernels.iter().map(|k| (k.clone(), arch.clone())).collect();
        for k in &kernels {
            queue.remove(&headers_item(k, &arch, ""));
        }
        match autoinstall_kernels(ctx, &pairs) {
            Ok(done) => {
                for o in done {
                    print_upstream_summary(&o);
                    failed |= o.failed_any();
                    outcomes.push(o);
                }
            }
            Err(e) => {
                e.report();
                failed = true;
            }
        }
    }
    crate::exec::summary::print(&outcomes, &deferred);
    if failed && may_fail(event) {
        if warn_only(ctx) {
            eprintln!("Warning: dkms-hook: some modules failed to build or install (see above); autoinstall_failure=warn keeps this package operation going.");
            return Ok(0);
        }
        return Ok(11);
    }
    Ok(0)
}

fn headers_item(k: &str, a: &str, detail: &str) -> Item {
    Item {
        kernel: k.into(),
        arch: a.into(),
        reason: Reason::HeadersMissing,
        module: String::new(),
        detail: detail.into(),
        since: 0,
    }
}

/// Headers for `k` are missing: if any AUTOINSTALL module would be built,
/// say so in one line and remember the kernel. Returns the headers package.
fn defer_headers(ctx: &Ctx, k: &str, a: &str) -> Option<String> {
    let tree = ctx.tree();
    let needed = tree.latest_versions().into_iter().any(|(m, v)| {
        !tree.is_installed(&m, &v, k, a)
            && ctx
                .read_conf(&m, &v, k, a, None, false)
                .map(|c| c.autoinstall && !c.build_exclude)
                .unwrap_or(false)
    });
    if !needed {
        return None;
    }
    let pkg = headers_package(&ctx.distribution, k);
    println!(
        "dkms-hook: kernel headers for {k} are not installed; module builds for {k} are deferred until {pkg} is installed."
    );
    if let Err(e) = Queue::new(&ctx.settings.dkms_tree).add(headers_item(k, a, &pkg)) {
        eprintln!("Warning: cannot record pending work for {k}: {e}");
    }
    Some(pkg)
}

/// Remove builds, links and pending entries of kernels that are no longer
/// installed. Returns the kernels pruned (or that would be, with `dry_run`).
pub fn prune(ctx: &Ctx, dry_run: bool) -> Vec<String> {
    let tree = ctx.tree();
    let arch = machine_arch();
    let mut built: Vec<String> = Vec::new();
    for (m, v) in tree.module_versions() {
        for (k, _) in tree.built_kernels(&m, &v) {
            built.push(k);
        }
        let _ = v;
        // kernel-K-A links whose build is gone still name a kernel
        if let Ok(rd) = std::fs::read_dir(tree.module_dir(&m)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(rest) = n.strip_prefix("kernel-") {
                    if let Some(k) = rest.strip_suffix(&format!("-{arch}")) {
                        built.push(k.to_string());
                    }
                }
            }
        }
    }
    for it in Queue::new(&ctx.settings.dkms_tree).items() {
        built.push(it.kernel);
    }
    let facts = |k: &str| kernel_facts(ctx, k);
    let gone = prune_kernels(&built, &facts);
    for k in &gone {
        if dry_run {
            for (m, v) in tree.module_versions() {
                if tree.is_built(&m, &v, k, &arch)
                    || tree.kernel_link(&m, k, &arch).symlink_metadata().is_ok()
                {
                    println!("Would remove {m}/{v} for kernel {k} ({arch})");
                }
            }
            continue;
        }
        println!("dkms-hook: kernel {k} is no longer installed; removing its module builds.");
        crate::fault::point("prune:before-remove");
        if let Err(e) = kernel_prerm(ctx, k, &arch, false) {
            e.report();
        }
        for m in tree.modules() {
            let link = tree.kernel_link(&m, k, &arch);
            if link.symlink_metadata().is_ok() {
                let _ = std::fs::remove_file(&link);
            }
            let od = tree.module_dir(&m).join("original_module").join(k);
            let _ = std::fs::remove_dir_all(od);
        }
        let q = Queue::new(&ctx.settings.dkms_tree);
        for it in q.items().into_iter().filter(|i| &i.kernel == k) {
            q.remove(&it);
        }
        q.clear_kernel_failures(k);
    }
    gone
}

/// `dkms-hook pending`: what waits and why (no lock taken).
pub fn print_pending(ctx: &Ctx) -> i32 {
    let q = Queue::new(&ctx.settings.dkms_tree);
    let items = q.items();
    let failures = q.failures();
    if items.is_empty() && failures.is_empty() {
        println!("Nothing is pending.");
        return 0;
    }
    for i in &items {
        match i.reason {
            Reason::HeadersMissing => println!(
                "{} ({}): waiting for kernel headers (install {})",
                i.kernel, i.arch, i.detail
            ),
            Reason::BuildDepends => {
                println!(
                    "{} ({}): {} waits for BUILD_DEPENDS not registered with DKMS: {}",
                    i.kernel, i.arch, i.module, i.detail
                )
            }
        }
    }
    for f in &failures {
        let log = if f.log.is_empty() {
            String::new()
        } else {
            format!("; log: {}", f.log)
        };
        println!(
            "{} ({}): {}/{} failed (exit {}){log}",
            f.kernel, f.arch, f.module, f.version, f.code
        );
    }
    0
}

/// Kernels for `autoinstall --all-kernels`: every kernel under the install tree.
pub fn all_kernels(ctx: &Ctx) -> Vec<String> {
    crate::kernel::list_kernels(&ctx.settings.install_tree)
}
