//! `load`: the whole pipeline on real files.

use rstest::rstest;

use super::{ctx, fixture};
use crate::observe::conf::load::load;
use crate::observe::conf::resolve::ResolveOpts;
use crate::observe::conf::{ConfFiles, Reader};

fn opts(strict: bool) -> ResolveOpts {
    ResolveOpts {
        distribution: "debian".into(),
        strict,
        directives: vec![],
        conf_path: "dkms.conf".into(),
    }
}

#[rstest]
#[case("v4l2loopback-dkms.dkms.conf", "v4l2loopback", "0.12.7", &["v4l2loopback"], Reader::Bash)]
#[case("iptables-netflow-dkms.dkms.conf", "ipt-netflow", "2.6", &["ipt_NETFLOW"], Reader::Bash)]
#[case("acpi-call-dkms.dkms.conf", "acpi-call", "1.2.2", &["acpi_call"], Reader::Static)]
#[case("tp-smapi-dkms.dkms.conf", "tp_smapi", "0.43", &["thinkpad_ec", "tp_smapi", "hdaps"], Reader::Static)]
#[case("xtables-addons-dkms.dkms.conf", "xtables-addons", "3.23", &["xt_ACCOUNT", "compat_xtables", "xt_pknock", "xt_CHAOS", "xt_DELUDE", "xt_DHCPMAC", "xt_DNETMAP", "xt_ECHO", "xt_IPMARK", "xt_LOGMARK", "xt_PROTO", "xt_SYSRQ", "xt_TARPIT", "xt_condition", "xt_fuzzy", "xt_geoip", "xt_iface", "xt_ipp2p", "xt_ipv4options", "xt_length2", "xt_lscan", "xt_psd", "xt_quota2"], Reader::Static)]
fn real_debian_files(
    #[case] name: &str,
    #[case] package: &str,
    #[case] version: &str,
    #[case] built: &[&str],
    #[case] reader: Reader,
) {
    let files = ConfFiles {
        main: fixture(name),
        overrides: vec![],
    };
    let conf = load(&files, &ctx(), &opts(true)).result.unwrap();
    assert_eq!(conf.package_name, package);
    assert_eq!(conf.package_version, version);
    assert_eq!(
        conf.modules
            .iter()
            .map(|m| m.built_name.as_str())
            .collect::<Vec<_>>(),
        built
    );
    assert!(conf
        .modules
        .iter()
        .all(|m| m.dest_location == "/updates/dkms"));
    assert!(conf.autoinstall);
    assert_eq!(conf.reader, reader);
}

#[test]
fn xtables_make_command_is_built_from_helpers() {
    let files = ConfFiles {
        main: fixture("xtables-addons-dkms.dkms.conf"),
        overrides: vec![],
    };
    let conf = load(&files, &ctx(), &opts(false)).result.unwrap();
    let bdir = "/var/lib/dkms/xtables-addons/3.23/build";
    assert_eq!(
        conf.make_command,
        format!(
            "make -C {} M={bdir}/extensions XA_ABSTOPSRCDIR={bdir} XA_TOPSRCDIR={bdir} V=1 modules ; find {bdir} -name '*.ko' -exec mv -v {{}} {bdir} \\;",
            ctx().kernel_source_dir
        )
    );
    assert_eq!(conf.modules[0].built_location, "");
}

#[test]
fn deprecations_are_per_file_in_strict_mode() {
    let files = ConfFiles {
        main: fixture("tp-smapi-dkms.dkms.conf"),
        overrides: vec![],
    };
    let conf = load(&files, &ctx(), &opts(true)).result.unwrap();
    // The main file is named as the caller names it (upstream reads it
    // through the `source` link); here `opts` names it `dkms.conf`.
    assert_eq!(
        conf.deprecations,
        vec!["Deprecated feature: CLEAN (dkms.conf)".to_string()]
    );
    let conf = load(&files, &ctx(), &opts(false)).result.unwrap();
    assert!(conf.deprecations.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let over = dir.path().join("tp_smapi.conf");
    std::fs::write(&over, "REMAKE_INITRD=yes\n").unwrap();
    let files = ConfFiles {
        main: fixture("tp-smapi-dkms.dkms.conf"),
        overrides: vec![over.clone()],
    };
    let conf = load(&files, &ctx(), &opts(true)).result.unwrap();
    let o = over.display().to_string();
    assert_eq!(
        conf.deprecations,
        vec![
            "Deprecated feature: CLEAN (dkms.conf)".to_string(),
            format!("Deprecated feature: CLEAN ({o})"),
            format!("Deprecated feature: REMAKE_INITRD ({o})"),
        ]
    );
}

#[test]
fn override_files_apply_in_order_with_both_readers() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("dkms.conf");
    std::fs::write(&main, "PACKAGE_NAME=foo\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/extra /extra)\nAUTOINSTALL=yes\n").unwrap();
    let o1 = dir.path().join("foo.conf");
    std::fs::write(&o1, "AUTOINSTALL=no\n").unwrap();
    let o2 = dir.path().join("foo-1.conf");
    std::fs::write(&o2, "BUILT_MODULE_NAME[1]=c\n").unwrap();
    let files = ConfFiles {
        main: main.clone(),
        overrides: vec![o1.clone(), o2.clone()],
    };
    let conf = load(&files, &ctx(), &opts(true)).result.unwrap();
    assert_eq!(conf.reader, Reader::Static);
    assert!(!conf.autoinstall);
    assert_eq!(conf.modules[1].built_name, "c");
    // The same with a file only bash can read.
    std::fs::write(&o2, "BUILT_MODULE_NAME[1]=$(echo c)\n").unwrap();
    let conf2 = load(&files, &ctx(), &opts(true)).result.unwrap();
    assert_eq!(conf2.reader, Reader::Bash);
    assert_eq!(ModuleConfView::of(&conf), ModuleConfView::of(&conf2));
}

/// Everything but the reader.
#[derive(Debug, PartialEq)]
struct ModuleConfView(crate::observe::conf::ModuleConf);

impl ModuleConfView {
    fn of(c: &crate::observe::conf::ModuleConf) -> Self {
        let mut c = c.clone();
        c.reader = Reader::Static;
        ModuleConfView(c)
    }
}

#[test]
fn missing_conf_is_exit_4() {
    let files = ConfFiles {
        main: "/nonexistent/dkms.conf".into(),
        overrides: vec![],
    };
    // The message names the file as the caller shows it (conf_path).
    let mut o = opts(true);
    o.conf_path = "/nonexistent/dkms.conf".into();
    let err = load(&files, &ctx(), &o).result.unwrap_err().error;
    assert_eq!(err.code(), 4);
    assert_eq!(
        err.lines(),
        vec![
            "Could not locate dkms.conf file.",
            "File: /nonexistent/dkms.conf does not exist."
        ]
    );
}

#[test]
fn invalid_conf_is_exit_8_bad_conf_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("dkms.conf");
    std::fs::write(&main, "PACKAGE_VERSION=1\n").unwrap();
    let files = ConfFiles {
        main,
        overrides: vec![],
    };
    let mut o = opts(true);
    o.conf_path = "/usr/src/foo-1/dkms.conf".into();
    let err = load(&files, &ctx(), &o).result.unwrap_err().error;
    assert_eq!(err.code(), 8);
    assert_eq!(
        err.lines(),
        vec![
            "Bad conf file.",
            "File: /usr/src/foo-1/dkms.conf does not represent a valid dkms.conf file."
        ]
    );
}

#[test]
fn directive_option_overrides_element_zero() {
    let files = ConfFiles {
        main: fixture("acpi-call-dkms.dkms.conf"),
        overrides: vec![],
    };
    let mut o = opts(true);
    o.directives = vec![
        ("AUTOINSTALL".into(), "no".into()),
        ("MAKE".into(), "make custom".into()),
    ];
    let conf = load(&files, &ctx(), &o).result.unwrap();
    assert!(!conf.autoinstall);
    assert_eq!(conf.make_command, "make custom");
}
