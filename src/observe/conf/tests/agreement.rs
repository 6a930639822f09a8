//! The static reader and bash must agree on every file the reader claims.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use rstest::rstest;

use super::bash;
use super::{ctx, directives_only, fixture, known};
use crate::observe::conf::bash_eval::eval_bash;
use crate::observe::conf::static_reader::read_static;
use crate::observe::conf::RawConf;

fn assert_agree(text: &str) {
    let st = read_static(text, &known(&ctx()), false)
        .unwrap_or_else(|e| panic!("static refused {text:?}: {e:?}"));
    assert_eq!(
        directives_only(&st),
        bash(text),
        "static vs bash on {text:?}"
    );
}

#[rstest]
#[case::plain("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\n")]
#[case::quotes("PACKAGE_NAME=\"foo bar\"\nPACKAGE_VERSION='1.0 $x \\y'\n")]
#[case::dq_escapes("MAKE=\"a\\\"b\\\\c\\$d\\`e\\z\\;\"")]
#[case::concat("MAKE=a\"b\"'c'$kernelver")]
#[case::braces("MAKE=${kernel_source_dir}/x${arch}")]
#[case::all_context("MAKE=\"$kernelver $arch $kernel_source_dir $dkms_tree $source_tree $install_tree $module $module_version $kernel_config $tmp_location\"")]
#[case::array("BUILT_MODULE_NAME=(a \"b c\" d)")]
#[case::sparse("BUILT_MODULE_NAME=(x y)\nBUILT_MODULE_NAME[3]=z")]
#[case::scalar_on_array("MAKE=(a b c)\nMAKE=z")]
#[case::empty_array("MAKE=(a b)\nMAKE=( )")]
#[case::multiline_array("BUILT_MODULE_NAME=(\n  a # first\n  \"b\"\\\n  c\n)\n")]
#[case::continuation("MAKE=\"make \\\n -C x\"\nCLEAN=a\\\nb")]
#[case::export("export PACKAGE_NAME=foo\nexport PACKAGE_VERSION")]
#[case::two_on_a_line("PACKAGE_NAME=a PACKAGE_VERSION=$PACKAGE_NAME")]
#[case::helper_var("BDIR=$dkms_tree/x\nMAKE=\"make M=$BDIR\"")]
#[case::crlf("PACKAGE_NAME=foo\r\nPACKAGE_VERSION=1\r\n\r\n")]
#[case::crlf_quoted("PACKAGE_NAME=\"foo\"\r\nMAKE=\"a\r\"\r\n")]
#[case::comments("# c\nPACKAGE_NAME=foo # trailing\n  # indented\n")]
#[case::hash_in_word("MAKE=a#b")]
#[case::dollar_literals("MAKE=\"a$\"\nCLEAN=a$\nPATCH=\"$ x\"\nPRE_BUILD=\"a$'b\"")]
#[case::backslashes("MAKE=a\\ b\nCLEAN=\\$x\nPATCH=\\\\")]
#[case::empty_values("MAKE=\nCLEAN=\"\"\nBUILT_MODULE_NAME=(\"\" x '')")]
#[case::empty_expansion("E=\nBUILT_MODULE_NAME=($E x \"$E\" a$E)")]
#[case::expansion_in_array("N=foo\nBUILT_MODULE_NAME=($N bar \"$N baz\")")]
#[case::unicode("PACKAGE_NAME=\"héllo wörld\"\nMAKE=ünï")]
#[case::newline_in_value("POST_INSTALL=\"a\nb\"\nPOST_ADD='c\n\nd'")]
#[case::sparse_explicit("MAKE[0]=x MAKE[10]=y\nMAKE_MATCH[10]=^6")]
#[case::dotdot("DEST_MODULE_LOCATION[0]=/kernel/../extra")]
#[case::equals("MAKE=a=b\nCLEAN=--x=y")]
#[case::punctuation("MAKE=foo!bar%baz@q,r:s^t+u-v.w/x")]
#[case::tabs("\tPACKAGE_NAME=foo\t# c\n\t\tPACKAGE_VERSION=1")]
#[case::quote_mix("MAKE=\"it's\"\nCLEAN='say \"hi\"'\nPATCH='a\\b'")]
#[case::var_suffix("MAKE=$kernelver.ko\nCLEAN=\"$module-$module_version\"")]
#[case::self_ref("MAKE=a\nMAKE=\"$MAKE b\"\nMAKE=$MAKE$MAKE")]
#[case::sparse_no_zero("BUILT_MODULE_NAME[1]=b\nDEST_MODULE_LOCATION[2]=/extra")]
#[case::array_replaces_sparse("MAKE[5]=x\nMAKE=(a b)")]
#[case::equals_in_array("MAKE=(x=y a)")]
#[case::array_escapes("MAKE=(a\\ b \"c\\\"d\" 'e f')")]
#[case::quoted_spaces_in_array("X=\"a  b\"\nMAKE=(\"$X\" \"$X\"x)")]
#[case::only_comments("# nothing\n\n# here\n")]
#[case::cr_lines("PACKAGE_NAME=a\r\n\r\n\r\nPACKAGE_VERSION=b\r\n")]
#[case::strip_values("STRIP[0]=no\nSTRIP[2]=YES\nAUTOINSTALL=Yes")]
#[case::directive_names("OBSOLETE_BY=5.10\nREMAKE_INITRD=yes\nMODULES_CONF[0]=x\nMODULES_CONF_OBSOLETES=y\nMODULES_CONF_ALIAS_TYPE=z\nMODULES_CONF_OBSOLETE_ONLY=w\nNO_WEAK_MODULES=yes\nBUILD_DEPENDS=(a b)\nBUILD_DEPENDS_REBUILD=no")]
#[case::exclusive("BUILD_EXCLUSIVE_KERNEL=\"^6\\.\"\nBUILD_EXCLUSIVE_KERNEL_MIN=5.10\nBUILD_EXCLUSIVE_KERNEL_MAX=6.9\nBUILD_EXCLUSIVE_ARCH='x86_64|i.86'\nBUILD_EXCLUSIVE_CONFIG=\"CONFIG_A !CONFIG_B\"")]
#[case::scripts("PRE_BUILD=\"configure --x\"\nPOST_BUILD=p\nPRE_INSTALL=q\nPOST_INSTALL=r\nPOST_ADD=s\nPOST_REMOVE=t")]
#[case::xtables_style("PACKAGE_NAME=xt\nBDIR=\"$dkms_tree/${PACKAGE_NAME}/1/build\"\nMAKEARGS=\"-C $kernel_source_dir M=${BDIR}/extensions V=1\"\nMAKE=\"make ${MAKEARGS} modules ; find ${BDIR} -name '*.ko' -exec mv -v {} ${BDIR} \\;\"")]
fn static_and_bash_agree(#[case] text: &str) {
    assert_agree(text);
}

#[rstest]
#[case("xtables-addons-dkms.dkms.conf")]
#[case("tp-smapi-dkms.dkms.conf")]
#[case("acpi-call-dkms.dkms.conf")]
fn real_files_agree(#[case] name: &str) {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    assert_agree(&text);
}

/// Files the reader must refuse, and what bash still gives for them.
#[rstest]
#[case::v4l2loopback_real("v4l2loopback-dkms.dkms.conf", "v4l2loopback", "v4l2loopback")]
#[case::ipt_netflow_real("iptables-netflow-dkms.dkms.conf", "ipt-netflow", "ipt_NETFLOW")]
fn real_files_need_bash(#[case] name: &str, #[case] package: &str, #[case] built: &str) {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(read_static(&text, &known(&ctx()), false).is_err());
    let got = eval_bash(&[path], &ctx(), &[], Duration::from_secs(20)).unwrap();
    assert_eq!(got.scalar("PACKAGE_NAME"), package);
    assert_eq!(got.scalar("BUILT_MODULE_NAME"), built);
}

#[test]
fn representative_v4l2loopback_with_kernel_config() {
    // Sources the kernel .config and runs `sort -V`, like v4l2loopback does.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".config"), "CONFIG_VIDEO_DEV=m\n").unwrap();
    let conf = dir.path().join("dkms.conf");
    std::fs::write(
        &conf,
        "PACKAGE_NAME=\"v4l2loopback\"\nPACKAGE_VERSION=\"0.13.2\"\n\
         if [ -f $kernel_source_dir/.config ]; then\n  . $kernel_source_dir/.config\n\
           if ! { echo \"$kernelver\"; echo 5.18; } | sort -V -C; then\n\
             [ \"${CONFIG_VIDEO_DEV:-n}\" = n ] && BUILD_EXCLUSIVE_KERNEL=\"REQUIRES CONFIG_VIDEO_DEV\"\n\
           fi\nfi\nMAKE[0]=\"make KERNEL_DIR=${kernel_source_dir} all\"\n\
         BUILT_MODULE_NAME[0]=\"$PACKAGE_NAME\"\nDEST_MODULE_LOCATION[0]=\"/extra\"\n",
    )
    .unwrap();
    let mut c = ctx();
    c.kernel_source_dir = dir.path().display().to_string();
    let got = eval_bash(
        std::slice::from_ref(&conf),
        &c,
        &[],
        Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(got.scalar("PACKAGE_VERSION"), "0.13.2");
    assert_eq!(got.scalar("BUILD_EXCLUSIVE_KERNEL"), "");
    std::fs::write(
        dir.path().join(".config"),
        "# CONFIG_VIDEO_DEV is not set\n",
    )
    .unwrap();
    let got = eval_bash(&[conf], &c, &[], Duration::from_secs(20)).unwrap();
    assert_eq!(
        got.scalar("BUILD_EXCLUSIVE_KERNEL"),
        "REQUIRES CONFIG_VIDEO_DEV"
    );
}

#[test]
fn bash_sees_the_environment_but_not_leaked_directives() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"PACKAGE_NAME=\"$DKMS_CONF_TEST_X\"\nMAKE[1]=b\n")
        .unwrap();
    let env = vec![
        ("DKMS_CONF_TEST_X".to_string(), "from-env".to_string()),
        ("MAKE".to_string(), "leaked".to_string()),
    ];
    let got = eval_bash(
        &[f.path().to_path_buf()],
        &ctx(),
        &env,
        Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(got.scalar("PACKAGE_NAME"), "from-env");
    assert_eq!(got.indices("MAKE"), vec![1]);
}

#[test]
fn bash_stdout_is_discarded_and_errors_keep_earlier_values() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"echo noise\nPACKAGE_NAME=a\nexit 3\nPACKAGE_VERSION=b\n")
        .unwrap();
    let got = eval_bash(
        &[f.path().to_path_buf()],
        &ctx(),
        &[],
        Duration::from_secs(20),
    )
    .unwrap();
    // `exit` ends the subshell before the dump, as upstream's does.
    assert_eq!(got, RawConf::default());
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"PACKAGE_NAME=a\nif then\nPACKAGE_VERSION=b\n")
        .unwrap();
    let got = eval_bash(
        &[f.path().to_path_buf()],
        &ctx(),
        &[],
        Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(got.scalar("PACKAGE_NAME"), "a");
}

/// Several files: directives cross from one file to the next, helper
/// variables do not, and array assignments overlay element by element.
#[rstest]
#[case::override_scalar(&["PACKAGE_NAME=a\nMAKE=(x y z)", "MAKE=w"])]
#[case::override_array_keeps_higher(&["MAKE=(x y z)", "MAKE=(w)"])]
#[case::override_empty_array_keeps(&["MAKE=(x y z)", "MAKE=()"])]
#[case::override_element(&["MAKE=(x y)", "MAKE[3]=q\nCLEAN=$MAKE"])]
#[case::override_reads_earlier(&["PACKAGE_NAME=a", "PACKAGE_VERSION=\"$PACKAGE_NAME-2\""])]
#[case::double_cr(&["PACKAGE_NAME=\"a\r\r\"\nMAKE=\"m\r\r\"", "MAKE=\"$MAKE\""])]
#[case::three(&["PACKAGE_NAME=a", "PACKAGE_VERSION=1", "PACKAGE_NAME=b\nSTRIP[1]=no"])]
fn multi_file_agreement(#[case] texts: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = dir.path().join(format!("{i}.conf"));
            std::fs::write(&p, t).unwrap();
            p
        })
        .collect();
    let owned: Vec<Option<String>> = texts.iter().map(|t| Some(t.to_string())).collect();
    let st = crate::observe::conf::load::read_all_static(&paths, &owned, &ctx())
        .expect("static claims all");
    let bash = crate::observe::conf::bash_eval::eval_bash_snapshots(
        &paths,
        &ctx(),
        &[],
        Duration::from_secs(20),
    )
    .unwrap()
    .0;
    assert_eq!(st, bash);
}

#[test]
fn helper_variables_do_not_cross_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.conf");
    let b = dir.path().join("b.conf");
    std::fs::write(&a, "H=helper\nPACKAGE_NAME=x").unwrap();
    std::fs::write(&b, "PACKAGE_VERSION=\"[$H]\"").unwrap();
    let got = eval_bash(&[a, b], &ctx(), &[], Duration::from_secs(20)).unwrap();
    assert_eq!(got.scalar("PACKAGE_VERSION"), "[]");
}
