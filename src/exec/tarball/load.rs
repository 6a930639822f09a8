//! `ldtarball` (and `add --archive`): load an archive into the trees as
//! upstream's `load_tarball` does, after every check on it has passed
//! (see the parent module), then register what it holds.
//!
//! A dkms.conf from the archive is read only once the archive is checked
//! and unpacked into the private directory, by the same reader as every
//! other dkms.conf: the static reader when it claims the file, bash when
//! the file needs it (upstream always sources it). Its PACKAGE_NAME and
//! PACKAGE_VERSION are then checked (safe path components; not already
//! added, unless `--force`) before the first byte goes into a tree.

use std::io;
use std::path::Path;

use super::check::{check, Candidate, Checked, Layout, Prebuilt, Refusal};
use super::list::{members, Stop, LIMITS};
use super::scratch::Scratch;
use super::unpack::unpack;
use crate::error::{Error, Kind, Result};
use crate::exec::tarball::msg;
use crate::exec::{Ctx, Locked};
use crate::fs;
use crate::layout::is_safe_component;
use crate::observe::conf::ModuleConf;
use crate::observe::ConfKey;
use crate::report::Say;
use crate::text;

/// `ldtarball` (and `add` of an archive): load it, then register what it
/// holds when it holds a source and `add` asks for it.
pub fn ldtarball_and_add(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    archive: &Path,
    add: bool,
) -> Result<()> {
    let (m, v, has_source) = load(cx, say, lock, archive)?;
    if !add || !has_source {
        return Ok(());
    }
    let l = &cx.world.host.layout;
    if cx.ledger.is_added(cx.world, &m, &v) {
        return Err(Error::state(text::already_added(&m, &v)));
    }
    let conf_path = l.source_tree_dir(&m, &v).join("dkms.conf");
    let (k, a) = (
        cx.world.host.running_kernel.clone(),
        cx.world.host.machine_arch.clone(),
    );
    let key = ConfKey {
        shown: conf_path.clone(),
        path: conf_path,
        module: m.clone(),
        version: v.clone(),
        kernel: k,
        arch: a,
        strict: true,
    };
    let read = cx.world.read_conf_now(&key);
    if let Err(e) = &read.result {
        for l in &e.lines {
            say.eline(l);
        }
        return Err(e.error.clone());
    }
    crate::exec::add::add_read(cx, lock, say, &m, &v, &read, false)
}

/// Upstream's `load_tarball`: check and unpack `archive`, copy its source
/// to `<source_tree>/<m>-<v>` (or make the binaries-only stub
/// `<dkms_tree>/<m>/<v>/source/dkms.conf`), load its prebuilt modules,
/// and return `(module, version, has_source)`.
fn load(
    cx: &mut Ctx,
    say: &mut dyn Say,
    lock: &Locked,
    archive: &Path,
) -> Result<(String, String, bool)> {
    if std::fs::metadata(archive).is_err() {
        return Err(Error::usage([text::archive_missing(archive)]));
    }
    if archive.as_os_str().as_encoded_bytes().ends_with(b".rpm") {
        return Err(Error::tarball(text::rpm_unsupported(archive)));
    }
    let scratch = Scratch::new(&cx.world.host.settings.tmp_location)?;
    // A private copy: the archive cannot change between the checks and
    // the unpacking.
    let copy = scratch.path().join("archive");
    private_copy(lock, archive, scratch.path(), &copy)
        .map_err(|e| Error::io(msg::CANNOT_READ, archive, e).into_kind(Kind::Tarball))?;
    let listed = members(&copy, &LIMITS).map_err(|s| stopped(say, archive, s))?;
    let checked = check(&listed).map_err(|r| match r {
        Refusal::Unsafe(why) => unsafe_archive(archive, &why),
        Refusal::NotDkms => Error::state([text::NOT_A_DKMS_ARCHIVE]),
        Refusal::NoValidConf => Error::built_missing(text::no_valid_conf(archive)),
    })?;
    let root = scratch.path().join("tree");
    lock.create_dir_all(scratch.path(), &root, 0o700)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &root, e))?;
    unpack(lock, &copy, &listed, &checked, &root).map_err(|s| stopped(say, archive, s))?;
    // Every check on the archive has passed: only now may its dkms.conf
    // be read (and run, when it needs bash).
    load_checked(cx, say, lock, archive, &root, checked)
}

/// Copy `archive` to `copy` (beneath `scratch`, new, 0600).
fn private_copy(lock: &Locked, archive: &Path, scratch: &Path, copy: &Path) -> io::Result<()> {
    let _: &Locked = lock;
    // A FIFO or device named as the archive is refused, not waited on.
    let mut from = crate::fs::open_regular(archive)?;
    let mut to = lock.create_new(scratch, copy, 0o600)?;
    io::copy(&mut from, &mut to)?;
    Ok(())
}

/// Load the unpacked, checked archive at `root` into the trees.
fn load_checked(
    cx: &mut Ctx,
    say: &mut dyn Say,
    lock: &Locked,
    archive: &Path,
    root: &Path,
    checked: Checked,
) -> Result<(String, String, bool)> {
    let (candidates, prebuilt) = match checked.layout {
        Layout::Plain { source } => {
            let (m, v) = add_source_tree(cx, say, lock, &root.join(source), archive)?;
            return Ok((m, v, true));
        }
        Layout::Made {
            candidates,
            prebuilt,
        } => (candidates, prebuilt),
    };
    let (candidate, m, v) = pick_conf(cx, say, root, &candidates, archive)?;
    say.blank();
    say.line(&text::loading_tarball(&m, &v));
    let tree = &cx.world.host.layout;
    match candidate {
        Candidate::Source => {
            add_source_tree(cx, say, lock, &root.join(candidate.dir()), archive)?;
        }
        Candidate::BinariesOnly => {
            // A source already on the system is kept; no stub then.
            if !tree.source_tree_dir(&m, &v).is_dir() {
                binaries_only_stub(cx, say, lock, &root.join(candidate.dir()), &m, &v)?;
            }
        }
    }
    for p in &prebuilt {
        load_prebuilt(cx, say, lock, root, p, &m, &v)?;
    }
    let has_source = candidate != Candidate::BinariesOnly
        || cx.world.host.layout.source_tree_dir(&m, &v).is_dir();
    Ok((m, v, has_source))
}

/// Upstream's loop over `dkms_source_tree` then `dkms_binaries_only`: the
/// first dkms.conf with a name and version wins; an added m/v is refused
/// (exit 8) unless `--force`.
fn pick_conf(
    cx: &mut Ctx,
    say: &mut dyn Say,
    root: &Path,
    candidates: &[Candidate],
    archive: &Path,
) -> Result<(Candidate, String, String)> {
    for &candidate in candidates {
        let conf = root.join(candidate.dir()).join("dkms.conf");
        let c = read_conf(cx, say, &conf)?;
        if c.package_name.is_empty() || c.package_version.is_empty() {
            say.eline("");
            say.eline(text::MALFORMED_REFUSING);
            continue;
        }
        check_conf_names(&c.package_name, &c.package_version, archive)?;
        if cx
            .ledger
            .is_added(cx.world, &c.package_name, &c.package_version)
            && !cx.world.host.opts.force
        {
            return Err(Error::bad_conf(text::tarball_already_added(
                &c.package_name,
                &c.package_version,
            )));
        }
        return Ok((candidate, c.package_name, c.package_version));
    }
    Err(Error::built_missing(text::no_valid_conf(archive)))
}

/// Upstream's `add_source_tree` for the unpacked directory `dir`: read its
/// dkms.conf and copy it to `<source_tree>/<PACKAGE_NAME>-<PACKAGE_VERSION>`.
///
/// Upstream copies first and refuses an m/v that is already added
/// afterwards (exit 3, in `add_module`); here that refusal comes first,
/// so without `--force` the registered source keeps every byte. With
/// `--force` the source is replaced, and the caller refuses the add as
/// upstream does.
// File operation outside crate::fs: the source tree's own directory (/usr/src) is configuration, made as given.
#[allow(clippy::disallowed_methods)]
fn add_source_tree(
    cx: &mut Ctx,
    say: &mut dyn Say,
    lock: &Locked,
    dir: &Path,
    archive: &Path,
) -> Result<(String, String)> {
    let _: &Locked = lock;
    if !is_real_file(&dir.join("dkms.conf")) {
        return Err(Error::tarball([text::must_contain_conf(dir)]));
    }
    if !cx.world.host.is_root {
        return Err(Error::denied([text::MUST_BE_ROOT]));
    }
    let c = read_conf(cx, say, &dir.join("dkms.conf"))?;
    if c.package_name.is_empty() || c.package_version.is_empty() {
        return Err(Error::build_failed([text::MALFORMED_SOURCE_TREE]));
    }
    let (m, v) = (c.package_name, c.package_version);
    check_conf_names(&m, &v, archive)?;
    let force = cx.world.host.opts.force;
    if !force && cx.ledger.is_added(cx.world, &m, &v) {
        return Err(Error::state(text::already_added(&m, &v)));
    }
    let l = &cx.world.host.layout;
    let dest = l.source_tree_dir(&m, &v);
    if fs::is_symlink(&dest) {
        return Err(Error::tarball([msg::source_dest_is_link(&dest)]));
    }
    if force && dest.is_dir() {
        say.eline("");
        say.line(&text::forcing_install_of(&m, &v));
        lock.remove_all(&l.source, &dest)
            .map_err(|e| Error::io(msg::CANNOT_REMOVE, &dest, e))?;
    }
    // The source tree's own directory is configuration, made as given.
    std::fs::create_dir_all(&l.source).map_err(|e| Error::io(msg::CANNOT_CREATE, &l.source, e))?;
    lock.copy_tree_replacing(dir, &l.source, &dest)
        .map_err(|e| Error::io(msg::CANNOT_WRITE, &dest, e))?;
    Ok((m, v))
}

/// A binaries-only archive without a source on the system: its dkms.conf
/// becomes `<dkms_tree>/<m>/<v>/source/dkms.conf`.
fn binaries_only_stub(
    cx: &Ctx,
    say: &mut dyn Say,
    lock: &Locked,
    from: &Path,
    m: &str,
    v: &str,
) -> Result<()> {
    let _: &Locked = lock;
    let l = &cx.world.host.layout;
    let source_dir = l.version_dir(m, v).join("source");
    say.line(&text::creating(&source_dir));
    if fs::is_symlink(&source_dir) {
        lock.remove_file(&l.dkms, &source_dir)
            .map_err(|e| Error::io(msg::CANNOT_REMOVE, &source_dir, e))?;
    }
    lock.create_dir_all(&l.dkms, &source_dir, 0o755)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &source_dir, e))?;
    say.line(&text::copying_conf(&source_dir));
    let conf = source_dir.join("dkms.conf");
    lock.copy_file_into(&from.join("dkms.conf"), &l.dkms, &conf)
        .map_err(|e| Error::io(msg::CANNOT_WRITE, &conf, e))
}

/// One kernel's prebuilt modules into `<dkms_tree>/<m>/<v>/<k>/<a>`; one
/// that is already there is kept (a warning) unless `--force`.
fn load_prebuilt(
    cx: &Ctx,
    say: &mut dyn Say,
    lock: &Locked,
    root: &Path,
    p: &Prebuilt,
    m: &str,
    v: &str,
) -> Result<()> {
    let _: &Locked = lock;
    let l = &cx.world.host.layout;
    let dest = l.base_dir(m, v, &p.kernel, &p.arch);
    if dest.is_dir() && !cx.world.host.opts.force {
        say.eline(&text::prebuilt_exists(&dest));
        return Ok(());
    }
    say.line(&text::loading(&dest));
    lock.remove_all(&l.dkms, &dest)
        .map_err(|e| Error::io(msg::CANNOT_REMOVE, &dest, e))?;
    lock.create_dir_all(&l.dkms, &dest, 0o755)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, &dest, e))?;
    lock.copy_tree_replacing(&root.join(&p.dir), &l.dkms, &dest)
        .map_err(|e| Error::io(msg::CANNOT_WRITE, &dest, e))
}

/// PACKAGE_NAME and PACKAGE_VERSION from an archive become path components
/// in the trees: refuse anything that could escape them.
fn check_conf_names(m: &str, v: &str, archive: &Path) -> Result<()> {
    for (what, s) in [("PACKAGE_NAME", m), ("PACKAGE_VERSION", v)] {
        if !is_safe_component(s) {
            return Err(Error::tarball(msg::unsafe_conf_name(archive, what, s)));
        }
    }
    Ok(())
}

/// Read a dkms.conf that came out of the archive (it did not exist when
/// the run observed the world, so it is read here, by the same reader) as
/// upstream's `read_conf_or_die` does, for the running kernel.
fn read_conf(cx: &mut Ctx, say: &mut dyn Say, path: &Path) -> Result<ModuleConf> {
    let (k, a) = (
        cx.world.host.running_kernel.clone(),
        cx.world.host.machine_arch.clone(),
    );
    let key = ConfKey::new(
        path.to_path_buf(),
        path.to_path_buf(),
        ["", "", &k, &a],
        false,
    );
    let read = cx.world.read_conf_now(&key);
    for l in &read.directive_lines {
        say.line(l);
    }
    match read.result {
        Ok(c) => Ok(c),
        Err(e) => {
            for l in &e.lines {
                say.eline(l);
            }
            Err(e.error)
        }
    }
}

/// The error for reading or unpacking the archive that stopped.
fn stopped(say: &mut dyn Say, archive: &Path, stop: Stop) -> Error {
    match stop {
        // Upstream's error for an archive tar cannot read, after the cause.
        Stop::Unreadable(cause) => {
            say.eline(&msg::cannot_read_archive(archive, &cause));
            Error::state([text::NOT_A_DKMS_ARCHIVE])
        }
        Stop::Spawn(program, cause) => {
            Error::tarball([msg::cannot_run_decompressor(program, &cause)])
        }
        Stop::Refused(why) => unsafe_archive(archive, &why),
        Stop::Write(cause) => Error::tarball([msg::cannot_extract(archive, &cause)]),
    }
}

/// The exit-9 error for a hostile or malformed archive.
fn unsafe_archive(archive: &Path, why: &str) -> Error {
    Error::tarball(msg::unsafe_archive(archive, why))
}

fn is_real_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| m.is_file())
        .unwrap_or(false)
}
