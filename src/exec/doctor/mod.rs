//! `dkms-hook doctor`: find what an interrupted run can leave behind and
//! repair what is safe to repair: temporary build directories (rescuing the
//! make.log of a build that was already moved into place), swapped-out
//! builds, temporary files next to installed modules and in the pending
//! queue, dangling links, the module file of an install that died before its
//! kernel link was switched (the active version's module is put back),
//! originals archived by an install that never finished (put back where they
//! came from), and a `modules.dep` older than the modules (depmod is run).
//! Also reports broken modules, pending work, failures and the Secure Boot
//! state.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::exec::{Ctx, Locked};
use crate::fs::{is_symlink, list_dirs};
use crate::layout::{is_safe_component, looks_like_kernel, Layout, OLD_BUILD, PLACING, TMP_BUILD};
use crate::observe::World;
use crate::report::Say;
use crate::text;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub what: String,
    /// The path concerned.
    pub path: PathBuf,
    /// Whether doctor removed it.
    pub repaired: bool,
}

/// The findings of one scan, and the kernels whose depmod must run after
/// the repairs. It repairs only when it holds the lock.
struct Scan<'l> {
    lock: Option<&'l Locked>,
    out: Vec<Finding>,
    depmod: BTreeSet<String>,
}

impl Scan<'_> {
    /// Record a finding; when repairing, apply `fix` to it. Returns whether
    /// it was repaired.
    fn found(
        &mut self,
        what: impl Into<String>,
        path: PathBuf,
        fix: impl FnOnce(&Locked, &Path) -> std::io::Result<()>,
    ) -> bool {
        let repaired = self.lock.is_some_and(|lock| fix(lock, &path).is_ok());
        self.out.push(Finding {
            what: what.into(),
            path,
            repaired,
        });
        repaired
    }

    /// Record a finding doctor cannot repair.
    fn attention(&mut self, what: impl Into<String>, path: PathBuf) {
        self.out.push(Finding {
            what: what.into(),
            path,
            repaired: false,
        });
    }
}

/// Remove `p` beneath the tree it lies in (never following a link).
fn remove_in(base: &Path) -> impl Fn(&Locked, &Path) -> std::io::Result<()> + '_ {
    move |lock: &Locked, p: &Path| lock.remove_all(base, p)
}

/// The disk as doctor reads it: the observed module list, paths by layout.
struct Disk<'a> {
    w: &'a World,
    l: &'a Layout,
}

impl Disk<'_> {
    fn modules(&self) -> Vec<String> {
        self.w.tree.module_names()
    }
    fn module_versions(&self) -> Vec<(String, String)> {
        self.w.tree.module_versions()
    }
    fn versions(&self, m: &str) -> Vec<String> {
        self.w.tree.versions(m)
    }
    fn built_kernels(&self, m: &str, v: &str) -> Vec<(String, String)> {
        self.w.tree.built_kernels(m, v)
    }
    fn link_points_here(&self, m: &str, v: &str, k: &str, a: &str) -> bool {
        self.w.tree.link_points_here(m, v, k, a)
    }
}

/// Scan the trees; with `repair`, remove leftovers and put back what an
/// interrupted install moved. Never touches a module file that is not a
/// temporary of ours or a byte-identical copy of one of our builds.
fn check(w: &World, repair: Option<&Locked>, say: &mut dyn Say) -> Vec<Finding> {
    let l = &w.host.layout;
    let d = Disk { w, l };
    let mut s = Scan {
        lock: repair,
        out: Vec::new(),
        depmod: BTreeSet::new(),
    };
    build_leftovers(&d, &mut s);
    link_and_queue_leftovers(&d, &mut s);
    interrupted_installs(&d, &mut s);
    stranded_originals(&d, &mut s);
    untrusted_names(&d, &mut s);
    scan_install_tree(&l.install, &mut |p| {
        s.found(text::LEFTOVER_MODULE_TEMP, p, remove_in(&l.install));
    });
    // Backups of originals are written the same way, under the dkms tree.
    for m in d.modules() {
        scan_install_tree(&l.originals_dir(&m), &mut |p| {
            s.found(text::LEFTOVER_MODULE_TEMP, p, remove_in(&l.dkms));
        });
    }
    stale_depmod(&d, &mut s);
    if let Some(lock) = repair {
        for k in std::mem::take(&mut s.depmod) {
            // Its own output says how it went (and a stale modules.dep is
            // found again by the next doctor).
            crate::exec::depmod::run(w, lock, say, &k);
        }
    }
    s.out
}

/// Per-kernel build directories, temporary and swapped-out build results.
fn build_leftovers(d: &Disk, s: &mut Scan) {
    let tree = d.l;
    for (m, v) in d.module_versions() {
        let vd = tree.version_dir(&m, &v);
        for name in list_dirs(&vd) {
            if let Some(ka) = name.strip_prefix("build-") {
                let dir = vd.join(&name);
                // A build killed after its result was moved into place: keep its log.
                let rescue = ka
                    .rsplit_once('-')
                    .filter(|(k, a)| is_safe_component(k) && is_safe_component(a))
                    .map(|(k, a)| tree.base_dir(&m, &v, k, a))
                    .filter(|b| {
                        b.join("module").is_dir()
                            && !b.join("log/make.log").exists()
                            && dir.join("make.log").is_file()
                    });
                let base = &d.l.dkms;
                s.found(text::LEFTOVER_BUILD_DIR, dir, |lock, p| {
                    if let Some(b) = &rescue {
                        lock.create_dir_all(base, &b.join("log"), 0o755)?;
                        lock.rename(base, &p.join("make.log"), &b.join("log/make.log"))?;
                    }
                    lock.remove_all(base, p)
                });
            } else if looks_like_kernel(&name) {
                let kd = vd.join(&name);
                let Ok(rd) = std::fs::read_dir(&kd) else {
                    continue;
                };
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.starts_with(TMP_BUILD) {
                        s.found(text::LEFTOVER_BUILD_RESULT, e.path(), remove_in(&d.l.dkms));
                    } else if let Some(rest) = n.strip_prefix(OLD_BUILD) {
                        // `.old_<arch>_<pid>`: the previous build, swapped out
                        // by a rebuild that never moved its result in.
                        let a = rest.rsplit_once('_').map(|(a, _)| a).unwrap_or(rest);
                        let base = kd.join(a);
                        if base.exists() {
                            s.found(text::LEFTOVER_SWAPPED_BUILD, e.path(), remove_in(&d.l.dkms));
                        } else {
                            s.found(text::swapped_build_back(&base), e.path(), |lock, p| {
                                lock.rename(&d.l.dkms, p, &base)
                            });
                        }
                    }
                }
            }
        }
        if d.w.tree.is_broken(&m, &v) {
            s.attention(text::doctor_broken(&m, &v), vd.clone());
        }
    }
}

/// Dangling and temporary kernel links; temporary files of the pending queue.
fn link_and_queue_leftovers(d: &Disk, s: &mut Scan) {
    let tree = d.l;
    for m in d.modules() {
        if let Ok(rd) = std::fs::read_dir(tree.module_dir(&m)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let p = e.path();
                if n.starts_with("kernel-") && is_symlink(&p) && !p.exists() {
                    s.found(text::DANGLING_KERNEL_LINK, p, remove_in(&d.l.dkms));
                } else if n.starts_with(".kernel-") && (n.contains(".tmp") || n.contains(PLACING)) {
                    s.found(text::LEFTOVER_LINK_TEMP, p, remove_in(&d.l.dkms));
                }
            }
        }
    }
    let q = d.l.hook_dir();
    for sub in ["pending", "failed"] {
        let Ok(rd) = std::fs::read_dir(q.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(".tmp") || (n.starts_with('.') && n.contains(PLACING)) {
                s.found(text::LEFTOVER_QUEUE_TEMP, e.path(), remove_in(&d.l.dkms));
            }
        }
    }
}

/// Files named `name` anywhere under `dir` (not following links, not in
/// the kernel's `build`/`source`).
fn files_named(dir: &Path, name: &std::ffi::OsStr, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let n = e.file_name();
        if ft.is_dir() {
            if n != "build" && n != "source" {
                files_named(&e.path(), name, out);
            }
        } else if ft.is_file() && n == name {
            out.push(e.path());
        }
    }
}

/// A module file in the install tree that is byte for byte a build of m/v
/// while the kernel link does not name m/v: an install killed after placing
/// the file and before switching the link. Put back the active version's
/// module, or remove the file when no version is installed.
fn interrupted_installs(d: &Disk, s: &mut Scan) {
    let tree = d.l;
    for m in d.modules() {
        for v in d.versions(&m) {
            for (k, a) in d.built_kernels(&m, &v) {
                if d.link_points_here(&m, &v, &k, &a) {
                    continue;
                }
                let link = tree.kernel_link(&m, &k, &a);
                let active = (is_symlink(&link) && link.exists()).then(|| link.join("module"));
                let Ok(rd) = std::fs::read_dir(tree.base_dir(&m, &v, &k, &a).join("module")) else {
                    continue;
                };
                for e in rd.flatten() {
                    let fname = e.file_name();
                    if !fname.to_string_lossy().contains(".ko") {
                        continue;
                    }
                    let Ok(ours) = std::fs::read(e.path()) else {
                        continue;
                    };
                    let mut placed = Vec::new();
                    files_named(&d.l.lib_tree(&k), &fname, &mut placed);
                    for p in placed {
                        if std::fs::read(&p).ok().as_deref() != Some(ours.as_slice()) {
                            continue;
                        }
                        let back = active
                            .as_ref()
                            .map(|d| d.join(&fname))
                            .filter(|f| f.is_file());
                        let repaired = match back {
                            Some(back) => {
                                if std::fs::read(&back).ok().as_deref() == Some(ours.as_slice()) {
                                    continue;
                                }
                                s.found(
                                    text::interrupted_install_replaced(&m, &v, &k),
                                    p,
                                    |lock, p| lock.place_atomically(&d.l.install, &back, p, false),
                                )
                            }
                            None => s.found(
                                text::interrupted_install_removed(&m, &v, &k),
                                p,
                                |lock, p| lock.remove_file(&d.l.install, p),
                            ),
                        };
                        if repaired {
                            s.depmod.insert(k.clone());
                        }
                    }
                }
            }
        }
    }
}

/// Originals archived by an install that never created its kernel link:
/// the kernel has neither its own module nor ours. Put them back.
fn stranded_originals(d: &Disk, s: &mut Scan) {
    let tree = d.l;
    let it = &d.l.install;
    for m in d.modules() {
        let od = tree.originals_dir(&m);
        for k in list_dirs(&od) {
            for a in list_dirs(&od.join(&k)) {
                if !is_safe_component(&k) || !is_safe_component(&a) {
                    continue;
                }
                if tree.kernel_link(&m, &k, &a).symlink_metadata().is_ok() {
                    continue;
                }
                let dir = od.join(&k).join(&a);
                let Ok(rd) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let Some(file) = n.strip_suffix(".origin") else {
                        continue;
                    };
                    let module = dir.join(file);
                    if !module.is_file() {
                        continue;
                    }
                    let text = crate::fs::read_regular_text(&e.path(), 4096).unwrap_or_default();
                    let loc = text.lines().next().unwrap_or("").to_string();
                    let host = d.l.root.join(&loc);
                    let origin = e.path();
                    // Install copies the original before it places ours, so
                    // after a crash the original may still be in place: then
                    // the backup is only a copy, and goes.
                    if host.starts_with(it.join(&k))
                        && !loc.contains("/../")
                        && std::fs::read(&host).ok() == std::fs::read(&module).ok()
                    {
                        s.found(text::original_copy_left(&loc), module, |lock, p| {
                            lock.remove_file(&d.l.dkms, p)?;
                            lock.remove_file(&d.l.dkms, &origin)
                        });
                        continue;
                    }
                    if !host.starts_with(it.join(&k))
                        || loc.contains("/../")
                        || host.symlink_metadata().is_ok()
                    {
                        s.attention(text::original_location_blocked(&loc), module);
                        continue;
                    }
                    let repaired =
                        s.found(text::original_put_back(&m, &k, &loc), module, |lock, p| {
                            if let Some(parent) = host.parent() {
                                lock.create_dir_all(it, parent, 0o755)?;
                            }
                            lock.move_verified(&d.l.dkms, p, it, &host)?;
                            lock.remove_file(&d.l.dkms, &origin)
                        });
                    if repaired {
                        s.depmod.insert(k.clone());
                    }
                }
                if let Some(lock) = s.lock {
                    // Only empty directories go; one still holding a
                    // blocked original stays.
                    let _ = lock.rmdir(&d.l.dkms, &dir);
                    let _ = lock.rmdir(&d.l.dkms, &od.join(&k));
                }
            }
        }
        if let Some(lock) = s.lock {
            let _ = lock.rmdir(&d.l.dkms, &od);
        }
    }
}

/// The newest modification time of a module file under `dir` (not in the
/// kernel's `build`/`source`, not following links).
fn newest_module(dir: &Path) -> Option<std::time::SystemTime> {
    let rd = std::fs::read_dir(dir).ok()?;
    let mut newest = None;
    for e in rd.flatten() {
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        let n = e.file_name();
        let t = if meta.is_dir() {
            if n == "build" || n == "source" {
                continue;
            }
            newest_module(&e.path())
        } else if n.to_string_lossy().contains(".ko") && !n.to_string_lossy().starts_with('.') {
            meta.modified().ok()
        } else {
            None
        };
        newest = newest.max(t);
    }
    newest
}

/// A kernel whose `modules.dep` is older than one of its modules: an install
/// or uninstall died before depmod. Run depmod.
fn stale_depmod(d: &Disk, s: &mut Scan) {
    let it = &d.l.install;
    for k in list_dirs(it) {
        let dep = it.join(&k).join("modules.dep");
        let Ok(dep_time) = std::fs::metadata(&dep).and_then(|m| m.modified()) else {
            continue;
        };
        if newest_module(&it.join(&k)).is_some_and(|t| t > dep_time)
            && s.found(text::STALE_MODULES_DEP, dep, |_, _| Ok(()))
        {
            s.depmod.insert(k);
        }
    }
}

fn scan_install_tree(dir: &Path, found: &mut dyn FnMut(PathBuf)) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let n = e.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            if n != "build" && n != "source" {
                scan_install_tree(&e.path(), found);
            }
        } else if n.starts_with('.') && n.contains(".ko") && n.contains(".dkms-") {
            found(e.path());
        }
    }
}

/// Records and names on disk that were not trusted: corrupt queue records,
/// directories and links with names the command line would refuse. They
/// are reported, never acted on.
fn untrusted_names(d: &Disk, s: &mut Scan) {
    for p in &d.w.records.corrupt {
        s.attention(text::UNTRUSTED_RECORD, p.clone());
    }
    for p in &d.w.tree.skipped {
        s.attention(text::UNTRUSTED_NAME, p.clone());
    }
}

/// `dkms-hook doctor`: print the findings (repairing them with `repair`),
/// the pending work, the failures and the Secure Boot state; fails (exit 1)
/// when something still needs attention.
pub fn run(cx: &mut Ctx, repair: Option<&Locked>, say: &mut dyn Say) -> Result<()> {
    let w = cx.world;
    let findings = check(w, repair, say);
    let mut attention = 0;
    for f in &findings {
        let state = if f.repaired {
            text::REPAIRED
        } else if repair.is_some() {
            text::NEEDS_ATTENTION
        } else {
            text::FOUND
        };
        say.line(&text::finding(state, &f.what, &f.path));
        if !f.repaired {
            attention += 1;
        }
    }
    for i in &w.records.items {
        say.line(&text::doctor_pending(
            &i.kernel, &i.arch, i.reason, &i.detail,
        ));
    }
    for f in &w.records.failures {
        say.line(&text::doctor_failed(
            &f.module, &f.version, &f.kernel, &f.arch, f.code, &f.log,
        ));
    }
    secure_boot(w, say);
    if findings.is_empty() {
        say.line(text::NO_LEFTOVERS);
    }
    if attention > 0 {
        return Err(crate::error::Error::msg("").shown());
    }
    Ok(())
}

/// Secure Boot as the firmware reports it: on, off, or not available (no
/// EFI); the key enrolment advice only where Secure Boot is on.
fn secure_boot(w: &World, say: &mut dyn Say) {
    let (_key, cert, _) = crate::exec::sign::key_paths(&w.host, "", "");
    let root = &w.host.layout.root;
    let state = crate::observe::host::secure_boot(root);
    let shown = root.inside(&cert);
    match state {
        None => {
            say.line(text::SECURE_BOOT_UNAVAILABLE);
        }
        Some(false) => {
            say.line(text::SECURE_BOOT_DISABLED);
        }
        Some(true) => {
            say.line(text::SECURE_BOOT_ENABLED);
            if !cert.is_file() {
                say.line(&text::signing_key_absent(&shown));
                return;
            }
            let enrolled = crate::exec::runner::in_path("mokutil")
                && std::process::Command::new("mokutil")
                    .arg("--test-key")
                    .arg(&cert)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).contains("is already enrolled"))
                    .unwrap_or(false);
            if enrolled {
                say.line(&text::signing_key_enrolled(&shown));
            } else {
                say.line(&text::signing_key_not_enrolled(&shown));
            }
        }
    }
}
