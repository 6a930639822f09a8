//! Fuzz target: the static dkms.conf/framework.conf reader must never panic,
//! hang or overflow its stack on any input, in strict or lenient mode.
#![no_main]

use std::collections::BTreeMap;

use dkms_hook::observe::conf::static_reader::read_static;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut known = BTreeMap::new();
    known.insert("kernelver".to_string(), "6.1.0-13-amd64".to_string());
    known.insert("arch".to_string(), "x86_64".to_string());
    known.insert("module".to_string(), "foo".to_string());
    let _ = read_static(&text, &known, false);
    let _ = read_static(&text, &known, true);
});
