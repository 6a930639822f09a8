//! Everything `dkms-hook why MODULE -k KERNEL` decides from, observed in
//! one go as plain values ([`WhyFacts`]): the dkms tree's records, the
//! dkms.conf read for the kernel, the installed file and what it holds,
//! `modules.dep`, the modprobe and depmod configuration, the signature
//! policy and keys, and for the running kernel what is loaded and what the
//! kernel's log says. Nothing here judges: `report::why` turns the facts
//! into the checks and the verdict. Every path is read under the root.
//!
//! - [`registration`]: which registered module a name is, or what is like it;
//! - [`installed`]: its build, installed file, modules.dep and depends.

mod installed;
mod registration;

use installed::{dep_facts, missing_depends, observe_registered};
use registration::registration;

use std::path::PathBuf;

use crate::layout::Root;
use crate::observe::kernel::{config_file_value, headers_package, Kernel, KernelFacts};
use crate::observe::modprobe_conf::{self, ConfLine};
use crate::observe::module_file::{normalized, ModuleFile};
use crate::observe::secure_boot::KeyState;
use crate::observe::x509::Certificate;
use crate::observe::{kernel_log, loaded, World};

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
