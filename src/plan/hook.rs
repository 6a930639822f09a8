//! Planning `dkms-hook` events: which kernels get an autoinstall (all of
//! an event's kernels as one plan, built in parallel), which are deferred
//! because their headers are missing, which are forgotten because they are
//! gone, and which builds prune removes.
//!
//! Exit policy (the one place it is decided, [`failure_policy`] and
//! [`exit_status`]): a real build or install failure (a dkms.conf that
//! cannot be read or names no module, and a registered BUILD_DEPENDS that
//! did not get installed, included) never fails `kernel-postinst`,
//! `header-postinst` or `kernel-install`: the report says it in full, and
//! when the module is critical the boot guard keeps the machine off that
//! kernel. `autoinstall` run by hand fails (exit 11). framework.conf's
//! `autoinstall_failure=strict` fails every one of them (exit 11, what
//! upstream's hooks did before 3.2.2), `autoinstall_failure=warn` none (a
//! warning). Skips, missing headers and deferrals never fail anything;
//! removal hooks, apt, dpkg triggers and boot never fail. Output that could not be written
//! (stdout or stderr on a full disk) fails the commands a person or a
//! script runs and whose report is their product, and is only said by
//! the events that must never fail their caller.

use crate::error::Error;
use crate::observe::kernel::headers_package;
use crate::observe::version::sort_v_cmp;
use crate::observe::Facts;
use crate::plan::msg;
use crate::plan::removal::{removals, Removal};
use crate::plan::{
    autoinstall, AutoinstallFor, Depmod, Event, ExitRule, FailurePolicy, GuardJob, Mvka, Plan,
    PruneKernel, ReadJob, WriteJob,
};
use crate::report::Stream;

/// What a real build or install failure does to `event`'s exit status,
/// with framework.conf's `autoinstall_failure` (`strict`, `warn`, or unset).
pub fn failure_policy(event: &Event, autoinstall_failure: &str) -> FailurePolicy {
    if !event.may_fail() {
        return FailurePolicy::Never;
    }
    if autoinstall_failure.eq_ignore_ascii_case("warn") {
        return FailurePolicy::Warn;
    }
    if autoinstall_failure.eq_ignore_ascii_case("strict") {
        return FailurePolicy::Fail;
    }
    match event {
        Event::KernelPostinst(_) | Event::HeaderPostinst(_) => FailurePolicy::GoOn,
        _ => FailurePolicy::Fail,
    }
}

/// What a hook run says at its very end about its failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitNote {
    /// Nothing.
    None,
    /// `autoinstall_failure=warn` kept the failure from failing the run.
    WarnOnly,
    /// The package operation goes on (the default of the package hooks).
    GoesOn,
}

/// The exit status of a hook run whose steps all ran (`failed`: a real
/// build or install failed), and what to say about it.
pub fn exit_status(policy: FailurePolicy, failed: bool) -> (i32, ExitNote) {
    match (failed, policy) {
        (false, _) | (true, FailurePolicy::Never) => (0, ExitNote::None),
        (true, FailurePolicy::Fail) => (11, ExitNote::None),
        (true, FailurePolicy::Warn) => (0, ExitNote::WarnOnly),
        (true, FailurePolicy::GoOn) => (0, ExitNote::GoesOn),
    }
}

/// The exit status when a hook run failed before its plan ran (no os-release,
/// a lock that cannot be taken): the error's status for events that may
/// fail and for the ones only a person runs (`pending`, `doctor`, a dry
/// `prune`), 0 (with a warning) for the ones that must never fail.
pub fn exit_status_on_error(event: &Event, code: i32) -> (i32, bool) {
    if event.may_fail() || event.by_hand() {
        (code, false)
    } else {
        (0, true)
    }
}

/// The exit status of a hook run that would have ended with `code` but
/// could not write its stdout or stderr (not a closed pipe): events that
/// must never fail their caller (removal hooks, apt, the dpkg trigger,
/// boot) keep their status and only say so; every other event fails
/// (see [`crate::report::lost::failed_status`]).
pub fn exit_status_on_lost_output(event: &Event, code: i32) -> i32 {
    match event {
        Event::KernelPreinst(_)
        | Event::KernelPrerm(_)
        | Event::AptPostInvoke
        | Event::DpkgTrigger
        | Event::KernelInstallOther
        | Event::Boot => code,
        Event::KernelPostinst(_)
        | Event::HeaderPostinst(_)
        | Event::Autoinstall(_)
        | Event::Prune { .. }
        | Event::Pending
        | Event::Doctor { .. }
        | Event::Package(_)
        | Event::Critical(_)
        | Event::Publish { .. }
        | Event::Why { .. }
        | Event::Sign { .. } => crate::report::lost::failed_status(code),
    }
}

/// What a kernel gets in a hook run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelWork {
    /// Autoinstall for it.
    Autoinstall(String),
    /// Headers missing: say so and remember it.
    DeferHeaders(String),
    /// Gone: forget its records.
    Drop(String),
}

/// What each kernel gets for `event`.
pub fn work(event: &Event, world: &Facts) -> Vec<KernelWork> {
    let for_kernel = |k: &str, explicit: bool| -> Option<KernelWork> {
        let f = world.kernel(k);
        if f.headers {
            Some(KernelWork::Autoinstall(k.to_string()))
        } else if !f.dir && !f.image {
            Some(KernelWork::Drop(k.to_string()))
        } else if explicit {
            Some(KernelWork::DeferHeaders(k.to_string()))
        } else {
            None
        }
    };
    let catch_up = |extra: Option<&str>| -> Vec<KernelWork> {
        let mut ks = world.records.kernels();
        if let Some(e) = extra {
            ks.push(e.to_string());
        }
        ks.sort_by(|a, b| sort_v_cmp(a, b));
        ks.dedup();
        ks.iter()
            .filter_map(|k| for_kernel(k, Some(k.as_str()) == extra))
            .collect()
    };
    match event {
        Event::KernelPostinst(k) => for_kernel(k, true).into_iter().collect(),
        Event::Autoinstall(AutoinstallFor::Named(ks)) => {
            ks.iter().filter_map(|k| for_kernel(k, true)).collect()
        }
        Event::Autoinstall(AutoinstallFor::Running(k)) => for_kernel(k, true).into_iter().collect(),
        // Every kernel under the install tree that is still installed: the
        // directory a removed kernel leaves behind (neither its image nor
        // its headers, what prune removes) is no kernel to build for.
        Event::Autoinstall(AutoinstallFor::All) => world
            .installed_kernels()
            .iter()
            .filter(|k| {
                let f = world.kernel(k);
                f.image || f.headers
            })
            .filter_map(|k| for_kernel(k, true))
            .collect(),
        Event::HeaderPostinst(k) => catch_up(Some(k)),
        Event::DpkgTrigger | Event::AptPostInvoke => catch_up(None),
        Event::Boot => catch_up(Some(&world.host.running_kernel)),
        _ => Vec::new(),
    }
}

/// Kernels something is built for, linked to, archived for or pending for.
pub fn prune_candidates(world: &Facts) -> Vec<String> {
    let mut ks = world.tree.kernels();
    ks.extend(world.records.kernels());
    ks.extend(world.records.failures.iter().map(|f| f.kernel.clone()));
    ks.sort_by(|a, b| sort_v_cmp(a, b));
    ks.dedup();
    ks
}

/// Kernels prune removes: neither the image nor the headers are installed
/// any more. Headers alone keep a kernel: chroots and image builders
/// install the headers of the kernels they build for without the image.
/// Each comes with what is built for it.
pub fn prune_kernels(world: &Facts) -> Vec<PruneKernel> {
    let a = &world.host.machine_arch;
    prune_candidates(world)
        .into_iter()
        .filter(|k| {
            let f = world.kernel(k);
            !f.image && !f.headers
        })
        .map(|k| PruneKernel {
            builds: world
                .tree
                .module_versions()
                .into_iter()
                .filter(|(m, v)| world.tree.is_built(m, v, &k, a))
                .map(|(m, v)| {
                    let key = world.conf_key(&m, &v, &k, a, false);
                    (Mvka::new(&m, &v, &k, a), key)
                })
                .collect(),
            k,
        })
        .collect()
}

/// True if an autoinstall for k would build something (an AUTOINSTALL
/// module not installed, not provided by a binary module package and not
/// ruled out by BUILD_EXCLUSIVE).
pub fn would_build(world: &Facts, k: &str, a: &str) -> bool {
    world.tree.latest_versions().into_iter().any(|(m, v)| {
        !world.tree.is_installed(&m, &v, k, a)
            && !world.provided_prebuilt(&m, k, a)
            && world
                .conf(&world.source_conf_key(&m, &v, k, a, false))
                .result
                .as_ref()
                .is_ok_and(|c| c.autoinstall && !c.build_exclude)
    })
}

/// The critical modules (m, v) an autoinstall would build for k: the
/// ones a kernel without headers leaves out.
fn critical_to_build(world: &Facts, k: &str, a: &str) -> Vec<(String, String)> {
    let critical = world.critical();
    world
        .tree
        .latest_versions()
        .into_iter()
        .filter(|(m, v)| {
            critical.contains(m)
                && !world.tree.is_installed(m, v, k, a)
                && !world.provided_prebuilt(m, k, a)
                && world
                    .conf(&world.source_conf_key(m, v, k, a, false))
                    .result
                    .as_ref()
                    .is_ok_and(|c| c.autoinstall && !c.build_exclude)
        })
        .collect()
}

/// The boot guard's step, for the events after which a kernel may lack a
/// critical module or have it again (a build, a removal, boot), when
/// there is a critical module or a guard.
fn guard(
    p: &mut Plan,
    world: &Facts,
    event: &Event,
    deferred: Vec<(String, Vec<(String, String)>)>,
) {
    let guards = &world.records.guards;
    if world.critical().modules.is_empty() && guards.kernels.is_empty() && guards.changes.is_empty()
    {
        return;
    }
    // Observed now, so that the executor only reads it.
    world.loader();
    let removed = match event {
        Event::KernelPrerm(k) => Some(k.as_str()),
        _ => None,
    };
    let bootable = world
        .installed_kernels()
        .iter()
        .filter(|k| Some(k.as_str()) != removed && world.kernel(k).image)
        .cloned()
        .collect();
    let booted = matches!(event, Event::Boot).then(|| world.host.running_kernel.clone());
    p.push_soft(
        WriteJob::Guard(GuardJob {
            deferred,
            bootable,
            booted,
        }),
        &[],
        0,
    );
}

/// Plan `event`.
pub fn plan(event: &Event, world: &Facts) -> Plan {
    let mut p = Plan::new(ExitRule::Hook(failure_policy(
        event,
        &world.host.settings.autoinstall_failure,
    )));
    let a = world.host.machine_arch.clone();
    match event {
        Event::Pending => {
            p.exit = ExitRule::Stop;
            p.push(ReadJob::Pending, &[], 0);
            return p;
        }
        Event::Doctor { repair: false } => {
            p.exit = ExitRule::Stop;
            p.push(ReadJob::Doctor, &[], 0);
            return p;
        }
        Event::Doctor { repair: true } => {
            p.exit = ExitRule::Stop;
            p.push(WriteJob::Repair, &[], 0);
            return p;
        }
        Event::Prune { dry_run: true } => {
            p.exit = ExitRule::Stop;
            let kernels = prune_kernels(world);
            p.push(ReadJob::PrunePreview { kernels }, &[], 0);
            return p;
        }
        Event::Prune { dry_run: false } => {
            p.exit = ExitRule::Stop;
            let kernels = prune_kernels(world);
            p.push(
                WriteJob::Prune {
                    kernels,
                    explicit: true,
                },
                &[],
                0,
            );
            return p;
        }
        Event::KernelInstallOther => return p,
        Event::Package(args) => return crate::plan::package::steps::package(args, world),
        Event::Publish { repo, files } => return crate::plan::package::steps::publish(repo, files),
        Event::Critical(c) => return crate::plan::critical::plan(c, world),
        Event::Why {
            module,
            kernel,
            json,
        } => {
            p.exit = ExitRule::Stop;
            p.push(
                ReadJob::Why {
                    module: module.clone(),
                    kernel: kernel.clone(),
                    json: *json,
                },
                &[],
                0,
            );
            return p;
        }
        Event::Sign {
            module,
            version,
            kernels,
        } => return crate::plan::sign::plan(world, module, version, kernels),
        Event::KernelPreinst(k) | Event::KernelPrerm(k) => {
            let preinst = matches!(event, Event::KernelPreinst(_));
            removal(&mut p, world, k, &a, preinst);
            if !preinst {
                p.push_soft(WriteJob::DropKernelRecords { k: k.clone() }, &[], 0);
                guard(&mut p, world, event, Vec::new());
                implicit_prune(&mut p, world);
            }
            return p;
        }
        Event::Autoinstall(AutoinstallFor::Named(ks)) => {
            if let Some(p) = named_kernels_missing(world, ks) {
                return p;
            }
        }
        _ => {}
    }
    let mut any_auto = false;
    let mut load = None;
    let mut deferred = Vec::new();
    for w in work(event, world) {
        match w {
            KernelWork::Autoinstall(k) => {
                any_auto = true;
                if matches!(event, Event::Boot) && k == world.host.running_kernel {
                    load = Some(k.clone());
                }
                autoinstall::plan_into(&mut p, world, &k, &a, Depmod::Later, true);
                // Only after the kernel's work (installs happen in plan
                // order): a run killed before it keeps the record, so the
                // next trigger does the work again (SPEC: never loses
                // deferred work).
                p.push_soft(
                    WriteJob::ClearHeadersDeferral {
                        k: k.clone(),
                        a: a.clone(),
                    },
                    &[],
                    0,
                );
            }
            KernelWork::DeferHeaders(k) => {
                deferred.push((k.clone(), critical_to_build(world, &k, &a)));
                if would_build(world, &k, &a) {
                    p.push_soft(
                        WriteJob::DeferHeaders {
                            package: headers_package(&world.host.distribution, &k),
                            k,
                            a: a.clone(),
                        },
                        &[],
                        0,
                    );
                }
            }
            KernelWork::Drop(k) => {
                let running = matches!(event, Event::Boot | Event::Autoinstall(_))
                    && k == world.host.running_kernel;
                if running {
                    p.say(running_kernel_absent(world, &k), &[], 0);
                }
                p.push_soft(WriteJob::DropKernelRecords { k }, &[], 0);
            }
        }
    }
    if any_auto {
        p.push_soft(WriteJob::FlushDepmod, &[], 0);
        if let Some(job) = crate::plan::package::steps::publish_built(world) {
            p.push_soft(job, &[], 0);
        }
    }
    // The boot loaded modules before this unit built any: load what it
    // installs for the running kernel now, once depmod has run.
    if let Some(k) = load {
        p.push_soft(WriteJob::LoadInstalled { k }, &[], 0);
    }
    guard(&mut p, world, event, deferred);
    if matches!(event, Event::AptPostInvoke | Event::Boot) {
        implicit_prune(&mut p, world);
    }
    p.push_soft(ReadJob::HookSummary, &[], 0);
    // In a hook nothing is fatal: every failure is reported and counted.
    for s in &mut p.steps {
        s.fatal = false;
    }
    p
}

/// `autoinstall -k`: a plan that only fails (exit 2, nothing done) when a
/// kernel the user named is not installed (neither its module directory
/// nor its image): a mistyped version must not pass for "nothing to do".
fn named_kernels_missing(world: &Facts, ks: &[String]) -> Option<Plan> {
    let boot = world.host.layout.root.join("/boot");
    let lines: Vec<String> = ks
        .iter()
        .filter(|k| {
            let f = world.kernel(k);
            !f.dir && !f.image
        })
        .map(|k| {
            msg::kernel_not_installed(
                k,
                &world.host.layout.lib_tree(k),
                &boot.join(format!("vmlinuz-{k}")),
            )
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(Plan::fail(Error::usage(lines)))
}

/// The note for the running kernel when it is not installed where this
/// run looks (`--root` of an image being built, a container).
fn running_kernel_absent(world: &Facts, k: &str) -> String {
    let root = &world.host.layout.root;
    msg::running_kernel_absent(
        k,
        &world.host.layout.lib_tree(k),
        (!root.is_slash()).then(|| root.dir()),
    )
}

/// The prune that follows a removal, apt run or boot: soft (a failure
/// never fails the event) and quiet when nothing is gone.
fn implicit_prune(p: &mut Plan, world: &Facts) {
    p.push_soft(
        WriteJob::Prune {
            kernels: prune_kernels(world),
            explicit: false,
        },
        &[],
        0,
    );
}

/// Every module built for k/a comes off (preinst: AUTOINSTALL ones), one
/// depmod at the end; failures are reported, never fatal.
fn removal(p: &mut Plan, world: &Facts, k: &str, a: &str, preinst: bool) {
    for r in removals(world, k, a, preinst) {
        let (m, v) = match r {
            Removal::Take(m, v) => (m, v),
            Removal::Unreadable(key) => {
                p.push_soft(ReadJob::ReadConf(key), &[], 0);
                continue;
            }
        };
        let chain = p.steps.len() + 1;
        let at = Mvka::new(&m, &v, k, a);
        p.push_soft(
            WriteJob::RemoveFromKernel {
                exclusive: crate::plan::removal::exclusive(world, &at),
                at,
                conf: world.conf_key(&m, &v, k, a, false),
            },
            &[],
            chain,
        );
        if !preinst {
            p.push_soft(ReadJob::Say(Stream::Out, "\n".into()), &[], chain);
        }
    }
    p.push_soft(WriteJob::FlushDepmod, &[], 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Layout, Root};
    use crate::observe::kernel::{Kernel, KernelFacts};
    use crate::observe::{Facts, Host, World};
    use crate::plan::Job;
    use rstest::rstest;

    /// A world whose kernels are described by their names: "h" headers,
    /// "i" image, "hi" both, "d" directory only, "gone" nothing.
    fn world(kernels: &[&str], pending: &[&str]) -> World {
        let tagged = |ks: &[&str]| -> Vec<(String, String)> {
            ks.iter()
                .map(|k| {
                    (
                        k.to_string(),
                        k.rsplit('-').next().unwrap_or("").to_string(),
                    )
                })
                .collect()
        };
        world_tagged(&tagged(kernels), &tagged(pending))
    }

    /// [`world`] for real release names: each kernel with its tag apart.
    fn world_tagged(kernels: &[(String, String)], pending: &[(String, String)]) -> World {
        let root = Root::new("/nonexistent");
        let layout = Layout {
            root: root.clone(),
            dkms: "/nonexistent/var/lib/dkms".into(),
            source: "/nonexistent/usr/src".into(),
            install: "/nonexistent/lib/modules".into(),
        };
        let host = Host::for_tests(layout);
        let mut w = World::observe(host);
        for (k, tag) in kernels.iter().chain(pending) {
            w.set_kernel(
                k,
                KernelFacts {
                    kernel: Kernel::new(std::path::Path::new("/x"), k, None),
                    dir: tag != "gone",
                    headers: tag == "h" || tag == "hi",
                    image: tag == "i" || tag == "hi",
                    modules_dep: false,
                    config: "/x".into(),
                    suffix: "",
                    system_map: None,
                },
            );
        }
        for (k, _) in pending {
            w.records.items.push(crate::observe::pending::Item {
                kernel: k.to_string(),
                arch: "x86_64".into(),
                reason: crate::observe::pending::Reason::HeadersMissing,
                module: String::new(),
                detail: String::new(),
                since: 0,
            });
        }
        w
    }

    #[rstest]
    #[case(Event::KernelPostinst("6.1-hi".into()), &["6.1-hi"], &[], vec![KernelWork::Autoinstall("6.1-hi".into())])]
    #[case(Event::KernelPostinst("6.1-i".into()), &["6.1-i"], &[], vec![KernelWork::DeferHeaders("6.1-i".into())])]
    #[case(Event::KernelPostinst("6.1-gone".into()), &["6.1-gone"], &[], vec![KernelWork::Drop("6.1-gone".into())])]
    #[case(Event::HeaderPostinst("6.1-h".into()), &["6.1-h"], &["6.2-i"], vec![KernelWork::Autoinstall("6.1-h".into())])]
    #[case(Event::DpkgTrigger, &[], &["6.1-hi", "6.2-i", "6.3-gone"], vec![KernelWork::Autoinstall("6.1-hi".into()), KernelWork::Drop("6.3-gone".into())])]
    #[case(Event::AptPostInvoke, &[], &[], vec![])]
    #[case(Event::Autoinstall(AutoinstallFor::Named(vec!["6.2-h".into(), "6.1-i".into()])), &["6.2-h", "6.1-i"], &[], vec![KernelWork::Autoinstall("6.2-h".into()), KernelWork::DeferHeaders("6.1-i".into())])]
    #[case(Event::Autoinstall(AutoinstallFor::Running("6.3-gone".into())), &["6.3-gone"], &[], vec![KernelWork::Drop("6.3-gone".into())])]
    fn kernel_decisions(
        #[case] e: Event,
        #[case] kernels: &[&str],
        #[case] pending: &[&str],
        #[case] want: Vec<KernelWork>,
    ) {
        assert_eq!(work(&e, &Facts::new(&world(kernels, pending))), want);
    }

    #[rstest]
    #[case(Event::KernelPostinst("k".into()), true)]
    #[case(Event::HeaderPostinst("k".into()), true)]
    #[case(Event::Autoinstall(AutoinstallFor::All), true)]
    #[case(Event::KernelPrerm("k".into()), false)]
    #[case(Event::KernelPreinst("k".into()), false)]
    #[case(Event::AptPostInvoke, false)]
    #[case(Event::DpkgTrigger, false)]
    #[case(Event::Boot, false)]
    fn which_events_may_fail(#[case] e: Event, #[case] may: bool) {
        assert_eq!(e.may_fail(), may);
    }

    #[rstest]
    #[case(Event::KernelPostinst("k".into()), "", FailurePolicy::GoOn)]
    #[case(Event::HeaderPostinst("k".into()), "", FailurePolicy::GoOn)]
    #[case(Event::Autoinstall(AutoinstallFor::All), "", FailurePolicy::Fail)]
    #[case(Event::KernelPostinst("k".into()), "strict", FailurePolicy::Fail)]
    #[case(Event::KernelPostinst("k".into()), "Warn", FailurePolicy::Warn)]
    #[case(Event::Autoinstall(AutoinstallFor::All), "warn", FailurePolicy::Warn)]
    #[case(Event::AptPostInvoke, "strict", FailurePolicy::Never)]
    #[case(Event::Boot, "", FailurePolicy::Never)]
    fn hook_failure_policy(#[case] e: Event, #[case] setting: &str, #[case] want: FailurePolicy) {
        assert_eq!(failure_policy(&e, setting), want);
    }

    #[rstest]
    #[case(FailurePolicy::Fail, true, (11, ExitNote::None))]
    #[case(FailurePolicy::Warn, true, (0, ExitNote::WarnOnly))]
    #[case(FailurePolicy::GoOn, true, (0, ExitNote::GoesOn))]
    #[case(FailurePolicy::Never, true, (0, ExitNote::None))]
    #[case(FailurePolicy::Fail, false, (0, ExitNote::None))]
    #[case(FailurePolicy::GoOn, false, (0, ExitNote::None))]
    fn hook_exit_policy(
        #[case] policy: FailurePolicy,
        #[case] failed: bool,
        #[case] want: (i32, ExitNote),
    ) {
        assert_eq!(exit_status(policy, failed), want);
    }

    #[rstest]
    #[case(Event::KernelPostinst("k".into()), 4, (4, false))]
    #[case(Event::KernelPrerm("k".into()), 4, (0, true))]
    #[case(Event::AptPostInvoke, 1, (0, true))]
    #[case(Event::Boot, 1, (0, true))]
    #[case(Event::Pending, 4, (4, false))]
    #[case(Event::Doctor { repair: false }, 4, (4, false))]
    #[case(Event::Doctor { repair: true }, 4, (4, false))]
    #[case(Event::Prune { dry_run: true }, 4, (4, false))]
    #[case(Event::Prune { dry_run: false }, 4, (0, true))]
    fn hook_errors_before_planning(#[case] e: Event, #[case] code: i32, #[case] want: (i32, bool)) {
        assert_eq!(exit_status_on_error(&e, code), want);
    }

    #[rstest]
    #[case(Event::KernelPostinst("k".into()), 0, 1)]
    #[case(Event::KernelPostinst("k".into()), 11, 11)]
    #[case(Event::Autoinstall(AutoinstallFor::All), 0, 1)]
    #[case(Event::HeaderPostinst("k".into()), 0, 1)]
    #[case(Event::Pending, 0, 1)]
    #[case(Event::Prune { dry_run: true }, 0, 1)]
    #[case(Event::KernelPreinst("k".into()), 0, 0)]
    #[case(Event::KernelPrerm("k".into()), 0, 0)]
    #[case(Event::AptPostInvoke, 0, 0)]
    #[case(Event::DpkgTrigger, 0, 0)]
    #[case(Event::Boot, 0, 0)]
    fn hook_output_lost(#[case] e: Event, #[case] code: i32, #[case] want: i32) {
        assert_eq!(exit_status_on_lost_output(&e, code), want);
    }

    #[test]
    fn prune_spares_installed_kernels_and_kernels_with_headers() {
        let w = world(&[], &["6.1-hi", "6.2-h", "6.3-gone", "6.4-d"]);
        let gone: Vec<String> = prune_kernels(&Facts::new(&w))
            .into_iter()
            .map(|pk| pk.k)
            .collect();
        assert_eq!(gone, ["6.3-gone", "6.4-d"]);
    }

    /// The jobs of `event`'s plan that load modules, and whether each comes
    /// after the depmod step.
    fn loads(event: Event, running: &str, kernels: &[&str], pending: &[&str]) -> Vec<String> {
        let mut w = world(kernels, pending);
        w.host.running_kernel = running.into();
        let p = plan(&event, &Facts::new(&w));
        let jobs = p.jobs();
        let depmod = jobs
            .iter()
            .position(|j| matches!(j, Job::Write(WriteJob::FlushDepmod)));
        jobs.iter()
            .enumerate()
            .filter_map(|(i, j)| match j {
                Job::Write(WriteJob::LoadInstalled { k }) => {
                    assert!(depmod.is_some_and(|d| d < i), "load before depmod");
                    Some(k.clone())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn boot_loads_what_it_installs_for_the_running_kernel() {
        assert_eq!(
            loads(Event::Boot, "6.2-hi", &["6.2-hi"], &["6.1-h"]),
            vec!["6.2-hi".to_string()]
        );
        // Headers missing: nothing is built, nothing to load.
        assert!(loads(Event::Boot, "6.2-i", &["6.2-i"], &[]).is_empty());
        // Only the boot unit loads, and only for the running kernel.
        assert!(loads(Event::AptPostInvoke, "6.2-hi", &["6.2-hi"], &["6.1-h"]).is_empty());
        assert!(loads(
            Event::HeaderPostinst("6.2-hi".into()),
            "6.2-hi",
            &["6.2-hi"],
            &[]
        )
        .is_empty());
        assert!(loads(
            Event::KernelPostinst("6.2-hi".into()),
            "6.2-hi",
            &["6.2-hi"],
            &[]
        )
        .is_empty());
    }

    /// Debian 13's `+` releases and their flavours, and Ubuntu's, as the
    /// boot unit, prune and the pending queue see them: each flavour is a
    /// kernel of its own, taken in `sort -V` order.
    #[test]
    fn release_shapes_are_kernels_of_their_own() {
        let t = |k: &str, tag: &str| (k.to_string(), tag.to_string());
        let running = "6.12.118+deb13-amd64";
        let mut w = world_tagged(
            &[t(running, "hi"), t("6.8.0-51-lowlatency", "hi")],
            &[
                t("6.12.118+deb13-rt-amd64", "h"),
                t("6.12.118+deb13-cloud-amd64", "gone"),
                t("6.8.0-51-generic", "i"),
                t("6.12.9+deb13-amd64", "gone"),
            ],
        );
        w.host.running_kernel = running.into();
        assert_eq!(
            work(&Event::Boot, &Facts::new(&w)),
            vec![
                KernelWork::Drop("6.12.9+deb13-amd64".into()),
                KernelWork::Autoinstall(running.into()),
                KernelWork::Drop("6.12.118+deb13-cloud-amd64".into()),
                KernelWork::Autoinstall("6.12.118+deb13-rt-amd64".into()),
            ]
        );
        let gone: Vec<String> = prune_kernels(&Facts::new(&w))
            .into_iter()
            .map(|pk| pk.k)
            .collect();
        assert_eq!(gone, ["6.12.9+deb13-amd64", "6.12.118+deb13-cloud-amd64"]);
        let p = plan(&Event::Boot, &Facts::new(&w));
        let loads: Vec<&str> = p
            .jobs()
            .iter()
            .filter_map(|j| match j {
                Job::Write(WriteJob::LoadInstalled { k }) => Some(k.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(loads, [running]);
        assert_eq!(
            work(
                &Event::KernelPostinst("6.8.0-51-generic".into()),
                &Facts::new(&w)
            ),
            vec![KernelWork::DeferHeaders("6.8.0-51-generic".into())]
        );
    }

    #[test]
    fn hook_plans_never_stop_at_a_failure() {
        let w = world(&["6.1-hi"], &[]);
        let p = plan(&Event::KernelPostinst("6.1-hi".into()), &Facts::new(&w));
        assert!(p.steps.iter().all(|s| !s.fatal));
        assert_eq!(p.exit, ExitRule::Hook(FailurePolicy::GoOn));
    }
}
