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

use super::{ConfContext, RawConf};

/// The context every test reads with (paths need not exist).
pub(super) fn ctx() -> ConfContext {
    ConfContext::sample()
}

/// `ctx()`'s variables as the static reader's `known`.
pub(super) fn known(c: &ConfContext) -> BTreeMap<String, String> {
    c.known()
}

/// Only the dkms.conf directives of `raw` (what bash reports).
pub(super) fn directives_only(raw: &RawConf) -> RawConf {
    raw.directives_only()
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

/// `text` evaluated by the bash evaluator in `ctx()` (shared by the
/// agreement tests and the fuzz regressions).
pub(in crate::observe::conf) fn bash(text: &str) -> RawConf {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    super::bash_eval::eval_bash(
        &[f.path().to_path_buf()],
        &ctx(),
        &[],
        std::time::Duration::from_secs(20),
    )
    .unwrap()
}
