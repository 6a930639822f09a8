//! Everything `dkms-hook why MODULE -k KERNEL` decides from, observed in
//! one go as plain values ([`WhyFacts`]): the dkms tree's records, the
//! dkms.conf read for the kernel, the installed file and what it holds,
//! `modules.dep`, the modprobe and depmod configuration, the signature
//! policy and keys, and for the running kernel what is loaded and what the
//! kernel's log says. Nothing here judges: `report::why` turns the facts
//! into the checks and the verdict. Every path is read under the root.

use std::path::{Path, PathBuf};

use crate::layout::Root;
use crate::observe::kernel::{config_file_value, headers_package, Kernel, KernelFacts};
use crate::observe::modprobe_conf::{self, ConfLine};
use crate::observe::module_file::{name_of_file, normalized, ModuleFile};
use crate::observe::secure_boot::KeyState;
use crate::observe::version::sort_v_cmp;
use crate::observe::x509::Certificate;
use crate::observe::{files, kernel_log, loaded, World};

/// How many lines of a failed build's make.log are quoted.
pub const LOG_TAIL: usize = 10;

/// Which registered module the name asked about is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The dkms module (PACKAGE_NAME).
    pub module: String,
    /// The version looked at: the one installed for the kernel, else the
    /// newest registered.
    pub version: String,
    /// The module file's name (DEST_MODULE_NAME), once known.
    pub dest_name: String,
}

/// What was found when the name is not a registered module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotRegistered {
    /// Registered modules with a similar name.
    pub similar: Vec<String>,
    /// Sources in the source tree with this name that are not registered
    /// (`<name>-<version>` directories holding a dkms.conf).
    pub unadded: Vec<(String, String)>,
    /// `*-dkms` packages of the distribution's package lists whose name
    /// contains the module's.
    pub packages: Vec<String>,
}

/// A build that failed, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedBuild {
    /// The make.log (inside the root).
    pub log: PathBuf,
    /// Its lines from the first compiler error (else its last lines), at
    /// most [`LOG_TAIL`].
    pub tail: Vec<String>,
}

/// The dkms.conf facts for the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfFacts {
    /// AUTOINSTALL.
    pub autoinstall: bool,
    /// The BUILD_EXCLUSIVE rule that rules the kernel out.
    pub excluded_by: Option<String>,
    /// BUILD_DEPENDS.
    pub build_depends: Vec<String>,
}

/// What `modules.dep` of the kernel says about the module name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepFacts {
    /// `modules.dep` exists.
    pub exists: bool,
    /// The file it lists for the name (as written there, relative to the
    /// kernel's module directory).
    pub listed: Option<String>,
}

/// The running kernel's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningFacts {
    /// The module is loaded; with its srcversion.
    pub loaded: Option<loaded::Loaded>,
    /// The kernel's log could be read.
    pub log_readable: bool,
    /// The kernel's refusals of this module, newest last.
    pub refusals: Vec<String>,
    /// Names blacklisted on the kernel command line.
    pub cmdline_blacklisted: bool,
}

/// Everything `why` decides from.
#[derive(Debug, Clone)]
pub struct WhyFacts {
    /// The name asked about.
    pub asked: String,
    /// The kernel.
    pub kernel: String,
    /// The arch.
    pub arch: String,
    /// The registered module, or what was found instead.
    pub registration: Result<Registration, NotRegistered>,
    /// The kernel's module directory exists.
    pub kernel_dir: bool,
    /// Its headers are installed.
    pub headers: bool,
    /// The headers package to install.
    pub headers_package: String,
    /// dkms.conf for the kernel, or why it cannot be read.
    pub conf: Option<Result<ConfFacts, String>>,
    /// m/v is built for the kernel.
    pub built: bool,
    /// The dependencies the module waits for (a hook deferred it).
    pub waiting_for: Option<String>,
    /// The last failed build.
    pub failed: Option<FailedBuild>,
    /// The version installed for the kernel (the `kernel-K-A` link).
    pub installed_version: Option<String>,
    /// The built file in the dkms tree (host path).
    pub built_file: Option<PathBuf>,
    /// The installed file (host path).
    pub installed_file: Option<PathBuf>,
    /// The installed file is byte for byte the built one.
    pub same_as_built: bool,
    /// What the installed file holds, or why it cannot be read.
    pub file: Option<Result<ModuleFile, String>>,
    /// `modules.dep`.
    pub dep: DepFacts,
    /// depmod.d `override` lines for the module and kernel.
    pub overrides: Vec<ConfLine>,
    /// depmod.d `search` lines.
    pub searches: Vec<ConfLine>,
    /// modprobe.d `blacklist` lines.
    pub blacklist: Vec<ConfLine>,
    /// modprobe.d `install ... /bin/false` lines.
    pub redirected: Vec<ConfLine>,
    /// `depends` of the file that the kernel does not have.
    pub missing_depends: Vec<String>,
    /// Why the kernel requires valid signatures, when it does.
    pub enforcement: Option<String>,
    /// The kernel checks signatures at all (CONFIG_MODULE_SIG).
    pub sig_checked: bool,
    /// Secure Boot, MOK and keyrings.
    pub keys: KeyState,
    /// The configured certificate (inside the root) and what it is.
    pub configured_cert: (PathBuf, Option<Certificate>),
    /// Compression options the kernel's configuration enables.
    pub config_compress: Vec<String>,
    /// The kernel's configuration was readable.
    pub config_readable: bool,
    /// The running kernel's facts, when the kernel is the running one.
    pub running: Option<RunningFacts>,
    /// The root (paths in messages are shown inside it).
    pub root: Root,
}

/// Observe what `why` needs for `asked` on kernel `k` (arch: the
/// machine's).
pub fn observe(world: &World, asked: &str, k: &str, running: bool) -> WhyFacts {
    let h = &world.host;
    let l = &h.layout;
    let root = l.root.clone();
    let a = h.machine_arch.clone();
    let kernel = Kernel::rooted(&root, &l.install, k, h.opts.kernel_source_dir.as_deref());
    let kf = KernelFacts::observe(kernel, &root, h.opts.kernel_config.as_deref());
    let mut f = WhyFacts {
        asked: asked.to_string(),
        kernel: k.to_string(),
        arch: a.clone(),
        registration: Err(NotRegistered::default()),
        kernel_dir: kf.dir,
        headers: kf.headers,
        headers_package: headers_package(&h.distribution, k),
        conf: None,
        built: false,
        waiting_for: None,
        failed: None,
        installed_version: None,
        built_file: None,
        installed_file: None,
        same_as_built: false,
        file: None,
        dep: DepFacts::default(),
        overrides: Vec::new(),
        searches: modprobe_conf::searches(&root),
        blacklist: Vec::new(),
        redirected: Vec::new(),
        missing_depends: Vec::new(),
        enforcement: None,
        sig_checked: config_file_value(&kf.config, "CONFIG_MODULE_SIG").as_deref() == Some("y"),
        keys: KeyState::observe(&root),
        configured_cert: configured_cert(world, k, &a),
        config_compress: ["GZIP", "XZ", "ZSTD"]
            .iter()
            .map(|c| format!("CONFIG_MODULE_COMPRESS_{c}"))
            .filter(|o| config_file_value(&kf.config, o).as_deref() == Some("y"))
            .collect(),
        config_readable: kf.config.is_file(),
        running: None,
        root: root.clone(),
    };
    f.enforcement = enforcement(&f, &kf, running);
    f.registration = registration(world, asked, k, &a);
    if let Ok(reg) = f.registration.clone() {
        observe_registered(world, &mut f, &reg, &kf);
    }
    let dest = match &f.registration {
        Ok(r) => r.dest_name.clone(),
        Err(_) => asked.to_string(),
    };
    f.blacklist = modprobe_conf::blacklisted(&root, &dest);
    f.redirected = modprobe_conf::redirected(&root, &dest);
    f.dep = dep_facts(&kf, &dest);
    f.overrides = modprobe_conf::overrides(&root, &dest, k);
    if let Some(Ok(file)) = &f.file {
        f.missing_depends = missing_depends(&kf, &file.depends());
    }
    if running {
        let log = kernel_log::read_log(&root.join("/dev/kmsg"));
        let cmdline = loaded::cmdline(&root);
        f.running = Some(RunningFacts {
            loaded: loaded::loaded(&root, &dest),
            log_readable: log.is_some(),
            refusals: log
                .map(|l| kernel_log::refusals(&l, &dest, 5))
                .unwrap_or_default(),
            cmdline_blacklisted: modprobe_conf::cmdline_blacklist(&cmdline)
                .contains(&normalized(&dest)),
        });
    }
    f
}

/// The configured signing certificate for k/a, inside the root, and what it
/// holds.
fn configured_cert(world: &World, k: &str, a: &str) -> (PathBuf, Option<Certificate>) {
    let (_, cert, _) = crate::observe::keys::key_paths(&world.host, k, a);
    let parsed = crate::fs::read_regular(&cert, 1 << 20)
        .ok()
        .and_then(|d| Certificate::parse(&d));
    (world.host.layout.root.inside(&cert), parsed)
}

/// Why kernel `kf` refuses modules without a valid signature: for the
/// running kernel what it says (`module.sig_enforce`, lockdown); for
/// another its configuration (CONFIG_MODULE_SIG_FORCE, or lockdown under
/// Secure Boot).
fn enforcement(f: &WhyFacts, kf: &KernelFacts, running: bool) -> Option<String> {
    if running {
        if let Some(why) = f.keys.running_enforces() {
            return Some(why);
        }
    }
    let cfg = |o: &str| config_file_value(&kf.config, o).as_deref() == Some("y");
    if cfg("CONFIG_MODULE_SIG_FORCE") {
        return Some("CONFIG_MODULE_SIG_FORCE".into());
    }
    if !running && f.keys.secure_boot == Some(true) && cfg("CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT") {
        return Some("Secure Boot".into());
    }
    None
}

/// The registered module `asked` names: a module of that name, of that
/// name with `-` and `_` swapped, or one whose build holds a file of that
/// name.
fn registration(
    world: &World,
    asked: &str,
    k: &str,
    a: &str,
) -> Result<Registration, NotRegistered> {
    let tree = &world.tree;
    let names = tree.module_names();
    let pick_version = |m: &str| -> Option<String> {
        if let Some(v) = tree.linked_version(m, k, a) {
            return Some(v.to_string());
        }
        let mut vs = tree.versions(m);
        vs.sort_by(|x, y| sort_v_cmp(x, y));
        vs.pop()
    };
    let want = normalized(asked);
    let by_name = names
        .iter()
        .find(|m| m.as_str() == asked)
        .or_else(|| names.iter().find(|m| normalized(m) == want));
    if let Some(m) = by_name {
        if let Some(v) = pick_version(m) {
            return Ok(Registration {
                module: m.clone(),
                version: v,
                dest_name: String::new(),
            });
        }
    }
    // A module file of that name in some build of a registered module.
    let l = &world.host.layout;
    for m in &names {
        for v in tree.versions(m) {
            for (bk, ba) in tree.built_kernels(m, &v) {
                let dir = l.base_dir(m, &v, &bk, &ba).join("module");
                let hit = crate::fs::list_names(&dir)
                    .iter()
                    .filter_map(|n| name_of_file(n))
                    .any(|n| normalized(n) == want);
                if hit {
                    return Ok(Registration {
                        module: m.clone(),
                        version: pick_version(m).unwrap_or(v),
                        dest_name: asked.to_string(),
                    });
                }
            }
        }
    }
    Err(not_registered(world, asked))
}

/// Similar registered names, unregistered sources and `*-dkms` packages.
fn not_registered(world: &World, asked: &str) -> NotRegistered {
    let want = normalized(asked).to_lowercase();
    let close = |n: &str| {
        let n = normalized(n).to_lowercase();
        n.contains(&want) || want.contains(&n) || distance(&n, &want) <= 2
    };
    let similar = world
        .tree
        .module_names()
        .into_iter()
        .filter(|m| close(m))
        .collect();
    let l = &world.host.layout;
    let mut unadded: Vec<(String, String)> = crate::fs::list_names(&l.source)
        .into_iter()
        .filter(|d| l.source.join(d).join("dkms.conf").is_file())
        .filter_map(|d| {
            let (m, v) = d.rsplit_once('-')?;
            (normalized(m) == normalized(asked) && world.tree.version(m, v).is_none())
                .then(|| (m.to_string(), v.to_string()))
        })
        .collect();
    unadded.sort();
    NotRegistered {
        similar,
        unadded,
        packages: dkms_packages(&l.root, asked),
    }
}

/// The edit distance of two short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `*-dkms` package names in apt's package lists under the root whose
/// name, without `-dkms`, is like the module's.
fn dkms_packages(root: &Root, asked: &str) -> Vec<String> {
    let want = normalized(asked).to_lowercase();
    let lists = root.join("/var/lib/apt/lists");
    let mut out = Vec::new();
    for n in crate::fs::list_names(&lists) {
        if !n.ends_with("_Packages") {
            continue;
        }
        let Ok(text) = crate::fs::read_regular_text(&lists.join(&n), 256 << 20) else {
            continue;
        };
        for l in text.lines() {
            let Some(p) = l.strip_prefix("Package: ") else {
                continue;
            };
            let Some(stem) = p.strip_suffix("-dkms") else {
                continue;
            };
            let s = normalized(stem).to_lowercase();
            if (s.contains(&want) || want.contains(&s)) && !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
    }
    out.sort();
    out
}

/// The facts of a registered module on the kernel.
fn observe_registered(world: &World, f: &mut WhyFacts, reg: &Registration, kf: &KernelFacts) {
    let (m, v, k, a) = (
        &reg.module,
        &reg.version,
        &f.kernel.clone(),
        &f.arch.clone(),
    );
    let tree = &world.tree;
    let l = &world.host.layout;
    let key = world.source_conf_key(m, v, k, a, false);
    let read = world
        .conf(&key)
        .cloned()
        .unwrap_or_else(|| world.read_conf_now(&key));
    let mut dest = reg.dest_name.clone();
    let mut record = None;
    f.conf = Some(match &read.result {
        Ok(c) => {
            let want = normalized(if dest.is_empty() { &reg.module } else { &dest });
            record = c
                .modules
                .iter()
                .find(|r| normalized(&r.dest_name) == want)
                .or_else(|| c.modules.first())
                .cloned();
            if let Some(r) = &record {
                dest = r.dest_name.clone();
            }
            Ok(ConfFacts {
                autoinstall: c.autoinstall,
                excluded_by: c.excluded_by.clone(),
                build_depends: c.build_depends.clone(),
            })
        }
        Err(e) => Err(e
            .lines
            .iter()
            .chain(e.error.lines())
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_default()),
    });
    if dest.is_empty() {
        dest = reg.module.clone();
    }
    if let Ok(r) = &mut f.registration {
        r.dest_name = dest.clone();
    }
    f.built = tree.is_built(m, v, k, a);
    f.waiting_for = world
        .records
        .items
        .iter()
        .find(|i| i.kernel == *k && i.module == *m)
        .map(|i| i.detail.clone());
    f.failed = failed_build(world, m, v, k, a);
    f.installed_version = tree.linked_version(m, k, a).map(str::to_string);
    let suffix = kf.suffix;
    if f.built {
        let mdir = l.base_dir(m, v, k, a).join("module");
        f.built_file = files::compressed_or_uncompressed(&mdir, &dest, suffix)
            .or_else(|| any_named(&mdir, &dest));
    }
    if f.installed_version.is_some() {
        let owned = l.kernel_link(m, k, a).join("module");
        let lib = l.lib_tree(k);
        f.installed_file = match &record {
            Some(r) => files::installed_file(&owned, &lib, r, suffix),
            None => None,
        }
        .or_else(|| {
            files::find_module(&lib, &dest, suffix)
                .into_iter()
                .find(|p| !p.starts_with(lib.join("kernel")))
        });
        f.same_as_built = match (&f.built_file, &f.installed_file) {
            (Some(b), Some(i)) => files::files_equal(b, i),
            _ => false,
        };
    }
    f.file = f
        .installed_file
        .as_deref()
        .map(|p| ModuleFile::read(p).map_err(|e| e.to_string()));
}

/// A module file named `name` with any compression in `dir`.
fn any_named(dir: &Path, name: &str) -> Option<PathBuf> {
    ["", ".gz", ".xz", ".zst"]
        .iter()
        .map(|s| dir.join(format!("{name}.ko{s}")))
        .find(|p| p.is_file())
}

/// The recorded failure of m/v on k/a, or a make.log left in the build
/// directory by a failed `dkms build`.
fn failed_build(world: &World, m: &str, v: &str, k: &str, a: &str) -> Option<FailedBuild> {
    let l = &world.host.layout;
    let root = &l.root;
    let recorded = world
        .records
        .failures
        .iter()
        .find(|x| x.module == m && x.kernel == k && x.arch == a && !x.log.is_empty())
        .map(|x| PathBuf::from(&x.log));
    let (inside, host) = match recorded {
        Some(p) => {
            let host = if root.is_slash() || p.starts_with(root.dir()) {
                p.clone()
            } else {
                root.join(&p)
            };
            (root.inside(&host), host)
        }
        None => {
            if world.tree.is_built(m, v, k, a) {
                return None;
            }
            let host = l.version_dir(m, v).join("build/make.log");
            let text = crate::fs::read_regular_text(&host, 64 << 20).ok()?;
            // Only a log of a build for this kernel that did not end well.
            if !text.lines().next().is_some_and(|h| h.contains(k)) {
                return None;
            }
            (root.inside(&host), host)
        }
    };
    let text = crate::fs::read_regular_text(&host, 64 << 20).unwrap_or_default();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("# ") && !l.chars().all(|c| c == '-') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    // From the first error the compiler reported (what to read first),
    // else the last lines.
    let start = lines
        .iter()
        .position(|l| l.contains("error:"))
        .unwrap_or_else(|| lines.len().saturating_sub(LOG_TAIL));
    Some(FailedBuild {
        log: inside,
        tail: lines.iter().skip(start).take(LOG_TAIL).cloned().collect(),
    })
}

/// What `modules.dep` lists for `name`.
fn dep_facts(kf: &KernelFacts, name: &str) -> DepFacts {
    let path = kf.kernel.modules_dir().join("modules.dep");
    let Ok(text) = crate::fs::read_regular_text(&path, 64 << 20) else {
        return DepFacts::default();
    };
    let want = normalized(name);
    let listed = text.lines().find_map(|l| {
        let file = l.split(':').next()?.trim();
        (name_of_file(file).map(normalized).as_deref() == Some(want.as_str()))
            .then(|| file.to_string())
    });
    DepFacts {
        exists: true,
        listed,
    }
}

/// Of `depends`, those the kernel has neither as a module in
/// `modules.dep` nor built in (`modules.builtin`).
fn missing_depends(kf: &KernelFacts, depends: &[String]) -> Vec<String> {
    let dir = kf.kernel.modules_dir();
    let names = |f: &str| -> Vec<String> {
        crate::fs::read_regular_text(&dir.join(f), 64 << 20)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| name_of_file(l.split(':').next().unwrap_or("").trim()))
            .map(normalized)
            .collect()
    };
    let mut have = names("modules.dep");
    have.extend(names("modules.builtin"));
    depends
        .iter()
        .filter(|d| !have.contains(&normalized(d)))
        .cloned()
        .collect()
}
