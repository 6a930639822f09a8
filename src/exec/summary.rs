//! The closing summary of a hook run: what was built and installed, what
//! was skipped and why, what was deferred and why, and what failed, with the
//! make.log path and its last lines.

use crate::exec::autoinstall::Outcome;

/// Print the summary for the outcomes of one hook run (one per kernel).
pub fn print(outcomes: &[Outcome], headers_missing: &[(String, String)]) {
    let any = outcomes.iter().any(|o| {
        !o.installed.is_empty()
            || !o.skipped.is_empty()
            || !o.failed.is_empty()
            || !o.deferred.is_empty()
            || !o.missing_deps.is_empty()
    }) || !headers_missing.is_empty();
    if !any {
        return;
    }
    println!("dkms-hook summary:");
    for o in outcomes {
        for m in &o.installed {
            println!("  built and installed: {m} for {}", o.kernel);
        }
        for m in &o.skipped {
            println!(
                "  skipped: {m} for {} (BUILD_EXCLUSIVE does not match this kernel)",
                o.kernel
            );
        }
        for (m, v, deps) in &o.deferred {
            println!(
                "  deferred: {m}/{v} for {} (BUILD_DEPENDS not registered: {})",
                o.kernel,
                deps.join(" ")
            );
        }
        for (m, v, deps) in &o.missing_deps {
            println!(
                "  failed: {m}/{v} for {} (dependencies not installed: {})",
                o.kernel,
                deps.join(" ")
            );
        }
        for (m, v, code, log) in &o.failed {
            match log {
                Some(l) => {
                    println!(
                        "  failed: {m}/{v} for {} (exit {code}); log: {}",
                        o.kernel,
                        l.display()
                    );
                    for line in crate::build::tail_block(l).into_iter().skip(1) {
                        println!("    {line}");
                    }
                }
                None => println!("  failed: {m}/{v} for {} (exit {code})", o.kernel),
            }
        }
    }
    for (k, pkg) in headers_missing {
        println!("  deferred: every module for {k} (headers missing: install {pkg})");
    }
}
