//! Building a binary module package of an installed build (`dkms-hook
//! package`, `dkms mkbmdeb`, and the hooks when `publish_repo` is set):
//! gather the installed module files ([`payload`]), stage them with fixed
//! modes and times ([`staging`]), build the `.deb` ([`deb`]) or `.rpm`
//! ([`rpm`]), and move the result into place ([`deliver`]). Nothing in the
//! trees is written: the module's `dkms status` stays as it was.
//!
//! The package's epoch (its file times and build time) is
//! SOURCE_DATE_EPOCH when set, else the time of the build's make.log, else
//! 0, so packaging the same build twice gives the same bytes.

pub mod deb;
pub mod deliver;
pub mod payload;
pub mod rpm;
pub mod staging;
pub mod tool;

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::error::{Error, Kind, Result};
use crate::exec::msg;
use crate::exec::{Ctx, Locked};
use crate::observe::prebuilt::Prebuilt;
use crate::observe::World;
use crate::plan::package::{naming, package, Format};
use crate::plan::Mvka;
use crate::report::Say;

/// `dkms-hook package`: package `at` in `format` into `out`, a directory
/// the user named (created when missing, its own lock held while the
/// package goes in); says where it went.
pub fn run(cx: &mut Ctx, say: &mut dyn Say, at: &Mvka, format: Format, out: &Path) -> Result<()> {
    deliver::user_dir(out)?;
    let lock = deliver::lock_dir(out)?;
    let built = build(cx.world, &lock, at, format, out);
    if let Err(e) = lock.release_removing() {
        // Only a stray dot file is left, and the next package run locks it.
        log::debug!("lock file left in {}: {e}", out.display());
    }
    say.line(&msg::package_written(&built?));
    Ok(())
}

/// `dkms mkbmdeb`: package `at` as a `.deb` into `out` inside the dkms
/// tree, under the run's lock; says where it went.
pub fn run_in_tree(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    out: &Path,
) -> Result<()> {
    let dkms = &cx.world.host.layout.dkms;
    deliver::tree_dir(lock, dkms, out)?;
    let path = build(cx.world, lock, at, Format::Deb, out)?;
    say.line(&msg::package_written(&path));
    Ok(())
}

/// Package `at` in `format` into the directory `out` (which exists, and
/// which `lock` guards); returns the package's path.
pub fn build(
    world: &World,
    lock: &Locked,
    at: &Mvka,
    format: Format,
    out: &Path,
) -> Result<PathBuf> {
    match format {
        Format::Deb => tool::require("dpkg-deb", "dpkg")?,
        Format::Rpm => tool::require("rpmbuild", "rpm")?,
    }
    let files = payload::collect(world, at)?;
    let record = Prebuilt {
        module: at.m.clone(),
        version: at.v.clone(),
        kernel: at.k.clone(),
        arch: at.a.clone(),
        package: naming::package_name(&at.m, &at.k),
        files: files.iter().map(|f| f.dest.clone()).collect(),
    };
    let license = payload::license(&files);
    let p = package(format, record, files, &license, epoch(world, at));
    let work = tempfile::Builder::new()
        .prefix("dkms-hook-package-")
        .tempdir()
        .map_err(|e| {
            Error::io(msg::CANNOT_WRITE_PACKAGE, &std::env::temp_dir(), e)
                .into_kind(Kind::InstallFailed)
        })?;
    let tree = work.path().join("tree");
    staging::payload(&tree, &p)?;
    let name = p.file_name(format);
    let built = match format {
        Format::Deb => {
            let file = work.path().join(&name);
            deb::build(&p, &tree, &file)?;
            file
        }
        Format::Rpm => rpm::build(&p, &tree, work.path())?,
    };
    let base = deliver::base_for(out, &world.host.layout.dkms);
    deliver::file(lock, &built, &base, out, &name)
}

/// SOURCE_DATE_EPOCH, else the time of the build's make.log, else 0.
fn epoch(world: &World, at: &Mvka) -> u64 {
    if let Some(e) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        return e;
    }
    let log = world
        .host
        .layout
        .base_dir(&at.m, &at.v, &at.k, &at.a)
        .join("log/make.log");
    std::fs::metadata(log)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
