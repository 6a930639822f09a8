//! bash's `[[ text =~ regex ]]` for MAKE_MATCH, PATCH_MATCH and
//! BUILD_EXCLUSIVE_KERNEL/_ARCH: a POSIX extended regex searched anywhere in
//! the text. The pattern is translated to the `regex` crate's syntax (GNU
//! escapes such as `\<`, backslash literal inside brackets); a pattern bash
//! would reject, or one we cannot translate faithfully (back-references,
//! collating elements), never matches, which is what `=~` with a bad regex
//! gives in bash (status 2, so both `=~` and `! =~` tests fail or pass the
//! way upstream's code uses them: see [`ere_match`]).

use regex::Regex;

/// True when bash's `[[ text =~ pattern ]]` would succeed (exit 0). A bad
/// pattern gives false; callers that negate must use [`ere_no_match`].
pub fn ere_match(pattern: &str, text: &str) -> bool {
    compile(pattern).is_some_and(|re| re.is_match(text))
}

/// True when bash's `[[ ! text =~ pattern ]]` would succeed: the pattern
/// does not match, or it is invalid (bash then negates the error status to 0).
pub fn ere_no_match(pattern: &str, text: &str) -> bool {
    compile(pattern).is_none_or(|re| !re.is_match(text))
}

fn compile(pattern: &str) -> Option<Regex> {
    let translated = translate(pattern)?;
    match Regex::new(&translated) {
        Ok(re) => Some(re),
        Err(e) => {
            log::debug!("regex {pattern:?} is not valid: {e}");
            None
        }
    }
}

/// Translate a POSIX ERE (GNU flavour) into `regex` syntax, or None when it
/// uses a feature we do not translate.
fn translate(p: &str) -> Option<String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let n = *chars.get(i + 1)?;
                match n {
                    '<' => out.push_str(r"\b{start}"),
                    '>' => out.push_str(r"\b{end}"),
                    'b' | 'B' | 'w' | 'W' | 's' | 'S' => {
                        out.push('\\');
                        out.push(n);
                    }
                    '`' => out.push_str(r"\A"),
                    '\'' => out.push_str(r"\z"),
                    '1'..='9' => return None,
                    _ => out.push_str(&regex::escape(&n.to_string())),
                }
                i += 2;
            }
            '[' => {
                let (class, next) = bracket(&chars, i)?;
                out.push_str(&class);
                i = next;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Translate the bracket expression starting at `chars[start] == '['`;
/// returns it and the index after its `]`.
fn bracket(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut out = String::from("[");
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        match c {
            ']' if !first => {
                out.push(']');
                return Some((out, i + 1));
            }
            '[' if matches!(chars.get(i + 1), Some(':')) => {
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == ':' && chars[j + 1] == ']')?;
                out.extend(&chars[i..end + 2]);
                i = end + 2;
            }
            '[' if matches!(chars.get(i + 1), Some('=') | Some('.')) => return None,
            '\\' | '[' | ']' | '&' | '~' => {
                out.push('\\');
                out.push(c);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                out.push_str(r"\-");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::process::Command;

    fn bash_match(pattern: &str, text: &str) -> (bool, bool) {
        let out = Command::new("bash")
            .args([
                "--norc",
                "-c",
                r#"[[ $2 =~ $1 ]]; a=$?; [[ ! $2 =~ $1 ]]; b=$?; echo "$a $b""#,
                "x",
                pattern,
                text,
            ])
            .output()
            .unwrap();
        let s = String::from_utf8(out.stdout).unwrap();
        let mut it = s.split_whitespace();
        (it.next() == Some("0"), it.next() == Some("0"))
    }

    #[rstest]
    #[case("^6\\.", "6.1.0-13-amd64")]
    #[case("^5\\.", "6.1.0-13-amd64")]
    #[case("x86_64|i.86", "i686")]
    #[case("^(5\\.1[0-9]|6\\.)", "5.15.0-91-generic")]
    #[case("(", "5.10")]
    #[case("a{", "a{")]
    #[case("\\<amd64\\>", "6.1.0-amd64")]
    #[case("\\d", "d")]
    #[case("\\d", "5")]
    #[case("[\\.]", "\\")]
    #[case("[[:digit:]]+-rt", "6.1-rt")]
    #[case("[]a]", "]")]
    #[case("^$", "")]
    #[case("", "anything")]
    #[case("[a-c]x", "bx")]
    #[case("^[^-]*-rt", "6.1.0-rt-amd64")]
    fn agrees_with_bash(#[case] pattern: &str, #[case] text: &str) {
        let (m, nm) = bash_match(pattern, text);
        assert_eq!(ere_match(pattern, text), m, "=~ {pattern:?} on {text:?}");
        assert_eq!(
            ere_no_match(pattern, text),
            nm,
            "! =~ {pattern:?} on {text:?}"
        );
    }
}
