//! The hooks' packaging step (framework.conf `publish_repo`): every module
//! this run installed is packaged into the repository, which is then
//! indexed. Soft: a failure is reported as a warning and never fails the
//! package operation that ran the hook.

use std::path::Path;

use crate::exec::msg;
use crate::exec::package;
use crate::exec::Ctx;
use crate::plan::package::Format;
use crate::plan::Mvka;
use crate::report::summary::HookResult;
use crate::report::Say;

/// The job; always succeeds.
pub fn run(
    cx: &mut Ctx,
    say: &mut dyn Say,
    repo: &Path,
    format: Format,
) -> crate::error::Result<()> {
    let a = cx.world.host.machine_arch.clone();
    let installed: Vec<Mvka> = cx
        .ledger
        .results
        .iter()
        .filter(|(_, _, _, r)| *r == HookResult::Installed)
        .filter_map(|(k, m, _, _)| {
            let v = cx.ledger.linked(cx.world, m, k, &a)?;
            Some(Mvka::new(m, &v, k, &a))
        })
        .collect();
    if installed.is_empty() {
        return Ok(());
    }
    let lock =
        match package::deliver::user_dir(repo).and_then(|()| package::deliver::lock_dir(repo)) {
            Ok(l) => l,
            Err(e) => {
                say.error(&e);
                say.warning(&[msg::auto_index_failed(repo)]);
                return Ok(());
            }
        };
    let mut any = false;
    for at in &installed {
        match package::build(cx.world, &lock, at, format, repo) {
            Ok(p) => {
                say.line(&msg::package_written(&p));
                any = true;
            }
            Err(e) => {
                say.error(&e);
                say.warning(&[msg::auto_publish_failed(&at.m, &at.v, &at.k, repo)]);
            }
        }
    }
    if any {
        if let Err(e) = super::index(&lock, say, repo) {
            say.error(&e);
            say.warning(&[msg::auto_index_failed(repo)]);
        }
    }
    Ok(())
}
