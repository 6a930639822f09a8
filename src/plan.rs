//! Planning: pure functions from observed facts to work. No I/O here, so
//! every hook decision is a fast unit test.

use std::collections::BTreeSet;

/// A module version and the BUILD_DEPENDS it waits for.
pub type Waiting = (String, String, Vec<String>);

/// What autoinstall knows about one module (its newest registered version)
/// for the target kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFacts {
    /// Module name.
    pub module: String,
    /// Newest registered version.
    pub version: String,
    /// Already installed for the kernel.
    pub installed: bool,
    /// AUTOINSTALL=yes.
    pub autoinstall: bool,
    /// BUILD_DEPENDS.
    pub build_depends: Vec<String>,
}

/// The autoinstall plan for one kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoPlan {
    /// Modules already installed (they satisfy dependencies).
    pub installed: Vec<String>,
    /// m/v to install, each with the dependencies it still waits for.
    pub to_install: Vec<Waiting>,
    /// m/v deferred because a dependency is not registered with DKMS at all.
    pub deferred: Vec<Waiting>,
}

/// Decide which modules autoinstall handles: the newest version of each
/// module, AUTOINSTALL=yes only, not already installed. A dependency that no
/// registered module provides defers its dependent (and, transitively, the
/// modules that depend on it) instead of failing it.
pub fn plan_autoinstall(facts: &[ModuleFacts]) -> AutoPlan {
    let registered: BTreeSet<&str> = facts.iter().map(|f| f.module.as_str()).collect();
    let mut plan = AutoPlan::default();
    for f in facts {
        if f.installed {
            plan.installed.push(f.module.clone());
        } else if f.autoinstall {
            plan.to_install
                .push((f.module.clone(), f.version.clone(), f.build_depends.clone()));
        }
    }
    loop {
        let deferred_names: BTreeSet<String> = plan.deferred.iter().map(|d| d.0.clone()).collect();
        let (keep, defer): (Vec<_>, Vec<_>) =
            plan.to_install.into_iter().partition(|(_, _, deps)| {
                deps.iter()
                    .all(|d| registered.contains(d.as_str()) && !deferred_names.contains(d))
            });
        plan.to_install = keep;
        if defer.is_empty() {
            break;
        }
        plan.deferred.extend(defer);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(m: &str, installed: bool, auto: bool, deps: &[&str]) -> ModuleFacts {
        ModuleFacts {
            module: m.into(),
            version: "1.0".into(),
            installed,
            autoinstall: auto,
            build_depends: deps.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn only_autoinstall_and_not_installed() {
        let p = plan_autoinstall(&[
            f("a", false, true, &[]),
            f("b", true, true, &[]),
            f("c", false, false, &[]),
        ]);
        assert_eq!(p.installed, vec!["b"]);
        assert_eq!(
            p.to_install
                .iter()
                .map(|x| x.0.as_str())
                .collect::<Vec<_>>(),
            vec!["a"]
        );
    }

    #[test]
    fn unregistered_dependency_defers_transitively() {
        let p = plan_autoinstall(&[
            f("a", false, true, &["ghost"]),
            f("b", false, true, &["a"]),
            f("c", false, true, &[]),
        ]);
        assert_eq!(
            p.deferred.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert_eq!(p.to_install.len(), 1);
    }
}

/// A package-manager event that reached `dkms-hook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `/etc/kernel/postinst.d` or kernel-install `add`.
    KernelPostinst(String),
    /// `/etc/kernel/preinst.d` (kernel upgrade).
    KernelPreinst(String),
    /// `/etc/kernel/prerm.d` or kernel-install `remove`.
    KernelPrerm(String),
    /// `/etc/kernel/header_postinst.d`, or an RPM trigger naming a kernel.
    HeaderPostinst(String),
    /// apt `DPkg::Post-Invoke`.
    AptPostInvoke,
    /// dpkg file trigger on /usr/src or /lib/modules.
    DpkgTrigger,
    /// The systemd boot unit, for the running kernel.
    Boot(String),
    /// `dkms-hook autoinstall` by hand.
    Autoinstall(Vec<String>),
}

/// What is known of one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFacts {
    /// Kernel version.
    pub version: String,
    /// `<install_tree>/<k>` exists.
    pub dir: bool,
    /// Headers present (`build/include`).
    pub headers: bool,
    /// Image installed (`<k>/kernel` or `/boot/vmlinuz-<k>`).
    pub installed: bool,
}

/// One unit of hook work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookJob {
    /// Autoinstall every AUTOINSTALL module for the kernel.
    Autoinstall(String),
    /// Headers missing: say so once and remember the kernel as pending.
    DeferHeaders(String),
    /// Unbuild/uninstall every module for the kernel (`preinst` = AUTOINSTALL modules only).
    Remove {
        /// Kernel.
        kernel: String,
        /// Upgrade (preinst) rather than removal.
        preinst: bool,
    },
    /// Forget pending work for a kernel that is gone.
    DropPending(String),
    /// Prune builds of kernels that are no longer installed.
    Prune,
}

/// Plan the jobs for an event. `kernel(k)` gives the facts of a kernel;
/// `pending` lists kernels with deferred work.
pub fn plan_event(
    event: &Event,
    kernel: &dyn Fn(&str) -> KernelFacts,
    pending: &[String],
) -> Vec<HookJob> {
    let for_kernel = |k: &str, explicit: bool| -> Option<HookJob> {
        let f = kernel(k);
        if f.headers {
            Some(HookJob::Autoinstall(k.to_string()))
        } else if !f.dir && !f.installed {
            Some(HookJob::DropPending(k.to_string()))
        } else if explicit {
            Some(HookJob::DeferHeaders(k.to_string()))
        } else {
            None
        }
    };
    let catch_up = |extra: Option<&str>| -> Vec<HookJob> {
        let mut ks: Vec<String> = pending.to_vec();
        if let Some(e) = extra {
            if !ks.iter().any(|k| k == e) {
                ks.push(e.to_string());
            }
        }
        ks.sort_by(|a, b| crate::version::sort_v_cmp(a, b));
        ks.dedup();
        ks.iter()
            .filter_map(|k| for_kernel(k, Some(k.as_str()) == extra))
            .collect()
    };
    match event {
        Event::KernelPostinst(k) => for_kernel(k, true).into_iter().collect(),
        Event::Autoinstall(ks) => ks.iter().filter_map(|k| for_kernel(k, true)).collect(),
        Event::HeaderPostinst(k) => catch_up(Some(k)),
        Event::DpkgTrigger => catch_up(None),
        Event::AptPostInvoke => {
            let mut v = catch_up(None);
            v.push(HookJob::Prune);
            v
        }
        Event::Boot(running) => {
            let mut v = catch_up(Some(running));
            v.push(HookJob::Prune);
            v
        }
        Event::KernelPreinst(k) => vec![HookJob::Remove {
            kernel: k.clone(),
            preinst: true,
        }],
        Event::KernelPrerm(k) => vec![
            HookJob::Remove {
                kernel: k.clone(),
                preinst: false,
            },
            HookJob::DropPending(k.clone()),
            HookJob::Prune,
        ],
    }
}

/// Kernels whose builds prune removes: built for, but neither the image
/// (`/lib/modules/K/kernel`, `/boot/vmlinuz-K`) nor the headers are installed
/// any more. Headers alone keep a kernel: chroots and image builders install
/// the headers of the kernels they build for without the image.
pub fn prune_kernels(built: &[String], kernel: &dyn Fn(&str) -> KernelFacts) -> Vec<String> {
    let mut out: Vec<String> = built
        .iter()
        .filter(|k| {
            let f = kernel(k);
            !f.installed && !f.headers
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| crate::version::sort_v_cmp(a, b));
    out.dedup();
    out
}

#[cfg(test)]
mod event_tests {
    use super::*;
    use rstest::rstest;

    fn facts(k: &str) -> KernelFacts {
        // "h": headers, "i": installed image, "d": directory only, else gone.
        let tag = k.rsplit('-').next().unwrap_or("");
        KernelFacts {
            version: k.into(),
            dir: tag != "gone",
            headers: tag == "h" || tag == "hi",
            installed: tag == "i" || tag == "hi",
        }
    }

    #[rstest]
    #[case(Event::KernelPostinst("6.1-hi".into()), &[], vec![HookJob::Autoinstall("6.1-hi".into())])]
    #[case(Event::KernelPostinst("6.1-i".into()), &[], vec![HookJob::DeferHeaders("6.1-i".into())])]
    #[case(Event::HeaderPostinst("6.1-h".into()), &["6.2-i"], vec![HookJob::Autoinstall("6.1-h".into())])]
    #[case(Event::DpkgTrigger, &["6.1-hi", "6.2-i", "6.3-gone"], vec![HookJob::Autoinstall("6.1-hi".into()), HookJob::DropPending("6.3-gone".into())])]
    #[case(Event::AptPostInvoke, &[], vec![HookJob::Prune])]
    #[case(Event::Boot("6.1-i".into()), &[], vec![HookJob::DeferHeaders("6.1-i".into()), HookJob::Prune])]
    #[case(Event::KernelPrerm("6.1-hi".into()), &[], vec![HookJob::Remove { kernel: "6.1-hi".into(), preinst: false }, HookJob::DropPending("6.1-hi".into()), HookJob::Prune])]
    #[case(Event::KernelPreinst("6.1-hi".into()), &[], vec![HookJob::Remove { kernel: "6.1-hi".into(), preinst: true }])]
    fn events(#[case] e: Event, #[case] pending: &[&str], #[case] want: Vec<HookJob>) {
        let p: Vec<String> = pending.iter().map(|s| s.to_string()).collect();
        assert_eq!(plan_event(&e, &facts, &p), want);
    }

    #[test]
    fn prune_spares_installed_kernels_and_kernels_with_headers() {
        let built: Vec<String> = ["6.1-hi", "6.2-h", "6.3-gone", "6.4-d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            prune_kernels(&built, &facts),
            vec!["6.3-gone".to_string(), "6.4-d".to_string()]
        );
    }
}
