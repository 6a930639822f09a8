//! `dkms-hook sign [M[/V]|--all] [-k K]`: which installed builds are signed
//! again (every kernel the module is installed for unless `-k` names some).
//! Nothing installed to sign is an error that says so.

use crate::error::Error;
use crate::observe::Facts;
use crate::plan::msg;
use crate::plan::{ExitRule, Mvka, Plan, WriteJob};

/// Plan signing the installed builds of `module` (every module when
/// empty), `version` (every version when empty), on `kernels` (every
/// kernel when empty).
pub fn plan(world: &Facts, module: &str, version: &str, kernels: &[String]) -> Plan {
    let mut targets = Vec::new();
    for (m, v) in world.tree.module_versions() {
        if (!module.is_empty() && m != module) || (!version.is_empty() && v != version) {
            continue;
        }
        for (k, a) in world.tree.built_kernels(&m, &v) {
            if (kernels.is_empty() || kernels.contains(&k))
                && world.tree.is_installed(&m, &v, &k, &a)
            {
                targets.push(Mvka::new(&m, &v, &k, &a));
            }
        }
    }
    if targets.is_empty() {
        let what = match (module, version) {
            ("", _) => "--all".to_string(),
            (m, "") => m.to_string(),
            (m, v) => format!("{m}/{v}"),
        };
        return Plan::fail(Error::msg(msg::sign_nothing(&what, kernels)));
    }
    let mut p = Plan::new(ExitRule::Stop);
    p.push(WriteJob::Sign { targets }, &[], 0);
    p
}
