//! Generated files: wherever the static reader claims one, bash must give
//! the same values. A fixed seed keeps the run reproducible; set
//! DKMS_CONF_FUZZ_CASES to run more.

use std::io::Write;
use std::time::Duration;

use super::{ctx, directives_only, known};
use crate::observe::conf::bash_eval::eval_bash;
use crate::observe::conf::static_reader::read_static;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NAMES: &[&str] = &[
    "MAKE",
    "CLEAN",
    "PATCH",
    "BUILT_MODULE_NAME",
    "H",
    "kernelver",
    "STRIP",
];
const READ: &[&str] = &["kernelver", "arch", "module", "MAKE", "H", "CLEAN", "NOPE"];

fn bare(r: &mut Rng) -> String {
    let set: Vec<char> = "abcXYZ.-/_:=,@%+!^09é".chars().collect();
    (0..1 + r.below(3))
        .map(|_| set[r.below(set.len())])
        .collect()
}

fn single_quoted(r: &mut Rng) -> String {
    let set: Vec<char> = "ab \"\\$#*()[]{}~;|&<>`\n\t\r=".chars().collect();
    let body: String = (0..r.below(5)).map(|_| set[r.below(set.len())]).collect();
    format!("'{body}'")
}

fn var(r: &mut Rng) -> String {
    let n = r.pick(READ);
    if r.chance(50) {
        format!("${n}")
    } else {
        format!("${{{n}}}")
    }
}

fn double_quoted(r: &mut Rng) -> String {
    let mut s = String::from("\"");
    for _ in 0..r.below(5) {
        let piece = match r.below(9) {
            0 => r
                .pick(&["\\\"", "\\\\", "\\$", "\\`", "\\x", "\\\n", "\\'", "\\ "])
                .to_string(),
            1 | 2 => var(r),
            3 => r
                .pick(&[
                    "$ ", "$'", "$/", "'", "#", "*", "(", ")", "{", "}", ";", "~", "\n", "\t",
                    "\r", " ",
                ])
                .to_string(),
            _ => bare(r),
        };
        s.push_str(&piece);
    }
    s.push('"');
    s
}

fn word(r: &mut Rng, in_array: bool) -> String {
    let mut w = String::new();
    for _ in 0..1 + r.below(4) {
        let seg = match r.below(7) {
            0 => single_quoted(r),
            1 | 2 => double_quoted(r),
            3 => var(r),
            4 => r
                .pick(&[
                    "\\ ", "\\*", "\\$", "\\'", "\\\"", "\\#", "\\\\", "\\\n", "\\(", "\\a",
                ])
                .to_string(),
            _ => bare(r),
        };
        w.push_str(&seg);
    }
    if in_array && r.chance(10) {
        w = var(r);
    }
    w
}

fn statement(r: &mut Rng) -> String {
    let name = r.pick(NAMES);
    match r.below(10) {
        0 => format!("# {}", bare(r)),
        1 => String::new(),
        2 => format!("{name}[{}]={}", r.below(4), word(r, false)),
        3 | 4 => {
            let mut s = format!("{name}=(");
            for _ in 0..r.below(4) {
                s.push_str(r.pick(&[" ", "\n", " \\\n ", "  ", "\t"]));
                s.push_str(&word(r, true));
                if r.chance(15) {
                    s.push_str(" # c\n");
                }
            }
            s.push_str(r.pick(&["", " ", "\n"]));
            s.push(')');
            s
        }
        5 => format!("export {name}={}", word(r, false)),
        6 => format!(
            "{name}={} {}={}",
            word(r, false),
            r.pick(NAMES),
            word(r, false)
        ),
        _ => format!(
            "{name}={}{}",
            word(r, false),
            r.pick(&["", " ", " # x", "\r"])
        ),
    }
}

#[test]
fn generated_files_agree() {
    let cases: usize = std::env::var("DKMS_CONF_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut claimed = 0;
    for case in 0..cases {
        let text: String = (0..1 + r.below(5))
            .map(|_| statement(&mut r) + "\n")
            .collect();
        let Ok(st) = read_static(&text, &known(&ctx()), false) else {
            continue;
        };
        claimed += 1;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let bash = eval_bash(
            &[f.path().to_path_buf()],
            &ctx(),
            &[],
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(directives_only(&st), bash, "case {case}: {text:?}");
    }
    eprintln!("{claimed} of {cases} generated files claimed");
    assert!(
        claimed * 4 >= cases,
        "only {claimed} of {cases} generated files were claimed"
    );
}
