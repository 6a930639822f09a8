//! Which files a run as root may use: the rule sshd's `StrictModes`
//! applies to `~/.ssh`, applied to what dkms reads or runs as root. A file
//! is trusted when it and every directory on the way to it are owned by
//! root and not writable by group or others; otherwise another user could
//! change what root reads (framework.conf, the `/etc/dkms` overrides) or
//! runs (override scripts, `sign_file`, `post_transaction`,
//! `build_environment`) or signs with (the MOK key).
//!
//! - Only a run with effective uid 0 checks: any other user reads with its
//!   own rights, and files it cannot trust it could change itself.
//! - Paths are followed as the kernel follows them when the file is opened
//!   (host semantics, also under `--root`): every symlink on the way, and
//!   the final target's owner and mode count, as do the directories every
//!   name is looked up in. The directories above the `--root` prefix are
//!   not checked (a test root lives in `/tmp`); the prefix itself is.
//! - A directory on the way may be world-writable when it is root's and
//!   sticky (`/tmp`): others can add names there but cannot replace or
//!   rename root's entries, so the file found through it is still root's.
//!   The file or directory asked about itself gets no such exception.
//! - A missing file counts by its directories: a key that is about to be
//!   created must not be created where another user can reach it.
//! - Checking and then opening is not atomic; once every directory on the
//!   way is root's, nobody else can swap the file in between.
//! - POSIX ACLs are not consulted; the mode bits are.
//!
//! What a refusal means is decided by each reader; [`Trust`] carries what
//! was observed, [`Untrusted`] says why one file is not used.

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::layout::Root;

/// How many symlinks a path may go through before it counts as a loop (as
/// the kernel's limit).
const MAX_LINKS: usize = 40;

/// How many entries of `/etc/dkms` are observed ahead; a larger tree is
/// checked entry by entry when used instead.
const MAX_ENTRIES: usize = 4096;

/// How deep under `/etc/dkms` entries are observed ahead.
const MAX_DEPTH: usize = 8;

/// What makes a file untrusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Culprit {
    /// The file (or directory) itself.
    Itself,
    /// The file a symlink leads to.
    LinkTarget,
    /// A directory on the way to it.
    Directory,
}

/// Why one file is not used: its path, what another user can change, and
/// that one's owner and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    /// The path that was to be used (host path).
    pub path: PathBuf,
    /// What another user can change: the path itself, the target of its
    /// link, or a directory on the way (host path).
    pub culprit: PathBuf,
    /// Which of these `culprit` is.
    pub kind: Culprit,
    /// The culprit's owner.
    pub uid: u32,
    /// The culprit's permission bits (`mode & 0o7777`).
    pub mode: u32,
}

impl Untrusted {
    /// The one line that names the file, what is wrong with it and how to
    /// fix it (our wording; upstream has no such check).
    pub fn line(&self) -> String {
        let what = match self.kind {
            Culprit::Itself => String::from("owned"),
            Culprit::LinkTarget => {
                format!("the file it links to, {}, is owned", self.culprit.display())
            }
            Culprit::Directory => format!("its directory {} is owned", self.culprit.display()),
        };
        let c = self.culprit.display();
        format!(
            "{} is not trusted: {what} by uid {} with mode {:04o}, so a user other than root can change it (fix: chown root:root {c} && chmod go-w {c})",
            self.path.display(),
            self.uid,
            self.mode,
        )
    }
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// True when this process checks trust: it runs with effective uid 0.
pub fn enforced() -> bool {
    rustix::process::geteuid().is_root()
}

/// Check `path` (a host path) against the rule, for a run under `root`:
/// `None` when it is trusted (or missing in trusted directories).
pub fn check(root: &Root, path: &Path) -> Option<Untrusted> {
    let path = absolute(path);
    let walk = follow(&path);
    let prefix = std::fs::canonicalize(root.dir()).unwrap_or_else(|_| root.dir().to_path_buf());
    let above_root = |d: &Path| prefix.starts_with(d) && d != prefix;
    for dir in walk.dirs.iter().filter(|d| !above_root(d)) {
        if let Some((uid, mode)) = stat(dir).filter(|&(uid, mode)| !dir_ok(uid, mode)) {
            return Some(Untrusted {
                path: path.clone(),
                culprit: dir.clone(),
                kind: Culprit::Directory,
                uid,
                mode,
            });
        }
    }
    let (uid, mode) = stat(&walk.target)?;
    if owner_ok(uid, mode) {
        return None;
    }
    let kind = if walk.target == path {
        Culprit::Itself
    } else {
        Culprit::LinkTarget
    };
    Some(Untrusted {
        culprit: walk.target,
        path,
        kind,
        uid,
        mode,
    })
}

/// The rule for the file or directory asked about.
fn owner_ok(uid: u32, mode: u32) -> bool {
    uid == 0 && mode & 0o022 == 0
}

/// The rule for a directory on the way: root's, and either not writable by
/// others or sticky.
fn dir_ok(uid: u32, mode: u32) -> bool {
    uid == 0 && (mode & 0o022 == 0 || mode & 0o1000 != 0)
}

/// Owner and permission bits of `p`, following links; `None` when missing.
fn stat(p: &Path) -> Option<(u32, u32)> {
    std::fs::metadata(p)
        .ok()
        .map(|m| (m.uid(), m.permissions().mode() & 0o7777))
}

/// `p` made absolute against the working directory.
fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    std::env::current_dir()
        .map(|d| d.join(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

/// Where a path leads and which directories were looked in on the way.
struct Walk {
    /// Every directory a name was looked up in, in order, once each.
    dirs: Vec<PathBuf>,
    /// The path with every symlink resolved (what is opened); when some
    /// part is missing, the rest is appended as written.
    target: PathBuf,
}

/// Follow absolute `path` name by name as the kernel does.
fn follow(path: &Path) -> Walk {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut todo: Vec<std::ffi::OsString> = Vec::new();
    push_front(&mut todo, path);
    let mut cur = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = todo.pop() {
        match name.to_str() {
            Some("/") => {
                cur = PathBuf::from("/");
                continue;
            }
            Some(".") => continue,
            Some("..") => {
                cur.pop();
                continue;
            }
            _ => {}
        }
        if !dirs.contains(&cur) {
            dirs.push(cur.clone());
        }
        let next = cur.join(&name);
        match std::fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() && links < MAX_LINKS => {
                links += 1;
                match std::fs::read_link(&next) {
                    Ok(t) => push_front(&mut todo, &t),
                    Err(_) => return missing(dirs, next, todo),
                }
            }
            Ok(_) => cur = next,
            Err(_) => return missing(dirs, next, todo),
        }
    }
    Walk { dirs, target: cur }
}

/// The walk of a path whose `next` part does not exist (or loops).
fn missing(dirs: Vec<PathBuf>, next: PathBuf, mut todo: Vec<std::ffi::OsString>) -> Walk {
    let mut target = next;
    while let Some(n) = todo.pop() {
        target.push(n);
    }
    Walk { dirs, target }
}

/// Put the components of `p` in front of the names still to follow (`todo`
/// is a stack: its last element is the next name).
fn push_front(todo: &mut Vec<std::ffi::OsString>, p: &Path) {
    for c in p.components().rev() {
        match c {
            Component::RootDir => todo.push("/".into()),
            Component::CurDir => {}
            Component::ParentDir => todo.push("..".into()),
            Component::Normal(n) => todo.push(n.to_owned()),
            Component::Prefix(_) => {}
        }
    }
}

/// The trust of what a run uses, observed once: every entry of
/// `/etc/dkms` (framework files, override files, override scripts and
/// patches) checked when the run starts, and the rule itself for what only
/// becomes known later (the signing files of a kernel).
#[derive(Debug, Clone)]
pub struct Trust {
    /// The run checks at all (effective uid 0).
    enforced: bool,
    /// The `--root` prefix.
    root: Root,
    /// `/etc/dkms` under the root (host path).
    etc: PathBuf,
    /// Whether every entry of `etc` was observed (not too many).
    complete: bool,
    /// What was observed: each entry and why it is untrusted, if it is.
    seen: BTreeMap<PathBuf, Option<Untrusted>>,
}

impl Trust {
    /// Nothing is checked: a run as another user than root, and tests.
    pub fn off(root: &Root) -> Trust {
        Trust {
            enforced: false,
            root: root.clone(),
            etc: root.join("/etc/dkms"),
            complete: true,
            seen: BTreeMap::new(),
        }
    }

    /// Observe `/etc/dkms` under `root` when `enforced`.
    pub fn observe(root: &Root, enforced: bool) -> Trust {
        let mut t = Trust::off(root);
        if !enforced {
            return t;
        }
        t.enforced = true;
        let etc = t.etc.clone();
        if std::fs::symlink_metadata(&etc).is_ok() {
            let u = check(root, &etc);
            t.seen.insert(etc.clone(), u);
            t.complete = t.walk(&etc, 0);
        }
        t
    }

    /// Check every entry under `dir` (links to directories followed, as the
    /// readers follow them); false when the limits stopped the walk.
    fn walk(&mut self, dir: &Path, depth: usize) -> bool {
        if depth >= MAX_DEPTH {
            return false;
        }
        let mut names = crate::fs::list_names(dir);
        names.sort();
        for n in names {
            if self.seen.len() >= MAX_ENTRIES {
                return false;
            }
            let p = dir.join(n);
            let u = check(&self.root, &p);
            self.seen.insert(p.clone(), u);
            if p.is_dir() && !self.walk(&p, depth + 1) {
                return false;
            }
        }
        true
    }

    /// Whether the run checks trust at all.
    pub fn enforced(&self) -> bool {
        self.enforced
    }

    /// Why `path` (a host path) must not be used, if it must not: what was
    /// observed when the run started, else the rule applied now (a path
    /// that depends on the kernel, or one that appeared since).
    pub fn of(&self, path: &Path) -> Option<Untrusted> {
        if !self.enforced {
            return None;
        }
        match self.seen.get(path) {
            Some(u) => u.clone(),
            None => check(&self.root, path),
        }
    }

    /// Why `dir` or anything under it must not be used (a directory copied
    /// whole: the `/etc/dkms/<module>/patches/` overlay).
    pub fn of_tree(&self, dir: &Path) -> Option<Untrusted> {
        if !self.enforced {
            return None;
        }
        if self.complete && self.seen.contains_key(dir) {
            return self
                .seen
                .range(dir.to_path_buf()..)
                .take_while(|(p, _)| p.starts_with(dir))
                .find_map(|(_, u)| u.clone());
        }
        if let Some(u) = check(&self.root, dir) {
            return Some(u);
        }
        let mut sub = Trust::off(&self.root);
        sub.enforced = true;
        if !sub.walk(dir, 0) {
            log::debug!("{}: too many entries to observe ahead", dir.display());
        }
        sub.seen.into_values().flatten().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn set_mode(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A root with a trusted `/etc/dkms`; the rule needs root to check
    /// (and to give files away).
    #[track_caller]
    fn root() -> Option<(tempfile::TempDir, Root)> {
        if !enforced() {
            crate::test_support::skip_unless_ci("trust", "the rule is checked only as root");
            return None;
        }
        let d = tempfile::tempdir().unwrap();
        let r = Root::new(d.path().canonicalize().unwrap());
        std::fs::create_dir_all(r.join("/etc/dkms")).unwrap();
        set_mode(&r.join("/etc"), 0o755);
        set_mode(&r.join("/etc/dkms"), 0o755);
        Some((d, r))
    }

    #[test]
    fn root_owned_files_not_writable_by_others_are_trusted() {
        let Some((_d, r)) = root() else { return };
        let f = r.join("/etc/dkms/framework.conf");
        std::fs::write(&f, "").unwrap();
        set_mode(&f, 0o644);
        assert_eq!(check(&r, &f), None);
        // A missing file in trusted directories is trusted.
        assert_eq!(check(&r, &r.join("/etc/dkms/none.conf")), None);
    }

    #[test]
    fn writable_by_group_or_others_or_owned_by_a_user_is_not() {
        let Some((_d, r)) = root() else { return };
        let f = r.join("/etc/dkms/framework.conf");
        std::fs::write(&f, "").unwrap();
        for mode in [0o664, 0o646, 0o620] {
            set_mode(&f, mode);
            let u = check(&r, &f).expect("untrusted");
            assert_eq!((u.kind, u.mode, u.uid), (Culprit::Itself, mode, 0));
        }
        set_mode(&f, 0o644);
        std::os::unix::fs::chown(&f, Some(1000), None).unwrap();
        let u = check(&r, &f).expect("untrusted");
        assert_eq!(u.uid, 1000);
        assert_eq!(
            u.line(),
            format!(
                "{p} is not trusted: owned by uid 1000 with mode 0644, so a user other than root can change it (fix: chown root:root {p} && chmod go-w {p})",
                p = f.display()
            )
        );
    }

    #[test]
    fn a_directory_on_the_way_counts_unless_root_made_it_sticky() {
        let Some((_d, r)) = root() else { return };
        let f = r.join("/etc/dkms/framework.conf");
        std::fs::write(&f, "").unwrap();
        set_mode(&f, 0o644);
        set_mode(&r.join("/etc"), 0o777);
        let u = check(&r, &f).expect("untrusted");
        assert_eq!((u.kind, &u.culprit), (Culprit::Directory, &r.join("/etc")));
        assert!(u.line().contains("its directory"), "{}", u.line());
        // Missing files count by their directories.
        assert!(check(&r, &r.join("/etc/dkms/new.key")).is_some());
        set_mode(&r.join("/etc"), 0o1777);
        assert_eq!(check(&r, &f), None);
        // ... but the directory asked about gets no such exception.
        assert!(check(&r, &r.join("/etc")).is_some());
    }

    #[test]
    fn links_count_by_their_target_and_the_directories_on_the_way() {
        let Some((_d, r)) = root() else { return };
        let real = r.join("/home/u/framework.conf");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        set_mode(&r.join("/home"), 0o755);
        set_mode(&r.join("/home/u"), 0o755);
        std::fs::write(&real, "").unwrap();
        set_mode(&real, 0o666);
        let f = r.join("/etc/dkms/framework.conf");
        // An absolute target is followed as the kernel follows it (on the
        // host, not re-based under the root).
        symlink(&real, &f).unwrap();
        let u = check(&r, &f).expect("untrusted");
        assert_eq!((u.kind, &u.culprit), (Culprit::LinkTarget, &real));
        set_mode(&real, 0o644);
        assert_eq!(check(&r, &f), None);
        std::os::unix::fs::chown(r.join("/home/u"), Some(1000), None).unwrap();
        let u = check(&r, &f).expect("untrusted");
        assert_eq!(
            (u.kind, &u.culprit),
            (Culprit::Directory, &r.join("/home/u"))
        );
        // A loop is a missing file, in trusted directories here.
        let a = r.join("/etc/dkms/a");
        symlink("b", &a).unwrap();
        symlink("a", r.join("/etc/dkms/b")).unwrap();
        assert_eq!(check(&r, &a), None);
    }

    #[test]
    fn the_observation_answers_for_etc_dkms_and_the_rule_for_the_rest() {
        let Some((_d, r)) = root() else { return };
        let etc = r.join("/etc/dkms");
        std::fs::create_dir_all(etc.join("hello/patches")).unwrap();
        for d in ["hello", "hello/patches"] {
            set_mode(&etc.join(d), 0o755);
        }
        std::fs::write(etc.join("hello/patches/a.patch"), "").unwrap();
        set_mode(&etc.join("hello/patches/a.patch"), 0o644);
        std::fs::write(etc.join("hello/patches/b.patch"), "").unwrap();
        set_mode(&etc.join("hello/patches/b.patch"), 0o666);
        let t = Trust::observe(&r, true);
        assert!(t.enforced());
        let u = t.of_tree(&etc.join("hello/patches")).expect("b.patch");
        assert_eq!(u.path, etc.join("hello/patches/b.patch"));
        assert_eq!(t.of(&etc.join("hello/patches/a.patch")), None);
        assert_eq!(Trust::off(&r).of_tree(&etc), None);
        // Outside /etc/dkms the rule is applied when asked.
        let key = r.join("/var/key");
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        set_mode(key.parent().unwrap(), 0o755);
        std::fs::write(&key, "").unwrap();
        set_mode(&key, 0o600);
        assert_eq!(t.of(&key), None);
        set_mode(&key, 0o606);
        assert!(t.of(&key).is_some());
        assert_eq!(Trust::observe(&r, false).of(&key), None);
    }
}
