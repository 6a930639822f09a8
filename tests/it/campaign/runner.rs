//! The runner: plays a sequence against the real binaries in a throwaway
//! root, step by step, with the kills, concurrent starts and full disks
//! the events ask for; after each event it checks the invariants and
//! compares the root with the [`Model`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::Duration;

use crate::harness::*;

use super::event::{Event, Fault, Phase, Recovery, Step};
use super::invariants::*;
use super::mix::Mix;
use super::model::{Expect, Model};
use super::process::{spawn, Running};
use super::rng::Rng;
use super::universe::{original_ko, Universe, ORIGINAL_REL};

const DKMS: &str = env!("CARGO_BIN_EXE_dkms");
const HOOK: &str = env!("CARGO_BIN_EXE_dkms-hook");

/// A sequence that does not end like the model, or breaks an invariant.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// Index of the event after which it was seen.
    pub at: usize,
    /// That event.
    pub event: String,
    /// What differs.
    pub what: Vec<String>,
    /// The outputs of the event's commands.
    pub outputs: Vec<String>,
}

/// A root being played on, with its model.
pub struct Runner<'a> {
    u: &'a Universe,
    root: TestRoot,
    model: Model,
    mounts: BTreeMap<usize, Tmpfs>,
    seen: BTreeSet<String>,
    original_sha: Option<String>,
    mix: Option<&'a Mix>,
    rng: Rng,
    timeout: Duration,
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        kill_processes_in(self.root.root());
        // Unmount before the root is deleted.
        self.mounts.clear();
    }
}

/// Plays `events`; `Err` at the first divergence. Events that make no
/// sense in the state reached (possible in a shrunk sequence) are skipped.
pub fn run_sequence(
    u: &Universe,
    events: &[Event],
    rng_seed: u64,
    mix: Option<&Mix>,
) -> Result<(), Divergence> {
    let mut r = Runner::new(u, mix, rng_seed);
    for (i, e) in events.iter().enumerate() {
        r.event(i, e)?;
    }
    r.finish(events.len())
}

impl<'a> Runner<'a> {
    fn new(u: &'a Universe, mix: Option<&'a Mix>, seed: u64) -> Runner<'a> {
        let root = TestRoot::new();
        let timeout = if u.real {
            REAL_RUN_TIMEOUT
        } else {
            RUN_TIMEOUT
        };
        root.set_timeout(timeout);
        let original_sha = u.original_on.as_ref().and_then(|k| sha_of(&original_ko(k)));
        let mut seen = BTreeSet::new();
        seen.extend(original_sha.clone());
        Runner {
            u,
            root,
            model: Model::new(u),
            mounts: BTreeMap::new(),
            seen,
            original_sha,
            mix,
            rng: Rng::for_sequence(seed, 0xC0FFEE),
            timeout,
        }
    }

    fn count(&self, key: &str, fired: bool) {
        if let Some(m) = self.mix {
            m.add(key, fired);
        }
    }

    fn kname(&self, k: usize) -> String {
        self.u.kernels[k].clone()
    }

    /// The command of a step: binary and arguments.
    fn command(&self, step: &Step) -> Option<(&'static str, Vec<String>)> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let k = |i: &usize| self.kname(*i);
        Some(match step {
            Step::InstallKernel { k: i, .. } => (
                HOOK,
                s(&["kernel-postinst", &k(i), &format!("/boot/vmlinuz-{}", k(i))]),
            ),
            Step::InstallHeaders { k: i } => (HOOK, s(&["header-postinst", &k(i)])),
            Step::RemoveKernel { k: i } => (
                HOOK,
                s(&["kernel-prerm", &k(i), &format!("/boot/vmlinuz-{}", k(i))]),
            ),
            Step::RemoveKernelFiles { .. } => return None,
            Step::AddModule(mv) => (DKMS, s(&["add", &mv.to_string()])),
            Step::RemoveModule(mv) | Step::DkmsRemove(mv) => {
                (DKMS, s(&["remove", &mv.to_string(), "--all"]))
            }
            Step::Autoinstall(Some(i)) => (HOOK, s(&["autoinstall", "-k", &k(i)])),
            Step::Autoinstall(None) => (HOOK, s(&["autoinstall", "--all-kernels"])),
            Step::AptPostInvoke => (HOOK, s(&["apt-post-invoke"])),
            Step::Boot => (HOOK, s(&["boot"])),
            Step::DkmsInstall(mv, i) => (DKMS, s(&["install", &mv.to_string(), "-k", &k(i)])),
            Step::DkmsUninstall(mv, i) => (DKMS, s(&["uninstall", &mv.to_string(), "-k", &k(i)])),
        })
    }

    fn add_headers(&self, k: &str) {
        if self.u.real {
            let h = headers_dir(k);
            let inside = format!("/usr/src/linux-headers-{k}");
            let depth = "usr/src".split('/').count() + self.root.root().components().count() - 1;
            let mut rel = std::path::PathBuf::new();
            for _ in 0..depth {
                rel.push("..");
            }
            let rel = rel.join(h.strip_prefix("/").unwrap_or(&h));
            std::os::unix::fs::symlink(rel, self.root.path(&inside)).expect("link headers");
            fs::create_dir_all(self.root.path(&format!("lib/modules/{k}"))).expect("mkdir");
            std::os::unix::fs::symlink(&inside, self.root.path(&format!("lib/modules/{k}/build")))
                .expect("link build");
            let config = h.join(".config");
            if config.is_file() {
                fs::copy(&config, self.root.path(&format!("boot/config-{k}"))).expect("config");
            }
        } else {
            self.root.add_headers(k);
        }
    }

    fn remove_kernel_files(&self, k: &str) {
        self.root.remove_kernel_image(k);
        for p in [
            format!("lib/modules/{k}/build"),
            format!("usr/src/linux-headers-{k}"),
            format!("boot/config-{k}"),
        ] {
            let path = self.root.path(&p);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(&path).expect("remove headers"),
                Ok(_) => fs::remove_file(&path).expect("remove link"),
                Err(_) => {}
            }
        }
    }

    /// The package manager's file changes before the command.
    fn pre(&mut self, step: &Step) {
        match step {
            Step::InstallKernel { k, headers } => {
                let kn = self.kname(*k);
                self.root.install_kernel_image(&kn);
                if self.u.full_disk && !self.mounts.contains_key(k) {
                    let at = self.root.path(&format!("lib/modules/{kn}/updates"));
                    match Tmpfs::mount(&at, "1m") {
                        Ok(t) => {
                            self.mounts.insert(*k, t);
                        }
                        Err(e) => panic!("cannot mount the install tree's tmpfs: {e}"),
                    }
                }
                if self.u.original_on.as_deref() == Some(kn.as_str()) {
                    self.root
                        .add_kernel_module(&kn, ORIGINAL_REL, &original_ko(&kn));
                }
                // As the image package's postinst does before the hooks.
                let mut c = std::process::Command::new("depmod");
                c.arg("-b").arg(self.root.root()).arg(&kn);
                run_command(c, RUN_TIMEOUT).assert_ok();
                if *headers {
                    self.add_headers(&kn);
                }
            }
            Step::InstallHeaders { k } => self.add_headers(&self.kname(*k)),
            Step::RemoveKernelFiles { k } => self.remove_kernel_files(&self.kname(*k)),
            Step::AddModule(mv) => {
                for (rel, text) in self.u.source_files(*mv) {
                    self.root
                        .write(&format!("usr/src/{}-{}/{rel}", mv.m, mv.v), text);
                }
            }
            _ => {}
        }
        self.model.pre(step);
    }

    /// The package manager's file changes after the command.
    fn post(&mut self, step: &Step) {
        match step {
            Step::RemoveKernel { k } => self.remove_kernel_files(&self.kname(*k)),
            Step::RemoveModule(mv) => {
                let _ = fs::remove_dir_all(self.root.path(&format!("usr/src/{}-{}", mv.m, mv.v)));
            }
            _ => {}
        }
        self.model.post(step);
    }

    fn run(&self, step: &Step, fault: Option<&str>) -> Running {
        let (bin, args) = self.command(step).expect("a step with a command");
        spawn(&self.root, bin, &args, fault)
    }

    fn fill(&self, k: usize) {
        use std::io::Write;
        let p = self.root.path(&format!(
            "lib/modules/{}/updates/.campaign-fill",
            self.kname(k)
        ));
        let mut f = fs::File::create(&p).expect("create filler");
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }

    fn unfill(&self, k: usize) {
        let _ = fs::remove_file(self.root.path(&format!(
            "lib/modules/{}/updates/.campaign-fill",
            self.kname(k)
        )));
    }

    fn event(&mut self, i: usize, e: &Event) -> Result<(), Divergence> {
        let valid = match e {
            // The next trigger only finishes work recorded as pending.
            Event::Single(s, Fault::Point(_, Recovery::NextTrigger))
            | Event::Single(s, Fault::Kill(_, Recovery::NextTrigger)) => {
                self.model.valid(s)
                    && match s {
                        Step::AptPostInvoke | Step::Boot => true,
                        Step::InstallHeaders { k } => self.model.pending_headers.contains(k),
                        _ => false,
                    }
            }
            Event::Single(s, _) => self.model.valid(s),
            Event::Pair(a, b) => {
                let mut m = self.model.clone();
                m.pre(a);
                self.model.valid(a) && m.valid(b)
            }
        };
        if !valid {
            return Ok(());
        }
        let mut what = Vec::new();
        let mut outputs = Vec::new();
        match e {
            Event::Single(step, fault) => self.single(step, fault, &mut what, &mut outputs),
            Event::Pair(a, b) => self.pair(a, b, &mut what, &mut outputs),
        }
        if what.is_empty() {
            Ok(())
        } else {
            Err(Divergence {
                at: i,
                event: e.to_string(),
                what,
                outputs,
            })
        }
    }

    fn single(
        &mut self,
        step: &Step,
        fault: &Fault,
        what: &mut Vec<String>,
        outs: &mut Vec<String>,
    ) {
        self.count(&format!("step: {}", step_kind(step)), true);
        self.pre(step);
        let outside = outside_trees(&self.root);
        if !Model::has_command(step) {
            self.post(step);
            self.check(what, false);
            return;
        }
        let mut crashed = false;
        match fault {
            Fault::None => {
                let out = self.run(step, None).wait(self.timeout);
                let exp = self.model.command(step, None);
                self.expect_exit(&out, exp, what);
                outs.push(out.to_string());
            }
            Fault::FullDisk(k) => {
                let mut without = self.model.clone();
                without.command(step, None);
                self.fill(*k);
                let out = self.run(step, None).wait(self.timeout);
                self.unfill(*k);
                let exp = self.model.command(step, Some(*k));
                self.count("fault: full disk", without != self.model);
                self.expect_exit(&out, exp, what);
                outs.push(out.to_string());
            }
            Fault::Point(_, r) | Fault::Kill(_, r) => {
                let (name, mut running) = match fault {
                    Fault::Point(p, _) => (format!("fault: kill at {p}"), self.run(step, Some(p))),
                    Fault::Kill(ph, _) => (
                        format!("fault: kill during {}", phase_kind(ph)),
                        self.run(step, None),
                    ),
                    _ => unreachable!(),
                };
                let killed_here = match fault {
                    Fault::Kill(ph, _) => running.kill_during(*ph, &mut self.rng, self.timeout),
                    _ => false,
                };
                let out = running.wait(self.timeout);
                outs.push(out.to_string());
                crashed = killed_here || out.code == 137;
                self.count(&name, crashed);
                if crashed {
                    self.count(&format!("recovery: {r}"), true);
                    self.check_crashed(what, &outside);
                    let exp = self.model.command(step, None);
                    match r {
                        Recovery::Rerun | Recovery::DoctorRerun => {
                            if *r == Recovery::DoctorRerun {
                                let d = spawn(
                                    &self.root,
                                    HOOK,
                                    &["doctor".into(), "--repair".into()],
                                    None,
                                )
                                .wait(self.timeout);
                                outs.push(d.to_string());
                            }
                            let again = self.run(step, None).wait(self.timeout);
                            // A rerun of a dkms action may find its work
                            // done ("already added"); the hooks' policy holds.
                            let exp = if matches!(self.command(step), Some((b, _)) if b == HOOK) {
                                exp
                            } else {
                                Expect::Any
                            };
                            self.expect_exit(&again, exp, what);
                            outs.push(again.to_string());
                        }
                        Recovery::NextTrigger => {
                            let apt = Step::AptPostInvoke;
                            let again = self.run(&apt, None).wait(self.timeout);
                            let exp = self.model.command(&apt, None);
                            self.expect_exit(&again, exp, what);
                            outs.push(again.to_string());
                        }
                    }
                } else {
                    let exp = self.model.command(step, None);
                    self.expect_exit(&out, exp, what);
                }
            }
        }
        self.check_outside(what, &outside, crashed);
        self.post(step);
        self.check(what, crashed);
    }

    fn pair(&mut self, a: &Step, b: &Step, what: &mut Vec<String>, outs: &mut Vec<String>) {
        self.count("pair: two events at once", true);
        self.count(&format!("step: {}", step_kind(a)), true);
        self.count(&format!("step: {}", step_kind(b)), true);
        self.pre(a);
        self.pre(b);
        let outside = outside_trees(&self.root);
        let ra = self.run(a, None);
        let rb = self.run(b, None);
        let oa = ra.wait(self.timeout);
        let ob = rb.wait(self.timeout);
        outs.push(oa.to_string());
        outs.push(ob.to_string());
        self.check_outside(what, &outside, false);
        // The package manager's file changes once both commands are done.
        self.post_files_only(a);
        self.post_files_only(b);
        let mut best: Option<(Model, Vec<String>)> = None;
        for a_first in [true, false] {
            let mut m = self.model.clone();
            let (ea, eb) = if a_first {
                let ea = m.command(a, None);
                (ea, m.command(b, None))
            } else {
                let eb = m.command(b, None);
                (m.command(a, None), eb)
            };
            m.post(a);
            m.post(b);
            let saved = std::mem::replace(&mut self.model, m);
            let mut w = Vec::new();
            self.expect_exit(&oa, ea, &mut w);
            self.expect_exit(&ob, eb, &mut w);
            self.compare(&mut w);
            let m = std::mem::replace(&mut self.model, saved);
            let order = if a_first {
                "first then second"
            } else {
                "second then first"
            };
            let w: Vec<String> = w.into_iter().map(|x| format!("[{order}] {x}")).collect();
            if best
                .as_ref()
                .is_none_or(|(_, bw)| !bw.is_empty() && w.len() < bw.len())
            {
                best = Some((m, w));
            }
        }
        let (m, w) = best.expect("two orders");
        self.model = m;
        if w.is_empty() {
            self.check(what, false);
        } else {
            what.extend(w);
            self.check_common(what, None, false);
        }
    }

    fn post_files_only(&mut self, step: &Step) {
        let saved = self.model.clone();
        self.post(step);
        self.model = saved;
    }

    fn expect_exit(&self, out: &Output, exp: Expect, what: &mut Vec<String>) {
        if !exp.admits(out.code) {
            what.push(format!(
                "exit code {} of `{}`, the documented policy says {exp:?}",
                out.code, out.command
            ));
        }
    }

    /// Invariants right after a kill, before the recovery.
    fn check_crashed(&mut self, what: &mut Vec<String>, outside: &Snapshot) {
        self.check_common(what, Some(outside), true);
        self.remember_dkms_tree();
        let torn: Vec<String> = self
            .u
            .kernels
            .iter()
            .flat_map(|k| {
                module_files(&self.root, k)
                    .into_iter()
                    .filter(|(_, sha)| !self.seen.contains(sha))
                    .map(move |(p, _)| format!("lib/modules/{k}/{p}"))
            })
            .collect();
        for t in torn {
            what.push(format!(
                "after the kill, {t} is no whole module ever built (torn?)"
            ));
        }
        self.remember_builds();
    }

    /// Nothing outside the trees changed since `outside` was taken (the
    /// package manager's own file changes come after this check).
    fn check_outside(&self, what: &mut Vec<String>, outside: &Snapshot, crashed: bool) {
        let now = outside_trees(&self.root);
        let keep = |s: &Snapshot| -> Snapshot {
            s.iter()
                .filter(|(p, _)| !(crashed && p.starts_with("tmp")))
                .map(|(p, n)| (p.clone(), n.clone()))
                .collect()
        };
        let diff = diff_snapshots(&keep(outside), &keep(&now));
        if !diff.is_empty() {
            what.push(format!("changed outside the trees: {diff:?}"));
        }
    }

    fn check_common(&mut self, what: &mut Vec<String>, outside: Option<&Snapshot>, crashed: bool) {
        let procs = processes_in(self.root.root(), Duration::from_secs(3));
        if !procs.is_empty() {
            what.push(format!("processes left running: {procs:?}"));
        }
        if !lock_free(&self.root) {
            what.push(format!(
                "the tree lock is still held (processes in the root: {:?})",
                processes_in(self.root.root(), Duration::ZERO)
            ));
        }
        if !procs.is_empty() {
            kill_processes_in(self.root.root());
        }
        if let Some(outside) = outside {
            self.check_outside(what, outside, crashed);
        }
        let status = spawn(&self.root, DKMS, &["status".into()], None).wait(self.timeout);
        let lines: Vec<String> = status.stdout.lines().map(str::to_string).collect();
        for d in status_disagreements(&self.root, &lines) {
            what.push(format!("status disagrees with the files: {d}"));
        }
    }

    fn remember_builds(&mut self) {
        self.remember_dkms_tree();
        for k in &self.u.kernels {
            self.seen.extend(module_files(&self.root, k).into_values());
        }
    }

    /// Every module file in the dkms tree: a build, an archived original.
    fn remember_dkms_tree(&mut self) {
        let dkms = self.root.path("var/lib/dkms");
        if dkms.is_dir() {
            for (p, n) in snapshot_dir(&dkms) {
                if let Node::File { sha256, .. } = n {
                    if p.to_string_lossy().ends_with(".ko") {
                        self.seen.insert(sha256);
                    }
                }
            }
        }
    }

    /// Invariants and the model, after an event (and its recovery).
    fn check(&mut self, what: &mut Vec<String>, crashed: bool) {
        self.check_common(what, None, crashed);
        let left = leftovers(&self.root);
        if !left.is_empty() {
            what.push(format!("leftovers of an interrupted run: {left:?}"));
        }
        self.compare(what);
        self.remember_builds();
    }

    /// The root against the model.
    fn compare(&self, what: &mut Vec<String>) {
        let status = spawn(&self.root, DKMS, &["status".into()], None).wait(self.timeout);
        let got = strip_suffixes(
            &status
                .stdout
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        );
        let want = self.model.status_lines(ARCH);
        if got != want {
            what.push(format!("dkms status: model {want:?}, root {got:?}"));
        }
        for (k, kn) in self.u.kernels.iter().enumerate() {
            if !self.model.image[k] {
                // What dkms does to a removed kernel's directory must not
                // make it look installed again (prune's own test).
                if self.root.exists(&format!("lib/modules/{kn}/kernel")) {
                    what.push(format!(
                        "the removed kernel {kn} has a lib/modules/{kn}/kernel again"
                    ));
                }
                continue;
            }
            let want = self.model.kernel_files(k);
            let got = identify_files(&self.root, kn, self.original_sha.as_deref());
            if want != got {
                what.push(format!(
                    "module files of {kn}: model {want:?}, root {got:?}"
                ));
            }
            let listed = depmod_listed(&self.root, kn);
            let files: BTreeSet<String> = module_files(&self.root, kn).into_keys().collect();
            if listed != files {
                what.push(format!(
                    "modules.dep of {kn} lists {listed:?}, the tree holds {files:?}"
                ));
            }
            if self.model.archived(k) != archived(&self.root, kn) {
                what.push(format!(
                    "original hello of {kn}: model archived={}, root archived={}",
                    self.model.archived(k),
                    archived(&self.root, kn)
                ));
            }
        }
        let json = spawn(
            &self.root,
            DKMS,
            &["status".into(), "--output".into(), "json".into()],
            None,
        )
        .wait(self.timeout);
        match pending_entries(&json.stdout) {
            Ok(got) => {
                let want = self.model.pending();
                if got != want {
                    what.push(format!("pending: model {want:?}, root {got:?}"));
                }
            }
            Err(e) => what.push(e),
        }
    }

    /// End of a sequence: `dkms-hook doctor` finds nothing to repair.
    fn finish(&mut self, n: usize) -> Result<(), Divergence> {
        let doctor = spawn(&self.root, HOOK, &["doctor".into()], None).wait(self.timeout);
        let mut what = Vec::new();
        if !doctor
            .stdout
            .contains("No leftovers from interrupted runs found.")
        {
            what.push("doctor finds leftovers at the end of the sequence".into());
        }
        if what.is_empty() {
            Ok(())
        } else {
            Err(Divergence {
                at: n,
                event: "(end: dkms-hook doctor)".into(),
                what,
                outputs: vec![doctor.to_string()],
            })
        }
    }
}

/// The kind of a step, for the event mix.
pub fn step_kind(step: &Step) -> String {
    match step {
        Step::InstallKernel { headers: true, .. } => "kernel install with headers".into(),
        Step::InstallKernel { headers: false, .. } => "kernel install without headers".into(),
        Step::InstallHeaders { .. } => "headers install".into(),
        Step::RemoveKernel { .. } => "kernel removal (prerm)".into(),
        Step::RemoveKernelFiles { .. } => "kernel removal without hooks".into(),
        Step::AddModule(mv) if mv.broken() => "module add, failing version".into(),
        Step::AddModule(mv) if mv.depends().is_some() => "module add, BUILD_DEPENDS".into(),
        Step::AddModule(mv) if mv.exclusive() => "module add, BUILD_EXCLUSIVE".into(),
        Step::AddModule(mv) if mv.v != "1.0" => "module add, upgrade".into(),
        Step::AddModule(_) => "module add".into(),
        Step::RemoveModule(_) => "module remove (purge)".into(),
        Step::Autoinstall(_) => "dkms-hook autoinstall".into(),
        Step::AptPostInvoke => "dkms-hook apt-post-invoke".into(),
        Step::Boot => "dkms-hook boot".into(),
        Step::DkmsInstall(..) => "dkms install".into(),
        Step::DkmsUninstall(..) => "dkms uninstall".into(),
        Step::DkmsRemove(_) => "dkms remove".into(),
    }
}

fn phase_kind(p: &Phase) -> &'static str {
    match p {
        Phase::Make => "make",
        Phase::Depmod => "depmod",
        Phase::Delay(_) => "a random delay",
    }
}
