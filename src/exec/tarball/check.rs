//! Every check an archive passes before anything in it is unpacked, as one
//! pure function of its member list: names (absolute, `..`, the root
//! replaced), types (hard links, devices, FIFOs), setuid and setgid files,
//! the same name given twice, members beneath a symlink or a file, symlinks
//! that resolve (through the other links in the archive) outside it or
//! outside the directory they are loaded with, and the layout: mktarball's
//! `dkms_main_tree/` with safe kernel/arch names and a dkms.conf to read,
//! or a plain source directory holding a dkms.conf.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::list::{show, Kind, Member};
use crate::exec::tarball::msg;
use crate::layout::is_safe_component;

/// Symlink hops followed when resolving where a link leads (the kernel's
/// limit).
const MAX_LINK_HOPS: usize = 40;

/// Where mktarball puts prebuilt modules.
pub const MAIN_TREE: &str = "dkms_main_tree";

/// Where a mktarball archive with a dkms.conf may hold it, in upstream's
/// order of trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// `dkms_source_tree/`: the whole source.
    Source,
    /// `dkms_binaries_only/`: a dkms.conf for prebuilt modules only.
    BinariesOnly,
}

impl Candidate {
    /// The directory in the archive.
    pub fn dir(self) -> &'static str {
        match self {
            Candidate::Source => "dkms_source_tree",
            Candidate::BinariesOnly => "dkms_binaries_only",
        }
    }
}

/// One kernel's prebuilt modules in `dkms_main_tree/<kernel>/<arch>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prebuilt {
    /// The kernel version (a safe path component).
    pub kernel: String,
    /// The architecture (a safe path component).
    pub arch: String,
    /// The directory, relative to the archive's root.
    pub dir: PathBuf,
}

/// What a checked archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// No `dkms_main_tree`: the directory (relative to the root) holding
    /// the first dkms.conf, shallowest first, then in name order.
    Plain {
        /// The source directory.
        source: PathBuf,
    },
    /// mktarball's layout.
    Made {
        /// The dkms.conf files present, in upstream's order of trying.
        candidates: Vec<Candidate>,
        /// The prebuilt kernels, in name order.
        prebuilt: Vec<Prebuilt>,
    },
}

/// An archive that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Each member's path relative to the root (`.` and empty parts
    /// dropped), in archive order.
    pub paths: Vec<PathBuf>,
    /// Its layout.
    pub layout: Layout,
}

/// Why an archive is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Hostile or malformed (the reason; exit 9).
    Unsafe(String),
    /// No `dkms_main_tree` and no dkms.conf (upstream's exit 3).
    NotDkms,
    /// A `dkms_main_tree` but no dkms.conf where mktarball puts one
    /// (upstream's exit 7).
    NoValidConf,
}

/// What a member made of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node<'a> {
    Dir,
    File,
    Link(&'a [u8]),
}

/// Steps (path components looked at, weighted by depth) that resolving
/// all of an archive's symlinks may take; a legitimate archive needs a
/// handful per link.
const MAX_RESOLVE_STEPS: u64 = 50_000_000;

/// One path of the archive: what a member made of it (`None`: only a
/// directory above members), and the paths below it.
struct TrieNode<'a> {
    kind: Option<Node<'a>>,
    name: &'a [u8],
    parent: usize,
    children: HashMap<&'a [u8], usize>,
    /// A directory that is loaded into a tree as a whole: links in it
    /// must stay in it.
    copied: bool,
}

/// Every path of the archive, by component, so that each question (what
/// is above a member, where a link leads) costs the length of a name.
struct Trie<'a> {
    nodes: Vec<TrieNode<'a>>,
}

const ROOT: usize = 0;

impl<'a> Trie<'a> {
    fn new() -> Self {
        Trie {
            nodes: vec![TrieNode {
                kind: Some(Node::Dir),
                name: b"",
                parent: ROOT,
                children: HashMap::new(),
                copied: false,
            }],
        }
    }

    /// The node of `parts`, made (with the directories above it) if new.
    fn insert(&mut self, parts: &[&'a [u8]]) -> usize {
        let mut at = ROOT;
        for &p in parts {
            at = match self.nodes[at].children.get(p) {
                Some(&c) => c,
                None => {
                    let c = self.nodes.len();
                    self.nodes.push(TrieNode {
                        kind: None,
                        name: p,
                        parent: at,
                        children: HashMap::new(),
                        copied: false,
                    });
                    self.nodes[at].children.insert(p, c);
                    c
                }
            };
        }
        at
    }

    fn child(&self, at: usize, name: &[u8]) -> Option<usize> {
        self.nodes[at].children.get(name).copied()
    }

    fn is_dir(&self, at: usize) -> bool {
        matches!(self.nodes[at].kind, None | Some(Node::Dir))
    }

    /// The directories right below `at`, in name order.
    fn subdirs(&self, at: usize) -> Vec<(&'a [u8], usize)> {
        let mut v: Vec<(&[u8], usize)> = self.nodes[at]
            .children
            .iter()
            .filter(|(_, &c)| self.is_dir(c))
            .map(|(&n, &c)| (n, c))
            .collect();
        v.sort();
        v
    }

    /// The path of `at` from the root.
    fn parts(&self, mut at: usize) -> Vec<&'a [u8]> {
        let mut v = Vec::new();
        while at != ROOT {
            v.push(self.nodes[at].name);
            at = self.nodes[at].parent;
        }
        v.reverse();
        v
    }
}

type Parts<'a> = Vec<&'a [u8]>;

/// The components of a member name with `.` and empty parts dropped; an
/// error if it is absolute or has a `..` component.
fn components(name: &[u8]) -> Result<Parts<'_>, &'static str> {
    if name.starts_with(b"/") {
        return Err(msg::ENTRY_ABSOLUTE);
    }
    let parts: Parts = name
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    if parts.iter().any(|p| *p == b"..") {
        return Err(msg::ENTRY_DOTDOT);
    }
    Ok(parts)
}

fn joined(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&b'/')
}

fn to_path(parts: &[&[u8]]) -> PathBuf {
    parts.iter().map(|p| OsStr::from_bytes(p)).collect()
}

/// Check `members` (in archive order) and find the layout.
pub fn check(members: &[Member]) -> Result<Checked, Refusal> {
    let mut trie = Trie::new();
    let mut all: Vec<(Parts, usize)> = Vec::with_capacity(members.len());
    for m in members {
        let refuse = |why: &str| Refusal::Unsafe(msg::archive_entry(&show(&m.name), why));
        let parts = components(&m.name).map_err(refuse)?;
        let node = match m.kind {
            Kind::File if m.mode & 0o4000 != 0 => return Err(refuse(msg::ENTRY_SETUID)),
            Kind::File if m.mode & 0o2000 != 0 => return Err(refuse(msg::ENTRY_SETGID)),
            Kind::File => Node::File,
            Kind::Dir => Node::Dir,
            Kind::Symlink if m.target.starts_with(b"/") => {
                return Err(refuse(&msg::entry_link_absolute(&show(&m.target))))
            }
            Kind::Symlink if m.target.is_empty() => {
                return Err(refuse(&msg::entry_link_outside(&show(&m.target))))
            }
            Kind::Symlink => Node::Link(&m.target),
            Kind::HardLink => return Err(refuse(&msg::entry_hard_link(&show(&m.target)))),
            Kind::CharDevice => return Err(refuse(msg::ENTRY_CHAR_DEVICE)),
            Kind::BlockDevice => return Err(refuse(msg::ENTRY_BLOCK_DEVICE)),
            Kind::Fifo => return Err(refuse(msg::ENTRY_FIFO)),
            Kind::Other(b) => {
                return Err(refuse(&msg::entry_unsupported(
                    &char::from(b).escape_default().to_string(),
                )))
            }
        };
        if parts.is_empty() && node != Node::Dir {
            return Err(refuse(msg::ENTRY_REPLACES_ROOT));
        }
        let at = trie.insert(&parts);
        match trie.nodes[at].kind {
            None => trie.nodes[at].kind = Some(node),
            Some(Node::Dir) if node == Node::Dir => {}
            Some(_) => return Err(refuse(msg::ENTRY_DUPLICATE)),
        }
        all.push((parts, at));
    }

    let layout = find_layout(&mut trie);
    let mut budget = MAX_RESOLVE_STEPS;
    for (m, (parts, at)) in members.iter().zip(&all) {
        let Some(Node::Link(target)) = trie.nodes[*at].kind else {
            continue;
        };
        // The stack of nodes down to the link's directory, and the depth
        // of the deepest directory above it that is loaded as a whole.
        let mut stack = Vec::with_capacity(parts.len());
        let mut confine = 0;
        let mut node = ROOT;
        for &p in &parts[..parts.len() - 1] {
            node = trie.child(node, p).unwrap_or(ROOT);
            stack.push(Some(node));
            if trie.nodes[node].copied {
                confine = stack.len();
            }
        }
        let inside = resolves_inside(&trie, stack, confine, target, &mut budget)
            .ok_or_else(|| Refusal::Unsafe(msg::archive_links_too_complex(MAX_RESOLVE_STEPS)))?;
        if !inside {
            let why = if confine == 0 {
                msg::entry_link_outside(&show(target))
            } else {
                msg::entry_link_escapes(&show(target))
            };
            return Err(Refusal::Unsafe(msg::archive_entry(&show(&m.name), &why)));
        }
    }
    for (m, (parts, _)) in members.iter().zip(&all) {
        let mut node = ROOT;
        for (i, &p) in parts[..parts.len().saturating_sub(1)].iter().enumerate() {
            node = trie.child(node, p).unwrap_or(ROOT);
            let above = &parts[..=i];
            let why = match trie.nodes[node].kind {
                Some(Node::Link(_)) => msg::entry_beneath_link(&show(&joined(above))),
                Some(Node::File) => msg::entry_beneath_file(&show(&joined(above))),
                _ => continue,
            };
            return Err(Refusal::Unsafe(msg::archive_entry(&show(&m.name), &why)));
        }
    }
    Ok(Checked {
        paths: all.iter().map(|(p, _)| to_path(p)).collect(),
        layout: layout?,
    })
}

/// The layout of the archive in `trie`; marks the directories that are
/// loaded as a whole.
fn find_layout(trie: &mut Trie) -> Result<Layout, Refusal> {
    let Some(main) = trie
        .child(ROOT, MAIN_TREE.as_bytes())
        .filter(|&n| trie.is_dir(n))
    else {
        // Upstream takes the first dkms.conf `find` shows; here the
        // shallowest, then in name order, and only a regular file.
        let mut queue = VecDeque::from([ROOT]);
        while let Some(dir) = queue.pop_front() {
            let conf = trie.child(dir, b"dkms.conf");
            if conf.is_some_and(|c| trie.nodes[c].kind == Some(Node::File)) {
                trie.nodes[dir].copied = true;
                return Ok(Layout::Plain {
                    source: to_path(&trie.parts(dir)),
                });
            }
            queue.extend(trie.subdirs(dir).into_iter().map(|(_, c)| c));
        }
        return Err(Refusal::NotDkms);
    };
    if let Some(src) = trie
        .child(ROOT, Candidate::Source.dir().as_bytes())
        .filter(|&n| trie.is_dir(n))
    {
        trie.nodes[src].copied = true;
    }
    let mut prebuilt = Vec::new();
    let mut bad = None;
    for (k, kn) in trie.subdirs(main) {
        for (a, an) in trie.subdirs(kn) {
            if k.starts_with(b".") || a.starts_with(b".") {
                continue;
            }
            trie.nodes[an].copied = true;
            let (Ok(ks), Ok(as_)) = (std::str::from_utf8(k), std::str::from_utf8(a)) else {
                bad.get_or_insert(msg::kernel_dir_not_text(&show(&joined(&[k, a]))));
                continue;
            };
            if let Some(s) = [ks, as_].into_iter().find(|s| !is_safe_component(s)) {
                bad.get_or_insert(msg::kernel_dir_unsafe(&show(s.as_bytes())));
                continue;
            }
            prebuilt.push(Prebuilt {
                kernel: ks.to_string(),
                arch: as_.to_string(),
                dir: to_path(&[MAIN_TREE.as_bytes(), k, a]),
            });
        }
    }
    if let Some(why) = bad {
        return Err(Refusal::Unsafe(why));
    }
    let candidates: Vec<Candidate> = [Candidate::Source, Candidate::BinariesOnly]
        .into_iter()
        .filter(|c| {
            trie.child(ROOT, c.dir().as_bytes())
                .filter(|&d| trie.is_dir(d))
                .and_then(|d| trie.child(d, b"dkms.conf"))
                .is_some_and(|f| trie.nodes[f].kind == Some(Node::File))
        })
        .collect();
    if candidates.is_empty() {
        return Err(Refusal::NoValidConf);
    }
    Ok(Layout::Made {
        candidates,
        prebuilt,
    })
}

/// Resolve a symlink pointing at `target` from the directory `stack` (the
/// nodes from the root down; `None` once below anything in the archive)
/// the way the kernel would, following the archive's other links on the
/// way, and say whether it never climbs above depth `confine`. A dangling
/// tail is resolved by its names. `None` when `budget` runs out.
fn resolves_inside(
    trie: &Trie,
    mut stack: Vec<Option<usize>>,
    confine: usize,
    target: &[u8],
    budget: &mut u64,
) -> Option<bool> {
    let mut todo: VecDeque<&[u8]> = target.split(|&b| b == b'/').collect();
    let mut hops = 1;
    while let Some(step) = todo.pop_front() {
        *budget = budget.checked_sub(1)?;
        match step {
            b"" | b"." => {}
            b".." => {
                if stack.len() <= confine {
                    return Some(false);
                }
                stack.pop();
            }
            name => {
                let here = stack.last().copied().unwrap_or(Some(ROOT));
                let next = here.and_then(|n| trie.child(n, name));
                if let Some(Node::Link(t)) = next.and_then(|n| trie.nodes[n].kind) {
                    hops += 1;
                    if hops > MAX_LINK_HOPS || t.starts_with(b"/") || t.is_empty() {
                        return Some(false);
                    }
                    *budget = budget.checked_sub(t.len() as u64)?;
                    for s in t.split(|&b| b == b'/').rev() {
                        todo.push_front(s);
                    }
                } else {
                    stack.push(next);
                }
            }
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn m(kind: Kind, name: &str, target: &str) -> Member {
        Member {
            name: name.as_bytes().to_vec(),
            kind,
            target: target.as_bytes().to_vec(),
            mode: 0o644,
            size: 0,
            mtime: 0,
        }
    }
    fn f(name: &str) -> Member {
        m(Kind::File, name, "")
    }
    fn d(name: &str) -> Member {
        m(Kind::Dir, name, "")
    }
    fn l(name: &str, target: &str) -> Member {
        m(Kind::Symlink, name, target)
    }
    fn moded(mut member: Member, mode: u32) -> Member {
        member.mode = mode;
        member
    }

    /// A plain source archive around `extra`.
    fn plain(extra: Vec<Member>) -> Vec<Member> {
        let mut v = vec![d("./"), d("p-1/"), f("p-1/dkms.conf")];
        v.extend(extra);
        v
    }

    #[rstest]
    #[case(plain(vec![l("p-1/l", "dkms.conf"), l("p-1/a/b/l", "../../c")]), None)]
    #[case(plain(vec![f("../x")]), Some("'..'"))]
    #[case(plain(vec![f("a/../../x")]), Some("'..'"))]
    #[case(plain(vec![f("/etc/x")]), Some("absolute path"))]
    #[case(plain(vec![l("evil", "/etc"), f("evil/passwd")]), Some("absolute path"))]
    #[case(plain(vec![l("p-1/evil", "sub"), f("./p-1/evil/passwd")]), Some("beneath the symbolic link \"p-1/evil\""))]
    #[case(plain(vec![f("p-1/file"), f("p-1/file/x")]), Some("beneath \"p-1/file\", which is not a directory"))]
    #[case(plain(vec![l("a/l", "../../outside")]), Some("outside the archive"))]
    #[case(plain(vec![l("p-1/l", "../other")]), Some("outside its directory"))]
    #[case(plain(vec![l("p-1/dot", "."), l("p-1/up", "dot/dot/../..")]), Some("outside its directory"))]
    #[case(plain(vec![l("p-1/loop1", "loop2"), l("p-1/loop2", "loop1/x")]), Some("outside its directory"))]
    #[case(plain(vec![l("l", "")]), Some("outside the archive"))]
    #[case(plain(vec![m(Kind::HardLink, "h", "etc/passwd")]), Some("hard link"))]
    #[case(plain(vec![m(Kind::CharDevice, "null", "")]), Some("character device"))]
    #[case(plain(vec![m(Kind::BlockDevice, "sda", "")]), Some("block device"))]
    #[case(plain(vec![m(Kind::Fifo, "fifo", "")]), Some("fifo"))]
    #[case(plain(vec![m(Kind::Other(b'V'), "vol", "")]), Some("unsupported type 'V'"))]
    #[case(plain(vec![l(".", "x")]), Some("replaces the archive root"))]
    #[case(plain(vec![f("./")]), Some("replaces the archive root"))]
    #[case(plain(vec![l("d", "x"), d("d/")]), Some("more than once"))]
    #[case(plain(vec![f("p-1/x"), f("./p-1//x")]), Some("more than once"))]
    #[case(plain(vec![d("p-1/sub/"), d("p-1/sub")]), None)]
    #[case(plain(vec![moded(f("p-1/su"), 0o4755)]), Some("setuid"))]
    #[case(plain(vec![moded(f("p-1/sg"), 0o2755)]), Some("setgid"))]
    #[case(plain(vec![moded(d("p-1/gdir/"), 0o2775), moded(f("p-1/sticky"), 0o1644)]), None)]
    fn checks_members(#[case] members: Vec<Member>, #[case] problem: Option<&str>) {
        match (check(&members), problem) {
            (Ok(_), None) => {}
            (Err(Refusal::Unsafe(e)), Some(p)) => {
                assert!(e.contains(p), "{e:?} should mention {p:?}")
            }
            (r, p) => panic!("got {r:?}, expected {p:?}"),
        }
    }

    #[test]
    fn finds_the_plain_source_shallowest_first() {
        let c = check(&[
            f("z/dkms.conf"),
            f("b/sub/dkms.conf"),
            l("a/dkms.conf", "../z/dkms.conf"),
            f("c/dkms.conf"),
        ])
        .unwrap();
        assert_eq!(
            c.layout,
            Layout::Plain {
                source: PathBuf::from("c")
            }
        );
        assert_eq!(check(&[f("x/Makefile")]), Err(Refusal::NotDkms));
        assert_eq!(check(&[]), Err(Refusal::NotDkms));
    }

    #[test]
    fn finds_mktarballs_layout() {
        let c = check(&[
            d("./"),
            f("./dkms_binaries_only/dkms.conf"),
            f("dkms_source_tree/dkms.conf"),
            f("dkms_main_tree/6.1/x86_64/module/m.ko"),
            d("dkms_main_tree/5.10/x86_64/"),
            d("dkms_main_tree/.hidden/x86_64/"),
            f("dkms_main_tree/6.1/notadir"),
        ])
        .unwrap();
        let pre = |k: &str| Prebuilt {
            kernel: k.into(),
            arch: "x86_64".into(),
            dir: PathBuf::from(format!("dkms_main_tree/{k}/x86_64")),
        };
        assert_eq!(
            c.layout,
            Layout::Made {
                candidates: vec![Candidate::Source, Candidate::BinariesOnly],
                prebuilt: vec![pre("5.10"), pre("6.1")],
            }
        );
        assert_eq!(c.paths[1], PathBuf::from("dkms_binaries_only/dkms.conf"));
        assert_eq!(
            check(&[d("dkms_main_tree/"), f("dkms_source_tree/Makefile")]),
            Err(Refusal::NoValidConf)
        );
        // A link where the conf would be is no conf.
        assert_eq!(
            check(&[
                d("dkms_main_tree/"),
                f("dkms_source_tree/x"),
                l("dkms_source_tree/dkms.conf", "x")
            ]),
            Err(Refusal::NoValidConf)
        );
        let bad = check(&[
            f("dkms_source_tree/dkms.conf"),
            f("dkms_main_tree/-rf/x/m.ko"),
        ]);
        assert!(matches!(bad, Err(Refusal::Unsafe(e)) if e.contains("\"-rf\" is not allowed")));
        // Links in the loaded source and prebuilt directories stay in them.
        let out = check(&[
            f("dkms_source_tree/dkms.conf"),
            l("dkms_source_tree/l", "../dkms_main_tree"),
        ]);
        assert!(matches!(out, Err(Refusal::Unsafe(e)) if e.contains("outside its directory")));
        let out = check(&[
            f("dkms_source_tree/dkms.conf"),
            l(
                "dkms_main_tree/6.1/x86_64/l",
                "../../../dkms_source_tree/dkms.conf",
            ),
        ]);
        assert!(matches!(out, Err(Refusal::Unsafe(e)) if e.contains("outside its directory")));
        // Elsewhere they only stay in the archive.
        assert!(check(&[
            f("dkms_source_tree/dkms.conf"),
            l("dkms_main_tree/l", "../dkms_source_tree/dkms.conf"),
        ])
        .is_ok());
    }

    /// Deep names and many links cost about their length, not its square.
    #[test]
    fn deep_archives_are_checked_in_linear_time() {
        let deep = "d/".repeat(1000);
        let mut members = vec![f("p/dkms.conf")];
        for i in 0..600 {
            members.push(f(&format!("p/{deep}f{i}")));
            members.push(l(&format!("p/{deep}l{i}"), &"./".repeat(1000)));
        }
        let started = std::time::Instant::now();
        assert!(check(&members).is_ok());
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}
