//! The generator: a sequence of events drawn from a seed. It keeps a
//! [`Model`] of the state the sequence leads to so that every step it
//! draws makes sense there (a kernel is removed only once installed, a
//! module is uninstalled only once registered), and so that faults go
//! where they can fire (a build fault on an event that builds).

use super::event::{Event, Fault, Phase, Recovery, Step};
use super::model::Model;
use super::rng::Rng;
use super::universe::{Universe, CATALOG};

/// The kinds of step, with their weights.
const KINDS: &[(&str, u64)] = &[
    ("install-kernel", 12),
    ("install-headers", 8),
    ("remove-kernel", 6),
    ("remove-kernel-files", 3),
    ("add-module", 14),
    ("remove-module", 5),
    ("autoinstall", 7),
    ("apt-post-invoke", 7),
    ("boot", 6),
    ("dkms-install", 9),
    ("dkms-uninstall", 5),
    ("dkms-remove", 4),
];

/// The fault points that can fire in `step` (the families of
/// `dkms_hook::fault::POINTS` its command passes through).
pub fn points_for(step: &Step) -> Vec<&'static str> {
    let families: &[&str] = match step {
        Step::InstallKernel { headers: false, .. } => &["pending"],
        Step::InstallKernel { headers: true, .. }
        | Step::InstallHeaders { .. }
        | Step::DkmsInstall(..) => &["build", "install"],
        Step::Autoinstall(_) => &["build", "install", "pending"],
        Step::AptPostInvoke | Step::Boot => &["build", "install", "prune"],
        Step::RemoveKernel { .. } => &["uninstall", "prune"],
        Step::RemoveModule(_) | Step::DkmsRemove(_) => &["uninstall", "remove"],
        Step::DkmsUninstall(..) => &["uninstall"],
        Step::AddModule(_) | Step::RemoveKernelFiles { .. } => &[],
    };
    dkms_hook::fault::POINTS
        .iter()
        .copied()
        .filter(|p| families.iter().any(|f| p.starts_with(&format!("{f}:"))))
        .collect()
}

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

/// Draws a fault for `step` (mostly none).
fn draw_fault(rng: &mut Rng, u: &Universe, model: &Model, step: &Step) -> Fault {
    if !Model::has_command(step) || !rng.chance(30) {
        return Fault::None;
    }
    let points = points_for(step);
    let installed: Vec<usize> = (0..model.kernels.len()).filter(|k| model.image[*k]).collect();
    match rng.weighted(&[50, 14, 8, 10, 18]) {
        0 if !points.is_empty() => {
            Fault::Point(*rng.pick(&points), draw_recovery(rng, model, step))
        }
        1 => Fault::Kill(Phase::Make, draw_recovery(rng, model, step)),
        2 => Fault::Kill(Phase::Depmod, draw_recovery(rng, model, step)),
        3 => Fault::Kill(
            Phase::Delay(rng.below(if u.real { 20_000 } else { 400 })),
            draw_recovery(rng, model, step),
        ),
        4 if u.full_disk && !installed.is_empty() => Fault::FullDisk(*rng.pick(&installed)),
        _ => Fault::None,
    }
}

/// The events of sequence `index` of the campaign seeded `seed`.
pub fn generate(u: &Universe, seed: u64, index: u64) -> Vec<Event> {
    let mut rng = Rng::for_sequence(seed, index);
    let mut model = Model::new(u);
    let len = if u.real {
        4 + rng.below(5)
    } else {
        6 + rng.below(10)
    } as usize;
    let mut events = Vec::with_capacity(len);
    while events.len() < len {
        let step = draw_step(&mut rng, &model);
        if pairable(&step) && rng.chance(12) {
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
