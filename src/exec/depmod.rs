//! depmod, when upstream runs it (after each install or uninstall: `dkms`)
//! or once per kernel at the end of a run (the hooks, kernel_prerm), and
//! framework.conf's `post_transaction`. A marker under the dkms tree says a
//! kernel's depmod is still due: written before the module tree changes,
//! removed after depmod succeeded, so an interrupted run's depmod happens on
//! the next run.

use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result};
use crate::exec::msg;
use crate::exec::runner::{self, shell_quote, Hold, Log, Output, Step};
use crate::exec::{Ctx, Locked};
use crate::observe::World;
use crate::plan::Depmod;
use crate::report::Say;
use crate::text;

fn marker(world: &World, k: &str) -> PathBuf {
    world.host.layout.depmod_pending_dir().join(k)
}

/// Record that kernel `k`'s depmod is due, before its module tree changes:
/// the change must not happen when this record cannot be written (a crash
/// after it would leave modules.dep wrong with nothing to say so).
pub fn mark_pending(world: &World, lock: &Locked, k: &str) -> Result<()> {
    let l = &world.host.layout;
    let d = l.depmod_pending_dir();
    let m = marker(world, k);
    lock.create_dir_all(&l.dkms, &d, 0o755)
        .and_then(|()| lock.write_atomic(&l.dkms, &m, b"", 0o644))
        .map_err(|e| Error::io(msg::CANNOT_WRITE, &m, e).into_kind(Kind::InstallFailed))
}

/// Whether kernel `k`'s depmod marker is there now (written by this run or
/// left by another).
pub fn is_due(world: &World, k: &str) -> bool {
    std::fs::symlink_metadata(marker(world, k)).is_ok()
}

/// Take back the marker of `k` written by a change that was undone
/// completely (nothing is due). One that cannot be removed stays: the
/// next run runs a depmod that changes nothing.
pub fn unmark(world: &World, lock: &Locked, k: &str) {
    let l = &world.host.layout;
    if let Err(e) = lock.remove_file(&l.dkms, &marker(world, k)) {
        log::debug!("depmod marker of {k} stays: {e}");
    }
}

/// depmod for `k` after a change to module `m` now (`Depmod::Now`:
/// printed as upstream does), or later (recorded; [`flush`] runs it).
/// Returns depmod's status (0 when put off).
pub fn request(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    k: &str,
    m: &str,
    when: Depmod,
) -> i32 {
    cx.ledger.package_name = Some(m.to_string());
    match when {
        Depmod::Now => run(cx.world, lock, say, k, dots(cx)),
        Depmod::Later => {
            cx.ledger.depmod_later.insert(k.to_string());
            0
        }
    }
}

/// Run every depmod that was put off, once per kernel.
pub fn flush(cx: &mut Ctx, lock: &Locked, say: &mut dyn Say) -> Result<()> {
    let kernels = std::mem::take(&mut cx.ledger.depmod_later);
    let mut failed = Vec::new();
    for k in kernels {
        if run(cx.world, lock, say, &k, dots(cx)) != 0 {
            failed.push(k);
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    if cx.style == crate::report::Style::Hook {
        cx.ledger.hook_failed = true;
    }
    Err(Error::install_failed([msg::depmod_failed(&failed)]))
}

/// The depmod a killed run left due for `k`, run quietly (the run that
/// changed the module tree printed nothing about it); when the kernel's
/// module tree is `gone`, only the marker goes.
pub fn finish(cx: &mut Ctx, lock: &Locked, say: &mut dyn Say, k: &str, gone: bool) -> Result<()> {
    let world = cx.world;
    if gone {
        let l = &world.host.layout;
        return lock
            .remove_file(&l.dkms, &marker(world, k))
            .map_err(|e| Error::io(msg::CANNOT_REMOVE, &marker(world, k), e));
    }
    let mut quiet = crate::report::Buffer::new(say.style());
    if run(world, lock, &mut quiet, k, true) != 0 && cx.style == crate::report::Style::Hook {
        // The marker stays: the next run tries again, doctor shows it.
        // (`dkms` stays silent about it, as upstream has no such repair.)
        return Err(Error::install_failed([msg::depmod_failed(
            &[k.to_string()],
        )]));
    }
    Ok(())
}

/// Whether this run's background steps print progress dots (not for
/// upstream's own test packages, as upstream).
fn dots(cx: &Ctx) -> bool {
    cx.ledger
        .package_name
        .as_deref()
        .is_none_or(crate::exec::build::dots)
}

/// Upstream's `do_depmod` inside `invoke_command "do_depmod K" "Running
/// depmod"`: prints `Running depmod... done.` (with a dot every 3 seconds
/// when `dots`); nothing is run for `--no-depmod` or when the kernel has no
/// modules.dep; runs `depmod -b ROOT` under `--root`.
pub fn run(world: &World, lock: &Locked, say: &mut dyn Say, k: &str, dots: bool) -> i32 {
    let l = &world.host.layout;
    let verbose = world.host.verbose();
    let mut step = Step::new("true", text::STEP_DEPMOD);
    step.dots = dots;
    step.shown = Some(format!("do_depmod {k}"));
    step.output = Output::Discard;
    let modules_dep = l.lib_tree(k).join("modules.dep");
    let code = if world.host.opts.no_depmod {
        runner::invoke(say, &step, verbose, None, Hold::No)
    } else if !modules_dep.is_file() {
        step.cmd = format!("echo {}", shell_quote(&text::depmod_skipped(&modules_dep)));
        runner::invoke(say, &step, verbose, None, Hold::No)
    } else {
        let (cmd, _keep) = match depmod_base(world) {
            Ok((base, keep)) => {
                let mut c = String::from("depmod");
                if let Some(b) = &base {
                    c.push_str(&format!(" -b {}", shell_quote(&b.display().to_string())));
                }
                c.push_str(&format!(" -a {}", shell_quote(k)));
                if let Some(map) = world.kernel(k).and_then(|f| f.system_map.clone()) {
                    c.push_str(&format!(" -F {}", shell_quote(&map.display().to_string())));
                }
                (c, keep)
            }
            Err(e) => {
                // Without its base depmod would index the wrong tree: the
                // step fails instead (the marker stays, the next run retries).
                log::warn!(
                    "cannot prepare the depmod base of {}: {e}",
                    l.install.display()
                );
                ("false".to_string(), None)
            }
        };
        step.cmd = cmd;
        // depmod writes the module indexes: it holds the lock while it runs.
        let code = runner::invoke(say, &step, verbose, None, Hold::Lock(lock));
        cleanup_empty(world, lock, k);
        code
    };
    if code == 0 {
        // A marker left behind only makes the next run run depmod again.
        let _ = lock.remove_file(&l.dkms, &marker(world, k));
    }
    code
}

/// The `depmod -b` base directory for the install tree, and a temporary
/// directory to keep alive when one had to be made; an error when that
/// directory could not be made (never a depmod of another tree).
fn depmod_base(world: &World) -> std::io::Result<(Option<PathBuf>, Option<tempfile::TempDir>)> {
    let l = &world.host.layout;
    let it = &l.install;
    if *it == l.root.join("/lib/modules") {
        return Ok((
            if l.root.is_slash() {
                None
            } else {
                Some(l.root.dir().to_path_buf())
            },
            None,
        ));
    }
    if it.ends_with("lib/modules") {
        return Ok((
            it.parent().and_then(Path::parent).map(Path::to_path_buf),
            None,
        ));
    }
    let t = linked_base(&std::env::temp_dir(), it)?;
    Ok((Some(t.path().to_path_buf()), Some(t)))
}

/// A new directory in `tmp` whose `lib/modules` leads to `install_tree`:
/// the base that makes `depmod -b` index that tree.
// File operation outside crate::fs: a scratch directory of ours in $TMPDIR, not a tree.
#[allow(clippy::disallowed_methods)]
fn linked_base(tmp: &Path, install_tree: &Path) -> std::io::Result<tempfile::TempDir> {
    let t = tempfile::Builder::new()
        .prefix("dkms-depmod.")
        .tempdir_in(tmp)?;
    let lib = t.path().join("lib");
    std::fs::create_dir(&lib)?;
    std::os::unix::fs::symlink(install_tree, lib.join("modules"))?;
    Ok(t)
}

/// Upstream: an empty modules.dep for a kernel that has no modules of its
/// own any more means the last module went; its depmod files go too.
fn cleanup_empty(world: &World, lock: &Locked, k: &str) {
    let l = &world.host.layout;
    let kd = l.lib_tree(k);
    let dep = kd.join("modules.dep");
    if std::fs::metadata(&dep)
        .map(|m| m.len() == 0)
        .unwrap_or(false)
        && !kd.join("kernel").exists()
    {
        for n in crate::fs::list_names(&kd) {
            if n.starts_with("modules.") {
                // Upstream's `rm -f`: a depmod file that stays is rewritten by the next depmod.
                let _ = lock.remove_file(&l.install, &kd.join(n));
            }
        }
        // Only an empty directory goes: one holding anything else stays.
        let _ = lock.rmdir(&l.install, &kd);
    }
}

/// framework.conf's `post_transaction` command, its output in
/// `<dkms_tree>/post_transaction.log` (emptied first).
pub fn post_transaction(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    k: &str,
    a: &str,
) -> Result<()> {
    let world = cx.world;
    let cmd = &world.host.settings.post_transaction;
    if cmd.is_empty() {
        return Ok(());
    }
    let l = &world.host.layout;
    let log = l.post_transaction_log();
    let log =
        Log::open(lock, &l.dkms, &log, true).map_err(|e| Error::io(msg::CANNOT_WRITE, &log, e))?;
    // Upstream reads the setting when it runs it, with `$kernelver` and
    // `$arch` of the run in scope.
    let cmd = crate::observe::settings::expand_kernel_vars(cmd, k, a);
    let mut step = Step::new(cmd, text::STEP_POST_TRANSACTION);
    step.dots = dots(cx);
    step.output = Output::Log(log);
    // Upstream evals the command in its own shell: `${kernelver}` and
    // `${arch}` are the run's first kernel and arch.
    step.env = vec![("kernelver".into(), k.into()), ("arch".into(), a.into())];
    // The command's status is upstream's to ignore too; it is in the log.
    runner::invoke(say, &step, world.host.verbose(), None, Hold::No);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linked_base_leads_to_the_install_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let t = linked_base(tmp.path(), Path::new("/srv/modules")).unwrap();
        assert_eq!(
            std::fs::read_link(t.path().join("lib/modules")).unwrap(),
            Path::new("/srv/modules")
        );
    }

    #[test]
    fn a_base_that_cannot_be_made_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("gone");
        let e = linked_base(&gone, Path::new("/srv/modules")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    }
}
