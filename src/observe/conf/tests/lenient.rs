//! Lenient mode (framework.conf): code is skipped without effect, plain
//! assignments still count.

use std::collections::BTreeMap;

use rstest::rstest;

use crate::observe::conf::static_reader::read_static;

fn read(text: &str) -> Vec<(String, String)> {
    let r = read_static(text, &BTreeMap::new(), true).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
    r.vars
        .keys()
        .map(|k| (k.clone(), r.scalar(k).to_string()))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[rstest]
#[case::if_block("a=1\nif true; then\n  a=evil\n  b=evil\nfi\nc=3", &[("a", "1"), ("c", "3")])]
#[case::function("f() {\n  a=evil\n}\nb=2", &[("b", "2")])]
#[case::function_keyword("function f {\n  a=evil\n}\nb=2", &[("b", "2")])]
#[case::function_newline_brace("f()\n{\n  a=evil\n}\nb=2", &[("b", "2")])]
#[case::substitution("a=$(cat /etc/shadow)\nb=2", &[("b", "2")])]
#[case::semicolons("a=1; b=2", &[("a", "1"), ("b", "2")])]
#[case::and_list("a=1 && b=2\nc=3", &[("c", "3")])]
#[case::heredoc("cat <<EOF\na=evil\nEOF\nb=2", &[("b", "2")])]
#[case::heredoc_dash("cat <<-'END'\n\ta=evil\n\tEND\nb=2", &[("b", "2")])]
#[case::case_block("case $x in\n  a) a=evil;;\n  *) b=evil;;\nesac\nc=3", &[("c", "3")])]
#[case::while_loop("while :; do\n  a=evil\ndone\nb=2", &[("b", "2")])]
#[case::for_loop("for i in 1 2\ndo\n  a=evil\ndone\nb=2", &[("b", "2")])]
#[case::nested_quotes("echo \"$(echo \")\")\"\nb=2", &[("b", "2")])]
#[case::unknown_var("a=$HOME\nb=2", &[("b", "2")])]
#[case::env_prefixed_command("a=1 make\nb=2", &[("b", "2")])]
#[case::subshell("(\n a=evil\n)\nb=2", &[("b", "2")])]
#[case::keyword_as_argument("echo if\nb=2", &[("b", "2")])]
#[case::export("export a=1", &[("a", "1")])]
#[case::signing("sign_file=\"/usr/lib/linux-kbuild/scripts/sign-file\"\nmok_signing_key=/var/lib/dkms/mok.key", &[("mok_signing_key", "/var/lib/dkms/mok.key"), ("sign_file", "/usr/lib/linux-kbuild/scripts/sign-file")])]
fn skips_code(#[case] text: &str, #[case] want: &[(&str, &str)]) {
    assert_eq!(read(text), pairs(want), "{text:?}");
}

#[rstest]
#[case("a=\"x\nb=2")]
#[case("echo 'x\nb=2")]
#[case("a=(x y\n")]
fn broken_quotes_still_fail(#[case] text: &str) {
    assert!(
        read_static(text, &BTreeMap::new(), true).is_err(),
        "{text:?}"
    );
}

#[test]
fn absurd_nesting_is_an_error_not_a_crash() {
    let text = "echo \"$(".repeat(200_000);
    assert!(read_static(&text, &BTreeMap::new(), true).is_err());
    let text = format!("{}\nb=2", "x=$(".repeat(50) + &")".repeat(50));
    assert_eq!(read(&text), pairs(&[("b", "2")]));
}
