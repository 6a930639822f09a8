//! Every input the fuzz targets in `fuzz/` ever flagged, kept as unit tests.
//!
//! Each case is checked the way the `differential` target checks it: when the
//! static reader claims the text, bash must leave the same directive values;
//! and neither the strict nor the lenient reader may panic. Cases also state
//! what the reader must do now (claim or refuse), so a regression shows.

use std::collections::BTreeMap;

use rstest::rstest;

use super::static_reader::read_static;
use super::tests::bash;
use super::{ConfContext, RawConf};

/// The context the fuzz targets read with.
fn ctx() -> ConfContext {
    ConfContext::sample()
}

fn known() -> BTreeMap<String, String> {
    ctx().known()
}

fn directives_only(raw: &RawConf) -> RawConf {
    raw.directives_only()
}

/// What the static reader must do with a case today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Hand the file to bash.
    Refuse,
    /// Claim it (and agree with bash).
    Claim,
}

#[rstest]
// differential, run 1: bash drops `\<newline>` before expanding, so
// `$\<nl>erHA` is `$erHA` (empty); the reader took `$` literally.
#[case::dollar_line_continuation("MAKE=H=1EM$\\\nerHA KMAKE=H=1EM$=kernmlverH ", Want::Refuse)]
#[case::dollar_continuation_quoted("MAKE=\"a$\\\nkernelver\"\n", Want::Refuse)]
#[case::name_continuation("MAKE=$kern\\\nelver\n", Want::Refuse)]
#[case::plain_continuation_still_claimed("MAKE=a\\\nb$kernelver\n", Want::Claim)]
// differential, run 2: `$[...]` is bash's old arithmetic expansion, also
// inside double quotes; the reader kept `$[10]` literally.
#[case::dollar_bracket_quoted(
    "MAKE=\"a=(b\\d$[10]=\u{fffd}\u{fffd}\\\\c\\$\u{b3};\"\n",
    Want::Refuse
)]
#[case::dollar_bracket_plain("MAKE=x$[1+1]\n", Want::Refuse)]
#[case::dollar_bracket_in_array("MAKE=(\"$[2]\")\n", Want::Refuse)]
#[case::bracket_after_literal_dollar("MAKE=\"$ [1]\"\n", Want::Claim)]
// differential, run 3: `export NAME[N]=v` is "not a valid identifier" in
// bash (nothing is assigned); the reader assigned the element.
#[case::export_element("export\t\tM\t\tMAKE[10]=\n", Want::Refuse)]
#[case::export_element_value("export MAKE[1]=x\n", Want::Refuse)]
#[case::export_scalar_still_claimed("export M MAKE=x\n", Want::Claim)]
// differential, run 4: a line continuation right after an array's `)`
// glues the next line to the same word in bash (the whole thing becomes an
// odd scalar); the reader ended the statement there.
#[case::continuation_after_array(
    "BUILT_MODULE_NAME=(a 'b c' \"le\" $%ernelveAr)\\\nTCH[2]=x.patch\n",
    Want::Refuse
)]
#[case::continuation_after_array_then_blank("BUILT_MODULE_NAME=(a b)\\\n MAKE=x\n", Want::Claim)]
#[case::continuation_after_array_then_eof("BUILT_MODULE_NAME=(a b)\\\n", Want::Claim)]
// differential, run 5: bash uses \x01 and \x7f as internal quoting marks
// and mangles them in some quoted contexts (it dropped a `\<DEL>` here and
// doubles \x01 in `("x\<\x01>y")`); the reader kept them literally.
#[case::backslash_del_in_double_quotes("MAKE=\"b\\\\c\\$d\\`e\\\u{7f}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}H\\z\\; \"\n", Want::Refuse)]
#[case::ctlesc_in_array("MAKE=(\"x\\\u{1}y\")\n", Want::Refuse)]
#[case::del_plain("MAKE=x\u{7f}y\n", Want::Refuse)]
// differential, run 6: `export` expands all its arguments before assigning
// (`export H=x V=1 MAKE=$H` gives MAKE the old H); the reader assigned left
// to right as for plain assignments.
#[case::export_expands_first("MAKE=\"ma\"\nexport H=\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\\\n  V=1 MAKE=$H\n", Want::Refuse)]
#[case::export_sees_old_value("H=old\nexport H=new MAKE=$H\n", Want::Claim)]
#[case::plain_assignments_left_to_right("H=old\nH=new MAKE=$H\n", Want::Claim)]
fn fuzz_finding(#[case] text: &str, #[case] want: Want) {
    let _ = read_static(text, &known(), true);
    let got = read_static(text, &known(), false);
    assert_eq!(
        if got.is_ok() {
            Want::Claim
        } else {
            Want::Refuse
        },
        want,
        "{text:?}: {got:?}"
    );
    if let Ok(st) = got {
        assert_eq!(
            directives_only(&st),
            bash(text),
            "static vs bash on {text:?}"
        );
    }
}
