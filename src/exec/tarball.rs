//! `mktarball` and `ldtarball`: pack a module's source and built modules into
//! upstream's archive layout, and load such an archive (or a plain source
//! tarball) back into the trees.
//!
//! Archive layout (upstream's, other tools read it):
//!
//! - `dkms_main_tree/<kver>/<arch>/{module,log,...}`: prebuilt modules;
//! - `dkms_source_tree/`: the module source with its dkms.conf, or
//! - `dkms_binaries_only/{PACKAGE_NAME,PACKAGE_VERSION,dkms.conf}`.
//!
//! Loading treats the archive as hostile: it is copied into a private
//! temporary directory, listed with GNU tar and rejected as a whole (exit 9)
//! if any entry is absolute, has a `..` component, is a hard link, a device
//! or a fifo, is a symlink leaving the archive, or lies beneath a symlink.
//! Only then is it extracted (into the temporary directory), walked again
//! without following links, and copied into the trees without following
//! links. Nothing is written to any tree before every check has passed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::exec::{Ctx, Locked};
use crate::fs::is_symlink;
use crate::layout::is_safe_component;
use crate::observe::ConfKey;
use crate::report::Say;
use crate::text;

/// Longest kernel list (in characters, plus upstream's trailing newline)
/// that still goes into the tarball name; longer lists become `manykernels`.
const MAX_KERNEL_LIST: usize = 200;

/// Symlink hops followed when checking where a link in an archive leads.
const MAX_LINK_HOPS: usize = 40;

// ---------------------------------------------------------------------------
// mktarball
// ---------------------------------------------------------------------------

/// Upstream `make_tarball`: archive the built modules for each (kernel, arch)
/// in `pairs` (unless `source_only`) plus the source (or, with
/// `binaries_only`, just dkms.conf and the name/version) as a gzip tarball
/// named after the kernels, in `<dkms_tree>/<m>/<v>/tarball/` or where
/// `archive` (`--archive`) says.
#[allow(clippy::too_many_arguments)]
pub fn mktarball(
    cx: &mut Ctx,
    _lock: &Locked,
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
    let scratch = Scratch::new(cx)?;
    let stage = scratch.path().to_path_buf();
    let main_tree = stage.join("dkms_main_tree");
    fs::create_dir(&main_tree).map_err(|e| Error::io(text::CANNOT_CREATE, &main_tree, e))?;

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
            let kdir = main_tree.join(k);
            fs::create_dir_all(&kdir).map_err(|e| Error::io(text::CANNOT_CREATE, &kdir, e))?;
            copy_tree(&built, &kdir.join(a))?;
        }
    }

    let source_link = tree.source_link(m, v);
    if binaries_only {
        say.blank();
        say.line(text::BINARIES_ONLY_LAYOUT);
        let bin = stage.join("dkms_binaries_only");
        fs::create_dir(&bin).map_err(|e| Error::io(text::CANNOT_CREATE, &bin, e))?;
        write_new(&bin.join("PACKAGE_NAME"), format!("{m}\n").as_bytes())?;
        write_new(&bin.join("PACKAGE_VERSION"), format!("{v}\n").as_bytes())?;
        let conf = world
            .host
            .opts
            .conf
            .clone()
            .unwrap_or_else(|| source_dir(cx, m, v).join("dkms.conf"));
        // Upstream ignores a failure to copy dkms.conf here.
        let _ = fs::copy(&conf, bin.join("dkms.conf"));
    } else {
        say.blank();
        say.line(&text::marking_source(&source_link));
        copy_tree(&source_dir(cx, m, v), &stage.join("dkms_source_tree"))?;
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
    let denied = || Error::tarball([text::no_write_permission(&shown)]);
    if !dir.is_dir() && fs::create_dir_all(&dir).is_err() {
        return Err(denied());
    }
    if nix::unistd::access(dir.as_path(), nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(denied());
    }
    let ok = Command::new("tar")
        .arg("-C")
        .arg(&stage)
        .arg("-caf")
        .arg(dir.join(OsStr::from_bytes(&name)))
        .arg(".")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return Err(Error::install_failed([text::TARBALL_FAILED]));
    }
    Ok(())
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

// ---------------------------------------------------------------------------
// ldtarball
// ---------------------------------------------------------------------------

/// Where a tarball's module came from inside the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `dkms_source_tree/`.
    Source,
    /// `dkms_binaries_only/`.
    BinariesOnly,
}

impl Layout {
    fn dir(self) -> &'static str {
        match self {
            Layout::Source => "dkms_source_tree",
            Layout::BinariesOnly => "dkms_binaries_only",
        }
    }
}

/// Upstream `load_tarball`: validate and unpack `archive`, copy its source to
/// `<source_tree>/<m>-<v>` (or create the binaries-only stub
/// `<dkms_tree>/<m>/<v>/source/dkms.conf`), load its prebuilt modules, and
/// return `(module, version, has_source)`; with `has_source` the caller
/// registers the module (`add`).
pub fn ldtarball(
    cx: &mut Ctx,
    _lock: &Locked,
    say: &mut dyn Say,
    archive: &Path,
) -> Result<(String, String, bool)> {
    if fs::metadata(archive).is_err() {
        return Err(Error::usage([text::archive_missing(archive)]));
    }
    if archive.as_os_str().as_bytes().ends_with(b".rpm") {
        return Err(Error::tarball(text::rpm_unsupported(archive)));
    }

    let scratch = Scratch::new(cx)?;
    // Work on a private copy so the archive cannot change between the
    // checks and the extraction.
    let copy = scratch.path().join("archive");
    fs::copy(archive, &copy)
        .map_err(|e| Error::io(text::CANNOT_READ, archive, e).into_kind(Error::Tarball))?;
    let entries = list_archive(say, &copy)?;
    check_entries(&entries).map_err(|why| unsafe_archive(archive, &why))?;

    let root = scratch.path().join("tree");
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&root)
        .map_err(|e| Error::io(text::CANNOT_CREATE, &root, e))?;
    extract(&copy, &root, archive)?;
    check_extracted(&root, &root).map_err(|why| unsafe_archive(archive, &why))?;

    let main_tree = root.join("dkms_main_tree");
    if !is_real_dir(&main_tree) {
        let Some(conf) = find_conf(&root) else {
            return Err(Error::state([text::NOT_A_DKMS_ARCHIVE]));
        };
        let dir = conf.parent().unwrap_or(&root).to_path_buf();
        check_extracted(&dir, &dir).map_err(|why| unsafe_archive(archive, &why))?;
        let (m, v) = add_source_tree(cx, say, &dir, archive)?;
        return Ok((m, v, true));
    }

    let (layout, m, v) = pick_conf(cx, say, &root, archive)?;
    let prebuilt = prebuilt_dirs(&main_tree).map_err(|why| unsafe_archive(archive, &why))?;
    if layout == Layout::Source {
        let src = root.join(layout.dir());
        check_extracted(&src, &src).map_err(|why| unsafe_archive(archive, &why))?;
    }
    for (_, _, dir) in &prebuilt {
        check_extracted(dir, dir).map_err(|why| unsafe_archive(archive, &why))?;
    }

    let tree = &cx.world.host.layout;
    let force = cx.world.host.opts.force;
    say.blank();
    say.line(&text::loading_tarball(&m, &v));
    match layout {
        Layout::Source => {
            add_source_tree(cx, say, &root.join(layout.dir()), archive)?;
        }
        Layout::BinariesOnly => {
            if !tree.source_tree_dir(&m, &v).is_dir() {
                let source_dir = tree.version_dir(&m, &v).join("source");
                say.line(&text::creating(&source_dir));
                if is_symlink(&source_dir) {
                    fs::remove_file(&source_dir)
                        .map_err(|e| Error::io(text::CANNOT_REMOVE, &source_dir, e))?;
                }
                fs::create_dir_all(&source_dir)
                    .map_err(|e| Error::io(text::CANNOT_CREATE, &source_dir, e))?;
                say.line(&text::copying_conf(&source_dir));
                copy_file(
                    &root.join(layout.dir()).join("dkms.conf"),
                    &source_dir.join("dkms.conf"),
                )?;
            }
        }
    }

    for (k, a, dir) in &prebuilt {
        let dest = tree.base_dir(&m, &v, k, a);
        if dest.is_dir() && !force {
            say.eline(&text::prebuilt_exists(&dest));
            continue;
        }
        say.line(&text::loading(&dest));
        remove_any(&dest)?;
        fs::create_dir_all(&dest).map_err(|e| Error::io(text::CANNOT_CREATE, &dest, e))?;
        copy_tree(dir, &dest)?;
    }

    let has_source = layout != Layout::BinariesOnly || tree.source_tree_dir(&m, &v).is_dir();
    Ok((m, v, has_source))
}

/// Upstream's loop over `dkms_source_tree` then `dkms_binaries_only`: the
/// first holding a dkms.conf with a name and version wins.
fn pick_conf(
    cx: &mut Ctx,
    say: &mut dyn Say,
    root: &Path,
    archive: &Path,
) -> Result<(Layout, String, String)> {
    let (k, a) = (
        cx.world.host.running_kernel.clone(),
        cx.world.host.machine_arch.clone(),
    );
    for layout in [Layout::Source, Layout::BinariesOnly] {
        let dir = root.join(layout.dir());
        let conf = dir.join("dkms.conf");
        if !is_real_dir(&dir) || !is_real_file(&conf) {
            continue;
        }
        let c = read_conf(cx, say, conf, &k, &a)?;
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
        return Ok((layout, c.package_name, c.package_version));
    }
    Err(Error::built_missing(text::no_valid_conf(archive)))
}

/// The `dkms_main_tree/<kver>/<arch>` directories, sorted (hidden names
/// skipped like upstream's glob; only real directories).
fn prebuilt_dirs(main_tree: &Path) -> std::result::Result<Vec<(String, String, PathBuf)>, String> {
    let mut out = Vec::new();
    for k in sorted_names(main_tree) {
        let kdir = main_tree.join(&k);
        if k.as_bytes().starts_with(b".") || !is_real_dir(&kdir) {
            continue;
        }
        for a in sorted_names(&kdir) {
            let adir = kdir.join(&a);
            if a.as_bytes().starts_with(b".") || !is_real_dir(&adir) {
                continue;
            }
            let (Some(ks), Some(as_)) = (k.to_str(), a.to_str()) else {
                return Err(text::kernel_dir_not_text(&show(
                    Path::new(&k).join(&a).as_os_str().as_bytes(),
                )));
            };
            for s in [ks, as_] {
                if !is_safe_component(s) {
                    return Err(text::kernel_dir_unsafe(&show(s.as_bytes())));
                }
            }
            out.push((ks.to_string(), as_.to_string(), adir));
        }
    }
    Ok(out)
}

/// Upstream `add_source_tree` for an unpacked directory `dir`: read its
/// dkms.conf and copy it to `<source_tree>/<PACKAGE_NAME>-<PACKAGE_VERSION>`.
fn add_source_tree(
    cx: &mut Ctx,
    say: &mut dyn Say,
    dir: &Path,
    archive: &Path,
) -> Result<(String, String)> {
    if !is_real_file(&dir.join("dkms.conf")) {
        return Err(Error::tarball([text::must_contain_conf(dir)]));
    }
    if !cx.world.host.is_root {
        return Err(Error::denied([text::MUST_BE_ROOT]));
    }
    let (k, a) = (
        cx.world.host.running_kernel.clone(),
        cx.world.host.machine_arch.clone(),
    );
    let c = read_conf(cx, say, dir.join("dkms.conf"), &k, &a)?;
    if c.package_name.is_empty() || c.package_version.is_empty() {
        return Err(Error::build_failed([text::MALFORMED_SOURCE_TREE]));
    }
    let (m, v) = (c.package_name, c.package_version);
    check_conf_names(&m, &v, archive)?;
    let dest = cx.world.host.layout.source_tree_dir(&m, &v);
    if is_symlink(&dest) {
        return Err(Error::tarball([text::source_dest_is_link(&dest)]));
    }
    if cx.world.host.opts.force && dest.is_dir() {
        say.eline("");
        say.line(&text::forcing_install_of(&m, &v));
        fs::remove_dir_all(&dest).map_err(|e| Error::io(text::CANNOT_REMOVE, &dest, e))?;
    }
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(text::CANNOT_CREATE, parent, e))?;
    }
    copy_tree(dir, &dest)?;
    Ok((m, v))
}

/// PACKAGE_NAME and PACKAGE_VERSION from an archive become path components
/// in the trees: refuse anything that could escape them.
fn check_conf_names(m: &str, v: &str, archive: &Path) -> Result<()> {
    for (what, s) in [("PACKAGE_NAME", m), ("PACKAGE_VERSION", v)] {
        if !is_safe_component(s) {
            return Err(Error::tarball(text::unsafe_conf_name(archive, what, s)));
        }
    }
    Ok(())
}

/// The first regular `dkms.conf` under `root`, shallowest first, names in
/// byte order; symlinked directories are not entered.
fn find_conf(root: &Path) -> Option<PathBuf> {
    let mut queue = VecDeque::from([root.to_path_buf()]);
    while let Some(dir) = queue.pop_front() {
        let names = sorted_names(&dir);
        if names.iter().any(|n| n == "dkms.conf") && is_real_file(&dir.join("dkms.conf")) {
            return Some(dir.join("dkms.conf"));
        }
        queue.extend(
            names
                .into_iter()
                .map(|n| dir.join(n))
                .filter(|p| is_real_dir(p)),
        );
    }
    None
}

/// The exit-9 error for a hostile or malformed archive.
fn unsafe_archive(archive: &Path, why: &str) -> Error {
    Error::tarball(text::unsafe_archive(archive, why))
}

// ---------------------------------------------------------------------------
// Listing and checking an archive before extraction
// ---------------------------------------------------------------------------

/// One member of an archive as GNU tar lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The type letter of `tar -tv` (`-` file, `d` dir, `l` symlink, `h` hard link, ...).
    kind: u8,
    /// The member name, unquoted, raw bytes.
    name: Vec<u8>,
    /// Link target for `l` and `h`.
    target: Vec<u8>,
}

/// List `archive` with GNU tar (compression detected by tar). A failure to
/// read it is upstream's "no dkms.conf" error, after tar's own message.
fn list_archive(say: &mut dyn Say, archive: &Path) -> Result<Vec<Entry>> {
    let out = Command::new("tar")
        .args([
            "--list",
            "--verbose",
            "--numeric-owner",
            "--full-time",
            "--quoting-style=c",
            "--absolute-names",
            "-f",
        ])
        .arg(archive)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::tarball([text::cannot_run_tar(&e.to_string())]))?;
    if !out.status.success() {
        say.emit(
            crate::report::Stream::Err,
            &String::from_utf8_lossy(&out.stderr),
        );
        return Err(Error::state([text::NOT_A_DKMS_ARCHIVE]));
    }
    let mut entries = Vec::new();
    for line in out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match parse_line(line) {
            Some(e) => entries.push(e),
            None => {
                return Err(unsafe_archive(
                    archive,
                    &text::unreadable_listing(&show(line)),
                ))
            }
        }
    }
    Ok(entries)
}

/// Parse one `tar -tv --quoting-style=c` line. The fields before the name
/// (mode, numeric owner, size, date, time) never contain `"`.
fn parse_line(line: &[u8]) -> Option<Entry> {
    let kind = *line.first()?;
    let start = line.iter().position(|&b| b == b'"')?;
    let (name, used) = unquote_c(&line[start + 1..])?;
    let rest = &line[start + 1 + used..];
    let target = match kind {
        b'l' => unquote_c(rest.strip_prefix(b" -> \"")?)?.0,
        b'h' => unquote_c(rest.strip_prefix(b" link to \"")?)?.0,
        _ => Vec::new(),
    };
    Some(Entry { kind, name, target })
}

/// Decode a C-quoted string whose opening quote was already consumed;
/// returns the bytes and how many input bytes were used, closing quote
/// included.
fn unquote_c(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let c = *s.get(i + 1)?;
                i += 2;
                match c {
                    b'0'..=b'7' => {
                        let mut n = u32::from(c - b'0');
                        let mut digits = 1;
                        while digits < 3 && matches!(s.get(i), Some(b'0'..=b'7')) {
                            n = n * 8 + u32::from(s[i] - b'0');
                            i += 1;
                            digits += 1;
                        }
                        out.push(u8::try_from(n).ok()?);
                    }
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(11),
                    other => out.push(other),
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

/// The components of a member name with `.` and empty parts dropped;
/// an error if it is absolute or has a `..` component.
fn components(name: &[u8]) -> std::result::Result<Vec<&[u8]>, &'static str> {
    if name.starts_with(b"/") {
        return Err(text::ENTRY_ABSOLUTE);
    }
    let parts: Vec<&[u8]> = name
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    if parts.iter().any(|p| *p == b"..") {
        return Err(text::ENTRY_DOTDOT);
    }
    Ok(parts)
}

/// Lexically resolve symlink `target` from the directory `base`; `false`
/// if it is absolute or climbs above the archive root.
fn lexically_inside(base: &[&[u8]], target: &[u8]) -> bool {
    if target.is_empty() || target.starts_with(b"/") {
        return false;
    }
    let mut depth = base.len();
    for part in target.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => depth += 1,
        }
    }
    true
}

/// Check every listed member; the error says which entry and why.
fn check_entries(entries: &[Entry]) -> std::result::Result<(), String> {
    let mut links: HashSet<Vec<&[u8]>> = HashSet::new();
    let mut seen: HashMap<Vec<&[u8]>, usize> = HashMap::new();
    for e in entries {
        let what = |why: &str| text::archive_entry(&show(&e.name), why);
        let parts = components(&e.name).map_err(what)?;
        match e.kind {
            b'-' | b'C' | b'd' => {}
            b'l' => {
                if e.target.starts_with(b"/") {
                    return Err(what(&text::entry_link_absolute(&show(&e.target))));
                }
                let base = &parts[..parts.len().saturating_sub(1)];
                if parts.is_empty() || !lexically_inside(base, &e.target) {
                    return Err(what(&text::entry_link_outside(&show(&e.target))));
                }
                links.insert(parts.clone());
            }
            b'h' => return Err(what(&text::entry_hard_link(&show(&e.target)))),
            b'c' => return Err(what(text::ENTRY_CHAR_DEVICE)),
            b'b' => return Err(what(text::ENTRY_BLOCK_DEVICE)),
            b'p' => return Err(what(text::ENTRY_FIFO)),
            b's' => return Err(what(text::ENTRY_SOCKET)),
            other => {
                return Err(what(&text::entry_unsupported(
                    &char::from(other).escape_default().to_string(),
                )))
            }
        }
        if parts.is_empty() && e.kind != b'd' {
            return Err(what(text::ENTRY_REPLACES_ROOT));
        }
        *seen.entry(parts).or_default() += 1;
    }
    for e in entries {
        let parts = components(&e.name).map_err(|w| text::archive_entry(&show(&e.name), w))?;
        if let Some(i) = (1..parts.len()).find(|&i| links.contains(&parts[..i])) {
            return Err(text::archive_entry(
                &show(&e.name),
                &text::entry_beneath_link(&show(&parts[..i].join(&b'/'))),
            ));
        }
        if links.contains(&parts) && seen.get(&parts).copied().unwrap_or(0) > 1 {
            return Err(text::archive_entry(
                &show(&e.name),
                text::ENTRY_LINK_REPEATED,
            ));
        }
    }
    Ok(())
}

/// Unpack the (already checked) private copy into `root`, never restoring
/// owners or special permission bits and never replacing `root` itself.
fn extract(copy: &Path, root: &Path, archive: &Path) -> Result<()> {
    let ok = Command::new("tar")
        .args([
            "-x",
            "--no-same-owner",
            "--no-same-permissions",
            "--no-overwrite-dir",
            "-f",
        ])
        .arg(copy)
        .arg("-C")
        .arg(root)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return Err(Error::tarball([text::cannot_extract(archive)]));
    }
    Ok(())
}

/// Walk an unpacked tree without following links: only directories,
/// regular files and symlinks that resolve inside `confine` are allowed.
fn check_extracted(confine: &Path, dir: &Path) -> std::result::Result<(), String> {
    for name in sorted_names(dir) {
        let p = dir.join(&name);
        let rel = || show(p.strip_prefix(confine).unwrap_or(&p).as_os_str().as_bytes());
        let meta =
            fs::symlink_metadata(&p).map_err(|e| text::cannot_inspect(&rel(), &e.to_string()))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            check_extracted(confine, &p)?;
        } else if ft.is_symlink() {
            if !link_stays_inside(confine, &p) {
                let target = fs::read_link(&p).unwrap_or_default();
                return Err(text::archive_entry(
                    &rel(),
                    &text::entry_link_escapes(&show(target.as_os_str().as_bytes())),
                ));
            }
        } else if !ft.is_file() {
            return Err(text::archive_entry(&rel(), text::ENTRY_NOT_PLAIN));
        }
    }
    Ok(())
}

/// One step of a path being resolved.
enum Step {
    Up,
    Name(OsString),
    Absolute,
}

fn steps(p: &Path) -> Vec<Step> {
    p.components()
        .filter_map(|c| match c {
            Component::RootDir | Component::Prefix(_) => Some(Step::Absolute),
            Component::CurDir => None,
            Component::ParentDir => Some(Step::Up),
            Component::Normal(n) => Some(Step::Name(n.to_os_string())),
        })
        .collect()
}

/// Resolve symlink `link` (under `confine`) the way the kernel would,
/// following links met on the way, and say whether it never leaves
/// `confine`. Dangling tails are resolved lexically.
fn link_stays_inside(confine: &Path, link: &Path) -> bool {
    let Ok(rel) = link.strip_prefix(confine) else {
        return false;
    };
    let mut at: Vec<OsString> = match rel.parent() {
        Some(parent) => parent
            .components()
            .map(|c| c.as_os_str().to_os_string())
            .collect(),
        None => Vec::new(),
    };
    let Ok(target) = fs::read_link(link) else {
        return false;
    };
    let mut todo: VecDeque<Step> = steps(&target).into();
    let mut hops = 1;
    while let Some(step) = todo.pop_front() {
        match step {
            Step::Absolute => return false,
            Step::Up => {
                if at.pop().is_none() {
                    return false;
                }
            }
            Step::Name(n) => {
                at.push(n);
                let here: PathBuf = confine.join(at.iter().collect::<PathBuf>());
                if is_symlink(&here) {
                    hops += 1;
                    let Ok(next) = fs::read_link(&here) else {
                        return false;
                    };
                    if hops > MAX_LINK_HOPS {
                        return false;
                    }
                    at.pop();
                    for s in steps(&next).into_iter().rev() {
                        todo.push_front(s);
                    }
                }
            }
        }
    }
    true
}

// ---------------------------------------------------------------------------
// Copying without following links
// ---------------------------------------------------------------------------

/// Copy the contents of directory `from` into `to` (created if needed):
/// symlinks are recreated as symlinks, never followed; anything already at a
/// destination path that is not a real directory is replaced, so a planted
/// link cannot redirect the copy. Modes keep the owner/group/other read and
/// execute bits and the owner's write bit only.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let mode = fs::symlink_metadata(from)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o755);
    ensure_real_dir(to, (mode & 0o755) | 0o700)?;
    let rd = fs::read_dir(from).map_err(|e| Error::io(text::CANNOT_READ, from, e))?;
    let mut names: Vec<OsString> = rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let (src, dst) = (from.join(&name), to.join(&name));
        let meta = fs::symlink_metadata(&src).map_err(|e| Error::io(text::CANNOT_READ, &src, e))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&src).map_err(|e| Error::io(text::CANNOT_READ, &src, e))?;
            remove_any(&dst)?;
            std::os::unix::fs::symlink(&target, &dst)
                .map_err(|e| Error::io(text::CANNOT_CREATE_SYMLINK, &dst, e))?;
        } else if ft.is_file() {
            copy_file(&src, &dst)?;
        }
    }
    Ok(())
}

/// Copy regular file `src` to `dst`, replacing whatever is at `dst` without
/// following it, keeping the modification time.
fn copy_file(src: &Path, dst: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let mut input = fs::File::open(src).map_err(|e| Error::io(text::CANNOT_READ, src, e))?;
    let meta = input
        .metadata()
        .map_err(|e| Error::io(text::CANNOT_READ, src, e))?;
    let mode = meta.permissions().mode() & 0o755;
    remove_any(dst)?;
    let mut output = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(dst)
        .map_err(|e| Error::io(text::CANNOT_CREATE, dst, e))?;
    io::copy(&mut input, &mut output).map_err(|e| Error::io(text::CANNOT_WRITE, dst, e))?;
    output
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(text::CANNOT_SET_MODE, dst, e))?;
    use std::os::unix::fs::MetadataExt;
    let atime = nix::sys::time::TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = nix::sys::time::TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    let _ = nix::sys::stat::futimens(output.as_raw_fd(), &atime, &mtime);
    Ok(())
}

/// Write a new file (the stage is private, so nothing is there yet).
fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    fs::write(path, data).map_err(|e| Error::io(text::CANNOT_WRITE, path, e))
}

/// Make `p` a real directory: keep one, replace a link or file.
fn ensure_real_dir(p: &Path, mode: u32) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => remove_any(p)?,
        Err(_) => {}
    }
    fs::DirBuilder::new()
        .mode(mode)
        .create(p)
        .map_err(|e| Error::io(text::CANNOT_CREATE, p, e))
}

/// Remove whatever is at `p` (a directory recursively, a link itself), if anything.
fn remove_any(p: &Path) -> Result<()> {
    let r = match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(_) => return Ok(()),
    };
    r.map_err(|e| Error::io(text::CANNOT_REMOVE, p, e))
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// A `dkms.XXXXXX` directory under tmp_location, removed on every path out
/// (made writable first, so an archive's read-only directories cannot
/// leave it behind).
struct Scratch {
    dir: Option<tempfile::TempDir>,
}

impl Scratch {
    fn new(cx: &Ctx) -> Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix("dkms.")
            .tempdir_in(&cx.world.host.settings.tmp_location)
            .map_err(|_| Error::denied([text::NO_TEMP_DIR]))?;
        Ok(Scratch { dir: Some(dir) })
    }

    fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("/nonexistent"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            make_removable(d.path());
            drop(d);
        }
    }
}

fn make_removable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    for name in sorted_names(dir) {
        let p = dir.join(name);
        if is_real_dir(&p) {
            make_removable(&p);
        }
    }
}

/// Entry names of `dir` in byte order (empty if unreadable).
fn sorted_names(dir: &Path) -> Vec<OsString> {
    let mut names: Vec<OsString> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn is_real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false)
}

fn is_real_file(p: &Path) -> bool {
    fs::symlink_metadata(p)
        .map(|m| m.is_file())
        .unwrap_or(false)
}

/// A name from an archive, quoted and escaped for a message.
fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
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

/// Read a dkms.conf that came out of an archive (it did not exist when the
/// run observed the world, so it is read here, by the same reader), as
/// upstream's `read_conf_or_die` does.
fn read_conf(
    cx: &mut Ctx,
    say: &mut dyn Say,
    path: PathBuf,
    k: &str,
    a: &str,
) -> Result<crate::observe::conf::ModuleConf> {
    let key = ConfKey::new(path.clone(), path, ["", "", k, a], false);
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

/// `ldtarball` (and `add` of an archive): load it, then register what it
/// holds when it holds a source.
pub fn ldtarball_and_add(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    archive: &Path,
    add: bool,
) -> Result<()> {
    let (m, v, has_source) = ldtarball(cx, lock, say, archive)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn entry(kind: u8, name: &str, target: &str) -> Entry {
        Entry {
            kind,
            name: name.as_bytes().to_vec(),
            target: target.as_bytes().to_vec(),
        }
    }

    #[rstest]
    #[case(br#"-rw-r--r-- 0/0 1 1970-01-01 00:00:00 "a b -> c \"q\"\n""#.as_slice(), b'-', "a b -> c \"q\"\n", "")]
    #[case(br#"lrwxrwxrwx 0/0 0 2024-01-01 00:00:00 "x-1/l" -> "../d""#.as_slice(), b'l', "x-1/l", "../d")]
    #[case(br#"hrw-r--r-- 0/0 0 2024-01-01 00:00:00 "hard" link to "/etc/passwd""#.as_slice(), b'h', "hard", "/etc/passwd")]
    #[case(br#"crw-r--r-- 0/0 1,3 1970-01-01 00:00:00 "dev""#.as_slice(), b'c', "dev", "")]
    #[case(br#"-rw-r--r-- 0/0 1 1970-01-01 00:00:00 "\303\251t\303\251""#.as_slice(), b'-', "\u{e9}t\u{e9}", "")]
    fn parses_tar_listing(
        #[case] line: &[u8],
        #[case] kind: u8,
        #[case] name: &str,
        #[case] target: &str,
    ) {
        assert_eq!(parse_line(line), Some(entry(kind, name, target)));
    }

    #[test]
    fn unparseable_lines_are_refused() {
        assert_eq!(
            parse_line(b"-rw-r--r-- 0/0 1 1970-01-01 00:00:00 noquote"),
            None
        );
        assert_eq!(parse_line(br#"lrw 0/0 0 x "l" pointing "t""#), None);
        assert_eq!(parse_line(br#"- "unterminated"#), None);
    }

    #[rstest]
    #[case(&[entry(b'd', "./", ""), entry(b'-', "./dkms_source_tree/dkms.conf", ""), entry(b'l', "dkms_source_tree/l", "dkms.conf")], None)]
    #[case(&[entry(b'l', "a/b/l", "../../c")], None)]
    #[case(&[entry(b'-', "../x", "")], Some("'..'"))]
    #[case(&[entry(b'-', "a/../../x", "")], Some("'..'"))]
    #[case(&[entry(b'-', "/etc/x", "")], Some("absolute path"))]
    #[case(&[entry(b'l', "evil", "/etc"), entry(b'-', "evil/passwd", "")], Some("absolute path"))]
    #[case(&[entry(b'l', "evil", "sub"), entry(b'-', "./evil/passwd", "")], Some("beneath the symbolic link"))]
    #[case(&[entry(b'l', "a/l", "../../outside")], Some("outside the archive"))]
    #[case(&[entry(b'l', "l", "")], Some("outside the archive"))]
    #[case(&[entry(b'h', "h", "etc/passwd")], Some("hard link"))]
    #[case(&[entry(b'c', "null", "")], Some("character device"))]
    #[case(&[entry(b'b', "sda", "")], Some("block device"))]
    #[case(&[entry(b'p', "fifo", "")], Some("fifo"))]
    #[case(&[entry(b'V', "vol", "")], Some("unsupported type"))]
    #[case(&[entry(b'l', ".", "x")], Some("outside the archive"))]
    #[case(&[entry(b'l', "d", "x"), entry(b'd', "d/", "")], Some("more than once"))]
    fn checks_entries(#[case] entries: &[Entry], #[case] problem: Option<&str>) {
        match (check_entries(entries), problem) {
            (Ok(()), None) => {}
            (Err(e), Some(p)) => assert!(e.contains(p), "{e:?} should mention {p:?}"),
            (r, p) => panic!("got {r:?}, expected {p:?}"),
        }
    }

    #[test]
    fn resolves_links_through_other_links() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("a/b")).unwrap();
        std::os::unix::fs::symlink(".", r.join("dot")).unwrap();
        std::os::unix::fs::symlink("dot/dot/..", r.join("escape")).unwrap();
        std::os::unix::fs::symlink("a/b/../b", r.join("fine")).unwrap();
        std::os::unix::fs::symlink("../../a", r.join("a/b/up")).unwrap();
        std::os::unix::fs::symlink("loop2", r.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", r.join("loop2")).unwrap();
        std::os::unix::fs::symlink("missing/x/../y", r.join("dangling")).unwrap();
        assert!(!link_stays_inside(r, &r.join("escape")));
        assert!(link_stays_inside(r, &r.join("fine")));
        assert!(link_stays_inside(r, &r.join("a/b/up")));
        assert!(!link_stays_inside(&r.join("a"), &r.join("a/b/up")));
        assert!(!link_stays_inside(r, &r.join("loop1")));
        assert!(link_stays_inside(r, &r.join("dangling")));
        assert!(check_extracted(r, r).is_err());
    }

    #[test]
    fn copy_replaces_planted_links_instead_of_following_them() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst, outside) = (
            d.path().join("src"),
            d.path().join("dst"),
            d.path().join("outside"),
        );
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(src.join("sub/f"), "new").unwrap();
        fs::write(src.join("g"), "new").unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("l")).unwrap();
        fs::create_dir_all(&dst).unwrap();
        std::os::unix::fs::symlink(&outside, dst.join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.join("g"), dst.join("g")).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert!(sorted_names(&outside).is_empty());
        assert!(is_real_dir(&dst.join("sub")));
        assert_eq!(fs::read_to_string(dst.join("g")).unwrap(), "new");
        assert_eq!(
            fs::read_link(dst.join("l")).unwrap(),
            PathBuf::from("sub/f")
        );
    }

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
