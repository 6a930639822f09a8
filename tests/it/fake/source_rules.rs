//! The rules src/lib.rs states about the source, checked on the source:
//! each layer imports only from the layers below it, and `src/text` holds
//! upstream's catalogue only (our own wording lives in `msg` modules next to
//! the code). A new upward import or a new file of ours under `src/text`
//! fails here, before review.

use std::path::{Path, PathBuf};

/// The layers, bottom to top, as src/lib.rs lists them.
const LAYERS: [&str; 12] = [
    "text", "error", "fault", "layout", "fs", "child", "observe", "report", "plan", "exec", "cli",
    "engine",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file before its first `#[cfg(test)]` (unit tests may
/// reach up to render what they check).
fn production_part(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_layer_imports_only_from_the_layers_below_it() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let re = regex::Regex::new(r"crate::(\w+)").unwrap();
    let mut upward = Vec::new();
    let mut seen_layers = std::collections::BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        let Some(mine) = rank(&top) else { continue };
        seen_layers.insert(top.clone());
        let text = std::fs::read_to_string(f).unwrap();
        for c in re.captures_iter(production_part(&text)) {
            if let Some(theirs) = rank(&c[1]) {
                if theirs > mine {
                    upward.push(format!("{} imports crate::{}", rel.display(), &c[1]));
                }
            }
        }
    }
    assert_eq!(
        seen_layers.len(),
        LAYERS.len(),
        "a layer of lib.rs has no files: {seen_layers:?}"
    );
    upward.sort();
    upward.dedup();
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn src_text_holds_upstreams_catalogue_only() {
    let mut ours = Vec::new();
    for e in std::fs::read_dir(src().join("text")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name != "mod.rs" && !name.starts_with("upstream_") {
            ours.push(name);
        }
    }
    assert!(
        ours.is_empty(),
        "src/text is upstream's catalogue; put our wording in a msg module next to its code: {ours:?}"
    );
}
