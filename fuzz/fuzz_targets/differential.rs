//! Fuzz target: whenever the static reader claims a dkms.conf, sourcing the
//! same text in bash must leave exactly the same directive values.
#![no_main]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use dkms_hook::observe::conf::bash_eval::eval_bash;
use dkms_hook::observe::conf::static_reader::read_static;
use dkms_hook::observe::conf::{ConfContext, RawConf};
use libfuzzer_sys::fuzz_target;

/// Inputs above this are not worth a bash start.
const MAX_INPUT: usize = 4096;

fn ctx() -> ConfContext {
    ConfContext::sample()
}

fn directives_only(raw: &RawConf) -> RawConf {
    raw.directives_only()
}

fuzz_target!(|data: &[u8]| {
    // load() refuses NUL bytes before either reader sees the file.
    if data.len() > MAX_INPUT || data.contains(&0) {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let c = ctx();
    let known: BTreeMap<String, String> = c
        .pairs()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let Ok(st) = read_static(&text, &known, false) else {
        return;
    };
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write temp file");
    f.flush().expect("flush");
    let bash = eval_bash(&[f.path().to_path_buf()], &c, &[], Duration::from_secs(10))
        .unwrap_or_else(|e| {
            panic!("bash failed on a file the static reader claims {text:?}: {e:?}")
        });
    assert_eq!(
        directives_only(&st),
        bash,
        "static reader and bash disagree on {text:?}"
    );
});
