//! What a request needs observed before it can be planned: which kernels'
//! facts and which dkms.conf reads. The engine asks again after filling
//! them in, until nothing new is needed, so a need that depends on another
//! observation (the modules built for a kernel, BUILD_DEPENDS_REBUILD in a
//! conf) is found in a second round.

use crate::observe::status::{self, Filter};
use crate::observe::{Needs, World};
use crate::plan::dkms;
use crate::plan::hook;
use crate::plan::{Command, DkmsArgs, Event, Request};

/// What `req` still needs observed in `world` (empty when planning can start).
pub fn needs(req: &Request, world: &World) -> Needs {
    let mut n = Needs::default();
    match &req.command {
        Command::Dkms(args) => dkms_needs(args, world, &mut n),
        Command::Hook(event) => hook_needs(event, world, &mut n),
    }
    n.kernels.retain(|k| !world.kernels.contains_key(k));
    n.kernels.sort();
    n.kernels.dedup();
    n.confs.retain(|c| !world.confs.contains_key(c));
    n.confs.sort();
    n.confs.dedup();
    n.costs.retain(|c| !world.costs.contains_key(c));
    n.costs.sort();
    n.costs.dedup();
    n
}

fn first_pair(args: &DkmsArgs, world: &World) -> (String, String) {
    (
        args.kernels
            .first()
            .cloned()
            .unwrap_or_else(|| world.host.running_kernel.clone()),
        args.arches
            .first()
            .cloned()
            .unwrap_or_else(|| world.host.machine_arch.clone()),
    )
}

fn pairs(args: &DkmsArgs, world: &World) -> Vec<(String, String)> {
    super::checks::kernels_arches(args, world).unwrap_or_default()
}

fn dkms_needs(args: &DkmsArgs, world: &World, n: &mut Needs) {
    let (m, v) = (args.module.as_str(), args.version.as_str());
    match args.action.as_str() {
        "status" => {
            let f = Filter {
                module: m.into(),
                version: v.into(),
                kernel: args.kernels.first().cloned().unwrap_or_default(),
                arch: args.arches.first().cloned().unwrap_or_default(),
            };
            for e in status::entries(world, &f) {
                if !e.kernel.is_empty() {
                    n.kernels.push(e.kernel.clone());
                    n.confs.push(status::conf_key(&world.host.layout, &e));
                }
            }
            // The machine-readable forms also list BUILD_EXCLUSIVE skips.
            if matches!(args.output.as_str(), "json" | "yaml") {
                n.kernels.extend(status::kernels_to_look_at(world, &f));
                for (m, v, k, a) in status::unbuilt_on_kernels(world, &f) {
                    n.confs.push(world.conf_key(&m, &v, &k, &a, false));
                }
            }
        }
        "add" => {
            let (k, a) = first_pair(args, world);
            add_needs(args, world, &k, &a, n);
        }
        "build" | "install" => {
            let all = pairs(args, world);
            if let Some((k, a)) = all.first() {
                add_needs(args, world, k, a, n);
            }
            let Some((m, v)) = dkms::target(args, world) else {
                return;
            };
            for (k, a) in &all {
                n.kernels.push(k.clone());
                n.confs
                    .push(dkms::build_conf_key(args, world, &m, &v, k, a, true));
                if args.action == "install" {
                    n.confs
                        .push(dkms::build_conf_key(args, world, &m, &v, k, a, false));
                    rebuild_needs(world, k, a, n);
                }
            }
        }
        "uninstall" | "unbuild" | "remove" => {
            for (k, a) in pairs(args, world) {
                n.kernels.push(k.clone());
                n.confs.push(world.conf_key(m, v, &k, &a, false));
                n.confs.push(world.source_conf_key(m, v, &k, &a, false));
            }
        }
        "mktarball" => {
            let all = pairs(args, world);
            let (k, a) = all
                .first()
                .cloned()
                .unwrap_or_else(|| first_pair(args, world));
            n.confs.push(world.conf_key(m, v, &k, &a, false));
        }
        "autoinstall" | "kernel_postinst" => {
            if let Some((k, a)) = pairs(args, world).first() {
                autoinstall_needs(world, k, a, n);
            }
        }
        "kernel_preinst" | "kernel_prerm" => {
            if let Some((k, a)) = pairs(args, world).first() {
                n.kernels.push(k.clone());
                for (m, v) in world.tree.module_versions() {
                    if world.tree.is_built(&m, &v, k, a) {
                        n.confs.push(world.source_conf_key(&m, &v, k, a, false));
                        n.confs.push(world.conf_key(&m, &v, k, a, false));
                    }
                }
            }
        }
        "match" => {
            if let Some((k, a)) = pairs(args, world).first() {
                n.kernels.push(k.clone());
                for e in dkms::match_entries(args, world, a) {
                    n.confs
                        .push(world.conf_key(&e.module, &e.version, k, a, true));
                    n.confs
                        .push(world.conf_key(&e.module, &e.version, k, a, false));
                }
                rebuild_needs(world, k, a, n);
            }
        }
        _ => {}
    }
}

/// The confs an `add` (explicit or implied) reads: a source directory's
/// dkms.conf (to learn the name), then the strict read of what gets added.
fn add_needs(args: &DkmsArgs, world: &World, k: &str, a: &str, n: &mut Needs) {
    let (m, v) = (args.module.as_str(), args.version.as_str());
    if let Some(key) = dkms::source_tree_conf(args, k, a) {
        let pkg = world
            .conf(&key)
            .and_then(|r| r.result.as_ref().ok())
            .map(|c| (c.package_name.clone(), c.package_version.clone()));
        n.confs.push(key.clone());
        if let Some((m, v)) = pkg {
            n.confs
                .push(dkms::copied_conf_key(world, &key, &m, &v, k, a));
        }
    } else if !m.is_empty() && !v.is_empty() && !world.tree.is_added(m, v) {
        n.confs.push(dkms::add_conf_key(world, m, v, k, a));
    }
}

/// What autoinstall for k/a reads.
pub fn autoinstall_needs(world: &World, k: &str, a: &str, n: &mut Needs) {
    n.kernels.push(k.to_string());
    for (m, v) in world.tree.latest_versions() {
        if world.tree.is_installed(&m, &v, k, a) {
            continue;
        }
        let key = world.source_conf_key(&m, &v, k, a, false);
        let auto = world
            .conf(&key)
            .and_then(|r| r.result.as_ref().ok())
            .map(|c| c.autoinstall);
        n.confs.push(key);
        if auto == Some(true) {
            n.confs.push(world.conf_key(&m, &v, k, a, true));
            n.confs.push(world.conf_key(&m, &v, k, a, false));
        }
    }
    rebuild_needs(world, k, a, n);
}

/// What `check_and_rebuild_dependent_modules` for k/a reads: every module
/// built for it (not strict), and strictly the ones that may be rebuilt.
fn rebuild_needs(world: &World, k: &str, a: &str, n: &mut Needs) {
    for (m, v) in world.tree.module_versions() {
        if !world.tree.is_built(&m, &v, k, a) {
            continue;
        }
        let key = world.conf_key(&m, &v, k, a, false);
        let wants = world
            .conf(&key)
            .and_then(|r| r.result.as_ref().ok())
            .map(|c| c.build_depends_rebuild && !c.build_depends.is_empty());
        n.confs.push(key);
        if wants == Some(true) {
            n.confs.push(world.conf_key(&m, &v, k, a, true));
        }
    }
}

fn hook_needs(event: &Event, world: &World, n: &mut Needs) {
    let arch = world.host.machine_arch.clone();
    let (autos, others) = hook::kernels_of(event, world);
    n.kernels.extend(others);
    for k in autos {
        autoinstall_needs(world, &k, &arch, n);
        n.costs.extend(world.tree.latest_versions());
    }
    if let Event::KernelPreinst(k) | Event::KernelPrerm(k) = event {
        n.kernels.push(k.clone());
        for (m, v) in world.tree.module_versions() {
            if world.tree.is_built(&m, &v, k, &arch) {
                n.confs.push(world.source_conf_key(&m, &v, k, &arch, false));
                n.confs.push(world.conf_key(&m, &v, k, &arch, false));
            }
        }
    }
    for k in hook::prune_candidates(world) {
        n.kernels.push(k.clone());
        for (m, v) in world.tree.module_versions() {
            if world.tree.is_built(&m, &v, &k, &arch) {
                n.confs.push(world.conf_key(&m, &v, &k, &arch, false));
            }
        }
    }
}
