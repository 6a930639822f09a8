//! Taking every module off a kernel that is being upgraded or removed
//! (upstream `kernel_preinst` / `kernel_prerm`), with one depmod at the end.

use crate::actions::{maybe_unbuild, maybe_uninstall};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::install::{run_depmod, Depmod};

/// Unbuild every module built for k/a. `preinst` limits it to AUTOINSTALL
/// modules (they will be rebuilt by postinst), like upstream.
pub fn kernel_prerm(ctx: &Ctx, k: &str, a: &str, preinst: bool) -> Result<Vec<String>> {
    let tree = ctx.tree();
    let mut depmod = Depmod::Later(Default::default());
    let mut failed = String::new();
    let mut removed = Vec::new();
    for (m, v) in tree.module_versions() {
        if !tree.is_built(&m, &v, k, a) {
            continue;
        }
        if preinst {
            match ctx.read_conf(&m, &v, k, a, None, false) {
                Ok(c) if c.autoinstall => {}
                Ok(_) => continue,
                Err(e) => {
                    e.report();
                    return Err(Error { silent: true, ..e });
                }
            }
        }
        eprintln!("dkms: removing module {m}/{v} for kernel {k} ({a})");
        match maybe_uninstall(ctx, &m, &v, k, a, &mut depmod) {
            Ok(()) => {
                maybe_unbuild(ctx, &m, &v, k, a);
                removed.push(format!("{m}/{v}"));
            }
            Err(e) => {
                e.report();
                failed.push_str(&format!(" {m}/{v}({})", e.code));
            }
        }
        if !preinst {
            println!();
        }
    }
    if let Depmod::Later(set) = depmod {
        if !set.is_empty() {
            run_depmod(ctx, k);
        }
    }
    remove_empty_dirs(&ctx.settings.install_tree.join(k));
    if !failed.is_empty() {
        let what = if preinst {
            "kernel_preinst"
        } else {
            "kernel_prerm"
        };
        return Err(Error::msg(
            14,
            format!("dkms {what} for kernel {k} ({a}) failed for module(s){failed}."),
        ));
    }
    Ok(removed)
}

/// `find DIR -type d -empty -delete` (depth first), never following links.
pub fn remove_empty_dirs(dir: &std::path::Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_empty_dirs(&e.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}
