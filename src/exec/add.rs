//! Registering a module (upstream's `add_module`) and copying a source
//! directory given on the command line into the source tree
//! (`add_source_tree`).

use std::path::Path;

use crate::error::{Error, Result};
use crate::exec::build::run_script;
use crate::exec::msg;
use crate::exec::{Ctx, Locked};
use crate::observe::conf::{ConfRead, ModuleConf};
use crate::observe::ConfKey;
use crate::report::Say;
use crate::text;

/// `add`: check the conf strictly, link `<m>/<v>/source` to the source,
/// create `<m>/<v>/build`, run POST_ADD; an empty line after it when the
/// add was implied by build or install.
pub fn add(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    m: &str,
    v: &str,
    key: &ConfKey,
    blank: bool,
) -> Result<()> {
    let conf = cx.conf(say, key)?;
    finish(cx, lock, say, m, v, conf, blank)
}

/// [`add`] with a conf read during the run (an unpacked archive's).
pub fn add_read(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    m: &str,
    v: &str,
    read: &ConfRead,
    blank: bool,
) -> Result<()> {
    let conf = match &read.result {
        Ok(c) => c,
        Err(e) => return Err(e.error.clone()),
    };
    for d in conf.deprecations.iter().chain(&conf.strict_warnings) {
        say.eline(d);
    }
    finish(cx, lock, say, m, v, conf, blank)
}

fn finish(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    m: &str,
    v: &str,
    conf: &ModuleConf,
    blank: bool,
) -> Result<()> {
    let world = cx.world;
    let l = &world.host.layout;
    let src = l.source_tree_dir(m, v);
    let inside = l.root.inside(&src);
    let link = l.source_link(m, v);
    say.line(&text::creating_symlink(&link, &inside));
    let build = l.build_dir(m, v);
    lock.create_dir_all(&l.dkms, &build, 0o755)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &build, e))?;
    lock.replace_symlink(&l.dkms, &inside, &link)
        .map_err(|e| Error::io(msg::CANNOT_CREATE_SYMLINK, &link, e))?;
    cx.ledger.set_added(m, v);
    let dir = crate::exec::build::script_dir(world, m, v);
    // Upstream ignores POST_ADD's result; run_script has said what went wrong.
    let _ = run_script(world, say, "post_add", &conf.post_add, &dir, None, &[], m);
    if blank {
        say.blank();
    }
    Ok(())
}

/// upstream's `add_source_tree`: copy `dir` (holding a dkms.conf) to
/// `<source_tree>/<PACKAGE_NAME>-<PACKAGE_VERSION>`; with `--force` an
/// existing copy is replaced.
pub fn add_source_tree(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    dir: &Path,
    key: &ConfKey,
) -> Result<()> {
    let world = cx.world;
    let Some(Ok(conf)) = world.conf(key).map(|r| &r.result) else {
        return Err(Error::build_failed([text::MALFORMED_SOURCE_TREE]));
    };
    let (m, v) = (conf.package_name.as_str(), conf.package_version.as_str());
    let l = &world.host.layout;
    let dest = l.source_tree_dir(m, v);
    if world.host.opts.force && dest.is_dir() {
        say.eline("");
        say.line(&text::forcing_install_of(m, v));
        lock.remove_all(&l.source, &dest)
            .map_err(|e| Error::io(msg::CANNOT_REMOVE, &dest, e))?;
    }
    let from = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if from == dest || from == l.source_link(m, v) || from == l.build_dir(m, v) {
        return Ok(());
    }
    lock.copy_tree(&from, &l.source, &dest)
        .map_err(|e| Error::denied([msg::cannot_copy(&from, &dest, &crate::error::os_error(&e))]))
}
