//! Beyond upstream: a module source tree (and, after an unprivileged build,
//! the build directory) must not reach outside itself through the file
//! system.
//!
//! The build copies the source tree with `cp -a`, which keeps symbolic links
//! as links. A link such as `hello.ko -> /etc/shadow` or `out -> ../../..`
//! would then let the compiler, `patch`, `strip` or `sign-file` (all running
//! as root) write through it to a file outside the trees. So before a build
//! every symbolic link is resolved *inside* the tree (following links that
//! lead to other links, as the kernel would) and the build is refused when a
//! link is absolute or climbs out of the tree, or when the tree holds a device
//! node, fifo or socket. Links between files of the tree are fine.

use std::ffi::OsString;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// How many links one resolution may follow (Linux's own limit is 40).
const MAX_HOPS: u32 = 40;

/// What makes a tree unsafe to build from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A symbolic link (path relative to the tree) whose target leads outside it.
    EscapingLink {
        /// The link, relative to the tree.
        link: PathBuf,
        /// Its target as stored.
        target: PathBuf,
    },
    /// A device node, fifo or socket (path relative to the tree).
    Special(PathBuf),
}

/// Refuse to build from the module source `dir` when [`find_problem`]
/// reports something (exit 8, like upstream's other source-tree errors).
pub fn check_source_tree(dir: &Path) -> Result<()> {
    check_tree(dir, "module source")
}

/// [`check_source_tree`] naming the tree `what` in the message (e.g.
/// "build directory" after an unprivileged build).
pub fn check_tree(dir: &Path, what: &str) -> Result<()> {
    match find_problem(dir) {
        None => Ok(()),
        Some(Problem::EscapingLink { link, target }) => Err(Error::new(
            8,
            [
                format!(
                    "The {what} {} contains a symbolic link that points outside it:",
                    dir.display()
                ),
                format!("{} -> {}", link.display(), target.display()),
                "Refusing to build: a build must not read or write files outside its own tree."
                    .to_string(),
            ],
        )),
        Some(Problem::Special(p)) => Err(Error::new(
            8,
            [
                format!(
                    "The {what} {} contains a device node, fifo or socket: {}",
                    dir.display(),
                    p.display()
                ),
                "Refusing to build: a module source holds only files, directories and links."
                    .to_string(),
            ],
        )),
    }
}

/// The first problem found walking `dir` (symbolic links are not followed
/// while walking), or None. An unreadable directory is not a problem here:
/// the copy reports it.
pub fn find_problem(dir: &Path) -> Option<Problem> {
    let mut stack: Vec<Vec<OsString>> = vec![Vec::new()];
    while let Some(rel) = stack.pop() {
        let here = join(dir, &rel);
        let Ok(rd) = std::fs::read_dir(&here) else {
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
                    return Some(Problem::EscapingLink {
                        link: child.iter().collect(),
                        target,
                    });
                }
            } else if ft.is_block_device() || ft.is_char_device() || ft.is_fifo() || ft.is_socket()
            {
                return Some(Problem::Special(child.iter().collect()));
            }
        }
    }
    None
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

    fn tree(links: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("src/sub")).unwrap();
        std::fs::write(d.path().join("src/hello.c"), "x").unwrap();
        std::fs::write(d.path().join("src/sub/file"), "x").unwrap();
        for (link, target) in links {
            symlink(target, d.path().join("src").join(link)).unwrap();
        }
        d
    }

    #[rstest]
    #[case::absolute(&[("evil", "/etc/passwd")], Some("evil"))]
    #[case::climbs(&[("evil", "../../outside")], Some("evil"))]
    #[case::climbs_from_sub(&[("sub/evil", "../../x")], Some("sub/evil"))]
    #[case::root_dir(&[("evil", "..")], Some("evil"))]
    #[case::through_inner_link(&[("up", "sub/.."), ("sub/l", ".."), ("evil", "sub/l/../x")], Some("evil"))]
    #[case::loop_(&[("a", "b"), ("b", "a")], Some("a"))]
    #[case::inside(&[("Kbuild", "hello.c"), ("s", "sub/file"), ("back", "sub/../hello.c")], None)]
    #[case::dangling_inside(&[("later", "sub/not-yet")], None)]
    #[case::dir_link_inside(&[("d", "sub"), ("via", "d/file")], None)]
    fn symlinks(#[case] links: &[(&str, &str)], #[case] bad: Option<&str>) {
        let d = tree(links);
        let got = find_problem(&d.path().join("src"));
        match bad {
            None => assert_eq!(got, None),
            Some(l) => match got {
                Some(Problem::EscapingLink { link, .. }) => {
                    assert_eq!(link, PathBuf::from(l))
                }
                other => panic!("expected {l} to be refused, got {other:?}"),
            },
        }
    }

    #[test]
    fn fifo_is_refused_with_a_clear_error() {
        let d = tree(&[]);
        let fifo = d.path().join("src/sub/pipe");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = check_source_tree(&d.path().join("src")).unwrap_err();
        assert_eq!(err.code, 8);
        assert!(err.lines[0].ends_with("sub/pipe"), "{:?}", err.lines);
    }

    #[test]
    fn escaping_link_error_names_link_and_target() {
        let d = tree(&[("evil", "/etc/passwd")]);
        let err = check_source_tree(&d.path().join("src")).unwrap_err();
        assert_eq!(err.code, 8);
        assert_eq!(err.lines[1], "evil -> /etc/passwd");
    }
}
