//! Writing the deferred-work queue and the failure records (read by
//! `observe::pending`): one small JSON file per entry, written atomically,
//! so nothing is lost when a run is killed. A failure record keeps its own
//! copy of the make.log it points to, so the next build of the module (which
//! starts by emptying the build directory) cannot take the evidence away.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::exec::{Ctx, Locked};
use crate::observe::pending::{failure_file, item_file, Failure, Item, Reason};
use crate::report::Say;
use crate::text;

fn write<T: serde::Serialize>(
    cx: &Ctx,
    lock: &Locked,
    path: &std::path::Path,
    value: &T,
) -> Result<()> {
    let l = &cx.world.host.layout;
    if let Some(dir) = path.parent() {
        lock.create_dir_all(&l.dkms, dir, 0o755)
            .map_err(|e| Error::io(text::CANNOT_CREATE, dir, e))?;
    }
    let data = serde_json::to_vec_pretty(value).map_err(|e| Error::msg(e.to_string()))?;
    crate::fault::point("pending:before-persist");
    lock.write_atomic(&l.dkms, path, &data, 0o644)
        .map_err(|e| Error::io(text::CANNOT_WRITE, path, e))
}

fn add_item(cx: &Ctx, lock: &Locked, mut item: Item) -> Result<()> {
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
    say.line(&text::hook_headers_deferred(k, package));
    cx.ledger
        .headers_deferred
        .push((k.to_string(), package.to_string()));
    add_item(
        cx,
        lock,
        Item {
            kernel: k.into(),
            arch: a.into(),
            reason: Reason::HeadersMissing,
            module: String::new(),
            detail: package.into(),
            since: 0,
        },
    )
    .map_err(|e| Error::msg(text::cannot_record_pending(k, &e.lines().join(" "))))
}

/// Hook: m waits for BUILD_DEPENDS not registered with DKMS.
pub fn defer_module(
    cx: &mut Ctx,
    lock: &Locked,
    k: &str,
    a: &str,
    m: &str,
    deps: &[String],
) -> Result<()> {
    add_item(
        cx,
        lock,
        Item {
            kernel: k.into(),
            arch: a.into(),
            reason: Reason::BuildDepends,
            module: m.into(),
            detail: deps.join(" "),
            since: 0,
        },
    )
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
                let _ = lock.remove_file(&l.dkms, &saved);
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
                let _ = lock.remove_file(&l.dkms, &saved);
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

/// Hook: record that m/v failed for k/a (keeping a copy of its make.log);
/// returns the log the record points to.
pub fn record_failure(
    cx: &mut Ctx,
    lock: &Locked,
    k: &str,
    a: &str,
    m: &str,
    v: &str,
    code: i32,
) -> Option<PathBuf> {
    let l = &cx.world.host.layout;
    let build_log = l.build_dir(m, v).join("make.log");
    let mut f = Failure {
        module: m.into(),
        version: v.into(),
        kernel: k.into(),
        arch: a.into(),
        code,
        log: String::new(),
        when: crate::report::time::now(),
    };
    let saved = failure_file(l, &f).with_extension("make.log");
    let log = if build_log.is_file() {
        let kept = lock
            .create_dir_all(&l.dkms, &l.failed_dir(), 0o755)
            .and_then(|()| lock.place_atomically(&l.dkms, &build_log, &saved, false));
        Some(if kept.is_ok() { saved } else { build_log })
    } else {
        None
    };
    f.log = log
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let _ = write(cx, lock, &failure_file(l, &f), &f);
    log
}
