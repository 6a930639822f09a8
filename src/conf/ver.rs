//! Upstream's `VER` ordering key for kernel versions (BUILD_EXCLUSIVE_KERNEL_MIN/_MAX).
//!
//! Upstream splits the string at every digit/non-digit boundary, pads each
//! run of one or two digits to three digits, joins everything back and
//! compares the results as plain strings. `6.1.0-13-amd64` becomes
//! `006.001.000-013-amd064`.

/// The comparison key upstream's `VER` produces for `v`.
pub fn ver_key(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let is_digit = |c: char| c.is_ascii_digit();
    // A space between a non-digit and a digit, then between a digit and a
    // non-digit (each scan consumes both characters of a match, like sed's g).
    let step1 = split_boundaries(&chars, |a, b| !is_digit(a) && is_digit(b));
    let step2 = split_boundaries(&step1, |a, b| is_digit(a) && !is_digit(b));
    // Surround with spaces, pad " d " then " dd " (non-overlapping scans).
    let mut s: Vec<char> = Vec::with_capacity(step2.len() + 2);
    s.push(' ');
    s.extend(step2);
    s.push(' ');
    let s = pad(&s, 1);
    let s = pad(&s, 2);
    s.into_iter().filter(|&c| c != ' ').collect()
}

/// Insert a space between every non-overlapping pair (a, b) matching `split`.
fn split_boundaries(chars: &[char], split: impl Fn(char, char) -> bool) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && split(chars[i], chars[i + 1]) {
            out.extend([chars[i], ' ', chars[i + 1]]);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Replace each non-overlapping ` D ` (D = `width` digits) by the digits
/// zero-padded to three.
fn pad(chars: &[char], width: usize) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let end = i + width + 1;
        if chars[i] == ' '
            && end < chars.len()
            && chars[end] == ' '
            && chars[i + 1..end].iter().all(|c| c.is_ascii_digit())
        {
            out.push(' ');
            out.extend(std::iter::repeat('0').take(3 - width));
            out.extend(&chars[i + 1..end]);
            out.push(' ');
            i = end + 1;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::process::Command;

    /// Upstream's sed pipeline, run for real.
    fn sed_ver(v: &str) -> String {
        let out = Command::new("sed")
            .args([
                "-e",
                r"s:\([^0-9]\)\([0-9]\):\1 \2:g",
                "-e",
                r"s:\([0-9]\)\([^0-9]\):\1 \2:g",
                "-e",
                r"s:\(.*\): \1 :",
                "-e",
                r"s: \([0-9]\) : 00\1 :g",
                "-e",
                r"s: \([0-9][0-9]\) : 0\1 :g",
                "-e",
                r"s: ::g",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(format!("{v}\n").as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end_matches('\n')
            .to_string()
    }

    #[rstest]
    #[case("2.6.9-1cvs200409091247", "002.006.009-001cvs200409091247")]
    #[case("6.1.0-13-amd64", "006.001.000-013-amd064")]
    #[case("5.18", "005.018")]
    #[case("", "")]
    #[case("abc", "abc")]
    #[case("10.0.0", "010.000.000")]
    #[case("6.8.0-1010-azure", "006.008.000-1010-azure")]
    fn ver_matches_examples(#[case] input: &str, #[case] want: &str) {
        assert_eq!(ver_key(input), want);
    }

    #[rstest]
    #[case("6.1.0-13-amd64")]
    #[case("1 2 3")]
    #[case("a1b22c333d4444")]
    #[case("5.15.0-91-generic")]
    #[case("4.4.0.rc1")]
    #[case("x9 8")]
    #[case("..1..22..")]
    fn ver_matches_sed(#[case] input: &str) {
        assert_eq!(ver_key(input), sed_ver(input), "input {input:?}");
    }
}
