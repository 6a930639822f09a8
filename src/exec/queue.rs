//! Writing the deferred-work queue and the failure records (read by
//! `observe::pending`): one small JSON file per entry, written atomically,
//! so nothing is lost when a run is killed. A failure record keeps its own
//! copy of the make.log it points to, so the next build of the module (which
//! starts by emptying the build directory) cannot take the evidence away.

use std::path::PathBuf;

use crate::error::{os_error, Error, Result};
use crate::exec::msg;
use crate::exec::{Ctx, Locked};
use crate::observe::pending::{failure_file, item_file, Failure, Item, Reason};
use crate::report::Say;

/// Write one record atomically (its directory created first).
fn write<T: serde::Serialize>(
    cx: &Ctx,
    lock: &Locked,
    path: &std::path::Path,
    value: &T,
) -> std::io::Result<()> {
    let l = &cx.world.host.layout;
    if let Some(dir) = path.parent() {
        lock.create_dir_all(&l.dkms, dir, 0o755)?;
    }
    let data = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    crate::fault::point("pending:before-persist");
    lock.write_atomic(&l.dkms, path, &data, 0o644)
}

fn add_item(cx: &Ctx, lock: &Locked, mut item: Item) -> std::io::Result<()> {
    let path = item_file(&cx.world.host.layout, &item);
    let old = cx
        .world
        .records
        .items
        .iter()
        .find(|i| i.kernel == item.kernel && i.arch == item.arch && i.module == item.module);
    item.since = old
        .map(|o| o.since)
        .filter(|s| *s > 0)
        .unwrap_or_else(crate::report::time::now);
    write(cx, lock, &path, &item)
}

/// Remove a record. A record that cannot be removed stays and says
/// something that is no longer true until the next run removes it: better
/// than failing the run that did the work.
fn remove(cx: &Ctx, lock: &Locked, path: &std::path::Path) {
    if let Err(e) = lock.remove_file(&cx.world.host.layout.dkms, path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log::warn!("cannot remove {}: {e}", path.display());
        }
    }
}

/// Hook: headers of k missing; say so in one line and remember the kernel.
pub fn defer_headers(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    k: &str,
    a: &str,
    package: &str,
) -> Result<()> {
    say.line(&msg::hook_headers_deferred(k, package));
    cx.ledger
        .headers_deferred
        .push((k.to_string(), package.to_string()));
    let item = Item {
        kernel: k.into(),
        arch: a.into(),
        reason: Reason::HeadersMissing,
        module: String::new(),
        detail: package.into(),
        since: 0,
    };
    let path = item_file(&cx.world.host.layout, &item);
    add_item(cx, lock, item).map_err(|e| {
        let cause = Error::io(msg::CANNOT_WRITE, &path, e);
        Error::msg(msg::cannot_record_pending(k, &cause.lines().join(" ")))
    })
}

/// Hook: m waits for BUILD_DEPENDS not registered with DKMS. A deferral
/// that cannot be written is said in the summary (see [`unrecorded`]):
/// the run goes on.
pub fn defer_module(
    cx: &mut Ctx,
    lock: &Locked,
    k: &str,
    a: &str,
    m: &str,
    deps: &[String],
) -> Result<()> {
    let item = Item {
        kernel: k.into(),
        arch: a.into(),
        reason: Reason::BuildDepends,
        module: m.into(),
        detail: deps.join(" "),
        since: 0,
    };
    let path = item_file(&cx.world.host.layout, &item);
    if let Err(e) = add_item(cx, lock, item) {
        unrecorded(cx, msg::deferral_not_recorded(m, k, &path, &os_error(&e)));
    }
    Ok(())
}

/// Remember a line saying that a record could not be written; the hook
/// summary prints it.
fn unrecorded(cx: &mut Ctx, line: String) {
    log::warn!("{line}");
    cx.ledger.unrecorded.push(line);
}

/// Hook: the headers of k are here.
pub fn clear_headers(cx: &mut Ctx, lock: &Locked, k: &str, a: &str) -> Result<()> {
    for i in &cx.world.records.items {
        if i.kernel == k && i.arch == a && i.reason == Reason::HeadersMissing {
            remove(cx, lock, &item_file(&cx.world.host.layout, i));
        }
    }
    Ok(())
}

/// Hook: m was installed for k: its deferral and failure records go.
pub fn clear_module(cx: &mut Ctx, lock: &Locked, k: &str, a: &str, m: &str) {
    let l = &cx.world.host.layout;
    for i in &cx.world.records.items {
        if i.kernel == k && i.arch == a && i.module == m {
            remove(cx, lock, &item_file(l, i));
        }
    }
    for f in &cx.world.records.failures {
        if f.kernel == k && f.arch == a && f.module == m {
            remove(cx, lock, &failure_file(l, f));
            if let Some(saved) = saved_log(cx, f) {
                remove(cx, lock, &saved);
            }
        }
    }
}

/// Hook: everything recorded for kernel k goes (the kernel is gone).
pub fn drop_kernel(cx: &mut Ctx, lock: &Locked, k: &str) -> Result<()> {
    let l = &cx.world.host.layout;
    for i in &cx.world.records.items {
        if i.kernel == k {
            remove(cx, lock, &item_file(l, i));
        }
    }
    for f in &cx.world.records.failures {
        if f.kernel == k {
            remove(cx, lock, &failure_file(l, f));
            if let Some(saved) = saved_log(cx, f) {
                remove(cx, lock, &saved);
            }
        }
    }
    Ok(())
}

/// The failure's own copy of its make.log, when it is one of ours.
fn saved_log(cx: &Ctx, f: &Failure) -> Option<PathBuf> {
    let p = PathBuf::from(&f.log);
    p.starts_with(cx.world.host.layout.failed_dir())
        .then_some(p)
}

/// What failed, for [`record_failure`].
#[derive(Debug, Clone, Copy)]
pub struct Failed<'a> {
    /// Module.
    pub m: &'a str,
    /// Version.
    pub v: &'a str,
    /// Kernel.
    pub k: &'a str,
    /// Arch.
    pub a: &'a str,
    /// The exit status of the failed step.
    pub code: i32,
    /// Why, in one line (empty when the make.log tells).
    pub reason: &'a str,
    /// Keep a copy of the build's make.log (a build or install failed;
    /// not for a module whose build never started).
    pub with_log: bool,
}

/// Hook: record that m/v failed for k/a (keeping a copy of its make.log);
/// returns the log the record points to. A record that cannot be written
/// is said in the summary: the failure must not go unnoticed.
pub fn record_failure(cx: &mut Ctx, lock: &Locked, what: Failed) -> Option<PathBuf> {
    let l = &cx.world.host.layout;
    // The module was tried: a deferral that said it waits for its
    // BUILD_DEPENDS to be registered is no longer true; the failure says
    // what happened instead.
    for i in &cx.world.records.items {
        if i.kernel == what.k && i.arch == what.a && i.module == what.m {
            remove(cx, lock, &item_file(l, i));
        }
    }
    let build_log = l.build_dir(what.m, what.v).join("make.log");
    let mut f = Failure {
        module: what.m.into(),
        version: what.v.into(),
        kernel: what.k.into(),
        arch: what.a.into(),
        code: what.code,
        log: String::new(),
        when: crate::report::time::now(),
        reason: what.reason.into(),
    };
    let file = failure_file(l, &f);
    let saved = file.with_extension("make.log");
    let mut kept_copy = false;
    let log = if what.with_log && build_log.is_file() {
        let kept = lock
            .create_dir_all(&l.dkms, &l.failed_dir(), 0o755)
            .and_then(|()| lock.place_atomically(&l.dkms, &build_log, &saved, false));
        kept_copy = kept.is_ok();
        Some(if kept_copy { saved.clone() } else { build_log })
    } else {
        None
    };
    f.log = log
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let Err(e) = write(cx, lock, &file, &f) {
        if kept_copy {
            // A copy no record points to would only take space.
            let _ = lock.remove_file(&l.dkms, &saved);
        }
        let line = msg::failure_not_recorded(what.m, what.v, what.k, &file, &os_error(&e));
        unrecorded(cx, line);
        return log.filter(|p| *p != saved);
    }
    log
}
