//! Planning upstream's `dkms` actions: the same checks in the same order,
//! the same decisions ("already built, skip", "not installed, Skipping..."),
//! the same loops over kernels, and the same exit rules (a loop whose
//! iterations upstream runs in subshells keeps going after a failure and
//! exits with the last iteration's status; a `die` outside one ends the
//! run).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::observe::tree::{Entry, State};
use crate::observe::{ConfKey, Facts};
use crate::plan::checks;
use crate::plan::msg;
use crate::plan::removal::{removals, Removal};
use crate::plan::request::{Action, StatusFormat, TarballContents};
use crate::plan::{
    autoinstall, rebuild, Depmod, DkmsArgs, ExitRule, Mvka, Plan, ReadJob, WriteJob,
};
use crate::report::Stream;
use crate::text;

/// Plan `args`.
pub fn plan(args: &DkmsArgs, world: &Facts) -> Plan {
    // Upstream's `setup_kernels_arches`, for every action but status.
    let kernels = || Kernels::of(args, world);
    let r = match &args.action {
        Action::Status { format } => Ok(status(args, world, *format)),
        Action::Missing => {
            let mut p = Plan::new(ExitRule::Stop);
            p.push(ReadJob::Say(Stream::Err, text::unknown_action("")), &[], 0);
            p.push(ReadJob::Say(Stream::Out, text::usage("dkms")), &[], 0);
            Ok(p)
        }
        Action::Remove => kernels()
            .and_then(|ks| remove_unbuild_uninstall(args, world, &ks.pairs, Removing::Remove)),
        Action::Unbuild => kernels()
            .and_then(|ks| remove_unbuild_uninstall(args, world, &ks.pairs, Removing::Unbuild)),
        Action::Uninstall => kernels()
            .and_then(|ks| remove_unbuild_uninstall(args, world, &ks.pairs, Removing::Uninstall)),
        Action::Add => kernels().and_then(|ks| add(args, world, &ks.pairs)),
        Action::Build => kernels().and_then(|ks| build_install(args, world, &ks.pairs, false)),
        Action::Install => kernels().and_then(|ks| build_install(args, world, &ks.pairs, true)),
        Action::Autoinstall | Action::KernelPostinst => kernels().and_then(|ks| {
            checks::have_one_kernel(args)?;
            checks::root(world)?;
            Ok(autoinstall::plan_dkms(world, &ks.k0, &ks.a0))
        }),
        Action::KernelPreinst | Action::KernelPrerm => kernels().and_then(|ks| {
            checks::root(world)?;
            checks::have_one_kernel(args)?;
            let preinst = args.action == Action::KernelPreinst;
            Ok(kernel_removal(world, &ks.k0, &ks.a0, preinst))
        }),
        Action::Match { template_kernel } => kernels().and_then(|ks| {
            checks::root(world)?;
            checks::have_one_kernel(args)?;
            run_match(args, template_kernel, world, &ks.k0, &ks.a0)
        }),
        Action::MkTarball { contents } => {
            kernels().and_then(|ks| mktarball(args, *contents, world, &ks))
        }
        Action::LdTarball => kernels().and_then(|_| ldtarball(args, world)),
        Action::MkBmDeb => kernels()
            .and_then(|ks| crate::plan::package::steps::mkbmdeb(args, world, &ks.k0, &ks.a0)),
        Action::GenerateMok => kernels().map(|_| {
            let mut p = Plan::new(ExitRule::Stop);
            p.push(WriteJob::GenerateMok, &[], 0);
            p
        }),
    };
    r.unwrap_or_else(Plan::fail)
}

/// The kernels and arches an action works on (upstream's
/// `setup_kernels_arches`) and the first of them (`${kernelver[0]}`).
struct Kernels {
    pairs: Vec<(String, String)>,
    k0: String,
    a0: String,
}

impl Kernels {
    fn of(args: &DkmsArgs, world: &Facts) -> Result<Kernels, Error> {
        let pairs = checks::kernels_arches(args, world)?;
        // `--all` on a module built for no kernel gives none.
        let (k0, a0) = pairs.first().cloned().unwrap_or_else(|| {
            (
                world.host.running_kernel.clone(),
                world.host.machine_arch.clone(),
            )
        });
        Ok(Kernels { pairs, k0, a0 })
    }
}

/// Which of the three removing actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removing {
    /// `remove`: uninstall, unbuild, delete the version.
    Remove,
    /// `unbuild`: uninstall and unbuild.
    Unbuild,
    /// `uninstall`.
    Uninstall,
}

fn status(args: &DkmsArgs, world: &Facts, format: StatusFormat) -> Plan {
    let filter = crate::observe::status::Filter {
        module: args.module.clone(),
        version: args.version.clone(),
        kernel: args.kernels.first().cloned().unwrap_or_default(),
        arch: args.arches.first().cloned().unwrap_or_default(),
    };
    let view = crate::observe::status::view(world, &filter, format.is_document());
    let mut p = Plan::new(ExitRule::Stop);
    p.push(ReadJob::Status { view, format }, &[], 0);
    p
}

/// The module version an action works on: as given, or the one a source
/// directory given on the command line will be added as.
pub fn target(args: &DkmsArgs, world: &Facts) -> Option<(String, String)> {
    if !args.module.is_empty() && !args.version.is_empty() {
        return Some((args.module.clone(), args.version.clone()));
    }
    if !args.module.is_empty() || !args.version.is_empty() || args.archive.is_some() {
        return None;
    }
    let (k, a) = (
        world.host.running_kernel.clone(),
        world.host.machine_arch.clone(),
    );
    let key = source_tree_conf(
        args,
        args.kernels.first().unwrap_or(&k),
        args.arches.first().unwrap_or(&a),
    )?;
    let c = world.conf(&key).result.as_ref().ok()?;
    Some((c.package_name.clone(), c.package_version.clone()))
}

/// `readlink -f` of a source directory given on the command line (resolved
/// when the command line was read).
pub fn source_tree_dir(args: &DkmsArgs) -> Option<PathBuf> {
    args.try_source_tree.as_ref().map(|d| d.real.clone())
}

/// The dkms.conf of a source directory given on the command line, read to
/// learn its name (upstream's `get_pkginfo_from_conf`, not strict).
pub fn source_tree_conf(args: &DkmsArgs, k: &str, a: &str) -> Option<ConfKey> {
    if !args.module.is_empty() || !args.version.is_empty() || args.archive.is_some() {
        return None;
    }
    let path = source_tree_dir(args)?.join("dkms.conf");
    Some(ConfKey::new(path.clone(), path, ["", "", k, a], false))
}

/// The strict read `add` makes of `<source_tree>/<m>-<v>/dkms.conf` (or `-c`).
pub fn add_conf_key(world: &Facts, m: &str, v: &str, k: &str, a: &str) -> ConfKey {
    let path = world
        .host
        .opts
        .conf
        .clone()
        .unwrap_or_else(|| world.host.layout.source_tree_dir(m, v).join("dkms.conf"));
    world.conf_key_at(path, m, v, k, a, true)
}

/// The strict read `add` makes after a source directory was copied into
/// the source tree: the same text, read from where it is now, named where
/// it will be.
pub fn copied_conf_key(
    world: &Facts,
    dir_key: &ConfKey,
    m: &str,
    v: &str,
    k: &str,
    a: &str,
) -> ConfKey {
    let mut key = add_conf_key(world, m, v, k, a);
    if world.host.opts.conf.is_none() {
        key.path = dir_key.path.clone();
    }
    key
}

/// The conf build/install read for m/v: the registered one (or `-c`), or,
/// for a module about to be added from a source directory, that directory's.
pub fn build_conf_key(
    args: &DkmsArgs,
    world: &Facts,
    m: &str,
    v: &str,
    k: &str,
    a: &str,
    strict: bool,
) -> ConfKey {
    let mut key = world.conf_key(m, v, k, a, strict);
    if world.host.opts.conf.is_none() && !world.tree.is_added(m, v) {
        if let Some(dir) = source_tree_dir(args) {
            if args.module.is_empty() {
                key.path = dir.join("dkms.conf");
            }
        }
    }
    key
}

/// Steps that register the module when it is not (upstream's
/// `add_module`, explicit or implied by build/install). Returns the last
/// step, or `None` when nothing is to be done.
fn plan_add(
    p: &mut Plan,
    args: &DkmsArgs,
    world: &Facts,
    k: &str,
    a: &str,
    implied: bool,
    chain: usize,
) -> Result<Option<usize>, Error> {
    let (mut m, mut v) = (args.module.clone(), args.version.clone());
    let mut after: Vec<usize> = Vec::new();
    if m.is_empty() && v.is_empty() {
        if let Some(archive) = &args.archive {
            let i = p.push(
                WriteJob::LoadTarball {
                    archive: archive.clone(),
                    add: true,
                },
                &[],
                chain,
            );
            if implied {
                return Ok(Some(p.push(
                    ReadJob::Say(Stream::Out, "\n".into()),
                    &[i],
                    chain,
                )));
            }
            return Ok(Some(i));
        }
        if let Some(dir) = &args.try_source_tree {
            let from = dir.real.clone();
            if !world.is_file(&from.join("dkms.conf")) {
                return Err(Error::tarball([text::must_contain_conf(&dir.given)]));
            }
            checks::root(world)?;
            let key =
                source_tree_conf(args, k, a).ok_or_else(|| Error::msg(msg::NO_SOURCE_TREE))?;
            let read = p.push(ReadJob::ReadConf(key.clone()), &[], chain);
            let Ok(c) = &world.conf(&key).result else {
                return Ok(Some(read));
            };
            if c.package_name.is_empty() || c.package_version.is_empty() {
                return Err(Error::build_failed([text::MALFORMED_SOURCE_TREE]));
            }
            m = c.package_name.clone();
            v = c.package_version.clone();
            checks::names(&m, &v)?;
            let copy = p.push(
                WriteJob::AddSourceTree {
                    dir: from,
                    conf: key.clone(),
                },
                &[read],
                chain,
            );
            after.push(copy);
            let conf = copied_conf_key(world, &key, &m, &v, k, a);
            if world.tree.is_added(&m, &v) {
                return Err(Error::state(text::already_added(&m, &v)));
            }
            let add = p.push(
                WriteJob::Add {
                    m,
                    v,
                    conf,
                    blank: implied,
                },
                &after,
                chain,
            );
            return Ok(Some(add));
        }
    }
    checks::module_args(args, &Action::Add)?;
    checks::names(&m, &v)?;
    if world.tree.is_added(&m, &v) {
        if implied {
            return Ok(None);
        }
        return Err(Error::state(text::already_added(&m, &v)));
    }
    let src = world.host.layout.source_tree_dir(&m, &v);
    if !world.is_dir(&src) {
        return Err(Error::usage(text::source_dir_missing(&src)));
    }
    let conf = add_conf_key(world, &m, &v, k, a);
    Ok(Some(p.push(
        WriteJob::Add {
            m,
            v,
            conf,
            blank: implied,
        },
        &after,
        chain,
    )))
}

/// `dkms add`.
fn add(args: &DkmsArgs, world: &Facts, pairs: &[(String, String)]) -> Result<Plan, Error> {
    checks::all_is_banned(args)?;
    checks::rw_dkms_tree(world)?;
    let (k0, a0) = pairs.first().cloned().unwrap_or_default();
    let mut p = Plan::new(ExitRule::Stop);
    plan_add(&mut p, args, world, &k0, &a0, false, 0)?;
    Ok(p)
}

/// `dkms build` and `dkms install` (`install`: true), each adding first
/// when needed.
fn build_install(
    args: &DkmsArgs,
    world: &Facts,
    pairs: &[(String, String)],
    install: bool,
) -> Result<Plan, Error> {
    checks::all_is_banned(args)?;
    if !args.module.is_empty() && !args.version.is_empty() {
        checks::not_broken(world, &args.module, &args.version)?;
    }
    if install {
        checks::root(world)?;
    } else {
        checks::rw_dkms_tree(world)?;
    }
    let (k0, a0) = pairs.first().cloned().unwrap_or_default();
    let mut p = Plan::new(ExitRule::LastChain);
    let mut added: Option<usize> = None;
    let mut adding = false;
    for (i, (k, a)) in pairs.iter().enumerate() {
        let chain = i + 1;
        let target = target(args, world);
        let (m, v) = target.clone().unwrap_or_default();
        let is_added = target
            .as_ref()
            .is_some_and(|(m, v)| world.tree.is_added(m, v));
        let mut after: Vec<usize> = Vec::new();
        // Upstream adds inside the first iteration; later ones find it added.
        if !is_added && !adding {
            adding = true;
            match plan_add(&mut p, args, world, k, a, true, chain) {
                Ok(Some(s)) => {
                    added = Some(s);
                    after.push(s);
                }
                Ok(None) => {}
                Err(e) => {
                    p.push(ReadJob::Fail(e), &[], chain);
                    continue;
                }
            }
        } else if let Some(s) = added {
            after.push(s);
        }
        if target.is_none() {
            continue;
        }
        let at = Mvka::new(&m, &v, k, a);
        if install {
            plan_maybe_install(&mut p, args, world, &at, &after, chain, Depmod::Now);
        } else {
            plan_maybe_build(&mut p, args, world, &at, &after, chain);
        }
    }
    if install {
        let i = p.push(
            WriteJob::PostTransaction {
                k: k0.clone(),
                a: a0.clone(),
            },
            &[],
            0,
        );
        p.steps[i].if_ok = true;
    }
    Ok(p)
}

/// Upstream's `maybe_build_module`.
fn plan_maybe_build(
    p: &mut Plan,
    args: &DkmsArgs,
    world: &Facts,
    at: &Mvka,
    after: &[usize],
    chain: usize,
) {
    let conf = build_conf_key(args, world, &at.m, &at.v, &at.k, &at.a, true);
    let built = world.tree.is_built(&at.m, &at.v, &at.k, &at.a);
    if built && !world.host.opts.force {
        p.say(
            text::already_built(&at.m, &at.v, &at.k, &at.a),
            after,
            chain,
        );
        return;
    }
    p.push(
        WriteJob::Build {
            at: at.clone(),
            conf,
            unbuild_first: built,
        },
        after,
        chain,
    );
}

/// Upstream's `maybe_install_module` (building first when needed).
fn plan_maybe_install(
    p: &mut Plan,
    args: &DkmsArgs,
    world: &Facts,
    at: &Mvka,
    after: &[usize],
    chain: usize,
    depmod: Depmod,
) -> Option<usize> {
    let tree = &world.tree;
    let conf = build_conf_key(args, world, &at.m, &at.v, &at.k, &at.a, true);
    let mut after = after.to_vec();
    if tree.is_installed(&at.m, &at.v, &at.k, &at.a) {
        if !world.host.opts.force {
            p.say(
                text::already_installed(&at.m, &at.v, &at.k, &at.a),
                &after,
                chain,
            );
            return None;
        }
        let u = p.push(
            WriteJob::Uninstall {
                at: at.clone(),
                conf: build_conf_key(args, world, &at.m, &at.v, &at.k, &at.a, false),
                depmod,
            },
            &after,
            chain,
        );
        let b = p.say("", &[u], chain);
        after = vec![b];
    }
    if !tree.is_built(&at.m, &at.v, &at.k, &at.a) {
        let b = p.push(
            WriteJob::Build {
                at: at.clone(),
                conf: conf.clone(),
                unbuild_first: false,
            },
            &after,
            chain,
        );
        after = vec![b];
    }
    let i = p.push(
        WriteJob::Install {
            at: at.clone(),
            conf,
            depmod,
        },
        &after,
        chain,
    );
    let r = p.push(
        WriteJob::RebuildDependents {
            k: at.k.clone(),
            a: at.a.clone(),
            candidates: rebuild::candidates(world, &at.k, &at.a),
        },
        &[i],
        chain,
    );
    Some(r)
}

fn remove_unbuild_uninstall(
    args: &DkmsArgs,
    world: &Facts,
    pairs: &[(String, String)],
    action: Removing,
) -> Result<Plan, Error> {
    checks::module_args(args, &args.action)?;
    checks::names(&args.module, &args.version)?;
    checks::not_broken(world, &args.module, &args.version)?;
    checks::added(world, &args.module, &args.version)?;
    if action == Removing::Uninstall {
        checks::root(world)?;
    } else {
        checks::rw_dkms_tree(world)?;
    }
    let (m, v) = (args.module.as_str(), args.version.as_str());
    let mut p = Plan::new(ExitRule::Stop);
    let mut last: Vec<usize> = Vec::new();
    if action == Removing::Remove {
        last = vec![p.push(
            WriteJob::CleanVersion {
                m: m.into(),
                v: v.into(),
            },
            &[],
            0,
        )];
    }
    for (i, (k, a)) in pairs.iter().enumerate() {
        let at = Mvka::new(m, v, k, a);
        if i > 0 && action != Removing::Remove {
            last = vec![p.say("", &last, 0)];
        }
        last = vec![maybe_uninstall(&mut p, world, &at, &last, 0, Depmod::Now)];
        if action != Removing::Uninstall {
            last = vec![maybe_unbuild(&mut p, world, &at, &last, 0)];
        }
        if action == Removing::Remove {
            last = vec![p.say("", &last, 0)];
        }
    }
    if action == Removing::Remove {
        p.push(
            WriteJob::DeleteVersion {
                m: m.into(),
                v: v.into(),
            },
            &last,
            0,
        );
    }
    // `--all` on a module built for no kernel gives no pair at all.
    let (k0, a0) = pairs.first().cloned().unwrap_or_else(|| {
        (
            world.host.running_kernel.clone(),
            world.host.machine_arch.clone(),
        )
    });
    let t = p.push(WriteJob::PostTransaction { k: k0, a: a0 }, &last, 0);
    p.steps[t].if_ok = true;
    Ok(p)
}

/// Upstream's `maybe_uninstall_module`.
pub fn maybe_uninstall(
    p: &mut Plan,
    world: &Facts,
    at: &Mvka,
    after: &[usize],
    chain: usize,
    depmod: Depmod,
) -> usize {
    if world.tree.is_installed(&at.m, &at.v, &at.k, &at.a) {
        return p.push(
            WriteJob::Uninstall {
                at: at.clone(),
                conf: world.conf_key(&at.m, &at.v, &at.k, &at.a, false),
                depmod,
            },
            after,
            chain,
        );
    }
    if crate::plan::removal::exclusive(world, at) {
        return p.push(ReadJob::Say(Stream::Out, String::new()), after, chain);
    }
    p.say(
        text::not_installed(&at.m, &at.v, &at.k, &at.a),
        after,
        chain,
    )
}

/// Upstream's `maybe_unbuild_module`.
pub fn maybe_unbuild(
    p: &mut Plan,
    world: &Facts,
    at: &Mvka,
    after: &[usize],
    chain: usize,
) -> usize {
    if world.tree.is_built(&at.m, &at.v, &at.k, &at.a) {
        return p.push(WriteJob::Unbuild(at.clone()), after, chain);
    }
    p.say(text::not_built(&at.m, &at.v, &at.k, &at.a), after, chain)
}

/// Upstream's `kernel_preinst` / `kernel_prerm` for k/a: every module
/// version built for it (preinst: AUTOINSTALL ones only) is uninstalled
/// and unbuilt, depmod once at the end, exit 14 when one failed.
pub fn kernel_removal(world: &Facts, k: &str, a: &str, preinst: bool) -> Plan {
    let mut p = Plan::new(ExitRule::Stop);
    let mut modules = Vec::new();
    for r in removals(world, k, a, preinst) {
        let (m, v) = match r {
            Removal::Take(m, v) => (m, v),
            Removal::Unreadable(key) => {
                p.push(ReadJob::ReadConf(key), &[], 0);
                return p;
            }
        };
        let chain = modules.len() + 1;
        let at = Mvka::new(&m, &v, k, a);
        let s = p.push_soft(
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
        modules.push((format!("{m}/{v}"), s));
    }
    p.push(WriteJob::FlushDepmod, &[], 0);
    p.push(
        WriteJob::RemovalSummary(crate::plan::RemovalSummary {
            k: k.into(),
            a: a.into(),
            preinst,
            modules,
        }),
        &[],
        0,
    );
    p
}

/// The installed entries of the template kernel (upstream's `run_match`).
pub fn match_entries(args: &DkmsArgs, template: &str, world: &Facts, a: &str) -> Vec<Entry> {
    world
        .tree
        .status(&args.module, "", template, a)
        .into_iter()
        .filter(|e| e.state == State::Installed)
        .collect()
}

fn run_match(args: &DkmsArgs, t: &str, world: &Facts, k: &str, a: &str) -> Result<Plan, Error> {
    if t.is_empty() {
        return Err(Error::denied(text::MATCH_USAGE));
    }
    if t == k {
        return Err(Error::usage([text::MATCH_SAME_KERNEL]));
    }
    if !args.module.is_empty() && !world.tree.modules.contains_key(&args.module) {
        return Err(Error::state([text::match_module_not_in_tree(&args.module)]));
    }
    let mut p = Plan::new(ExitRule::Stop);
    p.say("", &[], 0);
    p.say(text::matching_kernel(k, a), &[], 0);
    p.say(text::matching_template(t, a), &[], 0);
    let entries = match_entries(args, t, world, a);
    if entries.is_empty() {
        p.say("", &[], 0);
        p.say(text::MATCH_NOTHING, &[], 0);
        return Ok(p);
    }
    p.push(
        WriteJob::PrepareKernel {
            k: k.into(),
            a: a.into(),
        },
        &[],
        0,
    );
    for (i, e) in entries.iter().enumerate() {
        let chain = i + 1;
        p.say(text::match_module(&e.module), &[], chain);
        p.say(text::match_version(&e.version), &[], chain);
        if world.tree.is_broken(&e.module, &e.version) {
            p.push_soft(
                ReadJob::Fail(Error::denied(text::broken(&e.module, &e.version))),
                &[],
                chain,
            );
            continue;
        }
        let at = Mvka::new(&e.module, &e.version, k, a);
        let margs = DkmsArgs {
            module: e.module.clone(),
            version: e.version.clone(),
            ..args.clone()
        };
        let before = p.steps.len();
        plan_maybe_build(&mut p, &margs, world, &at, &[], chain);
        let built = p.steps.len() - 1;
        let mut soft = before..p.steps.len();
        if !world.tree.is_installed(&at.m, &at.v, &at.k, &at.a) {
            let conf = world.conf_key(&at.m, &at.v, k, a, true);
            let i = p.push(
                WriteJob::Install {
                    at: at.clone(),
                    conf,
                    depmod: Depmod::Now,
                },
                &[built],
                chain,
            );
            p.push(
                WriteJob::RebuildDependents {
                    k: k.into(),
                    a: a.into(),
                    candidates: rebuild::candidates(world, k, a),
                },
                &[i],
                chain,
            );
            soft = before..p.steps.len();
        }
        for s in soft {
            p.steps[s].fatal = false;
        }
    }
    Ok(p)
}

fn mktarball(
    args: &DkmsArgs,
    contents: TarballContents,
    world: &Facts,
    ks: &Kernels,
) -> Result<Plan, Error> {
    let (pairs, k, a) = (&ks.pairs, &ks.k0, &ks.a0);
    checks::module_args(args, &args.action)?;
    checks::names(&args.module, &args.version)?;
    checks::not_broken(world, &args.module, &args.version)?;
    checks::added(world, &args.module, &args.version)?;
    let mut p = Plan::new(ExitRule::Stop);
    let conf = world.conf_key(&args.module, &args.version, k, a, false);
    let r = p.push(ReadJob::ReadConf(conf.clone()), &[], 0);
    p.push(
        WriteJob::MkTarball {
            m: args.module.clone(),
            v: args.version.clone(),
            pairs: pairs.to_vec(),
            archive: args.archive.clone(),
            binaries_only: contents == TarballContents::BinariesOnly,
            source_only: contents == TarballContents::SourceOnly,
            conf,
        },
        &[r],
        0,
    );
    Ok(p)
}

fn ldtarball(args: &DkmsArgs, world: &Facts) -> Result<Plan, Error> {
    if !world.host.is_root && world.host.opts.force {
        return Err(Error::denied([text::MUST_BE_ROOT_FOR_FORCE]));
    }
    let Some(archive) = args.archive.clone() else {
        return Err(Error::usage([text::archive_missing(Path::new(""))]));
    };
    let mut p = Plan::new(ExitRule::Stop);
    p.push(WriteJob::LoadTarball { archive, add: true }, &[], 0);
    Ok(p)
}
