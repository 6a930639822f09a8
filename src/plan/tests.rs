//! Planner decisions as tables: a World described in a few words, a
//! request, and the jobs the plan must hold, in order.

use rstest::rstest;

use crate::layout::Layout;
use crate::observe::conf::resolve::{resolve, ResolveOpts};
use crate::observe::conf::static_reader::read_static;
use crate::observe::conf::{ConfContext, ConfRead};
use crate::observe::tree::VersionState;
use crate::observe::{Facts, Host, World};
use crate::plan::request::Action;
use crate::plan::{plan, Command, DkmsArgs, Job, ReadJob, Request, WriteJob};
use crate::report::Stream;

const K: &str = "6.1.0-1-amd64";
const A: &str = "x86_64";

/// A World from words: `m/v` added; `m/v@k` built for k; `m/v@k!` installed
/// there; `m/v~` broken; `m/v+dep` AUTOINSTALL with BUILD_DEPENDS=dep;
/// `m/v-` AUTOINSTALL=no.
fn world(words: &[&str]) -> World {
    let mut w = World::observe(Host::for_tests(Layout::nonexistent()));
    w.tree.modules.clear();
    w.records = Default::default();
    let mut confs = Vec::new();
    for word in words {
        let (mv, rest) = word.split_at(word.find(['@', '~', '+', '-']).unwrap_or(word.len()));
        let (m, v) = mv.split_once('/').unwrap();
        let ms = w.tree.modules.entry(m.into()).or_default();
        let vs = ms.versions.entry(v.into()).or_insert_with(|| VersionState {
            added: true,
            source_dir: format!("/nonexistent/usr/src/{m}-{v}").into(),
            source_entries: 3,
            ..Default::default()
        });
        let mut auto = "yes".to_string();
        let mut deps = String::new();
        if let Some(k) = rest.strip_prefix('@') {
            let (k, installed) = match k.strip_suffix('!') {
                Some(k) => (k, true),
                None => (k, false),
            };
            vs.built.push((k.into(), A.into()));
            if installed {
                ms.links.insert((k.into(), A.into()), Some(v.into()));
            }
        } else if rest == "~" {
            vs.added = false;
            vs.broken = true;
        } else if let Some(d) = rest.strip_prefix('+') {
            deps = d.into();
        } else if rest == "-" {
            auto = "no".into();
        }
        confs.push((m.to_string(), v.to_string(), auto, deps));
    }
    // Every read any plan may make of each module's conf.
    for (m, v, auto, deps) in confs {
        let text = format!(
            "PACKAGE_NAME={m}\nPACKAGE_VERSION={v}\nBUILT_MODULE_NAME[0]={m}\nDEST_MODULE_LOCATION[0]=/kernel/extra\nAUTOINSTALL={auto}\nBUILD_DEPENDS=({deps})\n"
        );
        for strict in [false, true] {
            for key in [
                w.conf_key(&m, &v, K, A, strict),
                w.source_conf_key(&m, &v, K, A, strict),
            ] {
                let raw = read_static(&text, &Default::default(), false).unwrap();
                let ctx = ConfContext {
                    kernelver: K.into(),
                    arch: A.into(),
                    ..ConfContext::sample()
                };
                let opts = ResolveOpts {
                    distribution: "debian".into(),
                    strict,
                    ..Default::default()
                };
                let result = resolve(&raw, &ctx, &opts).map_err(|_| unreachable!());
                w.set_conf(
                    key,
                    ConfRead {
                        bash_stderr: String::new(),
                        directive_lines: Vec::new(),
                        result,
                    },
                );
            }
        }
    }
    w
}

/// The action named `name` (the words these tables use).
fn action(name: &str) -> Action {
    match name {
        "add" => Action::Add,
        "build" => Action::Build,
        "install" => Action::Install,
        "uninstall" => Action::Uninstall,
        "unbuild" => Action::Unbuild,
        "remove" => Action::Remove,
        "autoinstall" => Action::Autoinstall,
        "kernel_prerm" => Action::KernelPrerm,
        other => panic!("no table uses {other}"),
    }
}

fn dkms(name: &str, mv: &str, extra: &[&str]) -> Request {
    let (m, v) = mv.split_once('/').unwrap_or((mv, ""));
    let mut args = DkmsArgs {
        action: action(name),
        module: m.into(),
        version: v.into(),
        kernels: vec![K.into()],
        ..Default::default()
    };
    let mut req = Request::default();
    for e in extra {
        match *e {
            "--force" => req.opts.force = true, // see `planned`
            "--all" => {
                args.all = true;
                args.kernels.clear();
            }
            _ => unreachable!(),
        }
    }
    req.command = Command::Dkms(args);
    req
}

/// A job in a few words.
fn word(j: &Job) -> String {
    match j {
        Job::Read(ReadJob::Say(Stream::Out, t)) if t.trim().is_empty() => "blank".into(),
        Job::Read(ReadJob::Say(_, t)) => format!("say {}", t.trim_end()),
        Job::Read(ReadJob::Fail(e)) => format!("fail {}", e.code()),
        Job::Write(WriteJob::Add { m, v, .. }) => format!("add {m}/{v}"),
        Job::Write(WriteJob::PrepareKernel { .. }) => "prepare".into(),
        Job::Write(WriteJob::Build {
            at, unbuild_first, ..
        }) => {
            format!(
                "build {}/{}{}",
                at.m,
                at.v,
                if *unbuild_first {
                    " (unbuild first)"
                } else {
                    ""
                }
            )
        }
        Job::Write(WriteJob::Install { at, .. }) => format!("install {}/{}", at.m, at.v),
        Job::Write(WriteJob::AutoInstall { at, .. }) => format!("autoinstall {}/{}", at.m, at.v),
        Job::Write(WriteJob::Uninstall { at, .. }) => format!("uninstall {}/{}", at.m, at.v),
        Job::Write(WriteJob::Unbuild(at)) => format!("unbuild {}/{}", at.m, at.v),
        Job::Write(WriteJob::CleanVersion { .. }) => "clean".into(),
        Job::Write(WriteJob::DeleteVersion { .. }) => "delete".into(),
        Job::Write(WriteJob::RebuildDependents { .. }) => "rebuild-dependents".into(),
        Job::Write(WriteJob::AutoSummary(_)) => "summary".into(),
        Job::Write(WriteJob::PostTransaction { .. }) => "post-transaction".into(),
        Job::Write(WriteJob::FlushDepmod) => "depmod".into(),
        Job::Write(WriteJob::LoadInstalled { k }) => format!("load {k}"),
        Job::Write(WriteJob::RemoveFromKernel { at, .. }) => {
            format!("remove-from-kernel {}/{}", at.m, at.v)
        }
        Job::Write(WriteJob::RemovalSummary(_)) => "removal-summary".into(),
        other => format!("{other:?}"),
    }
}

/// The plan's jobs; the request's options are the World's, as the engine
/// observes the host with them.
fn jobs(req: &Request, mut w: World) -> Vec<String> {
    w.host.opts = req.opts.clone();
    plan(req, &Facts::new(&w))
        .jobs()
        .into_iter()
        .map(word)
        .collect()
}

#[rstest]
// build: not built, built (skip), built with --force (rebuilt in place)
#[case(&["hello/1.0"], "build", &[], &["build hello/1.0"])]
#[case(&["hello/1.0@6.1.0-1-amd64"], "build", &[], &["say Module hello/1.0 already built for kernel 6.1.0-1-amd64 (x86_64), skip. You may override by specifying --force."])]
#[case(&["hello/1.0@6.1.0-1-amd64"], "build", &["--force"], &["build hello/1.0 (unbuild first)"])]
// install: built → install only; not built → build then install; installed → skip
#[case(&["hello/1.0@6.1.0-1-amd64"], "install", &[], &["install hello/1.0", "rebuild-dependents", "post-transaction"])]
#[case(&["hello/1.0"], "install", &[], &["build hello/1.0", "install hello/1.0", "rebuild-dependents", "post-transaction"])]
#[case(&["hello/1.0@6.1.0-1-amd64!"], "install", &[], &["say Module hello/1.0 already installed on kernel 6.1.0-1-amd64 (x86_64), skip. You may override by specifying --force.", "post-transaction"])]
#[case(&["hello/1.0@6.1.0-1-amd64!"], "install", &["--force"], &["uninstall hello/1.0", "blank", "install hello/1.0", "rebuild-dependents", "post-transaction"])]
// uninstall / unbuild / remove
#[case(&["hello/1.0@6.1.0-1-amd64!"], "uninstall", &[], &["uninstall hello/1.0", "post-transaction"])]
#[case(&["hello/1.0"], "uninstall", &[], &["say Module hello/1.0 is not installed for kernel 6.1.0-1-amd64 (x86_64). Skipping...", "post-transaction"])]
#[case(&["hello/1.0@6.1.0-1-amd64"], "unbuild", &[], &["say Module hello/1.0 is not installed for kernel 6.1.0-1-amd64 (x86_64). Skipping...", "unbuild hello/1.0", "post-transaction"])]
#[case(&["hello/1.0@6.1.0-1-amd64!"], "remove", &[], &["clean", "uninstall hello/1.0", "unbuild hello/1.0", "blank", "delete", "post-transaction"])]
#[case(&["hello/1.0"], "remove", &["--all"], &["clean", "delete", "post-transaction"])]
// checks, in upstream's order
#[case(&[], "remove", &[], &["fail 3"])]
#[case(&["hello/1.0~"], "remove", &[], &["fail 4"])]
#[case(&["hello/1.0~"], "build", &[], &["fail 4"])]
#[case(&["hello/1.0"], "add", &[], &["fail 3"])]
#[case(&["hello/1.0"], "build", &["--all"], &["fail 5"])]
fn dkms_action_plans(
    #[case] words: &[&str],
    #[case] action: &str,
    #[case] extra: &[&str],
    #[case] want: &[&str],
) {
    assert_eq!(jobs(&dkms(action, "hello/1.0", extra), world(words)), want);
}

#[test]
fn uninstall_as_a_user_is_refused_before_anything() {
    let user = || {
        let mut w = world(&["hello/1.0@6.1.0-1-amd64!"]);
        w.host.is_root = false;
        w
    };
    assert_eq!(
        jobs(&dkms("uninstall", "hello/1.0", &[]), user()),
        ["fail 1"]
    );
    assert_eq!(jobs(&dkms("install", "hello/1.0", &[]), user()), ["fail 1"]);
}

#[rstest]
// Upstream's rounds: hello first (dep needs it), the kernel prepared once
// before the first module that must be built.
#[case(&["dep/1.0+hello", "hello/1.0"], &["prepare", "say Autoinstall of module hello/1.0 for kernel 6.1.0-1-amd64 (x86_64)", "autoinstall hello/1.0", "rebuild-dependents", "blank", "say Autoinstall of module dep/1.0 for kernel 6.1.0-1-amd64 (x86_64)", "autoinstall dep/1.0", "rebuild-dependents", "blank", "summary"])]
// Installed and AUTOINSTALL=no modules: nothing to do, no summary lines.
#[case(&["hello/1.0@6.1.0-1-amd64!", "quiet/1.0-"], &[])]
// A dependency that is not registered: never scheduled; the summary says deferred.
#[case(&["waits/1.0+ghost"], &["summary"])]
// Built already: installed without preparing the kernel.
#[case(&["hello/1.0@6.1.0-1-amd64"], &["say Autoinstall of module hello/1.0 for kernel 6.1.0-1-amd64 (x86_64)", "autoinstall hello/1.0", "rebuild-dependents", "blank", "summary"])]
fn autoinstall_plans(#[case] words: &[&str], #[case] want: &[&str]) {
    let mut req = dkms("autoinstall", "", &[]);
    if let Command::Dkms(a) = &mut req.command {
        a.module.clear();
    }
    assert_eq!(jobs(&req, world(words)), want);
}

#[test]
fn kernel_prerm_removes_every_built_module_and_runs_depmod_once() {
    let w = world(&["a/1.0@6.1.0-1-amd64!", "b/2.0@6.1.0-1-amd64", "c/1.0"]);
    let mut req = dkms("kernel_prerm", "", &[]);
    if let Command::Dkms(a) = &mut req.command {
        a.module.clear();
    }
    assert_eq!(
        jobs(&req, w),
        [
            "remove-from-kernel a/1.0",
            "blank",
            "remove-from-kernel b/2.0",
            "blank",
            "depmod",
            "removal-summary"
        ]
    );
}
