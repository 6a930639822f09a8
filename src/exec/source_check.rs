//! Beyond upstream: a build must not write outside its own build directory
//! by following a symbolic link of the module source.
//!
//! The build copies the source tree with `cp -a`, which keeps symbolic links
//! as links; `make`, `patch`, PRE_BUILD, `strip` and `sign-file` then write
//! to files of that copy, as root. A link such as `hello.ko -> /etc/shadow`
//! would let them write through it. Refusing every link that leads outside
//! the tree is too strict: Debian's own packages ship such links (e.g.
//! iptables-netflow-dkms has `README.gz -> ../../share/doc/...`). So:
//!
//! - before copying, [`check_source_tree`] refuses a source holding a device
//!   node, fifo or socket (exit 8);
//! - after copying, [`confine_build_copy`] resolves every link of the copy
//!   *inside* the build directory (following links to links, as the kernel
//!   would). A link that leads outside it (absolute, or climbing out) is
//!   replaced by a copy of the file it points to, so reads see the same bytes
//!   and writes stay in the build directory; a dangling one is removed (it
//!   could only ever create a file outside); one that leads to a directory,
//!   a special file, or a file that is large or not world-readable (its copy
//!   would reach an unprivileged build user) refuses the build (exit 8).
//!   Links between files of the copy are kept.
//!
//! [`remove_escaping_links`] is the same walk for a build directory an
//! unprivileged build has handed back (see [`crate::exec::privilege`]).

use std::ffi::OsString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::Locked;

/// How many links one resolution may follow (Linux's own limit is 40).
const MAX_HOPS: u32 = 40;

/// Largest file a link leading outside may bring into the build by copy.
const MAX_COPY_BYTES: u64 = 256 << 20;

/// Something in a tree, relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A symbolic link whose target leads outside the tree.
    EscapingLink {
        /// The link, relative to the tree.
        link: PathBuf,
        /// Its target as stored.
        target: PathBuf,
    },
    /// A device node, fifo or socket.
    Special(PathBuf),
}

/// Refuse to copy a module source holding a device node, fifo or socket.
pub fn check_source_tree(dir: &Path) -> Result<()> {
    match scan(dir)
        .into_iter()
        .find(|e| matches!(e, Entry::Special(_)))
    {
        Some(Entry::Special(p)) => Err(special_error(msg::MODULE_SOURCE, dir, &p)),
        _ => Ok(()),
    }
}

/// Make the build copy `bdir` of `source` safe to write in (see the module
/// docs). On refusal `bdir` is removed and the error names the link in the
/// source.
pub fn confine_build_copy(lock: &Locked, base: &Path, source: &Path, bdir: &Path) -> Result<()> {
    let res = confine(lock, base, bdir, source);
    if res.is_err() {
        // The refusal is the error that counts; a copy that cannot go is
        // emptied by the next build of the module, which starts by
        // removing it.
        let _ = lock.remove_all(base, bdir);
    }
    res
}

fn confine(lock: &Locked, base: &Path, bdir: &Path, source: &Path) -> Result<()> {
    for entry in scan(bdir) {
        match entry {
            Entry::Special(p) => return Err(special_error(msg::MODULE_SOURCE, source, &p)),
            Entry::EscapingLink { link, target } => {
                let path = bdir.join(&link);
                match std::fs::metadata(&path) {
                    // Dangling: it could only create a file outside.
                    Err(_) => remove(lock, base, &path)?,
                    Ok(m) if m.is_file() && m.mode() & 0o004 != 0 && m.len() <= MAX_COPY_BYTES => {
                        // The link becomes a copy of what it points at, by
                        // an atomic rename over it.
                        lock.place_atomically(base, &path, &path, false)
                            .map_err(|e| Error::io(msg::CANNOT_COPY_TARGET, &path, e))?;
                    }
                    Ok(_) => {
                        return Err(Error::bad_conf(msg::escaping_link(source, &link, &target)))
                    }
                }
            }
        }
    }
    Ok(())
}

/// Remove every symbolic link under `dir` that leads outside it (after an
/// unprivileged build, before root touches the results); refuse device
/// nodes, fifos and sockets. Returns the links removed.
pub fn remove_escaping_links(lock: &Locked, base: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in scan(dir) {
        match entry {
            Entry::Special(p) => return Err(special_error(msg::BUILD_DIRECTORY, dir, &p)),
            Entry::EscapingLink { link, .. } => {
                remove(lock, base, &dir.join(&link))?;
                removed.push(link);
            }
        }
    }
    Ok(removed)
}

fn remove(lock: &Locked, base: &Path, p: &Path) -> Result<()> {
    lock.remove_file(base, p)
        .map_err(|e| Error::io(msg::CANNOT_REMOVE, p, e))
}

fn special_error(what: &str, dir: &Path, p: &Path) -> Error {
    Error::bad_conf(msg::special_file_found(what, dir, p))
}

/// Every escaping link and special file under `dir`, in a stable order
/// (symbolic links are not followed while walking). An unreadable directory
/// is skipped: the copy or the build reports it.
pub fn scan(dir: &Path) -> Vec<Entry> {
    let mut found = Vec::new();
    let mut stack: Vec<Vec<OsString>> = vec![Vec::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(join(dir, &rel)) else {
            continue;
        };
        let mut names: Vec<OsString> = rd.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            let mut child = rel.clone();
            child.push(name);
            let path = join(dir, &child);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                stack.push(child);
            } else if ft.is_symlink() {
                let Ok(target) = std::fs::read_link(&path) else {
                    continue;
                };
                let mut parent = child.clone();
                parent.pop();
                let mut hops = MAX_HOPS;
                if resolve_inside(dir, parent, &target, &mut hops).is_none() {
                    found.push(Entry::EscapingLink {
                        link: child.iter().collect(),
                        target,
                    });
                }
            } else if ft.is_block_device() || ft.is_char_device() || ft.is_fifo() || ft.is_socket()
            {
                found.push(Entry::Special(child.iter().collect()));
            }
        }
    }
    found
}

fn join(base: &Path, rel: &[OsString]) -> PathBuf {
    let mut p = base.to_path_buf();
    p.extend(rel);
    p
}

/// Resolve `target` as seen from directory `from` (components relative to
/// `base`), following links met on the way; None when the result would leave
/// `base` (absolute target, `..` above the top) or too many links are followed.
fn resolve_inside(
    base: &Path,
    from: Vec<OsString>,
    target: &Path,
    hops: &mut u32,
) -> Option<Vec<OsString>> {
    let mut cur = from;
    for comp in target.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                cur.pop()?;
            }
            Component::Normal(n) => {
                cur.push(n.to_os_string());
                let p = join(base, &cur);
                let is_link = std::fs::symlink_metadata(&p)
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(false);
                if is_link {
                    *hops = hops.checked_sub(1)?;
                    let next = std::fs::read_link(&p).ok()?;
                    cur.pop();
                    cur = resolve_inside(base, cur, &next, hops)?;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use rstest::rstest;

    use super::*;

    /// `<tmp>/outside/{file,dir/}` and `<tmp>/src/{hello.c,sub/file}` plus `links` in src.
    fn tree(links: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("src/sub")).unwrap();
        std::fs::create_dir_all(d.path().join("outside/dir")).unwrap();
        std::fs::write(d.path().join("outside/file"), "outside\n").unwrap();
        std::fs::write(d.path().join("src/hello.c"), "x").unwrap();
        std::fs::write(d.path().join("src/sub/file"), "x").unwrap();
        for (link, target) in links {
            let target = target.replace("@T@", &d.path().display().to_string());
            symlink(target, d.path().join("src").join(link)).unwrap();
        }
        d
    }

    fn escaping(d: &tempfile::TempDir) -> Vec<String> {
        scan(&d.path().join("src"))
            .into_iter()
            .filter_map(|e| match e {
                Entry::EscapingLink { link, .. } => Some(link.display().to_string()),
                Entry::Special(_) => None,
            })
            .collect()
    }

    #[rstest]
    #[case::absolute(&[("evil", "/etc/passwd")], &["evil"])]
    #[case::climbs(&[("evil", "../../outside")], &["evil"])]
    #[case::climbs_from_sub(&[("sub/evil", "../../x")], &["sub/evil"])]
    #[case::parent_dir(&[("evil", "..")], &["evil"])]
    #[case::through_inner_link(&[("sub/l", ".."), ("evil", "sub/l/../x")], &["evil"])]
    #[case::loop_(&[("a", "b"), ("b", "a")], &["a", "b"])]
    #[case::inside(&[("Kbuild", "hello.c"), ("s", "sub/file"), ("back", "sub/../hello.c"), ("up", "sub/..")], &[])]
    #[case::dangling_inside(&[("later", "sub/not-yet")], &[])]
    #[case::dir_link_inside(&[("d", "sub"), ("via", "d/file")], &[])]
    fn escaping_links(#[case] links: &[(&str, &str)], #[case] want: &[&str]) {
        let d = tree(links);
        assert_eq!(escaping(&d), want);
    }

    fn test_lock(dir: &Path) -> Locked {
        Locked::acquire(&dir.join(".lock"), &mut |_| {})
            .unwrap()
            .lock
    }

    #[test]
    fn confine_copies_files_drops_dangling_links_keeps_inner_ones() {
        let d = tree(&[
            ("abs", "@T@/outside/file"),
            ("rel", "../outside/file"),
            ("gone", "../outside/nothing"),
            ("Kbuild", "hello.c"),
        ]);
        let src = d.path().join("src");
        let lock = test_lock(d.path());
        confine_build_copy(&lock, d.path(), &src, &src).unwrap();
        for l in ["abs", "rel"] {
            let m = std::fs::symlink_metadata(src.join(l)).unwrap();
            assert!(m.is_file(), "{l} is not a plain file now");
            assert_eq!(std::fs::read_to_string(src.join(l)).unwrap(), "outside\n");
        }
        assert!(std::fs::symlink_metadata(src.join("gone")).is_err());
        assert!(std::fs::symlink_metadata(src.join("Kbuild"))
            .unwrap()
            .file_type()
            .is_symlink());
        // Writing to the copy leaves the original alone.
        std::fs::write(src.join("abs"), "changed").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("outside/file")).unwrap(),
            "outside\n"
        );
        assert!(escaping(&d).is_empty());
    }

    #[test]
    fn confine_refuses_a_link_to_a_directory_outside_and_removes_the_copy() {
        let d = tree(&[("obj", "@T@/outside/dir")]);
        let src = d.path().join("src");
        let lock = test_lock(d.path());
        let err = confine_build_copy(&lock, d.path(), Path::new("/usr/src/m-1"), &src).unwrap_err();
        assert_eq!(err.code(), 8);
        assert_eq!(
            err.lines()[1],
            format!("obj -> {}/outside/dir", d.path().display())
        );
        assert!(!src.exists());
    }

    #[test]
    fn fifo_is_refused_with_a_clear_error() {
        let d = tree(&[]);
        let fifo = d.path().join("src/sub/pipe");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let err = check_source_tree(&d.path().join("src")).unwrap_err();
        assert_eq!(err.code(), 8);
        assert!(err.lines()[0].ends_with("sub/pipe"), "{:?}", err.lines());
    }

    #[test]
    fn remove_escaping_links_keeps_the_rest() {
        let d = tree(&[("abs", "/etc/passwd"), ("Kbuild", "hello.c")]);
        let src = d.path().join("src");
        let lock = test_lock(d.path());
        assert_eq!(
            remove_escaping_links(&lock, d.path(), &src).unwrap(),
            vec![PathBuf::from("abs")]
        );
        assert!(std::fs::symlink_metadata(src.join("Kbuild")).is_ok());
        assert!(std::fs::symlink_metadata(src.join("abs")).is_err());
    }
}
