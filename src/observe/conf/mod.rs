//! dkms.conf: read it exactly as upstream does, without starting bash when the
//! file needs none.
//!
//! - [`static_reader`]: a pure-Rust reader for static files (assignments,
//!   quoting, arrays, `$var`/`${var}` of known variables). It refuses anything
//!   else with [`NotStatic`], and the caller falls back to
//! - [`bash_eval`]: sources the files in bash with upstream's variables in
//!   scope, stdout discarded, under a time limit, and reports every variable.
//! - [`resolve`]: turns the raw variables into a [`ModuleConf`] for one
//!   kernel/arch, applying upstream's defaults and validation (`dkms.conf:
//!   Error! ...`, exit 8).

pub mod bash_eval;
mod clang;
pub mod ere;
pub mod load;
pub mod resolve;
pub mod static_reader;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Every variable a dkms.conf (plus override files) left behind, as bash
/// arrays: name -> (index -> value). A plain `X=v` is index 0. Sparse arrays
/// keep their indices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawConf {
    /// name -> index -> value.
    pub vars: BTreeMap<String, BTreeMap<usize, String>>,
}

impl RawConf {
    /// Only the dkms.conf directives (what the bash evaluator reports), so a
    /// static read can be compared with a bash one.
    pub fn directives_only(&self) -> RawConf {
        let vars = self
            .vars
            .iter()
            .filter(|(k, _)| bash_eval::DIRECTIVES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        RawConf { vars }
    }

    /// Element 0 of `name`, or "" (bash's `$NAME`).
    pub fn scalar(&self, name: &str) -> &str {
        self.get(name, 0)
    }

    /// Element `i` of `name`, or "".
    pub fn get(&self, name: &str, i: usize) -> &str {
        self.vars
            .get(name)
            .and_then(|a| a.get(&i))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The set indices of `name` in order (bash's `${!NAME[@]}`).
    pub fn indices(&self, name: &str) -> Vec<usize> {
        self.vars
            .get(name)
            .map(|a| a.keys().copied().collect())
            .unwrap_or_default()
    }

    /// All values of `name` in index order (bash's `"${NAME[@]}"`).
    pub fn values(&self, name: &str) -> Vec<String> {
        self.vars
            .get(name)
            .map(|a| a.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Set element `i` of `name`.
    pub fn set(&mut self, name: &str, i: usize, value: impl Into<String>) {
        self.vars
            .entry(name.to_string())
            .or_default()
            .insert(i, value.into());
    }
}

/// The variables upstream puts in scope while sourcing dkms.conf, and the
/// files to read. Paths are host paths (already re-based under `--root`).
#[derive(Debug, Clone, Default)]
pub struct ConfContext {
    /// `$kernelver` (may be empty, e.g. for `dkms add` without `-k`).
    pub kernelver: String,
    /// `$arch`.
    pub arch: String,
    /// `$kernel_source_dir` (normally `$install_tree/$kernelver/build`).
    pub kernel_source_dir: String,
    /// `$dkms_tree`.
    pub dkms_tree: String,
    /// `$source_tree`.
    pub source_tree: String,
    /// `$install_tree`.
    pub install_tree: String,
    /// `$module`.
    pub module: String,
    /// `$module_version`.
    pub module_version: String,
    /// `$kernel_config` (auto.conf, or .config as fallback).
    pub kernel_config: String,
    /// `$tmp_location`.
    pub tmp_location: String,
}

impl ConfContext {
    /// A fixed context (paths need not exist) shared by the reader tests,
    /// the fuzz targets and the fuzz smoke test, so they agree on one.
    pub fn sample() -> ConfContext {
        ConfContext {
            kernelver: "6.1.0-13-amd64".into(),
            arch: "x86_64".into(),
            kernel_source_dir: "/nonexistent/lib/modules/6.1.0-13-amd64/build".into(),
            dkms_tree: "/var/lib/dkms".into(),
            source_tree: "/usr/src".into(),
            install_tree: "/lib/modules".into(),
            module: "foo".into(),
            module_version: "1.0".into(),
            kernel_config: "/nonexistent/lib/modules/6.1.0-13-amd64/build/.config".into(),
            tmp_location: "/tmp".into(),
        }
    }

    /// The variables as the static reader's `known` map.
    pub fn known(&self) -> BTreeMap<String, String> {
        self.pairs()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The variables as (name, value) pairs, in upstream's list order.
    pub fn pairs(&self) -> [(&'static str, &str); 10] {
        [
            ("kernelver", &self.kernelver),
            ("arch", &self.arch),
            ("kernel_source_dir", &self.kernel_source_dir),
            ("dkms_tree", &self.dkms_tree),
            ("source_tree", &self.source_tree),
            ("install_tree", &self.install_tree),
            ("module", &self.module),
            ("module_version", &self.module_version),
            ("kernel_config", &self.kernel_config),
            ("tmp_location", &self.tmp_location),
        ]
    }
}

/// Why the static reader handed a file to bash (for `DKMS_LOG=debug`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotStatic {
    /// 1-based line of the first construct the reader does not claim.
    pub line: usize,
    /// What it was.
    pub reason: String,
}

/// Which reader produced a [`RawConf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The pure-Rust static reader.
    Static,
    /// bash.
    Bash,
}

/// One module record of a dkms.conf after defaults were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRecord {
    /// BUILT_MODULE_NAME[i] (defaulted to PACKAGE_NAME when there is one module).
    pub built_name: String,
    /// BUILT_MODULE_LOCATION[i], with a trailing `/` when non-empty.
    pub built_location: String,
    /// DEST_MODULE_NAME[i] (defaulted to built_name).
    pub dest_name: String,
    /// DEST_MODULE_LOCATION[i] after the distribution override (`/updates/dkms` on Debian).
    pub dest_location: String,
    /// DEST_MODULE_LOCATION[i] as written in dkms.conf.
    pub dest_location_orig: String,
    /// STRIP[i] != no.
    pub strip: bool,
    /// False when this record's BUILD_EXCLUSIVE_* (global or per-module) rule out the kernel/arch/config.
    pub buildable: bool,
}

/// A dkms.conf resolved for one kernel and arch: what every action needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleConf {
    /// PACKAGE_NAME.
    pub package_name: String,
    /// PACKAGE_VERSION.
    pub package_version: String,
    /// The module records.
    pub modules: Vec<ModuleRecord>,
    /// The make command upstream would pick (MAKE/MAKE_MATCH, or the default), before `-j`/KERNELRELEASE insertion.
    pub make_command: String,
    /// Patches that apply to this kernel (PATCH filtered by PATCH_MATCH).
    pub patches: Vec<String>,
    /// PRE_BUILD.
    pub pre_build: String,
    /// POST_BUILD.
    pub post_build: String,
    /// PRE_INSTALL.
    pub pre_install: String,
    /// POST_INSTALL.
    pub post_install: String,
    /// POST_ADD.
    pub post_add: String,
    /// POST_REMOVE.
    pub post_remove: String,
    /// AUTOINSTALL=yes.
    pub autoinstall: bool,
    /// BUILD_DEPENDS.
    pub build_depends: Vec<String>,
    /// BUILD_DEPENDS_REBUILD=yes.
    pub build_depends_rebuild: bool,
    /// NO_WEAK_MODULES=yes.
    pub no_weak_modules: bool,
    /// OBSOLETE_BY (deprecated).
    pub obsolete_by: String,
    /// True when BUILD_EXCLUSIVE directives exist and no record is buildable (upstream's `build_exclude`, exit 77).
    pub build_exclude: bool,
    /// Some module record has a BUILD_EXCLUSIVE_* directive (upstream then
    /// does not say "is not installed" when uninstalling).
    pub has_build_exclusive: bool,
    /// The BUILD_EXCLUSIVE rule that rules the kernel out, as written
    /// (`BUILD_EXCLUSIVE_KERNEL_MIN="6.5"`), when `build_exclude`.
    pub excluded_by: Option<String>,
    /// `Deprecated feature: X (file)` lines for the strict read (printed
    /// while the files are read, so not again for the same read in a row).
    pub deprecations: Vec<String>,
    /// `dkms.conf: Warning! Zero modules specified.` (printed on every
    /// strict read, as upstream's `read_conf_strict` does).
    pub strict_warnings: Vec<String>,
    /// Which reader produced the values.
    pub reader: Reader,
}

/// What reading a dkms.conf gave: the conf or why not, and what upstream
/// prints while reading it (shown by the caller when upstream shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfRead {
    /// What bash printed on stderr while sourcing (dynamic files only).
    pub bash_stderr: String,
    /// `DIRECTIVE: NAME="VALUE"` lines for each `--directive` (stdout).
    pub directive_lines: Vec<String>,
    /// The resolved conf, or the failure.
    pub result: Result<ModuleConf, ConfError>,
}

/// A dkms.conf that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    /// Lines upstream prints on stderr before the error (deprecations and
    /// `dkms.conf: Error! ...`).
    pub lines: Vec<String>,
    /// The error (exit 4 or 8).
    pub error: crate::error::Error,
}

impl ConfError {
    /// A failure with no lines before it.
    pub fn plain(error: crate::error::Error) -> ConfError {
        ConfError {
            lines: Vec::new(),
            error,
        }
    }
}

/// Where a dkms.conf and its override files are, in upstream's order.
#[derive(Debug, Clone)]
pub struct ConfFiles {
    /// The dkms.conf itself.
    pub main: PathBuf,
    /// `/etc/dkms/<m>.conf` ... (only those that exist), in upstream's order.
    pub overrides: Vec<PathBuf>,
}

#[cfg(test)]
mod fuzz_regressions;
#[cfg(test)]
mod tests;
