//! framework.conf and framework.conf.d: the tree locations and tunables an
//! administrator sets. Read statically: only allow-listed `name=value`
//! assignments take effect; any other code in the files has no effect (it is
//! never executed).
//!
//! As root, configuration another user can change is not used (see
//! [`crate::observe::trust`]): such a framework file is not read, and it,
//! `/etc/dkms` or `/etc/dkms/framework.conf.d` themselves, the
//! `build_environment` file and the `post_transaction` program (what
//! framework.conf has root source or run) are recorded in
//! [`Settings::untrusted`]; the run then fails before doing anything
//! ([`Settings::refusal`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::layout::Root;
use crate::observe::conf::static_reader::read_static;
use crate::observe::msg;
use crate::observe::trust::{Trust, Untrusted};

/// The variables upstream honours from framework.conf, plus our extensions
/// (`build_user`, `autoinstall_failure`, `publish_repo`).
pub const ALLOWED: &[&str] = &[
    "source_tree",
    "dkms_tree",
    "install_tree",
    "tmp_location",
    "verbose",
    "symlink_modules",
    "autoinstall_all_kernels",
    "modprobe_on_install",
    "parallel_jobs",
    "compress_gzip_opts",
    "compress_xz_opts",
    "compress_zstd_opts",
    "build_environment",
    "post_transaction",
    "sign_file",
    "mok_signing_key",
    "mok_certificate",
    "try_sign_modules",
    "build_user",
    "autoinstall_failure",
    "publish_repo",
];

/// Tree locations given on the command line; they win over framework.conf
/// and are used literally (not re-based under `--root`).
#[derive(Debug, Clone, Default)]
pub struct TreeOverrides {
    /// `--dkmstree`.
    pub dkms_tree: Option<PathBuf>,
    /// `--sourcetree`.
    pub source_tree: Option<PathBuf>,
    /// `--installtree`.
    pub install_tree: Option<PathBuf>,
}

/// Everything framework.conf decides, with upstream's defaults, as host paths.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `--root` prefix.
    pub root: Root,
    /// `dkms_tree` (default /var/lib/dkms).
    pub dkms_tree: PathBuf,
    /// `source_tree` (default /usr/src).
    pub source_tree: PathBuf,
    /// `install_tree` (default /lib/modules).
    pub install_tree: PathBuf,
    /// `tmp_location` (default `$TMPDIR` or /tmp).
    pub tmp_location: PathBuf,
    /// `verbose`.
    pub verbose: bool,
    /// `symlink_modules`.
    pub symlink_modules: bool,
    /// `autoinstall_all_kernels`.
    pub autoinstall_all_kernels: bool,
    /// `modprobe_on_install`.
    pub modprobe_on_install: bool,
    /// `parallel_jobs` as written ("" = unset: the CPU count is used).
    pub parallel_jobs: String,
    /// `compress_gzip_opts`.
    pub compress_gzip_opts: String,
    /// `compress_xz_opts`.
    pub compress_xz_opts: String,
    /// `compress_zstd_opts`.
    pub compress_zstd_opts: String,
    /// `build_environment` file (host path) if set.
    pub build_environment: Option<PathBuf>,
    /// `post_transaction` command.
    pub post_transaction: String,
    /// `sign_file` (may contain `${kernelver}`/`${arch}`).
    pub sign_file: String,
    /// `mok_signing_key` (may contain `${kernelver}`/`${arch}`).
    pub mok_signing_key: String,
    /// `mok_certificate` (may contain `${kernelver}`/`${arch}`).
    pub mok_certificate: String,
    /// `try_sign_modules` ("" = default: sign when possible; "no"/"false" disables).
    pub try_sign_modules: String,
    /// Extension: run PRE_BUILD/make/POST_BUILD as this user.
    pub build_user: String,
    /// Extension: `warn` turns autoinstall failures in hooks into warnings.
    pub autoinstall_failure: String,
    /// Extension: a package repository (host path) that every module a hook
    /// builds is packaged into and published to (`publish_repo`).
    pub publish_repo: Option<PathBuf>,
    /// Every allow-listed raw value read, for `doctor`.
    pub raw: BTreeMap<String, String>,
    /// Warnings about the files (ignored parts), to print once.
    pub warnings: Vec<String>,
    /// Configuration another user can change (each culprit once): the run
    /// refuses to start while there is any.
    pub untrusted: Vec<Untrusted>,
}

impl Settings {
    /// Read `/etc/dkms/framework.conf` then `framework.conf.d/*.conf` (sorted)
    /// under `root`, apply defaults, then the command-line overrides. Files
    /// `trust` does not trust are not read and are recorded in
    /// [`Settings::untrusted`], with the files the settings name for root to
    /// source or run.
    pub fn load(root: &Root, over: &TreeOverrides, trust: &Trust) -> Settings {
        let mut warnings = Vec::new();
        let mut untrusted = Vec::new();
        for d in ["/etc/dkms", "/etc/dkms/framework.conf.d"] {
            untrusted.extend(trust.of(&root.join(d)));
        }
        let mut raw = from_environment();
        raw.extend(read_framework(root, trust, &mut warnings, &mut untrusted));
        let mut s = Settings::from_raw(root, raw, over);
        if let Some(f) = &s.build_environment {
            untrusted.extend(trust.of(f));
        }
        if let Some(p) = program_path(&s.post_transaction) {
            untrusted.extend(trust.of(&p));
        }
        let mut culprits = Vec::new();
        untrusted.retain(|u| {
            let first = !culprits.contains(&u.culprit);
            culprits.push(u.culprit.clone());
            first
        });
        s.warnings = warnings;
        s.untrusted = untrusted;
        s
    }

    /// The error that ends a run whose configuration another user can
    /// change, before it does anything: exit 1, the family of upstream's
    /// "You must be root" and "No write access to DKMS tree".
    pub fn refusal(&self) -> Option<Error> {
        (!self.untrusted.is_empty()).then(|| Error::denied(self.untrusted.iter().map(|u| u.line())))
    }

    /// Build settings from already-read raw values (tests use this directly).
    pub fn from_raw(root: &Root, raw: BTreeMap<String, String>, over: &TreeOverrides) -> Settings {
        let get = |k: &str| raw.get(k).cloned().unwrap_or_default();
        let tree = |k: &str, default: &str, o: &Option<PathBuf>| -> PathBuf {
            if let Some(p) = o {
                return p.clone();
            }
            match raw.get(k) {
                Some(v) if !v.is_empty() => root.join(v),
                _ => root.join(default),
            }
        };
        let tmp = match raw.get("tmp_location") {
            Some(v) if !v.is_empty() => root.join(v),
            _ => PathBuf::from(
                std::env::var("TMPDIR")
                    .ok()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "/tmp".into()),
            ),
        };
        let flag = |k: &str| !get(k).is_empty();
        Settings {
            root: root.clone(),
            dkms_tree: tree("dkms_tree", "/var/lib/dkms", &over.dkms_tree),
            source_tree: tree("source_tree", "/usr/src", &over.source_tree),
            install_tree: tree("install_tree", "/lib/modules", &over.install_tree),
            tmp_location: tmp,
            verbose: flag("verbose"),
            symlink_modules: flag("symlink_modules"),
            autoinstall_all_kernels: flag("autoinstall_all_kernels"),
            modprobe_on_install: flag("modprobe_on_install"),
            parallel_jobs: get("parallel_jobs"),
            compress_gzip_opts: raw.get("compress_gzip_opts").cloned().unwrap_or_default(),
            compress_xz_opts: raw
                .get("compress_xz_opts")
                .cloned()
                .unwrap_or_else(|| "--check=crc32 --lzma2=dict=1MiB".into()),
            compress_zstd_opts: raw
                .get("compress_zstd_opts")
                .cloned()
                .unwrap_or_else(|| "-q --rm -T0".into()),
            build_environment: raw
                .get("build_environment")
                .filter(|s| !s.is_empty())
                .map(|s| root.join(s)),
            post_transaction: get("post_transaction"),
            sign_file: get("sign_file"),
            mok_signing_key: get("mok_signing_key"),
            mok_certificate: get("mok_certificate"),
            try_sign_modules: get("try_sign_modules"),
            build_user: get("build_user"),
            autoinstall_failure: get("autoinstall_failure"),
            publish_repo: raw
                .get("publish_repo")
                .filter(|s| !s.is_empty())
                .map(|s| root.join(s)),
            raw,
            warnings: Vec::new(),
            untrusted: Vec::new(),
        }
    }
}

/// The machine's CPU count (upstream uses `nproc`).
pub fn cpu_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Expand `${kernelver}`/`$kernelver` and `${arch}`/`$arch` in a signing setting.
pub fn expand_kernel_vars(s: &str, kernelver: &str, arch: &str) -> String {
    s.replace("${kernelver}", kernelver)
        .replace("$kernelver", kernelver)
        .replace("${arch}", arch)
        .replace("$arch", arch)
}

/// The framework files in upstream's order, as host paths.
pub fn framework_files(root: &Root) -> Vec<PathBuf> {
    let mut files = vec![root.join("/etc/dkms/framework.conf")];
    let d = root.join("/etc/dkms/framework.conf.d");
    if let Ok(rd) = std::fs::read_dir(&d) {
        let mut extra: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        extra.sort();
        files.extend(extra);
    }
    files
}

/// The framework variables upstream never resets before reading
/// framework.conf, so they come from the environment when set there
/// (upstream's test suite sets `parallel_jobs=1` this way).
pub const FROM_ENVIRONMENT: &[&str] = &[
    "parallel_jobs",
    "modprobe_on_install",
    "post_transaction",
    "build_environment",
    "autoinstall_all_kernels",
    "sign_file",
    "mok_signing_key",
    "mok_certificate",
    "try_sign_modules",
];

/// [`FROM_ENVIRONMENT`] as set in our environment.
fn from_environment() -> BTreeMap<String, String> {
    FROM_ENVIRONMENT
        .iter()
        .filter_map(|n| std::env::var(n).ok().map(|v| (n.to_string(), v)))
        .collect()
}

/// Read the allow-listed assignments from every framework file. Statements
/// that are not plain assignments are skipped, never run; files `trust`
/// does not trust are not read but added to `untrusted`.
pub fn read_framework(
    root: &Root,
    trust: &Trust,
    warnings: &mut Vec<String>,
    untrusted: &mut Vec<Untrusted>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // Signing settings may refer to the kernel; keep those references for
    // expansion at use time.
    let mut known = BTreeMap::new();
    known.insert("kernelver".to_string(), "${kernelver}".to_string());
    known.insert("arch".to_string(), "${arch}".to_string());
    for f in framework_files(root) {
        match trust.of(&f) {
            Some(u) => untrusted.push(u),
            None => read_one(&f, &known, &mut out, warnings),
        }
    }
    out
}

/// The program a `post_transaction` command runs, when it can be known
/// without running a shell: its first word, when that is a path (taken as
/// the shell takes it, on this host: the command is not run inside the
/// root), else where that name is found in `PATH`. `None` for an empty
/// command, a first word built from variables or quotes, and a name not
/// found in `PATH` (a shell builtin, or a command that fails to run). The
/// directories of `PATH` themselves are not judged: every program dkms
/// starts is found through them.
pub fn program_path(command: &str) -> Option<PathBuf> {
    let word = command.split_whitespace().next()?;
    if word.contains(['$', '`', '\'', '"', '\\']) {
        return None;
    }
    if word.contains('/') {
        return Some(PathBuf::from(word));
    }
    crate::child::which(word)
}

fn read_one(
    path: &Path,
    known: &BTreeMap<String, String>,
    out: &mut BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) {
    if std::fs::symlink_metadata(path).is_err() {
        return;
    }
    let bytes = match crate::fs::read_regular(path, 1 << 20) {
        Ok(b) => b,
        Err(e) => {
            warnings.push(msg::framework_unreadable(
                &path.display().to_string(),
                &crate::error::os_error(&e),
            ));
            return;
        }
    };
    if bytes.contains(&0) {
        warnings.push(msg::framework_binary(&path.display().to_string()));
        return;
    }
    let text = String::from_utf8_lossy(&bytes);
    match read_static(&text, known, true) {
        Ok(raw) => {
            for name in ALLOWED {
                if raw.vars.contains_key(*name) {
                    out.insert(name.to_string(), raw.scalar(name).to_string());
                }
            }
        }
        Err(e) => {
            warnings.push(msg::framework_not_static(
                &path.display().to_string(),
                e.line,
                &e.reason,
            ));
        }
    }
}
