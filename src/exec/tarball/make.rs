//! `mktarball`: stage a module's built modules and its source (or, with
//! `--binaries-only`, its name, version and dkms.conf) in upstream's
//! archive layout, and pack the stage with GNU tar.
//!
//! The archive is still made by the `tar` program (`tar -C stage -caf
//! NAME .`, as upstream does): upstream's test suite and other tools read
//! what it writes (the `./` member names, GNU headers, the compression `-a`
//! picks from the name), and the `tar` crate writes neither the same
//! headers nor any compression. tar writes into the private directory;
//! the finished archive is then put in place in one rename, through the
//! tree-confined `fs` layer.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::scratch::Scratch;
use crate::child::Run;
use crate::error::{Error, Result};
use crate::exec::tarball::msg;
use crate::exec::{Ctx, Locked};
use crate::layout::is_safe_component;
use crate::report::Say;
use crate::text;

/// Longest kernel list (in characters, plus upstream's trailing newline)
/// that still goes into the tarball name; longer lists become `manykernels`.
const MAX_KERNEL_LIST: usize = 200;

/// Upstream `make_tarball`: archive the built modules for each (kernel, arch)
/// in `pairs` (unless `source_only`) plus the source (or, with
/// `binaries_only`, just dkms.conf and the name/version) as a tarball
/// named after the kernels, in `<dkms_tree>/<m>/<v>/tarball/` or where
/// `archive` (`--archive`) says.
#[allow(clippy::too_many_arguments)]
// File operation outside crate::fs: --archive names a place of the user's choosing, made as `mkdir -p` makes it.
#[allow(clippy::disallowed_methods)]
pub fn mktarball(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    m: &str,
    v: &str,
    pairs: &[(String, String)],
    archive: Option<&Path>,
    binaries_only: bool,
    source_only: bool,
) -> Result<()> {
    let world = cx.world;
    let tree = &world.host.layout;
    let scratch = Scratch::new(&world.host.settings.tmp_location)?;
    // The stage's own mode is the archive's `./` member: 0700, like
    // upstream's mktemp -d.
    let stage = scratch.path().join("stage");
    lock.create_dir_all(scratch.path(), &stage, 0o700)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &stage, e))?;
    let main_tree = stage.join("dkms_main_tree");
    lock.create_dir_all(&stage, &main_tree, 0o755)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &main_tree, e))?;

    let mut kernel_list = String::new();
    if source_only {
        kernel_list.push_str("source-only");
    } else {
        for (k, a) in pairs {
            for (what, s) in [(text::NAME_KERNEL_VERSION, k), (text::NAME_ARCH, a)] {
                if !is_safe_component(s) {
                    return Err(Error::usage([text::invalid_name_line(what, s)]));
                }
            }
            let built = tree.base_dir(m, v, k, a);
            if !built.is_dir() {
                return Err(Error::install_failed(text::no_modules_built(k, a)));
            }
            say.line(&text::marking_modules(k, a));
            if !kernel_list.is_empty() {
                kernel_list.push('-');
            }
            kernel_list.push_str(&format!("kernel{k}-{a}"));
            stage_tree(lock, &built, &stage, &main_tree.join(k).join(a))?;
        }
    }

    if binaries_only {
        say.blank();
        say.line(text::BINARIES_ONLY_LAYOUT);
        let conf = world
            .host
            .opts
            .conf
            .clone()
            .unwrap_or_else(|| source_dir(cx, m, v).join("dkms.conf"));
        stage_binaries_only(lock, &stage, m, v, &conf)?;
    } else {
        say.blank();
        say.line(&text::marking_source(&tree.source_link(m, v)));
        stage_tree(
            lock,
            &source_dir(cx, m, v),
            &stage,
            &stage.join("dkms_source_tree"),
        )?;
    }

    if kernel_list.chars().count() + 1 > MAX_KERNEL_LIST {
        kernel_list = "manykernels".to_string();
    }
    let (dest_dir, name) =
        tarball_destination(&tree.version_dir(m, v), m, v, &kernel_list, archive);
    say.blank();
    say.line(&text::tarball_location(
        &String::from_utf8_lossy(&dest_dir),
        &String::from_utf8_lossy(&name),
    ));

    let shown = String::from_utf8_lossy(&dest_dir).into_owned();
    let dir = if dest_dir.is_empty() {
        PathBuf::from("/")
    } else {
        PathBuf::from(OsString::from_vec(dest_dir))
    };
    // Under the dkms tree (the default) the directory is made through the
    // confined layer; `--archive` names a place of the user's choosing,
    // made as upstream's `mkdir -p` makes it.
    let base = if dir.starts_with(&tree.dkms) {
        tree.dkms.clone()
    } else {
        dir.clone()
    };
    let denied = || Error::tarball([text::no_write_permission(&shown)]);
    if !dir.is_dir() {
        let made = if base == dir {
            std::fs::create_dir_all(&dir).is_ok()
        } else {
            lock.create_dir_all(&base, &dir, 0o755).is_ok()
        };
        if !made {
            return Err(denied());
        }
    }
    if rustix::fs::access(dir.as_path(), rustix::fs::Access::WRITE_OK).is_err() {
        return Err(denied());
    }
    let name = OsStr::from_bytes(&name);
    let out = scratch.path().join("out");
    lock.create_dir_all(scratch.path(), &out, 0o700)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &out, e))?;
    let made = out.join(name);
    if !run_tar(&stage, &made) || place(lock, &made, &base, &dir.join(name)).is_err() {
        return Err(Error::install_failed([text::TARBALL_FAILED]));
    }
    Ok(())
}

/// Copy directory `from` to `to` in the stage (`cp -a`: links stay links,
/// modes and times kept).
fn stage_tree(lock: &Locked, from: &Path, stage: &Path, to: &Path) -> Result<()> {
    let _: &Locked = lock;
    lock.copy_tree(from, stage, to)
        .map_err(|e| Error::io(msg::CANNOT_WRITE, to, e))
}

/// `dkms_binaries_only/{PACKAGE_NAME,PACKAGE_VERSION,dkms.conf}`.
fn stage_binaries_only(lock: &Locked, stage: &Path, m: &str, v: &str, conf: &Path) -> Result<()> {
    let _: &Locked = lock;
    let bin = stage.join("dkms_binaries_only");
    lock.create_dir_all(stage, &bin, 0o755)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &bin, e))?;
    for (file, value) in [("PACKAGE_NAME", m), ("PACKAGE_VERSION", v)] {
        let p = bin.join(file);
        lock.write_atomic(stage, &p, format!("{value}\n").as_bytes(), 0o644)
            .map_err(|e| Error::io(msg::CANNOT_WRITE, &p, e))?;
    }
    // Upstream ignores a failure to copy dkms.conf here (`2>/dev/null`).
    let _ = lock.copy_file_into(conf, stage, &bin.join("dkms.conf"));
    Ok(())
}

/// `tar -C stage -caf archive .` (compression from the name, as upstream);
/// whether it succeeded.
fn run_tar(stage: &Path, archive: &Path) -> bool {
    let res = Command::new("tar")
        .arg("-C")
        .arg(stage)
        .arg("-caf")
        .arg(archive)
        .arg(".")
        .run_ok();
    // Upstream's message for a failed tar is the caller's; what tar said
    // goes to the debug log.
    if let Err(e) = &res {
        log::debug!("{e}");
    }
    res.is_ok()
}

/// Put the finished archive `made` at `to` (beneath `base`) in one rename.
fn place(lock: &Locked, made: &Path, base: &Path, to: &Path) -> std::io::Result<()> {
    let _: &Locked = lock;
    lock.copy_file_into(made, base, to)
}

/// Where mktarball writes: `(directory, file name)` as raw bytes, with
/// upstream's quirks kept (the default directory ends in `/`, so the printed
/// location has `//`; `--archive` splits at its last `/`).
fn tarball_destination(
    version_dir: &Path,
    m: &str,
    v: &str,
    kernels: &str,
    archive: Option<&Path>,
) -> (Vec<u8>, Vec<u8>) {
    let mut dir = version_dir.join("tarball").into_os_string().into_vec();
    dir.push(b'/');
    let mut name = format!("{m}-{v}-{kernels}.dkms.tar.gz").into_bytes();
    if let Some(a) = archive {
        let bytes = a.as_os_str().as_bytes();
        match bytes.iter().rposition(|&b| b == b'/') {
            Some(i) => {
                name = bytes[i + 1..].to_vec();
                dir = bytes[..i].to_vec();
            }
            None => name = bytes.to_vec(),
        }
    }
    (dir, name)
}

/// The registered source of m/v (the `source` link resolved under the root).
fn source_dir(cx: &Ctx, m: &str, v: &str) -> PathBuf {
    let l = &cx.world.host.layout;
    cx.world
        .tree
        .version(m, v)
        .map(|s| s.source_dir.clone())
        .unwrap_or_else(|| l.source_link(m, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(None, "/t/m/1.0/tarball/", "m-1.0-kernel6.1-x86_64.dkms.tar.gz")]
    #[case(Some("out.tgz"), "/t/m/1.0/tarball/", "out.tgz")]
    #[case(Some("/srv/a/out.tgz"), "/srv/a", "out.tgz")]
    #[case(Some("/out.tgz"), "", "out.tgz")]
    fn destination_follows_upstream(
        #[case] archive: Option<&str>,
        #[case] dir: &str,
        #[case] name: &str,
    ) {
        let (d, n) = tarball_destination(
            Path::new("/t/m/1.0"),
            "m",
            "1.0",
            "kernel6.1-x86_64",
            archive.map(Path::new),
        );
        assert_eq!(
            (String::from_utf8(d).unwrap(), String::from_utf8(n).unwrap()),
            (dir.to_string(), name.to_string())
        );
    }
}
