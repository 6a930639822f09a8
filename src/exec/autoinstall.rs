//! Autoinstall for one kernel: the newest version of every AUTOINSTALL
//! module, in BUILD_DEPENDS order, with upstream's messages, one depmod at
//! the end, and failures and deferrals recorded in the pending queue.

use std::path::PathBuf;

use crate::build;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::exec::scheduler::{self, KernelWork};
use crate::pending::{Item, Queue, Reason};
use crate::plan::{plan_autoinstall, ModuleFacts};

/// What happened to each module.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Kernel.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// `/etc/dkms/no-autoinstall` exists.
    pub disabled: bool,
    /// Modules installed by this run.
    pub installed: Vec<String>,
    /// Modules that were installed already.
    pub already: Vec<String>,
    /// Modules skipped by BUILD_EXCLUSIVE (77).
    pub skipped: Vec<String>,
    /// Failures: module, version, exit code, make.log if any.
    pub failed: Vec<(String, String, i32, Option<PathBuf>)>,
    /// Waiting for dependencies that are registered but did not get installed.
    pub missing_deps: Vec<(String, String, Vec<String>)>,
    /// Deferred: dependencies not registered with DKMS at all.
    pub deferred: Vec<(String, String, Vec<String>)>,
}

impl Outcome {
    /// Upstream's criterion for exit 11.
    pub fn failed_any(&self) -> bool {
        !self.failed.is_empty() || !self.missing_deps.is_empty()
    }
}

/// Observe the facts autoinstall plans from.
fn facts(ctx: &Ctx, k: &str, a: &str) -> Result<Vec<ModuleFacts>> {
    let tree = ctx.tree();
    for (m, v) in tree.module_versions() {
        if tree.is_broken(&m, &v) {
            Error::new(1, [format!("{m}/{v} is broken! Missing the source directory or the symbolic link pointing to it."), "Manual intervention is required!".into()]).report();
        }
    }
    let mut out = Vec::new();
    for (m, v) in tree.latest_versions() {
        if tree.is_installed(&m, &v, k, a) {
            out.push(ModuleFacts {
                module: m,
                version: v,
                installed: true,
                autoinstall: true,
                build_depends: Vec::new(),
            });
            continue;
        }
        let conf = ctx.read_conf(&m, &v, k, a, None, false)?;
        out.push(ModuleFacts {
            module: m,
            version: v,
            installed: false,
            autoinstall: conf.autoinstall,
            build_depends: conf.build_depends,
        });
    }
    Ok(out)
}

/// Run autoinstall for k/a. `Err` only for conditions upstream dies on
/// (bad dkms.conf: 8, headers missing while something must be built: 21).
pub fn autoinstall(ctx: &Ctx, k: &str, a: &str) -> Result<Outcome> {
    let mut v = autoinstall_kernels(ctx, &[(k.to_string(), a.to_string())])?;
    Ok(v.pop().unwrap_or_default())
}

/// Autoinstall for several kernels as one DAG under one jobserver.
pub fn autoinstall_kernels(ctx: &Ctx, kernels: &[(String, String)]) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    let mut work = Vec::new();
    let disabled = ctx.settings.root.join("/etc/dkms/no-autoinstall").exists();
    let queue = Queue::new(&ctx.settings.dkms_tree);
    for (k, a) in kernels {
        let mut out = Outcome {
            kernel: k.clone(),
            arch: a.clone(),
            ..Default::default()
        };
        if disabled {
            println!("Automatic installation of modules has been disabled.");
            out.disabled = true;
            outcomes.push(out);
            continue;
        }
        let plan = plan_autoinstall(&facts(ctx, k, a)?);
        out.already = plan.installed.clone();
        for (m, v, deps) in &plan.deferred {
            println!(
                "{m}/{v} autoinstall deferred: BUILD_DEPENDS {} not registered with DKMS.",
                deps.join(" ")
            );
            let _ = queue.add(Item {
                kernel: k.clone(),
                arch: a.clone(),
                reason: Reason::BuildDepends,
                module: m.clone(),
                detail: deps.join(" "),
                since: 0,
            });
        }
        out.deferred = plan.deferred.clone();
        let tree = ctx.tree();
        if plan
            .to_install
            .iter()
            .any(|(m, v, _)| !tree.is_built(m, v, k, a))
        {
            build::check_headers(ctx, &ctx.kernel(k))?;
        }
        if !plan.to_install.is_empty() {
            work.push((
                outcomes.len(),
                KernelWork {
                    kernel: k.clone(),
                    arch: a.clone(),
                    installed: plan.installed.clone(),
                    todo: plan.to_install.clone(),
                },
            ));
        }
        outcomes.push(out);
    }
    if work.is_empty() {
        return Ok(outcomes);
    }
    let idx: Vec<usize> = work.iter().map(|(i, _)| *i).collect();
    let kw: Vec<KernelWork> = work.into_iter().map(|(_, w)| w).collect();
    let sub: Vec<Outcome> = idx.iter().map(|i| outcomes[*i].clone()).collect();
    let done = scheduler::run(ctx, &kw, sub);
    for (i, o) in idx.into_iter().zip(done) {
        outcomes[i] = o;
    }
    Ok(outcomes)
}

/// Upstream's closing lines for an autoinstall outcome.
pub fn print_upstream_summary(o: &Outcome) {
    let k = &o.kernel;
    let mut all_installed = o.already.clone();
    all_installed.extend(o.installed.iter().cloned());
    if !o.installed.is_empty()
        || !o.skipped.is_empty()
        || !o.failed.is_empty()
        || !o.missing_deps.is_empty()
    {
        if !all_installed.is_empty() {
            println!(
                "Autoinstall on {k} succeeded for module(s) {}.",
                all_installed.join(" ")
            );
        }
        if !o.skipped.is_empty() {
            println!(
                "Autoinstall on {k} was skipped for module(s) {}.",
                o.skipped.join(" ")
            );
        }
        if !o.failed.is_empty() {
            let f: Vec<String> = o
                .failed
                .iter()
                .map(|(m, _, c, _)| format!("{m}({c})"))
                .collect();
            println!("Autoinstall on {k} failed for module(s) {}.", f.join(" "));
        }
        for (m, v, deps) in &o.missing_deps {
            println!(
                "{m}/{v} autoinstall failed due to missing dependencies: {}.",
                deps.join(" ")
            );
        }
    }
}

/// `dkms autoinstall` / `dkms kernel_postinst`: upstream output and exit code.
pub fn dkms_autoinstall(ctx: &Ctx, k: &str, a: &str) -> Result<i32> {
    let o = autoinstall(ctx, k, a)?;
    print_upstream_summary(&o);
    if o.failed_any() {
        return Err(Error::new(
            11,
            [
                "One or more modules failed to install during autoinstall.",
                "Refer to previous errors for more information.",
            ],
        ));
    }
    if !o.installed.is_empty() {
        crate::actions::post_transaction(ctx);
    }
    Ok(0)
}
