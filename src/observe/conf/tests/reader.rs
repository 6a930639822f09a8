//! The static reader on its own: what it claims and what it refuses.

use rstest::rstest;

use super::{ctx, known, raw};
use crate::observe::conf::static_reader::read_static;
use crate::observe::conf::RawConf;

fn read(text: &str) -> RawConf {
    read_static(text, &known(&ctx()), false).unwrap_or_else(|e| panic!("refused {text:?}: {e:?}"))
}

#[rstest]
#[case::plain("A=b\n", &[("A", &[(0, "b")][..])])]
#[case::single_quotes("A='x $y \\z'", &[("A", &[(0, "x $y \\z")][..])])]
#[case::double_quotes("A=\"a\\\"b\\\\c\\$d\\`e\\z\"", &[("A", &[(0, "a\"b\\c$d`e\\z")][..])])]
#[case::concat("A=a\"b\"'c'$kernelver", &[("A", &[(0, "abc6.1.0-13-amd64")][..])])]
#[case::braces("A=${arch}_x", &[("A", &[(0, "x86_64_x")][..])])]
#[case::greedy_name("A=$arch-x", &[("A", &[(0, "x86_64-x")][..])])]
#[case::array("A=(a \"b c\" d)", &[("A", &[(0, "a"), (1, "b c"), (2, "d")][..])])]
#[case::sparse("A=(x y)\nA[3]=z", &[("A", &[(0, "x"), (1, "y"), (3, "z")][..])])]
#[case::scalar_on_array("A=(x y)\nA=z", &[("A", &[(0, "z"), (1, "y")][..])])]
#[case::empty_array("A=(x y)\nA=( )", &[])]
#[case::export("export A=b", &[("A", &[(0, "b")][..])])]
#[case::export_bare("A=b\nexport A", &[("A", &[(0, "b")][..])])]
#[case::two_on_a_line("A=1 B=$A", &[("A", &[(0, "1")][..]), ("B", &[(0, "1")][..])])]
#[case::earlier_var("X=/x\nA=\"$X/y\"", &[("X", &[(0, "/x")][..]), ("A", &[(0, "/x/y")][..])])]
#[case::continuation("A=a\\\nb", &[("A", &[(0, "ab")][..])])]
#[case::dq_continuation("A=\"a\\\nb\"", &[("A", &[(0, "ab")][..])])]
#[case::sq_keeps_newline("A='a\\\nb'", &[("A", &[(0, "a\\\nb")][..])])]
#[case::comment("# x\nA=b # y\n", &[("A", &[(0, "b")][..])])]
#[case::hash_in_word("A=b#c", &[("A", &[(0, "b#c")][..])])]
#[case::lone_dollar("A=\"a$\" B=a$ C=\"$ x\"", &[("A", &[(0, "a$")][..]), ("B", &[(0, "a$")][..]), ("C", &[(0, "$ x")][..])])]
#[case::dollar_quote_in_dq("A=\"a$'b\"", &[("A", &[(0, "a$'b")][..])])]
#[case::escaped_space("A=a\\ b", &[("A", &[(0, "a b")][..])])]
#[case::escaped_dollar("A=\\$x", &[("A", &[(0, "$x")][..])])]
#[case::empty("A= B=\"\"", &[("A", &[(0, "")][..]), ("B", &[(0, "")][..])])]
#[case::empty_expansion_dropped("E=\nA=($E x \"$E\")", &[("E", &[(0, "")][..]), ("A", &[(0, "x"), (1, "")][..])])]
#[case::crlf("A=b\r\n\r\nB=\"c\"\r\n", &[("A", &[(0, "b")][..]), ("B", &[(0, "c")][..])])]
#[case::one_cr_only("A=\"b\r\"\r", &[("A", &[(0, "b\r")][..])])]
#[case::multiline_array("A=(\n  a # one\n  b\n)", &[("A", &[(0, "a"), (1, "b")][..])])]
#[case::index("A[0]=x A[10]=y", &[("A", &[(0, "x"), (10, "y")][..])])]
#[case::equals("A=a=b", &[("A", &[(0, "a=b")][..])])]
#[case::self_ref("A=a\nA=\"$A b\"", &[("A", &[(0, "a b")][..])])]
#[case::blank_lines("\n\n   \n\t\n", &[])]
#[case::leading_tab("\tA=b\t# c", &[("A", &[(0, "b")][..])])]
fn claims(#[case] text: &str, #[case] want: &[(&str, &[(usize, &str)])]) {
    let mut got = read(text);
    // The context variables are known but not assigned: never in the result.
    assert!(got.vars.keys().all(|k| k != "kernelver"));
    got.vars.retain(|_, v| !v.is_empty());
    assert_eq!(got, raw(want), "text {text:?}");
}

#[rstest]
#[case::command_substitution("A=$(date)", 1)]
#[case::backtick("A=`date`", 1)]
#[case::arithmetic("A=$((1+2))", 1)]
#[case::glob("A=*.ko", 1)]
#[case::glob_q("A=x?", 1)]
#[case::glob_bracket("A=x[1]", 1)]
#[case::tilde("A=~/x", 1)]
#[case::command("A=1\necho hi", 2)]
#[case::if_block("if true; then A=1; fi", 1)]
#[case::function("f() { :; }", 1)]
#[case::semicolon("A=1; B=2", 1)]
#[case::and("A=1 && B=2", 1)]
#[case::pipe("A=x | cat", 1)]
#[case::redirect("A=x >/tmp/f", 1)]
#[case::default_op("A=${X:-y}", 1)]
#[case::length("A=${#kernelver}", 1)]
#[case::element("A=${kernelver[1]}", 1)]
#[case::positional("A=$1", 1)]
#[case::all_args("A=\"$@\"", 1)]
#[case::append("A+=x", 1)]
#[case::append_array("A+=(x)", 1)]
#[case::unknown("\n\nA=$HOME", 3)]
#[case::var_index("A[$i]=x", 1)]
#[case::octal_index("A[010]=x", 1)]
#[case::brace_expansion("A=({a,b})", 1)]
#[case::ansi_c("A=$'x'", 1)]
#[case::index_in_array("A=([2]=y)", 1)]
#[case::declare("declare -a A", 1)]
#[case::source(". /etc/os-release", 1)]
#[case::env_prefix("A=x cmd", 1)]
#[case::special_var("IFS=x", 1)]
#[case::directive_env("DKMS_DIRECTIVE_X=MAKE=y", 1)]
#[case::unquoted_split_in_array("X=\"a b\"\nA=($X)", 2)]
#[case::pushd("pushd `dirname $BASH_SOURCE`", 1)]
#[case::unterminated_dq("A=1\nB=\"x", 2)]
#[case::unterminated_sq("A='x", 1)]
#[case::unterminated_array("A=(x", 1)]
#[case::special_param("A=$$", 1)]
#[case::extglob("A=@(x)", 1)]
fn refuses(#[case] text: &str, #[case] line: usize) {
    let err = read_static(text, &known(&ctx()), false).expect_err(text);
    assert_eq!(err.line, line, "{text:?}: {err:?}");
    assert!(!err.reason.is_empty());
}

#[test]
fn known_variables_seed_element_writes() {
    // A variable known from an earlier file keeps element 0 when only
    // element 1 is set, as bash would.
    let mut k = known(&ctx());
    k.insert("MAKE".into(), "make a".into());
    let got = read_static("MAKE[1]=b\nX=$MAKE", &k, false).unwrap();
    assert_eq!(got.values("MAKE"), vec!["make a", "b"]);
    assert_eq!(got.scalar("X"), "make a");
}

#[test]
fn environment_is_not_consulted() {
    std::env::set_var("DKMS_CONF_TEST_ENV_VAR", "leak");
    let err = read_static("A=$DKMS_CONF_TEST_ENV_VAR", &known(&ctx()), true);
    assert_eq!(err.unwrap().vars.get("A"), None);
}
