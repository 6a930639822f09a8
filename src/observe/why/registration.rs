//! Which registered dkms module the name `why` was asked about is: one of
//! that name, of that name with `-` and `_` swapped, or one whose build
//! holds a module file of that name; else the similar names, the sources
//! not registered and the `*-dkms` packages that provide it.

use crate::layout::Root;
use crate::observe::module_file::{name_of_file, normalized};
use crate::observe::version::sort_v_cmp;
use crate::observe::World;

use super::{NotRegistered, Registration};

/// The registered module `asked` names: a module of that name, of that
/// name with `-` and `_` swapped, or one whose build holds a file of that
/// name.
pub(super) fn registration(
    world: &World,
    asked: &str,
    k: &str,
    a: &str,
) -> Result<Registration, NotRegistered> {
    let tree = &world.tree;
    let names = tree.module_names();
    let pick_version = |m: &str| -> Option<String> {
        if let Some(v) = tree.linked_version(m, k, a) {
            return Some(v.to_string());
        }
        let mut vs = tree.versions(m);
        vs.sort_by(|x, y| sort_v_cmp(x, y));
        vs.pop()
    };
    let want = normalized(asked);
    let by_name = names
        .iter()
        .find(|m| m.as_str() == asked)
        .or_else(|| names.iter().find(|m| normalized(m) == want));
    if let Some(m) = by_name {
        if let Some(v) = pick_version(m) {
            return Ok(Registration {
                module: m.clone(),
                version: v,
                dest_name: String::new(),
            });
        }
    }
    // A module file of that name in some build of a registered module.
    let l = &world.host.layout;
    for m in &names {
        for v in tree.versions(m) {
            for (bk, ba) in tree.built_kernels(m, &v) {
                let dir = l.base_dir(m, &v, &bk, &ba).join("module");
                let hit = crate::fs::list_names(&dir)
                    .iter()
                    .filter_map(|n| name_of_file(n))
                    .any(|n| normalized(n) == want);
                if hit {
                    return Ok(Registration {
                        module: m.clone(),
                        version: pick_version(m).unwrap_or(v),
                        dest_name: asked.to_string(),
                    });
                }
            }
        }
    }
    Err(not_registered(world, asked))
}

/// Similar registered names, unregistered sources and `*-dkms` packages.
fn not_registered(world: &World, asked: &str) -> NotRegistered {
    let want = normalized(asked).to_lowercase();
    let close = |n: &str| {
        let n = normalized(n).to_lowercase();
        n.contains(&want) || want.contains(&n) || distance(&n, &want) <= 2
    };
    let similar = world
        .tree
        .module_names()
        .into_iter()
        .filter(|m| close(m))
        .collect();
    let l = &world.host.layout;
    let mut unadded: Vec<(String, String)> = crate::fs::list_names(&l.source)
        .into_iter()
        .filter(|d| l.source.join(d).join("dkms.conf").is_file())
        .filter_map(|d| {
            let (m, v) = d.rsplit_once('-')?;
            (normalized(m) == normalized(asked) && world.tree.version(m, v).is_none())
                .then(|| (m.to_string(), v.to_string()))
        })
        .collect();
    unadded.sort();
    NotRegistered {
        similar,
        unadded,
        packages: dkms_packages(&l.root, asked),
    }
}

/// The edit distance of two short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `*-dkms` package names in apt's package lists under the root whose
/// name, without `-dkms`, is like the module's.
fn dkms_packages(root: &Root, asked: &str) -> Vec<String> {
    let want = normalized(asked).to_lowercase();
    let lists = root.join("/var/lib/apt/lists");
    let mut out = Vec::new();
    for n in crate::fs::list_names(&lists) {
        if !n.ends_with("_Packages") {
            continue;
        }
        let Ok(text) = crate::fs::read_regular_text(&lists.join(&n), 256 << 20) else {
            continue;
        };
        for l in text.lines() {
            let Some(p) = l.strip_prefix("Package: ") else {
                continue;
            };
            let Some(stem) = p.strip_suffix("-dkms") else {
                continue;
            };
            let s = normalized(stem).to_lowercase();
            if (s.contains(&want) || want.contains(&s)) && !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
    }
    out.sort();
    out
}
