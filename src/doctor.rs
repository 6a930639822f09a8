//! `dkms-hook doctor`: find what an interrupted run can leave behind and
//! repair what is safe to repair: temporary build directories, half-moved
//! builds, temporary files next to installed modules, dangling links. Also
//! reports broken modules, pending work, failures and the Secure Boot state.

use std::path::{Path, PathBuf};

use crate::context::Ctx;
use crate::pending::Queue;

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

/// Scan the trees; with `repair`, remove leftovers. Never touches a
/// module file that is not a temporary of ours.
pub fn check(ctx: &Ctx, repair: bool) -> Vec<Finding> {
    let tree = ctx.tree();
    let mut out = Vec::new();
    let fix = |what: &str, p: PathBuf, out: &mut Vec<Finding>| {
        let ok = repair
            && (if p.is_dir() && !crate::tree::is_symlink(&p) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            })
            .is_ok();
        out.push(Finding {
            what: what.to_string(),
            path: p,
            repaired: ok,
        });
    };
    for (m, v) in tree.module_versions() {
        let vd = tree.version_dir(&m, &v);
        for name in crate::tree::list_dirs(&vd) {
            if name.starts_with("build-") {
                fix(
                    "leftover per-kernel build directory",
                    vd.join(&name),
                    &mut out,
                );
            } else if crate::tree::looks_like_kernel(&name) {
                if let Ok(rd) = std::fs::read_dir(vd.join(&name)) {
                    for e in rd.flatten() {
                        let n = e.file_name().to_string_lossy().into_owned();
                        if n.starts_with(".tmp_") || n.starts_with(".old_") {
                            fix("leftover temporary build result", e.path(), &mut out);
                        }
                    }
                }
            }
        }
        if tree.is_broken(&m, &v) {
            out.push(Finding { what: format!("{m}/{v} is broken (source or its link missing); manual intervention is required"), path: vd.clone(), repaired: false });
        }
    }
    for m in tree.modules() {
        if let Ok(rd) = std::fs::read_dir(tree.module_dir(&m)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let p = e.path();
                if n.starts_with("kernel-") && crate::tree::is_symlink(&p) && !p.exists() {
                    fix("dangling kernel link (its build is gone)", p, &mut out);
                } else if n.starts_with(".kernel-") && n.contains(".tmp") {
                    fix("leftover temporary link", p, &mut out);
                }
            }
        }
    }
    scan_install_tree(&ctx.settings.install_tree, &mut |p| {
        fix("leftover temporary module file", p, &mut out)
    });
    out
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
