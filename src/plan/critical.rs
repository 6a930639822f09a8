//! `dkms-hook critical list|add|remove`: the plan. `add` and `remove`
//! write the whole `critical_modules` setting into
//! `/etc/dkms/framework.conf.d/critical.conf` (read after framework.conf,
//! so it holds the merged list); they refuse, writing nothing, when a
//! framework file read after that one sets the variable too.

use crate::error::Error;
use crate::layout::is_safe_component;
use crate::observe::critical::{self, words};
use crate::observe::Facts;
use crate::plan::{CriticalCmd, ExitRule, Plan, ReadJob, WriteJob};
use crate::report::msg::guard as guard_msg;

/// The file `critical add|remove` writes, inside the root.
pub const CRITICAL_CONF: &str = "/etc/dkms/framework.conf.d/critical.conf";

/// Plan `cmd`.
pub fn plan(cmd: &CriticalCmd, world: &Facts) -> Plan {
    let mut p = Plan::new(ExitRule::Stop);
    let names = match cmd {
        CriticalCmd::List => {
            // Observed now: the executor only reads it.
            world.critical();
            p.push(ReadJob::CriticalList, &[], 0);
            return p;
        }
        CriticalCmd::Add(n) | CriticalCmd::Remove(n) => n,
    };
    if let Some(bad) = names.iter().find(|n| !is_safe_component(n)) {
        return Plan::fail(Error::usage([guard_msg::critical_bad_name(bad)]));
    }
    let root = &world.host.layout.root;
    let file = root.join(CRITICAL_CONF);
    // A framework file read after ours that sets the variable would win.
    let later = world
        .critical()
        .setters
        .iter()
        .find(|f| f.parent() == file.parent() && f.file_name() > file.file_name());
    if let Some(f) = later {
        return Plan::fail(Error::msg(guard_msg::critical_overridden(&root.inside(f))));
    }
    let mut value = world
        .host
        .settings
        .critical_modules
        .as_deref()
        .map(words)
        .unwrap_or_default();
    let mut notes = Vec::new();
    match cmd {
        CriticalCmd::Add(_) => {
            for n in names {
                if !value.contains(n) {
                    value.push(n.clone());
                }
            }
        }
        CriticalCmd::Remove(_) => {
            value.retain(|v| !names.contains(v));
            let c = world.critical();
            for n in names {
                let why: Vec<_> = c
                    .why(n)
                    .iter()
                    .filter(|w| !matches!(w, critical::Why::Setting(_)))
                    .cloned()
                    .collect();
                if !why.is_empty() {
                    notes.push(guard_msg::critical_still(
                        n,
                        &crate::plan::guard::critical_because(&why),
                    ));
                }
            }
        }
        CriticalCmd::List => {}
    }
    p.push(WriteJob::SetCritical { value, file, notes }, &[], 0);
    p
}
