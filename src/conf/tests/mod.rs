//! Tests of the dkms.conf pipeline: the static reader on its own, its
//! agreement with bash, resolution against upstream's rules, and the whole
//! `load` on real and hostile files.

mod agreement;
mod hostile;
mod lenient;
mod loading;
mod random_agreement;
mod reader;
mod resolving;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::bash_eval::DIRECTIVES;
use super::{ConfContext, RawConf};

/// The context every test reads with (paths need not exist).
pub(super) fn ctx() -> ConfContext {
    ConfContext {
        kernelver: "6.1.0-13-amd64".into(),
        arch: "x86_64".into(),
        kernel_source_dir: "/nonexistent/lib/modules/6.1.0-13-amd64/build".into(),
        dkms_tree: "/var/lib/dkms".into(),
        source_tree: "/usr/src".into(),
        install_tree: "/lib/modules".into(),
        module: "foo".into(),
        module_version: "1.0".into(),
        kernel_config: "/nonexistent/lib/modules/6.1.0-13-amd64/build/.config".into(),
        tmp_location: "/tmp".into(),
    }
}

/// `ctx()`'s variables as the static reader's `known`.
pub(super) fn known(c: &ConfContext) -> BTreeMap<String, String> {
    c.pairs()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Only the dkms.conf directives of `raw` (what bash reports).
pub(super) fn directives_only(raw: &RawConf) -> RawConf {
    let mut out = RawConf::default();
    for (k, v) in &raw.vars {
        if DIRECTIVES.contains(&k.as_str()) {
            out.vars.insert(k.clone(), v.clone());
        }
    }
    out
}

/// A fixture under tests/fixtures/conf.
pub(super) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conf")
        .join(name)
}

/// A RawConf from (name, [(index, value)]) lists.
pub(super) fn raw(entries: &[(&str, &[(usize, &str)])]) -> RawConf {
    let mut r = RawConf::default();
    for (name, elems) in entries {
        for (i, v) in elems.iter() {
            r.set(name, *i, *v);
        }
    }
    r
}
