//! A short, deterministic stand-in for the cargo-fuzz targets in `fuzz/`
//! (which need a nightly-style toolchain and run for minutes): the same two
//! properties, checked over the committed seed files and 2,000 inputs
//! mutated from them with a fixed seed.
//!
//! - `static_reader`: [`read_static`] never panics, strict or lenient.
//! - `differential`: whenever the strict reader claims a text, bash leaves
//!   exactly the same dkms.conf directive values.
//!
//! Set `DKMS_FUZZ_CORPUS=<dir>` to add a fuzzing run's saved corpus (then
//! every claimed input is compared with bash, without the usual cap).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dkms_hook::observe::conf::bash_eval::eval_bash;
use dkms_hook::observe::conf::static_reader::read_static;
use dkms_hook::observe::conf::{ConfContext, RawConf};

/// Generated inputs per run.
const CASES: usize = 2000;
/// Largest input the differential target accepts.
const MAX_INPUT: usize = 4096;
/// At most this many bash runs, to stay well under the time budget.
const MAX_BASH: usize = 250;

fn ctx() -> ConfContext {
    ConfContext::sample()
}

fn known() -> BTreeMap<String, String> {
    ctx().known()
}

fn directives_only(raw: &RawConf) -> RawConf {
    raw.directives_only()
}

/// xorshift64: reproducible without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The fuzzers' dictionary (fuzz/dkms.dict), as plain tokens.
const TOKENS: &[&str] = &[
    "PACKAGE_NAME=",
    "PACKAGE_VERSION=",
    "BUILT_MODULE_NAME[",
    "DEST_MODULE_LOCATION[",
    "MAKE=",
    "PATCH[",
    "CLEAN=",
    "STRIP[",
    "export ",
    "$kernelver",
    "${arch}",
    "$module",
    "${kernel_source_dir}",
    "=(",
    ")",
    "\"",
    "'",
    "\\",
    "\\\n",
    "\r",
    "#",
    ";",
    "$(",
    "`",
    "${",
    "$[",
    "<<",
    "]=",
    "[0]=",
    "[10]=",
    "H=",
    "\n",
    " ",
    "$",
];

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
}

fn seeds() -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(seeds_dir())
        .expect("fuzz/seeds exists")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    let out: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read seed"))
        .collect();
    assert!(out.len() >= 10, "fuzz/seeds holds too few files");
    out
}

/// One libFuzzer-like mutation step.
fn mutate(r: &mut Rng, data: &mut Vec<u8>, pool: &[Vec<u8>]) {
    match r.below(6) {
        0 if !data.is_empty() => {
            let i = r.below(data.len());
            data[i] ^= 1 << r.below(8);
        }
        1 if !data.is_empty() => {
            let i = r.below(data.len());
            let n = 1 + r.below(8.min(data.len() - i));
            data.drain(i..i + n);
        }
        2 | 3 => {
            let t = TOKENS[r.below(TOKENS.len())].as_bytes();
            let i = r.below(data.len() + 1);
            data.splice(i..i, t.iter().copied());
        }
        4 => {
            let other = &pool[r.below(pool.len())];
            if !other.is_empty() {
                let a = r.below(other.len());
                let b = a + r.below(other.len() - a).min(64);
                let i = r.below(data.len() + 1);
                data.splice(i..i, other[a..b].iter().copied());
            }
        }
        _ => {
            let i = r.below(data.len() + 1);
            data.insert(i, r.below(256) as u8);
        }
    }
}

/// Extra inputs: every file under `DKMS_FUZZ_CORPUS` (e.g. a fuzzing run's
/// `fuzz/corpus/differential`), when set.
fn corpus() -> Vec<Vec<u8>> {
    let Some(dir) = std::env::var_os("DKMS_FUZZ_CORPUS") else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("DKMS_FUZZ_CORPUS is a directory")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("read corpus file"))
        .collect()
}

fn inputs() -> Vec<Vec<u8>> {
    let pool = seeds();
    let mut r = Rng(0x5eed_d1c5_0000_0001);
    let mut out = pool.clone();
    for _ in 0..CASES {
        let mut d = pool[r.below(pool.len())].clone();
        if d.len() > 512 {
            let a = r.below(d.len() - 256);
            d = d[a..a + 256].to_vec();
        }
        for _ in 0..1 + r.below(6) {
            mutate(&mut r, &mut d, &pool);
        }
        out.push(d);
    }
    out.extend(corpus());
    out
}

#[test]
fn static_reader_never_panics() {
    let known = known();
    for data in inputs() {
        let text = String::from_utf8_lossy(&data);
        let _ = read_static(&text, &known, false);
        let _ = read_static(&text, &known, true);
    }
}

#[test]
fn static_reader_agrees_with_bash() {
    let started = Instant::now();
    let known = known();
    let (mut claimed, mut compared) = (0, 0);
    for data in inputs() {
        if data.len() > MAX_INPUT || data.contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&data);
        let Ok(st) = read_static(&text, &known, false) else {
            continue;
        };
        claimed += 1;
        if compared >= MAX_BASH && std::env::var_os("DKMS_FUZZ_CORPUS").is_none() {
            continue;
        }
        compared += 1;
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        let bash = eval_bash(
            &[f.path().to_path_buf()],
            &ctx(),
            &[],
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("bash failed on {text:?}: {e:?}"));
        assert_eq!(
            directives_only(&st),
            bash,
            "static reader and bash disagree on {text:?}"
        );
    }
    eprintln!(
        "{claimed} inputs claimed by the static reader, {compared} compared with bash in {:?}",
        started.elapsed()
    );
    assert!(
        compared >= 50,
        "too few claimed inputs ({compared}) to mean anything"
    );
}
