//! `dkms match`: install on a kernel every module installed on a template kernel.

use crate::cli::Invocation;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::install::Depmod;
use crate::tree::State;

/// upstream `run_match`.
pub fn run_match(ctx: &Ctx, inv: &Invocation, k: &str, a: &str) -> Result<i32> {
    let t = &inv.template_kernel;
    if t.is_empty() {
        return Err(Error::new(
            1,
            [
                "Invalid number of parameters passed.",
                "Usage: match --templatekernel=<kernel-version> -k <kernel-version>",
                "   or: match --templatekernel=<kernel-version> -k <kernel-version> <module>",
            ],
        ));
    }
    if t == k {
        return Err(Error::msg(
            2,
            "The templatekernel and the specified kernel version are the same.",
        ));
    }
    let tree = ctx.tree();
    if !inv.module.is_empty() && !tree.module_dir(&inv.module).is_dir() {
        return Err(Error::msg(
            3,
            format!(
                "The module: {} is not located in the DKMS tree.",
                inv.module
            ),
        ));
    }
    let entries: Vec<_> = tree
        .status(&inv.module, "", t, a)
        .into_iter()
        .filter(|e| e.state == State::Installed)
        .collect();
    println!();
    println!("Matching modules in kernel: {k} ({a})");
    println!("to the configuration of kernel: {t} ({a})");
    if entries.is_empty() {
        println!();
        println!("There is nothing to be done for this match.");
        return Ok(0);
    }
    crate::build::check_headers(ctx, &ctx.kernel(k))?;
    for e in entries {
        println!("Module:  {}", e.module);
        println!("Version: {}", e.version);
        let mut sub = inv.clone();
        sub.module = e.module.clone();
        sub.version = e.version.clone();
        if tree.is_broken(&e.module, &e.version) {
            Error::new(
                1,
                [
                    format!("{}/{} is broken!", e.module, e.version),
                    "Missing the source directory or the symbolic link pointing to it.".into(),
                    "Manual intervention is required!".into(),
                ],
            )
            .report();
            continue;
        }
        if let Err(err) = crate::actions::maybe_build(ctx, &mut sub, k, a) {
            err.report();
            continue;
        }
        if tree.is_installed(&e.module, &e.version, k, a) {
            continue;
        }
        if let Err(err) =
            crate::install::install(ctx, &e.module, &e.version, k, a, &mut Depmod::Now)
        {
            err.report();
        }
    }
    Ok(0)
}
