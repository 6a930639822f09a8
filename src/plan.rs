//! Planning: pure functions from observed facts to work. No I/O here, so
//! every hook decision is a fast unit test.

use std::collections::BTreeSet;

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
    pub to_install: Vec<(String, String, Vec<String>)>,
    /// m/v deferred because a dependency is not registered with DKMS at all.
    pub deferred: Vec<(String, String, Vec<String>)>,
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
            plan.to_install.push((f.module.clone(), f.version.clone(), f.build_depends.clone()));
        }
    }
    loop {
        let deferred_names: BTreeSet<String> = plan.deferred.iter().map(|d| d.0.clone()).collect();
        let (keep, defer): (Vec<_>, Vec<_>) = plan.to_install.into_iter().partition(|(_, _, deps)| {
            deps.iter().all(|d| registered.contains(d.as_str()) && !deferred_names.contains(d))
        });
        plan.to_install = keep;
        if defer.is_empty() {
            break;
        }
        plan.deferred.extend(defer);
    }
    plan
}

/// Order in which `to_install` can run given what is already satisfied:
/// rounds of modules whose dependencies are all done (upstream's loop).
/// Returns the rounds and the entries that can never run (cycles or
/// dependencies that will not be installed).
pub fn rounds(
    to_install: &[(String, String, Vec<String>)],
    satisfied: &BTreeSet<String>,
) -> (Vec<Vec<(String, String)>>, Vec<(String, String, Vec<String>)>) {
    let mut done = satisfied.clone();
    let mut left: Vec<(String, String, Vec<String>)> = to_install.to_vec();
    let mut out = Vec::new();
    loop {
        let (ready, rest): (Vec<_>, Vec<_>) = left.into_iter().partition(|(_, _, deps)| deps.iter().all(|d| done.contains(d)));
        left = rest;
        if ready.is_empty() {
            break;
        }
        for (m, _, _) in &ready {
            done.insert(m.clone());
        }
        out.push(ready.into_iter().map(|(m, v, _)| (m, v)).collect());
    }
    let stuck = left
        .into_iter()
        .map(|(m, v, deps)| {
            let missing = deps.into_iter().filter(|d| !done.contains(d)).collect();
            (m, v, missing)
        })
        .collect();
    (out, stuck)
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
        let p = plan_autoinstall(&[f("a", false, true, &[]), f("b", true, true, &[]), f("c", false, false, &[])]);
        assert_eq!(p.installed, vec!["b"]);
        assert_eq!(p.to_install.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), vec!["a"]);
    }

    #[test]
    fn unregistered_dependency_defers_transitively() {
        let p = plan_autoinstall(&[f("a", false, true, &["ghost"]), f("b", false, true, &["a"]), f("c", false, true, &[])]);
        assert_eq!(p.deferred.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(p.to_install.len(), 1);
    }

    #[test]
    fn rounds_follow_dependencies() {
        let todo = vec![
            ("top".to_string(), "1".to_string(), vec!["mid".to_string()]),
            ("mid".to_string(), "1".to_string(), vec!["base".to_string()]),
            ("base".to_string(), "1".to_string(), vec![]),
            ("x".to_string(), "1".to_string(), vec!["y".to_string()]),
        ];
        let (r, stuck) = rounds(&todo, &BTreeSet::new());
        let names: Vec<Vec<&str>> = r.iter().map(|x| x.iter().map(|(m, _)| m.as_str()).collect()).collect();
        assert_eq!(names, vec![vec!["base"], vec!["mid"], vec!["top"]]);
        assert_eq!(stuck, vec![("x".to_string(), "1".to_string(), vec!["y".to_string()])]);
    }
}
