//! What a campaign's sequences are made of: the kernels (fake ones, or the
//! real Debian headers for the real slice), the module versions a
//! sequence can register, and their sources.
//!
//! | module | versions | dkms.conf |
//! | --- | --- | --- |
//! | hello | 1.0, 2.0, 3.0 | AUTOINSTALL; 3.0 does not compile |
//! | dep | 1.0 | AUTOINSTALL, BUILD_DEPENDS="hello" |
//! | excl | 1.0 | AUTOINSTALL, BUILD_EXCLUSIVE_KERNEL matching all kernels but the last |
//!
//! One fake kernel ships a `hello` of its own (version 0.5) in
//! `kernel/drivers/misc/`, the "original" dkms sets aside.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::harness::*;

/// A module version of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mv {
    /// PACKAGE_NAME.
    pub m: &'static str,
    /// PACKAGE_VERSION.
    pub v: &'static str,
}

impl std::fmt::Display for Mv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.m, self.v)
    }
}

/// Every module version a sequence may use.
pub const CATALOG: &[Mv] = &[
    Mv {
        m: "hello",
        v: "1.0",
    },
    Mv {
        m: "hello",
        v: "2.0",
    },
    Mv {
        m: "hello",
        v: "3.0",
    },
    Mv { m: "dep", v: "1.0" },
    Mv {
        m: "excl",
        v: "1.0",
    },
];

/// Module names, in BUILD_DEPENDS order.
pub const MODULES: &[&str] = &["hello", "dep", "excl"];

impl Mv {
    /// Looks `m/v` up in the catalog.
    pub fn parse(s: &str) -> Option<Mv> {
        CATALOG.iter().copied().find(|mv| mv.to_string() == s)
    }

    /// True for the version whose build fails.
    pub fn broken(self) -> bool {
        self.m == "hello" && self.v == "3.0"
    }

    /// BUILD_DEPENDS of this version.
    pub fn depends(self) -> Option<&'static str> {
        (self.m == "dep").then_some("hello")
    }

    /// True for the module with a BUILD_EXCLUSIVE_KERNEL.
    pub fn exclusive(self) -> bool {
        self.m == "excl"
    }
}

/// Where the sequences run: fake kernels (fast) or real headers and make.
#[derive(Debug, Clone)]
pub struct Universe {
    /// Real kernel headers (`true`) or the fake kernel.
    pub real: bool,
    /// The kernel releases, oldest first.
    pub kernels: Vec<String>,
    /// The kernel whose image ships `kernel/drivers/misc/hello.ko`.
    pub original_on: Option<String>,
    /// The module files get a tmpfs of their own per kernel, so that one
    /// event can find the install tree full (needs root).
    pub full_disk: bool,
}

/// Where the kernel's own hello module sits.
pub const ORIGINAL_REL: &str = "kernel/drivers/misc/hello.ko";

impl Universe {
    /// Three fake kernels; the second ships an original hello.
    pub fn fake() -> Universe {
        let kernels: Vec<String> = [K1, K2, K3].iter().map(|k| k.to_string()).collect();
        Universe {
            real: false,
            original_on: Some(kernels[1].clone()),
            kernels,
            full_disk: rustix::process::geteuid().is_root(),
        }
    }

    /// The real kernels whose headers are installed (`None`: none are).
    pub fn real() -> Option<Universe> {
        let kernels = installed_real_kernels();
        if kernels.is_empty() {
            return None;
        }
        Some(Universe {
            real: true,
            kernels,
            original_on: None,
            full_disk: false,
        })
    }

    /// The BUILD_EXCLUSIVE_KERNEL of excl: every kernel but the last.
    pub fn excl_regex(&self) -> String {
        let n = self.kernels.len();
        let allowed: Vec<String> = self.kernels[..n.saturating_sub(1).max(1)]
            .iter()
            .map(|k| format!("^{}$", regex_escape(k)))
            .collect();
        allowed.join("|")
    }

    /// True if excl may be built for `k`.
    pub fn excl_allows(&self, k: &str) -> bool {
        let n = self.kernels.len();
        self.kernels[..n.saturating_sub(1).max(1)]
            .iter()
            .any(|x| x == k)
    }

    /// The files of `mv`'s source directory.
    pub fn source_files(&self, mv: Mv) -> Vec<(String, String)> {
        let mut conf = format!(
            "PACKAGE_NAME=\"{}\"\nPACKAGE_VERSION=\"{}\"\nBUILT_MODULE_NAME[0]=\"{}\"\n\
             DEST_MODULE_LOCATION[0]=\"/kernel/extra\"\nAUTOINSTALL=\"yes\"\n",
            mv.m, mv.v, mv.m
        );
        if let Some(d) = mv.depends() {
            conf.push_str(&format!("BUILD_DEPENDS=\"{d}\"\n"));
        }
        if mv.exclusive() {
            conf.push_str(&format!(
                "BUILD_EXCLUSIVE_KERNEL=\"{}\"\n",
                self.excl_regex()
            ));
        }
        let mut c = if self.real {
            real_c(mv.m, mv.v)
        } else {
            fake_c(mv.m, mv.v)
        };
        if mv.broken() {
            c.push_str("\nstatic int broken(void) { return 0 }\n");
        }
        vec![
            ("dkms.conf".into(), conf),
            ("Makefile".into(), format!("obj-m := {}.o\n", mv.m)),
            (format!("{}.c", mv.m), c),
        ]
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

fn fake_c(m: &str, v: &str) -> String {
    format!(
        "#include <fake_module.h>\n\nFAKE_MODULE_VERSION(\"{v}\");\nFAKE_MODULE_LICENSE(\"GPL\");\n\
         FAKE_MODULE_DESCRIPTION(\"{m} campaign module\");\n\nint {m}_init(void)\n{{\n\treturn 0;\n}}\n"
    )
}

fn real_c(m: &str, v: &str) -> String {
    format!(
        "// SPDX-License-Identifier: GPL-2.0\n#include <linux/init.h>\n#include <linux/module.h>\n\n\
         static int __init {m}_init(void)\n{{\n\treturn 0;\n}}\n\n\
         static void __exit {m}_exit(void)\n{{\n}}\n\n\
         module_init({m}_init);\nmodule_exit({m}_exit);\nMODULE_LICENSE(\"GPL\");\n\
         MODULE_VERSION(\"{v}\");\nMODULE_DESCRIPTION(\"{m} campaign module\");\n"
    )
}

/// The fake kernel's own hello module (version 0.5), compiled once per
/// test process for `kver`.
pub fn original_ko(kver: &str) -> PathBuf {
    static BUILT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_dir, ko) = BUILT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("dkms-campaign-original-")
            .tempdir()
            .expect("tempdir");
        write_file(&dir.path().join("Makefile"), "obj-m := hello.o\n");
        write_file(&dir.path().join("hello.c"), fake_c("hello", "0.5"));
        fake_make(&fake_kernel_dir(), dir.path(), kver, &[]).assert_ok();
        let ko = dir.path().join("hello.ko");
        (dir, ko)
    });
    ko.clone()
}
