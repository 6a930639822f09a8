//! A build's result made visible all at once: the modules (stripped,
//! signed, compressed like the kernel's own), Module.symvers and make.log
//! are staged in a temporary directory beside the kernel's, which then
//! replaces the previous result by one rename or exchange. A build killed
//! at any point leaves either the previous result or the new one, never a
//! mix.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::child::Run;
use crate::error::{Error, Kind, Result};
use crate::exec::build_input::BuildInput;
use crate::exec::msg;
use crate::exec::Locked;
use crate::layout::TMP_BUILD;
use crate::observe::World;
use crate::report::Say;
use crate::text;

/// Stage the modules built in `bdir` (its log at `log`) and publish them
/// as the build of the input's module, kernel and arch; returns where.
pub fn publish(
    input: &BuildInput,
    say: &mut dyn Say,
    bdir: &Path,
    log: &Path,
    env: &[(String, String)],
) -> Result<PathBuf> {
    let (world, lock, at) = (input.world, input.lock, &input.at);
    let l = &world.host.layout;
    let base = &l.dkms;
    let kdir = l.kernel_dir(&at.m, &at.v, &at.k);
    lock.create_dir_all(base, &kdir, 0o755)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &kdir, e).into_kind(Kind::BuiltModuleMissing))?;
    let tmp = lock
        .temp_dir(base, &kdir, &format!("{TMP_BUILD}{}_", at.a))
        .map_err(|e| Error::io(msg::NO_TEMP_DIR_IN, &kdir, e))?;
    let staged = tmp.path().to_path_buf();
    for sub in ["log", "module"] {
        let d = staged.join(sub);
        lock.create_dir_all(base, &d, 0o755).map_err(|e| {
            Error::io(msg::CANNOT_CREATE, &d, e).into_kind(Kind::BuiltModuleMissing)
        })?;
    }
    let symvers = bdir.join("Module.symvers");
    if symvers.is_file() {
        copy(lock, base, &symvers, &staged.join("module/Module.symvers"))?;
    }
    let suffix = input.kernel.suffix;
    for r in input.conf.modules.iter().filter(|r| r.buildable) {
        let built = bdir.join(format!("{}{}.ko", r.built_location, r.built_name));
        if r.strip {
            strip(&built, env);
        }
        if let Some(s) = &input.signer {
            s.sign(say, &built);
        }
        let out = staged
            .join("module")
            .join(format!("{}.ko{}", r.dest_name, suffix));
        compress_into(world, lock, base, &built, suffix, &out)?;
    }
    lock.set_mode(base, &staged, 0o755).map_err(|e| {
        Error::io(msg::CANNOT_CREATE, &staged, e).into_kind(Kind::BuiltModuleMissing)
    })?;
    // The log travels with the build, so a published build always has one
    // (and a build directory without a make.log is a finished one). A log
    // that cannot move stays behind for the user; the build stands.
    if let Err(e) = lock.rename(base, log, &staged.join("log/make.log")) {
        log::debug!("make.log stays in {}: {e}", log.display());
    }
    crate::fault::point("build:before-rename");
    // Publish atomically: a first build by rename, a rebuild by exchanging
    // the two directories, so there is never a moment without one.
    let published = l.base_dir(&at.m, &at.v, &at.k, &at.a);
    let kept = tmp.keep();
    let res = if published.exists() {
        lock.exchange(base, &kept, &published)
    } else {
        lock.rename(base, &kept, &published)
    };
    if let Err(e) = res {
        // The error that counts is the rename's; an unpublished result goes in the next build.
        let _ = lock.remove_all(base, &kept);
        return Err(Error::built_missing([text::final_mv_failed(
            &crate::error::os_error(&e),
        )]));
    }
    // After an exchange `kept` holds the previous build: best effort, the
    // next build of this kernel removes a leftover.
    let _ = lock.remove_all(base, &kept);
    crate::fault::point("build:after-rename");
    Ok(published)
}

/// Upstream strips with its output discarded and goes on when strip fails
/// (the module is only bigger): so do we, logging why.
fn strip(built: &Path, env: &[(String, String)]) {
    let prog = if env.iter().any(|(k, v)| k == "CC" && v == "clang") {
        "llvm-strip"
    } else {
        "strip"
    };
    if let Err(e) = Command::new(prog).arg("-g").arg(built).run_ok() {
        log::debug!("{e}");
    }
}

fn copy(lock: &Locked, base: &Path, from: &Path, to: &Path) -> Result<()> {
    lock.place_atomically(base, from, to, false)
        .map_err(|e| Error::io(msg::CANNOT_COPY_TO, to, e).into_kind(Kind::BuiltModuleMissing))
}

/// Copy `built` to `out`, compressed like the kernel's modules (`suffix`);
/// upstream falls back to the uncompressed module when compression fails.
fn compress_into(
    world: &World,
    lock: &Locked,
    base: &Path,
    built: &Path,
    suffix: &str,
    out: &Path,
) -> Result<()> {
    let s = &world.host.settings;
    let (prog, opts) = match suffix {
        ".gz" => ("gzip", s.compress_gzip_opts.as_str()),
        ".xz" => ("xz", s.compress_xz_opts.as_str()),
        ".zst" => ("zstd", s.compress_zstd_opts.as_str()),
        _ => return copy(lock, base, built, out),
    };
    let opts: Vec<&str> = opts.split_whitespace().filter(|o| *o != "--rm").collect();
    let file = lock
        .create_file(base, out, true)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, out, e).into_kind(Kind::BuiltModuleMissing))?;
    let st = Command::new(prog)
        .args(&opts)
        .arg("-c")
        .arg(built)
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(std::process::Stdio::null())
        .run_status();
    match st {
        Ok(s) if s.success() => Ok(()),
        _ => {
            // Upstream falls back to the uncompressed module. The partial
            // compressed file must go first: left beside it, install would
            // take it (compressed names win), so failing to remove it fails
            // the build.
            lock.remove_file(base, out).map_err(|e| {
                Error::io(msg::CANNOT_REMOVE, out, e).into_kind(Kind::BuiltModuleMissing)
            })?;
            let plain = out.with_file_name(
                out.file_name()
                    .and_then(|n| n.to_str())
                    .map(|n| n.trim_end_matches(suffix).to_string())
                    .unwrap_or_default(),
            );
            copy(lock, base, built, &plain)
        }
    }
}
