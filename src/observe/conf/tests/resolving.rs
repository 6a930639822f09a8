//! `resolve`: upstream's read_conf / read_conf_strict rules.

use rstest::rstest;

use super::{ctx, known};
use crate::observe::conf::resolve::{resolve, ResolveOpts};
use crate::observe::conf::static_reader::read_static;
use crate::observe::conf::{ConfContext, ModuleConf, RawConf};

const HEAD: &str = "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\n";

fn raw(text: &str) -> RawConf {
    read_static(text, &known(&ctx()), false).unwrap()
}

fn opts(distribution: &str, strict: bool) -> ResolveOpts {
    ResolveOpts {
        distribution: distribution.into(),
        strict,
        directives: vec![],
        conf_path: "dkms.conf".into(),
    }
}

fn ok(text: &str) -> ModuleConf {
    resolve(&raw(text), &ctx(), &opts("other", true)).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
}

fn ok_with(text: &str, c: &ConfContext) -> ModuleConf {
    resolve(&raw(text), c, &opts("other", true)).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
}

fn errors(text: &str, strict: bool) -> Vec<String> {
    resolve(&raw(text), &ctx(), &opts("other", strict)).expect_err(text)
}

#[rstest]
#[case::no_name("PACKAGE_VERSION=1\nDEST_MODULE_LOCATION=/extra", &["dkms.conf: Error! No 'PACKAGE_NAME' directive specified.", "dkms.conf: Error! No 'BUILT_MODULE_NAME' directive specified for record #0."])]
#[case::no_version("PACKAGE_NAME=x\nDEST_MODULE_LOCATION=/extra", &["dkms.conf: Error! No 'PACKAGE_VERSION' directive specified."])]
#[case::nothing("", &["dkms.conf: Error! No 'PACKAGE_NAME' directive specified.", "dkms.conf: Error! No 'PACKAGE_VERSION' directive specified."])]
#[case::no_built_name_two_modules("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[1]=b\nDEST_MODULE_LOCATION=(/extra /extra)", &["dkms.conf: Error! No 'BUILT_MODULE_NAME' directive specified for record #0."])]
#[case::built_ko("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=a.ko\nDEST_MODULE_LOCATION=/extra", &["dkms.conf: Error! 'BUILT_MODULE_NAME' directive ends in '.o' or '.ko' in record #0.", "dkms.conf: Error! 'DEST_MODULE_NAME' directive ends in '.o' or '.ko' in record #0."])]
#[case::dest_o("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=a\nDEST_MODULE_NAME=b.o\nDEST_MODULE_LOCATION=/extra", &["dkms.conf: Error! 'DEST_MODULE_NAME' directive ends in '.o' or '.ko' in record #0."])]
#[case::no_location("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=a", &["dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #0."])]
#[case::bad_location("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/extra /lib)", &["dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' does not begin with", "'/kernel', '/updates', or '/extra' in record #1."])]
#[case::autoinstall("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION=/extra\nAUTOINSTALL=true", &["dkms.conf: Error! Unsupported AUTOINSTALL value 'true'"])]
#[case::rebuild("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION=/extra\nBUILD_DEPENDS_REBUILD=1", &["dkms.conf: Error! Unsupported BUILD_DEPENDS_REBUILD value '1'"])]
#[case::weak("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION=/extra\nNO_WEAK_MODULES=y", &["dkms.conf: Error! Unsupported NO_WEAK_MODULES value 'y'"])]
fn read_conf_errors(#[case] text: &str, #[case] want: &[&str]) {
    assert_eq!(errors(text, false), want);
    assert_eq!(
        errors(text, true),
        want,
        "strict adds nothing when read_conf fails"
    );
}

#[rstest]
#[case::dup_built("BUILT_MODULE_NAME=(a a)\nDEST_MODULE_NAME=(x y)\nDEST_MODULE_LOCATION=(/extra /extra)", &["dkms.conf: Error! Duplicate module 'a' in 'BUILT_MODULE_NAME[1]'."])]
#[case::dup_built_location("BUILT_MODULE_NAME=(a a)\nBUILT_MODULE_LOCATION=(s s/)\nDEST_MODULE_NAME=(x y)\nDEST_MODULE_LOCATION=(/extra /extra)", &["dkms.conf: Error! Duplicate module 's/a' in 'BUILT_MODULE_NAME[1]'."])]
#[case::dup_dest("BUILT_MODULE_NAME=(a b)\nDEST_MODULE_NAME=(x x)\nDEST_MODULE_LOCATION=(/extra /extra)", &["dkms.conf: Error! Duplicate module 'x' in 'DEST_MODULE_NAME[1]'."])]
#[case::dup_default_dest("BUILT_MODULE_NAME=(a a)\nDEST_MODULE_LOCATION=(/extra /extra)", &["dkms.conf: Error! Duplicate module 'a' in 'BUILT_MODULE_NAME[1]'.", "dkms.conf: Error! Duplicate module 'a' in 'DEST_MODULE_NAME[1]'."])]
fn strict_errors(#[case] body: &str, #[case] want: &[&str]) {
    let text = format!("{HEAD}{body}");
    assert_eq!(errors(&text, true), want);
    assert!(resolve(&raw(&text), &ctx(), &opts("other", false)).is_ok());
}

#[test]
fn zero_modules_is_a_warning_in_strict_mode() {
    let conf = ok(HEAD);
    assert!(conf.modules.is_empty());
    assert_eq!(
        conf.strict_warnings,
        vec!["dkms.conf: Warning! Zero modules specified."]
    );
    assert!(conf.deprecations.is_empty());
    let conf = resolve(&raw(HEAD), &ctx(), &opts("other", false)).unwrap();
    assert!(conf.strict_warnings.is_empty());
}

#[test]
fn defaults_for_one_module() {
    let conf = ok(&format!(
        "{HEAD}DEST_MODULE_LOCATION=/kernel/drivers\nBUILT_MODULE_LOCATION=src"
    ));
    let m = &conf.modules[0];
    assert_eq!(m.built_name, "foo");
    assert_eq!(m.dest_name, "foo");
    assert_eq!(m.built_location, "src/");
    assert_eq!(m.dest_location, "/kernel/drivers");
    assert_eq!(m.dest_location_orig, "/kernel/drivers");
    assert!(m.strip);
    assert!(m.buildable);
    assert_eq!(
        conf.make_command,
        "make -C /nonexistent/lib/modules/6.1.0-13-amd64/build M=/var/lib/dkms/foo/1.0/build"
    );
    assert!(!conf.autoinstall);
    assert!(!conf.build_exclude);
}

#[test]
fn module_count_is_the_highest_index_over_four_arrays() {
    let conf = ok(&format!("{HEAD}BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_NAME[2]=z\nDEST_MODULE_LOCATION=(/extra /extra /extra)\nDEST_MODULE_LOCATION[3]=/extra\nBUILT_MODULE_NAME[3]=d"));
    let names: Vec<_> = conf
        .modules
        .iter()
        .map(|m| (m.built_name.as_str(), m.dest_name.as_str()))
        .collect();
    assert_eq!(names, [("a", "a"), ("b", "b"), ("c", "z"), ("d", "d")]);
    // Record 2 has no BUILT_MODULE_NAME: with several modules no default applies.
    assert_eq!(
        errors(&format!("{HEAD}BUILT_MODULE_NAME=(a b)\nDEST_MODULE_NAME[2]=z\nDEST_MODULE_LOCATION=(/extra /extra /extra)"), false),
        ["dkms.conf: Error! No 'BUILT_MODULE_NAME' directive specified for record #2."]
    );
}

#[rstest]
#[case::none(&[], &[true, true, true])]
#[case::first_no(&[(0, "no")], &[false, false, false])]
#[case::first_no_second_yes(&[(0, "No"), (1, "Yes")], &[false, true, false])]
#[case::other_value(&[(0, "false")], &[true, true, true])]
#[case::second_only(&[(1, "n")], &[true, false, true])]
fn strip_per_index(#[case] strip: &[(usize, &str)], #[case] want: &[bool]) {
    let mut text =
        format!("{HEAD}BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION=(/extra /extra /extra)\n");
    for (i, v) in strip {
        text.push_str(&format!("STRIP[{i}]={v}\n"));
    }
    let got: Vec<bool> = ok(&text).modules.iter().map(|m| m.strip).collect();
    assert_eq!(got, want);
}

#[rstest]
#[case::debian("debian", "/updates/dkms")]
#[case::ubuntu("ubuntu", "/updates/dkms")]
#[case::arch("arch", "/updates/dkms")]
#[case::fedora("fedora", "/extra")]
#[case::rhel("rhel fedora", "/extra")]
#[case::ovm("ovm", "/extra")]
#[case::sles("sles", "/updates")]
#[case::suse("suse opensuse", "/updates")]
#[case::opensuse("opensuse-tumbleweed", "/updates")]
#[case::gentoo("gentoo", "/kernel/drivers/net")]
#[case::empty("", "/kernel/drivers/net")]
fn distribution_location_override(#[case] distro: &str, #[case] want: &str) {
    let text = format!("{HEAD}DEST_MODULE_LOCATION=/kernel/drivers/net");
    let conf = resolve(&raw(&text), &ctx(), &opts(distro, true)).unwrap();
    assert_eq!(conf.modules[0].dest_location, want);
    assert_eq!(conf.modules[0].dest_location_orig, "/kernel/drivers/net");
}

#[rstest]
#[case::plain("MAKE=\"make a\"", "make a")]
#[case::match_zero_set("MAKE=(\"make a\" \"make b\")\nMAKE_MATCH=(\"^5\" \"^6\")", "make b")]
#[case::last_match_wins(
    "MAKE=(\"make a\" \"make b\" \"make c\")\nMAKE_MATCH[1]=\"^6\"\nMAKE_MATCH[2]=amd64",
    "make c"
)]
#[case::no_match_zero_default("MAKE=(\"make a\" \"make b\")\nMAKE_MATCH[1]=\"^5\"", "make a")]
#[case::match0_unmatched(
    "MAKE=(\"make a\")\nMAKE_MATCH=\"^5\"",
    "make -C /nonexistent/lib/modules/6.1.0-13-amd64/build M=/var/lib/dkms/foo/1.0/build"
)]
#[case::bad_regex("MAKE=(\"make a\" \"make b\")\nMAKE_MATCH[1]=\"(\"", "make a")]
#[case::sparse_beyond_count("MAKE[0]=\"make a\"\nMAKE[5]=\"make f\"\nMAKE_MATCH[5]=.", "make a")]
fn make_selection(#[case] body: &str, #[case] want: &str) {
    assert_eq!(
        ok(&format!("{HEAD}{body}\nDEST_MODULE_LOCATION=/extra")).make_command,
        want
    );
}

#[test]
fn llvm_appended_for_clang_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join(".config");
    std::fs::write(&cfg, "CONFIG_CC_IS_CLANG=y\n").unwrap();
    let mut c = ctx();
    c.kernel_source_dir = dir.path().display().to_string();
    c.kernel_config = cfg.display().to_string();
    let conf = ok_with(
        &format!("{HEAD}MAKE=\"make x\"\nDEST_MODULE_LOCATION=/extra"),
        &c,
    );
    assert_eq!(conf.make_command, "make x LLVM=1");
}

#[rstest]
#[case::all("PATCH=(a.patch b.patch)", &["a.patch", "b.patch"])]
#[case::matched("PATCH=(a.patch b.patch c.patch)\nPATCH_MATCH=(\"^5\" \"^6\\.1\" \"\")", &["b.patch", "c.patch"])]
#[case::empty_skipped("PATCH=(\"\" b.patch)", &["b.patch"])]
#[case::bad_regex("PATCH=(a.patch)\nPATCH_MATCH=\"[\"", &[])]
fn patch_selection(#[case] body: &str, #[case] want: &[&str]) {
    assert_eq!(
        ok(&format!("{HEAD}{body}\nDEST_MODULE_LOCATION=/extra")).patches,
        want
    );
}

#[rstest]
#[case::none("", &[true], false)]
#[case::kernel_match("BUILD_EXCLUSIVE_KERNEL=\"^6\\.\"", &[true], false)]
#[case::kernel_nomatch("BUILD_EXCLUSIVE_KERNEL=\"^5\\.\"", &[false], true)]
#[case::kernel_bad_regex("BUILD_EXCLUSIVE_KERNEL=\"(\"", &[false], true)]
#[case::min_ok("BUILD_EXCLUSIVE_KERNEL_MIN=5.10", &[true], false)]
#[case::min_fail("BUILD_EXCLUSIVE_KERNEL_MIN=6.2", &[false], true)]
#[case::max_ok("BUILD_EXCLUSIVE_KERNEL_MAX=6.1.0-13-amd64", &[true], false)]
#[case::max_fail("BUILD_EXCLUSIVE_KERNEL_MAX=6.0.99", &[false], true)]
#[case::obsolete_by("OBSOLETE_BY=5.15", &[false], true)]
#[case::obsolete_by_ignored_with_max("OBSOLETE_BY=5.15\nBUILD_EXCLUSIVE_KERNEL_MAX=7", &[true], false)]
#[case::arch_ok("BUILD_EXCLUSIVE_ARCH=\"x86_64|i.86\"", &[true], false)]
#[case::arch_fail("BUILD_EXCLUSIVE_ARCH=aarch64", &[false], true)]
fn build_exclusive_global(#[case] body: &str, #[case] want: &[bool], #[case] exclude: bool) {
    let conf = ok(&format!("{HEAD}DEST_MODULE_LOCATION=/extra\n{body}"));
    assert_eq!(
        conf.modules.iter().map(|m| m.buildable).collect::<Vec<_>>(),
        want
    );
    assert_eq!(conf.build_exclude, exclude);
}

#[rstest]
#[case::one_of_two("BUILD_EXCLUSIVE_ARCH[1]=aarch64", &[true, false], false)]
#[case::both_per_module("BUILD_EXCLUSIVE_KERNEL[1]=\"^5\"\nBUILD_EXCLUSIVE_KERNEL_MIN[0]=7", &[false, false], true)]
#[case::per_module_max_blocks_obsolete_by("OBSOLETE_BY=5.0\nBUILD_EXCLUSIVE_KERNEL_MAX[1]=9", &[true, true], false)]
fn build_exclusive_per_module(#[case] body: &str, #[case] want: &[bool], #[case] exclude: bool) {
    let conf = ok(&format!(
        "{HEAD}BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/extra /extra)\n{body}"
    ));
    assert_eq!(
        conf.modules.iter().map(|m| m.buildable).collect::<Vec<_>>(),
        want
    );
    assert_eq!(conf.build_exclude, exclude);
}

#[rstest]
#[case::present("CONFIG_A", true)]
#[case::module("CONFIG_M", true)]
#[case::absent("CONFIG_B", false)]
#[case::not_set_comment("CONFIG_C", false)]
#[case::negated_absent("!CONFIG_B", true)]
#[case::negated_present("!CONFIG_A", false)]
#[case::list("CONFIG_A CONFIG_M !CONFIG_B", true)]
#[case::list_one_missing("CONFIG_A CONFIG_B", false)]
#[case::prefix_only("CONFIG_A", true)]
#[case::no_partial_name("CONFIG", false)]
fn build_exclusive_config(#[case] want_config: &str, #[case] buildable: bool) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("auto.conf");
    std::fs::write(
        &cfg,
        "CONFIG_A=y\nCONFIG_M=m\nCONFIG_N=n\n# CONFIG_C is not set\nCONFIG_AB=y\n",
    )
    .unwrap();
    let mut c = ctx();
    c.kernel_config = cfg.display().to_string();
    let text =
        format!("{HEAD}DEST_MODULE_LOCATION=/extra\nBUILD_EXCLUSIVE_CONFIG=\"{want_config}\"");
    let conf = ok_with(&text, &c);
    assert_eq!(conf.modules[0].buildable, buildable);
    assert_eq!(conf.build_exclude, !buildable);
    // Per module, too.
    let text = format!("{HEAD}BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/extra /extra)\nBUILD_EXCLUSIVE_CONFIG[1]=\"{want_config}\"");
    let conf = ok_with(&text, &c);
    assert_eq!(conf.modules[1].buildable, buildable);
    assert!(conf.modules[0].buildable);
    // Without a config file the check is skipped, like upstream.
    let text =
        format!("{HEAD}DEST_MODULE_LOCATION=/extra\nBUILD_EXCLUSIVE_CONFIG=\"{want_config}\"");
    assert!(ok(&text).modules[0].buildable);
}

#[rstest]
#[case("", false)]
#[case("yes", true)]
#[case("YES", true)]
#[case("yEs", true)]
#[case("no", false)]
#[case("NO", false)]
fn autoinstall_values(#[case] v: &str, #[case] want: bool) {
    let conf = ok(&format!("{HEAD}DEST_MODULE_LOCATION=/extra\nAUTOINSTALL=\"{v}\"\nBUILD_DEPENDS_REBUILD=\"{v}\"\nNO_WEAK_MODULES=\"{v}\""));
    assert_eq!(
        (
            conf.autoinstall,
            conf.build_depends_rebuild,
            conf.no_weak_modules
        ),
        (want, want, want)
    );
}

#[test]
fn directive_option_is_element_zero() {
    let r = raw(&format!(
        "{HEAD}DEST_MODULE_LOCATION=(/extra /extra)\nBUILT_MODULE_NAME=(a b)"
    ));
    let mut o = opts("other", true);
    o.directives = vec![
        ("BUILT_MODULE_NAME".into(), "z".into()),
        ("AUTOINSTALL".into(), "yes".into()),
    ];
    let conf = resolve(&r, &ctx(), &o).unwrap();
    assert_eq!(conf.modules[0].built_name, "z");
    assert_eq!(conf.modules[1].built_name, "b");
    assert!(conf.autoinstall);
    o.directives = vec![("AUTOINSTALL".into(), "maybe".into())];
    assert_eq!(
        resolve(&r, &ctx(), &o).unwrap_err(),
        vec!["dkms.conf: Error! Unsupported AUTOINSTALL value 'maybe'"]
    );
}

#[test]
fn other_fields() {
    let conf = ok(&format!(
        "{HEAD}DEST_MODULE_LOCATION=/extra\nPRE_BUILD=a\nPOST_BUILD=b\nPRE_INSTALL=c\nPOST_INSTALL=d\nPOST_ADD=e\nPOST_REMOVE=f\nBUILD_DEPENDS=(x y)\nOBSOLETE_BY=9\nCLEAN=true\nREMAKE_INITRD=no"
    ));
    assert_eq!(
        (
            conf.pre_build.as_str(),
            conf.post_build.as_str(),
            conf.pre_install.as_str(),
            conf.post_install.as_str(),
            conf.post_add.as_str(),
            conf.post_remove.as_str()
        ),
        ("a", "b", "c", "d", "e", "f")
    );
    assert_eq!(conf.build_depends, vec!["x", "y"]);
    assert_eq!(conf.obsolete_by, "9");
    assert_eq!(
        conf.deprecations,
        vec![
            "Deprecated feature: REMAKE_INITRD (dkms.conf)",
            "Deprecated feature: OBSOLETE_BY (dkms.conf): use BUILD_EXCLUSIVE_KERNEL_MAX instead"
        ]
    );
}
