//! The generator: a sequence of events drawn from a seed. It keeps a
//! [`Model`] of the state the sequence leads to so that every step it
//! draws makes sense there (a kernel is removed only once installed, a
//! module is uninstalled only once registered), and so that faults go
//! where they can fire (a build fault on an event that builds).

use super::event::{Event, Fault, Phase, Recovery, Step};
use super::model::{Expect, Model};
use super::rng::Rng;
use super::universe::{Universe, CATALOG};

/// The kinds of step, with their weights.
const KINDS: &[(&str, u64)] = &[
    ("install-kernel", 12),
    ("install-headers", 8),
    ("remove-kernel", 6),
    ("remove-kernel-files", 5),
    ("add-module", 14),
    ("remove-module", 5),
    ("autoinstall", 7),
    ("apt-post-invoke", 7),
    ("boot", 6),
    ("dkms-install", 9),
    ("dkms-uninstall", 5),
    ("dkms-remove", 4),
];

/// True if `step` may run alongside another step.
fn pairable(step: &Step) -> bool {
    !matches!(step, Step::RemoveKernelFiles { .. } | Step::RemoveModule(_))
}

fn draw_step(rng: &mut Rng, model: &Model) -> Step {
    let n = model.kernels.len();
    let weights: Vec<u64> = KINDS.iter().map(|(_, w)| *w).collect();
    for _ in 0..200 {
        let k = rng.below(n as u64) as usize;
        let mv = *rng.pick(CATALOG);
        let step = match KINDS[rng.weighted(&weights)].0 {
            "install-kernel" => Step::InstallKernel {
                k,
                headers: rng.chance(65),
            },
            "install-headers" => Step::InstallHeaders { k },
            "remove-kernel" => Step::RemoveKernel { k },
            "remove-kernel-files" => Step::RemoveKernelFiles { k },
            "add-module" => Step::AddModule(mv),
            "remove-module" => Step::RemoveModule(mv),
            "autoinstall" => Step::Autoinstall(if rng.chance(70) { Some(k) } else { None }),
            "apt-post-invoke" => Step::AptPostInvoke,
            "boot" => Step::Boot,
            "dkms-install" => Step::DkmsInstall(mv, k),
            "dkms-uninstall" => Step::DkmsUninstall(mv, k),
            _ => Step::DkmsRemove(mv),
        };
        if model.valid(&step) {
            return step;
        }
    }
    Step::AptPostInvoke
}

fn draw_recovery(rng: &mut Rng, model: &Model, step: &Step) -> Recovery {
    // The next trigger finishes only work recorded as pending: a hook that
    // catches up (apt, boot) or headers for a kernel that was waiting.
    let trigger_ok = match step {
        Step::AptPostInvoke | Step::Boot => true,
        Step::InstallHeaders { k } => model.pending_headers.contains(k),
        _ => false,
    };
    match rng.below(if trigger_ok { 3 } else { 2 }) {
        0 => Recovery::Rerun,
        1 => Recovery::DoctorRerun,
        _ => Recovery::NextTrigger,
    }
}

/// What a step's command will do, as the model sees it: which fault
/// points and phases it passes through, and the kernels it installs to.
struct Activity {
    points: Vec<&'static str>,
    make: bool,
    depmod: bool,
    installs_to: Vec<usize>,
}

fn activity(before: &Model, step: &Step) -> Activity {
    let mut model = before.clone();
    model.pre(step);
    let model = &model;
    let mut after = model.clone();
    let exit = after.command(step, None);
    let failed = matches!(exit, Expect::Code(10 | 11)) || after.last_failed;
    let built = after.built.difference(&model.built).count() > 0 || failed;
    let installs_to: Vec<usize> = after
        .installed
        .iter()
        .filter(|(key, mv)| model.installed.get(key) != Some(mv))
        .map(|((_, k), _)| *k)
        .collect();
    let uninstalls = model
        .installed
        .iter()
        .any(|(key, mv)| after.installed.get(key) != Some(mv));
    let unbuilds = model.built.difference(&after.built).count() > 0;
    let archives = (0..model.kernels.len()).any(|k| after.archived(k) && !model.archived(k));
    let removes = matches!(step, Step::RemoveModule(_) | Step::DkmsRemove(_))
        && model.registered.len() != after.registered.len();
    let prunes = matches!(
        step,
        Step::AptPostInvoke | Step::Boot | Step::RemoveKernel { .. }
    ) && (0..model.kernels.len()).any(|k| {
        !model.image[k]
            && !model.headers[k]
            && (model.built.iter().any(|(_, kk)| *kk == k)
                || model.pending_headers.contains(&k)
                || model.pending_deps.iter().any(|(kk, _)| *kk == k))
    });
    let records = after.pending().difference(&model.pending()).count() > 0 || failed;
    let mut points = Vec::new();
    for p in dkms_hook::fault::POINTS {
        let fam = p.split(':').next().unwrap_or("");
        let ok = match (fam, *p) {
            (_, "install:after-archive") => archives,
            ("build", "build:after-copy") => built,
            ("build", _) => built && !failed || after.built.difference(&model.built).count() > 0,
            ("install", _) => !installs_to.is_empty(),
            ("uninstall", _) => uninstalls,
            // Every unbuild passes it: remove, kernel-prerm, prune, a rebuild.
            (_, "remove:after-hide") => unbuilds,
            ("remove", _) => removes,
            ("prune", _) => prunes,
            ("pending", _) => records,
            _ => false,
        };
        if ok {
            points.push(*p);
        }
    }
    Activity {
        points,
        make: built,
        depmod: !installs_to.is_empty() || uninstalls,
        installs_to,
    }
}

/// Draws a fault for `step` (mostly none), among those it can meet: a
/// family of fault points first (so that frequent ones do not crowd out
/// the rest), then a point of it.
fn draw_fault(rng: &mut Rng, u: &Universe, model: &Model, step: &Step) -> Fault {
    if !Model::has_command(step) {
        return Fault::None;
    }
    let act = activity(model, step);
    let points: Vec<&'static str> = if cfg!(feature = "fault-injection") {
        act.points.clone()
    } else {
        Vec::new()
    };
    let full = u.full_disk && !act.installs_to.is_empty();
    if points.is_empty() && !act.make && !act.depmod && !full {
        // Nothing to hit but a random moment.
        return if rng.chance(6) {
            Fault::Kill(
                Phase::Delay(rng.below(if u.real { 20_000 } else { 60 })),
                draw_recovery(rng, model, step),
            )
        } else {
            Fault::None
        };
    }
    // Archiving happens once per kernel: when it can, it is hit often.
    if points.contains(&"install:after-archive") && rng.chance(45) {
        return Fault::Point("install:after-archive", draw_recovery(rng, model, step));
    }
    if !rng.chance(65) {
        return Fault::None;
    }
    let weights = [
        if points.is_empty() { 0 } else { 55 },
        if act.make { 12 } else { 0 },
        if act.depmod { 10 } else { 0 },
        5,
        if full { 18 } else { 0 },
    ];
    match rng.weighted(&weights) {
        0 => {
            let mut families: Vec<&str> = points
                .iter()
                .map(|p| p.split(':').next().unwrap_or(""))
                .collect();
            families.dedup();
            // Families with many points, or rarely reachable, weigh more.
            let fw: Vec<u64> = families
                .iter()
                .map(|f| match *f {
                    "install" => 20,
                    "build" => 12,
                    "prune" | "uninstall" => 5,
                    "remove" => 3,
                    _ => 1,
                })
                .collect();
            let fam = families[rng.weighted(&fw)];
            let in_fam: Vec<&'static str> = points
                .iter()
                .copied()
                .filter(|p| p.starts_with(fam))
                .collect();
            // Archiving happens once per kernel, and every build passes
            // build:after-copy (failed ones too): the others weigh more.
            let pw: Vec<u64> = in_fam
                .iter()
                .map(|p| match *p {
                    "install:after-archive" => 12,
                    "build:after-copy" => 1,
                    // Only a build that succeeds gets past make.
                    "build:after-make" | "build:before-rename" | "build:after-rename" => 8,
                    _ => 5,
                })
                .collect();
            let p = in_fam[rng.weighted(&pw)];
            Fault::Point(p, draw_recovery(rng, model, step))
        }
        1 => Fault::Kill(Phase::Make, draw_recovery(rng, model, step)),
        2 => Fault::Kill(Phase::Depmod, draw_recovery(rng, model, step)),
        3 => Fault::Kill(
            Phase::Delay(rng.below(if u.real { 20_000 } else { 150 })),
            draw_recovery(rng, model, step),
        ),
        _ => Fault::FullDisk(*rng.pick(&act.installs_to)),
    }
}

/// The events of sequence `index` of the campaign seeded `seed`.
pub fn generate(u: &Universe, seed: u64, index: u64) -> Vec<Event> {
    let mut rng = Rng::for_sequence(seed, index);
    let mut model = Model::new(u);
    let len = if u.real {
        6 + rng.below(5)
    } else {
        6 + rng.below(10)
    } as usize;
    // Real sequences are few and short (real make is slow): drawn freely,
    // most of them built nothing. Each opens as a machine with a DKMS
    // module meets a new kernel (a module added, then a kernel installed
    // with its headers, whose hook builds it), faults drawn as for any step.
    let mut opening: Vec<Step> = if u.real {
        let k = rng.below(model.kernels.len() as u64) as usize;
        vec![
            Step::InstallKernel { k, headers: true },
            Step::AddModule(*rng.pick(CATALOG)),
        ]
    } else {
        Vec::new()
    };
    let mut events = Vec::with_capacity(len);
    while events.len() < len {
        let (step, opens) = match opening.pop() {
            Some(step) if model.valid(&step) => (step, true),
            _ => (draw_step(&mut rng, &model), false),
        };
        // An opening step runs alone: paired, the other step could take
        // the kernel the next opening step installs.
        if !opens && pairable(&step) && rng.chance(12) {
            let mut after_pre = model.clone();
            after_pre.pre(&step);
            let other = draw_step(&mut rng, &after_pre);
            if pairable(&other) && after_pre.valid(&other) && other != step {
                model.apply(&step, None);
                model.apply(&other, None);
                events.push(Event::Pair(step, other));
                continue;
            }
        }
        let fault = draw_fault(&mut rng, u, &model, &step);
        let full = match fault {
            Fault::FullDisk(k) => Some(k),
            _ => None,
        };
        model.apply(&step, full);
        if let Fault::Kill(_, Recovery::NextTrigger) | Fault::Point(_, Recovery::NextTrigger) =
            fault
        {
            model.apply(&Step::AptPostInvoke, None);
        }
        events.push(Event::Single(step, fault));
    }
    events
}

/// Every real-kernel sequence builds: it registers a module and then
/// installs a kernel with its headers (whose hook builds the module),
/// whatever the seed; fake sequences are drawn freely from the first event.
#[test]
fn real_sequences_open_with_a_module_meeting_a_new_kernel() {
    let real = Universe {
        real: true,
        kernels: vec!["6.1.0-1-amd64".into(), "6.1.0-2-amd64".into()],
        original_on: None,
        full_disk: false,
    };
    for index in 0..200 {
        let events = generate(&real, 77, index);
        let steps: Vec<&Step> = events
            .iter()
            .flat_map(|e| match e {
                Event::Single(s, _) => vec![s],
                Event::Pair(a, b) => vec![a, b],
            })
            .collect();
        let added = steps
            .iter()
            .position(|s| matches!(s, Step::AddModule(_)))
            .unwrap_or_else(|| panic!("sequence {index} adds no module: {steps:?}"));
        assert_eq!(added, 0, "sequence {index}: {steps:?}");
        assert!(
            matches!(
                steps.get(1),
                Some(Step::InstallKernel { headers: true, .. })
            ),
            "sequence {index} does not install a kernel with headers second: {steps:?}"
        );
        assert!((6..=10).contains(&events.len()), "sequence {index}");
    }
    let fake = Universe::fake();
    let openings: std::collections::BTreeSet<String> = (0..200)
        .map(|i| match &generate(&fake, 77, i)[0] {
            Event::Single(s, _) | Event::Pair(s, _) => s.to_string(),
        })
        .map(|s| s.split(' ').next().unwrap_or_default().to_string())
        .collect();
    assert!(
        openings.len() > 2,
        "fake sequences all open alike: {openings:?}"
    );
}
