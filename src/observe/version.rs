//! Version ordering. Two orders are in use and both must match upstream
//! exactly, because they decide which module wins and which kernel is newest:
//!
//! - [`ver_key`] / [`ver_cmp`]: upstream DKMS's `VER` helper, which pads
//!   every run of digits to three places and then compares the strings as
//!   bash `[[ a < b ]]` does. It drives BUILD_EXCLUSIVE_KERNEL_MIN/MAX,
//!   OBSOLETE_BY and the module-version sanity check.
//! - [`sort_v_cmp`]: GNU `sort -V` (gnulib `filevercmp`), which upstream
//!   uses to order kernels and versions (for example in `--all` and when it
//!   picks the latest version of a module).

use std::cmp::Ordering;

/// Upstream's `VER` transform: split the string at every boundary between
/// a digit and a non-digit, left-pad each all-digit piece to three digits
/// and join the pieces again. `"2.6.9-1cvs200409091247"` becomes
/// `"002.006.009-001cvs200409091247"`, so plain string comparison of two
/// keys orders numbers numerically up to 999.
///
/// Like upstream (`echo "$1" | sed ...` inside `$(...)`), each line is
/// transformed on its own, spaces in the input disappear, trailing newlines
/// are dropped, and a string `echo` takes for an option (`-n`, `-e`, `-E`
/// and their combinations) yields an empty key.
pub fn ver_key(v: &str) -> String {
    if v.len() > 1 && v.starts_with('-') && v[1..].chars().all(|c| matches!(c, 'n' | 'e' | 'E')) {
        return String::new();
    }
    let mut key = v
        .split('\n')
        .map(ver_key_line)
        .collect::<Vec<_>>()
        .join("\n");
    key.truncate(key.trim_end_matches('\n').len());
    key
}

/// [`ver_key`] for one line. Upstream's sed marks the boundaries with
/// spaces, pads only space-delimited digit runs of length one or two, then
/// deletes every space; whitespace in the input therefore only ever gets
/// deleted, and a digit run touching an original space is still padded
/// because the space is itself a non-digit boundary.
fn ver_key_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        for _ in run.len()..3 {
            out.push('0');
        }
        out.push_str(run);
        run.clear();
    };
    for c in line.chars() {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            flush(&mut run, &mut out);
        }
        if c != ' ' {
            out.push(c);
        }
    }
    if !run.is_empty() {
        flush(&mut run, &mut out);
    }
    out
}

/// Upstream's `[[ "$(VER a)" < "$(VER b)" ]]`: byte-wise comparison of the
/// two [`ver_key`]s (bash compares with the C locale's byte order here).
pub fn ver_cmp(a: &str, b: &str) -> Ordering {
    ver_key(a).as_bytes().cmp(ver_key(b).as_bytes())
}

/// GNU `sort -V` order: gnulib's `filevercmp`, with `sort`'s last-resort
/// byte comparison breaking ties so the order is total (`1.01` vs `1.1`).
pub fn sort_v_cmp(a: &str, b: &str) -> Ordering {
    filevercmp(a.as_bytes(), b.as_bytes()).then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// gnulib `filevercmp` on byte strings: empty strings first, then `.`,
/// `..` and other dot-names, then a version comparison of the names with
/// their file suffixes (`(\.[A-Za-z~][A-Za-z0-9~]*)*$`) cut off, and only
/// if that ties, of the whole names.
fn filevercmp(a: &[u8], b: &[u8]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    match (a[0] == b'.', b[0] == b'.') {
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (true, true) => {
            for special in [&b"."[..], &b".."[..]] {
                match (a == special, b == special) {
                    (true, true) => return Ordering::Equal,
                    (true, false) => return Ordering::Less,
                    (false, true) => return Ordering::Greater,
                    _ => {}
                }
            }
        }
        _ => {}
    }
    let ap = prefix_len(a);
    let bp = prefix_len(b);
    let first = verrevcmp(&a[..ap], &b[..bp]);
    if first != Ordering::Equal || (ap == a.len() && bp == b.len()) {
        return first;
    }
    verrevcmp(a, b)
}

/// Length of `s` without its longest file suffix matching
/// `(\.[A-Za-z~][A-Za-z0-9~]*)*$`. The first byte always belongs to the
/// prefix, as in current gnulib; coreutils 9.1 and older let a name such as
/// `.a` be all suffix, which only changes the order of names starting with
/// `.` and a letter — never a kernel or module version.
fn prefix_len(s: &[u8]) -> usize {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut prefix = 0;
    let mut i = 0;
    while i < s.len() {
        i += 1;
        prefix = i;
        while at(i) == b'.' && (at(i + 1).is_ascii_alphabetic() || at(i + 1) == b'~') {
            i += 2;
            while at(i).is_ascii_alphanumeric() || at(i) == b'~' {
                i += 1;
            }
        }
    }
    prefix
}

/// Weight of the byte at `pos` in the non-digit part of a version:
/// end of string and digits weigh 0, `~` sorts before everything, letters
/// by their code, everything else after all letters.
fn order(s: &[u8], pos: usize) -> i32 {
    match s.get(pos) {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
        Some(b'~') => -1,
        Some(c) => i32::from(*c) + 256,
    }
}

/// The Debian-style version comparison at the heart of `filevercmp`:
/// alternately compare non-digit runs by [`order`] and digit runs
/// numerically (leading zeros ignored, longer run wins).
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let digit = |s: &[u8], i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (x, y) = (order(a, i), order(b, j));
            if x != y {
                return x.cmp(&y);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use Ordering::{Equal, Greater, Less};

    #[rstest]
    #[case("2.6.9-1cvs200409091247", "002.006.009-001cvs200409091247")]
    #[case("6.1.0-55-amd64", "006.001.000-055-amd064")]
    #[case("1.0", "001.000")]
    #[case("", "")]
    #[case("abc", "abc")]
    #[case("1234", "1234")]
    #[case("0.12.10", "000.012.010")]
    #[case("5.15.0-rc3", "005.015.000-rc003")]
    #[case("a b 1", "ab001")]
    #[case("1 2", "001002")]
    #[case("1.0\n", "001.000")]
    #[case("-n", "")]
    #[case("-x1", "-x001")]
    fn ver_key_pads_digit_runs(#[case] input: &str, #[case] want: &str) {
        assert_eq!(ver_key(input), want);
    }

    #[rstest]
    #[case("6.1.0-55-amd64", "6.1.0-9-amd64", Greater)]
    #[case("1.0", "1.0.1", Less)]
    #[case("0.12.7", "0.12.10", Less)]
    #[case("1.0", "1.0", Equal)]
    #[case("5.10", "5.9", Greater)]
    #[case("6.0-rc1", "6.0", Greater)] // VER puts "-rc" after the end of "6.0"
    #[case("6.0-rc1", "6.0-rc2", Less)]
    #[case("1.01", "1.1", Equal)] // both keys are "001.001"
    #[case("1000", "999", Less)] // runs longer than three digits compare as text
    fn ver_cmp_matches_upstream(#[case] a: &str, #[case] b: &str, #[case] want: Ordering) {
        assert_eq!(ver_cmp(a, b), want, "{} vs {}", ver_key(a), ver_key(b));
        assert_eq!(ver_cmp(b, a), want.reverse());
    }

    #[rstest]
    #[case("6.1.0-55-amd64", "6.1.0-9-amd64", Greater)]
    #[case("1.0", "1.0.1", Less)]
    #[case("0.12.7", "0.12.10", Less)]
    #[case("1.0", "1.0", Equal)]
    #[case("6.0-rc1", "6.0", Greater)]
    #[case("6.0~rc1", "6.0", Less)]
    #[case("6.0-rc1", "6.0-rc2", Less)]
    #[case("6.0-rc9", "6.0-rc10", Less)]
    #[case("1000", "999", Greater)]
    #[case("1.01", "1.1", Less)] // equal versions; byte order breaks the tie
    #[case("", "1", Less)]
    #[case(".", "..", Less)]
    #[case(".hidden", "a", Less)]
    #[case("1.2.tar.gz", "1.10.tar.gz", Less)]
    #[case("5.10.0-28-amd64", "5.10.0-28-cloud-amd64", Less)]
    #[case("6.1.0-56-amd64", "6.12.9-amd64", Less)]
    #[case("a", "B", Greater)]
    #[case("1.0a", "1.0-", Less)] // letters before other punctuation
    fn sort_v_matches_gnu(#[case] a: &str, #[case] b: &str, #[case] want: Ordering) {
        assert_eq!(sort_v_cmp(a, b), want);
        assert_eq!(sort_v_cmp(b, a), want.reverse());
    }

    /// Cross-check against the host's GNU `sort -V` when it is there.
    #[test]
    fn sort_v_agrees_with_host_sort() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut items: Vec<&str> = vec![
            "6.1.0-9-amd64",
            "6.1.0-55-amd64",
            "6.1.0-56-amd64",
            "6.1.0-55-cloud-amd64",
            "5.10.0-28-amd64",
            "6.12.9+bpo-amd64",
            "6.12.118+deb13-amd64",
            "6.12.118+deb13-rt-amd64",
            "6.12.118+deb13-cloud-amd64",
            "6.12.9+deb13-amd64",
            "6.12.43+deb13-amd64",
            "6.8.0-51-generic",
            "6.8.0-51-lowlatency",
            "6.8.0-52-generic",
            "6.8.0-1019-aws",
            "6.0-rc1",
            "6.0",
            "6.0~rc1",
            "1.0",
            "1.0.1",
            "1.01",
            "1.1",
            "0.12.7",
            "0.12.10",
            "2.0.tar.gz",
            "2.0.10.tar.gz",
            "abc",
            "ABC",
            "a~b",
            "a-b",
            "a.b",
            "a_b",
            "10a",
            "10",
            "x.1~",
            "x.1",
            "4.19.0-1-rt-amd64",
            "4.19.0-1-amd64",
            "1.2.3~beta",
            "1.2.3beta",
            "1.2.3-beta",
        ];
        // The only check that our order is `sort -V`'s: never skipped in CI.
        if !crate::test_support::require_tools(
            "sort_v_agrees_with_host_sort",
            &["sort"],
            "coreutils' sort -V is the reference",
        ) {
            return;
        }
        let mut child = Command::new("sort")
            .arg("-V")
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run sort -V");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(items.join("\n").as_bytes()).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "sort -V failed: {out:?}");
        let host = String::from_utf8(out.stdout).unwrap();
        let host: Vec<&str> = host.lines().collect();
        items.sort_by(|a, b| sort_v_cmp(a, b));
        assert_eq!(items, host);
    }
}
