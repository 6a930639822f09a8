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

use crate::context::Ctx;
use crate::pending::Queue;
use crate::tree::{is_symlink, list_dirs, looks_like_kernel};

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
/// the repairs.
struct Scan {
    repair: bool,
    out: Vec<Finding>,
    depmod: BTreeSet<String>,
}

impl Scan {
    /// Record a finding; when repairing, apply `fix` to it. Returns whether
    /// it was repaired.
    fn found(
        &mut self,
        what: impl Into<String>,
        path: PathBuf,
        fix: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> bool {
        let repaired = self.repair && fix(&path).is_ok();
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

fn remove_path(p: &Path) -> std::io::Result<()> {
    if p.is_dir() && !is_symlink(p) {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    }
}

/// Scan the trees; with `repair`, remove leftovers and put back what an
/// interrupted install moved. Never touches a module file that is not a
/// temporary of ours or a byte-identical copy of one of our builds.
pub fn check(ctx: &Ctx, repair: bool) -> Vec<Finding> {
    let mut s = Scan {
        repair,
        out: Vec::new(),
        depmod: BTreeSet::new(),
    };
    build_leftovers(ctx, &mut s);
    link_and_queue_leftovers(ctx, &mut s);
    interrupted_installs(ctx, &mut s);
    stranded_originals(ctx, &mut s);
    scan_install_tree(&ctx.settings.install_tree, &mut |p| {
        s.found("leftover temporary module file", p, remove_path);
    });
    // Backups of originals are written the same way, under the dkms tree.
    for m in ctx.tree().modules() {
        scan_install_tree(
            &ctx.tree().module_dir(&m).join("original_module"),
            &mut |p| {
                s.found("leftover temporary module file", p, remove_path);
            },
        );
    }
    stale_depmod(ctx, &mut s);
    if repair {
        for k in std::mem::take(&mut s.depmod) {
            crate::install::run_depmod(ctx, &k);
        }
    }
    s.out
}

/// Per-kernel build directories, temporary and swapped-out build results.
fn build_leftovers(ctx: &Ctx, s: &mut Scan) {
    let tree = ctx.tree();
    for (m, v) in tree.module_versions() {
        let vd = tree.version_dir(&m, &v);
        for name in list_dirs(&vd) {
            if let Some(ka) = name.strip_prefix("build-") {
                let dir = vd.join(&name);
                // A build killed after its result was moved into place: keep its log.
                let rescue = ka
                    .rsplit_once('-')
                    .map(|(k, a)| tree.base_dir(&m, &v, k, a))
                    .filter(|b| {
                        b.join("module").is_dir()
                            && !b.join("log/make.log").exists()
                            && dir.join("make.log").is_file()
                    });
                s.found("leftover per-kernel build directory", dir, |p| {
                    if let Some(b) = &rescue {
                        std::fs::create_dir_all(b.join("log"))?;
                        std::fs::rename(p.join("make.log"), b.join("log/make.log"))?;
                    }
                    remove_path(p)
                });
            } else if looks_like_kernel(&name) {
                let kd = vd.join(&name);
                let Ok(rd) = std::fs::read_dir(&kd) else {
                    continue;
                };
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.starts_with(".tmp_") {
                        s.found("leftover temporary build result", e.path(), remove_path);
                    } else if let Some(rest) = n.strip_prefix(".old_") {
                        // `.old_<arch>_<pid>`: the previous build, swapped out
                        // by a rebuild that never moved its result in.
                        let a = rest.rsplit_once('_').map(|(a, _)| a).unwrap_or(rest);
                        let base = kd.join(a);
                        if base.exists() {
                            s.found("leftover swapped-out build", e.path(), remove_path);
                        } else {
                            s.found(
                                format!("previous build swapped out by an interrupted rebuild; put back as {}", base.display()),
                                e.path(),
                                |p| std::fs::rename(p, &base),
                            );
                        }
                    }
                }
            }
        }
        if tree.is_broken(&m, &v) {
            s.attention(
                format!("{m}/{v} is broken (source or its link missing); manual intervention is required"),
                vd.clone(),
            );
        }
    }
}

/// Dangling and temporary kernel links; temporary files of the pending queue.
fn link_and_queue_leftovers(ctx: &Ctx, s: &mut Scan) {
    let tree = ctx.tree();
    for m in tree.modules() {
        if let Ok(rd) = std::fs::read_dir(tree.module_dir(&m)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let p = e.path();
                if n.starts_with("kernel-") && is_symlink(&p) && !p.exists() {
                    s.found("dangling kernel link (its build is gone)", p, remove_path);
                } else if n.starts_with(".kernel-") && n.contains(".tmp") {
                    s.found("leftover temporary link", p, remove_path);
                }
            }
        }
    }
    let q = ctx.settings.dkms_tree.join(".dkms-hook");
    for sub in ["pending", "failed"] {
        let Ok(rd) = std::fs::read_dir(q.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp") {
                s.found("leftover temporary queue entry", e.path(), remove_path);
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
fn interrupted_installs(ctx: &Ctx, s: &mut Scan) {
    let tree = ctx.tree();
    for m in tree.modules() {
        for v in tree.versions(&m) {
            for (k, a) in tree.built_kernels(&m, &v) {
                if tree.link_points_here(&m, &v, &k, &a) {
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
                    files_named(&ctx.settings.install_tree.join(&k), &fname, &mut placed);
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
                                    format!("module of an interrupted install of {m}/{v} (kernel {k} still uses another version); its module is put back"),
                                    p,
                                    |p| crate::install::place_atomically(&back, p, false).map_err(|e| std::io::Error::new(std::io::ErrorKind::Other, e.lines.join(" "))),
                                )
                            }
                            None => s.found(
                                format!("module of an interrupted install of {m}/{v} (not installed for kernel {k}); removed"),
                                p,
                                |p| std::fs::remove_file(p),
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
fn stranded_originals(ctx: &Ctx, s: &mut Scan) {
    let tree = ctx.tree();
    let it = &ctx.settings.install_tree;
    for m in tree.modules() {
        let od = tree.module_dir(&m).join("original_module");
        for k in list_dirs(&od) {
            for a in list_dirs(&od.join(&k)) {
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
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    let loc = text.lines().next().unwrap_or("").to_string();
                    let host = ctx.settings.root.join(&loc);
                    let origin = e.path();
                    // Install copies the original before it places ours, so
                    // after a crash the original may still be in place: then
                    // the backup is only a copy, and goes.
                    if host.starts_with(it.join(&k))
                        && !loc.contains("/../")
                        && std::fs::read(&host).ok() == std::fs::read(&module).ok()
                    {
                        s.found(
                            format!("copy of original module {loc} left by an interrupted install (the original is still in place)"),
                            module,
                            |p| {
                                std::fs::remove_file(p)?;
                                std::fs::remove_file(&origin)
                            },
                        );
                        continue;
                    }
                    if !host.starts_with(it.join(&k))
                        || loc.contains("/../")
                        || host.symlink_metadata().is_ok()
                    {
                        s.attention(
                            format!("original module archived by an interrupted install, but its location '{loc}' is not free or not in the install tree"),
                            module,
                        );
                        continue;
                    }
                    let repaired = s.found(
                        format!("original module archived by an interrupted install (no {m} installed for kernel {k}); put back to {loc}"),
                        module,
                        |p| {
                            if let Some(parent) = host.parent() {
                                std::fs::create_dir_all(parent)?;
                            }
                            std::fs::rename(p, &host)?;
                            std::fs::remove_file(&origin)
                        },
                    );
                    if repaired {
                        s.depmod.insert(k.clone());
                    }
                }
                if s.repair {
                    let _ = std::fs::remove_dir(&dir);
                    let _ = std::fs::remove_dir(od.join(&k));
                }
            }
        }
        if s.repair {
            let _ = std::fs::remove_dir(&od);
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
fn stale_depmod(ctx: &Ctx, s: &mut Scan) {
    let it = &ctx.settings.install_tree;
    for k in list_dirs(it) {
        let dep = it.join(&k).join("modules.dep");
        let Ok(dep_time) = std::fs::metadata(&dep).and_then(|m| m.modified()) else {
            continue;
        };
        if newest_module(&it.join(&k)).is_some_and(|t| t > dep_time)
            && s.found(
                "modules.dep is older than the modules (depmod did not run after an install); depmod is run",
                dep,
                |_| Ok(()),
            )
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

/// Print the doctor report; returns 0 when nothing needs attention after repair.
pub fn report(ctx: &Ctx, repair: bool) -> i32 {
    let findings = check(ctx, repair);
    let mut attention = 0;
    for f in &findings {
        let state = if f.repaired {
            "repaired"
        } else if repair {
            "needs attention"
        } else {
            "found"
        };
        println!("{state}: {}: {}", f.what, f.path.display());
        if !f.repaired {
            attention += 1;
        }
    }
    let q = Queue::new(&ctx.settings.dkms_tree);
    for i in q.items() {
        println!(
            "pending: {} ({}) {:?} {}",
            i.kernel, i.arch, i.reason, i.detail
        );
    }
    for f in q.failures() {
        println!(
            "failed: {}/{} for {} ({}) exit {}; log: {}",
            f.module, f.version, f.kernel, f.arch, f.code, f.log
        );
    }
    secure_boot(ctx);
    if findings.is_empty() {
        println!("No leftovers from interrupted runs found.");
    }
    i32::from(attention > 0)
}

/// Secure Boot state and MOK enrolment, via mokutil when present.
fn secure_boot(ctx: &Ctx) {
    let (_key, cert) = crate::sign::key_paths(ctx, "", "");
    if !crate::build::in_path("mokutil") {
        println!("secure boot: mokutil not installed; cannot tell whether Secure Boot is on or our key {} is enrolled.", cert.display());
        return;
    }
    let sb = std::process::Command::new("mokutil")
        .arg("--sb-state")
        .output();
    let state = sb
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "secure boot: {}",
        if state.is_empty() {
            "unknown".into()
        } else {
            state
        }
    );
    if !cert.is_file() {
        println!("module signing key: {} does not exist yet (created at the first signed build or by `dkms generate_mok`).", cert.display());
        return;
    }
    let enrolled = std::process::Command::new("mokutil")
        .arg("--test-key")
        .arg(&cert)
        .output();
    match enrolled {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("is already enrolled") => println!("module signing key: enrolled ({})", cert.display()),
        _ => println!(
            "module signing key: not enrolled. Enrol it with: mokutil --import {} (then reboot and confirm in MokManager)",
            ctx.settings.root.inside(&cert).display()
        ),
    }
}
