//! `dkms-hook`'s command line (clap): one subcommand per package-manager
//! event or administrator command, turned into a [`Request`].

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueHint};

use crate::plan::{
    AutoinstallFor, Command as PlanCommand, CriticalCmd, Event, PackageArgs, Request,
};

/// Rebuild DKMS modules when kernels and kernel headers come and go.
///
/// The package-manager side of DKMS: one command per event (a kernel or its
/// headers installed or removed, an apt or dpkg run, boot), plus commands
/// for the administrator. Modules are registered with dkms(8).
///
/// Run as root, it uses no configuration, override script, patch, signing key or program that another user can change (see TRUSTED FILES).
#[derive(Parser, Debug)]
#[command(
    name = "dkms-hook",
    version = env!("CARGO_PKG_VERSION"),
    subcommand_value_name = "COMMAND"
)]
pub struct Cli {
    /// Treat DIR as the root of the system: every path read or written (framework.conf, /etc/dkms, the trees, /boot, the pending queue) resolves under it, and depmod runs with -b DIR (also DKMS_ROOT).
    #[arg(long, global = true, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub root: Option<PathBuf>,
    /// Show each build command instead of progress dots.
    #[arg(long, global = true)]
    pub verbose: bool,
    /// The event.
    #[command(subcommand)]
    pub event: Command,
}

/// The events and commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// A kernel was installed: build and install its modules.
    ///
    /// Run by /etc/kernel/postinst.d/dkms-hook (Debian's run-parts) as KVER IMAGE. Builds and installs every AUTOINSTALL module for KVER, in parallel under one make jobserver, with one depmod at the end. When the headers of KVER are not installed, it says which package to install, records KVER as pending and exits 0; the module builds happen when the headers arrive.
    KernelPostinst {
        /// The kernel version, as in /lib/modules/KVER.
        kver: String,
        /// The kernel image the hook is given (not used).
        image: Option<String>,
    },
    /// A kernel is about to be upgraded: remove its AUTOINSTALL modules.
    ///
    /// Run by /etc/kernel/preinst.d/dkms-hook as KVER IMAGE. Unbuilds the AUTOINSTALL modules built for KVER, so that kernel-postinst builds them afresh. Never fails.
    KernelPreinst {
        /// The kernel version, as in /lib/modules/KVER.
        kver: String,
        /// The kernel image the hook is given (not used).
        image: Option<String>,
    },
    /// A kernel is being removed: remove its modules, then prune.
    ///
    /// Run by /etc/kernel/prerm.d/dkms-hook as KVER IMAGE. Unbuilds every module built for KVER, AUTOINSTALL or not, then prunes. Never fails.
    KernelPrerm {
        /// The kernel version, as in /lib/modules/KVER.
        kver: String,
        /// The kernel image the hook is given (not used).
        image: Option<String>,
    },
    /// Kernel headers were installed: finish the work that waited for them.
    ///
    /// Run by /etc/kernel/header_postinst.d/dkms-hook and by the RPM file triggers on /usr/src/kernels. Builds and installs the pending modules of every kernel whose headers are now present, not only KVER.
    HeaderPostinst {
        /// The kernel version whose headers were installed.
        kver: String,
    },
    /// apt finished running dpkg: finish pending work and prune.
    ///
    /// Run by DPkg::Post-Invoke in /etc/apt/apt.conf.d/90dkms-hook after each dpkg run of apt. Never fails apt.
    AptPostInvoke,
    /// dpkg saw files change in /usr/src or /lib/modules: finish pending work.
    ///
    /// Run by the package's postinst for its dpkg file triggers. Never fails.
    DpkgTrigger {
        /// The trigger names dpkg passes (not used).
        triggers: Vec<String>,
    },
    /// The systemd kernel-install plugin (40-dkms-hook.install).
    ///
    /// add acts as kernel-postinst and remove as kernel-prerm; other commands do nothing. Never exits 77, which would stop kernel-install's later plugins.
    KernelInstall {
        /// What kernel-install does: add or remove (others are ignored).
        #[arg(value_parser = KernelInstallVerb, hide_possible_values = true)]
        command: String,
        /// The kernel version, as in /lib/modules/KVER.
        kver: String,
        /// The boot loader entry directory kernel-install passes (not used).
        entry_dir: Option<String>,
        /// The kernel images kernel-install passes (not used).
        images: Vec<String>,
    },
    /// Catch up at boot: pending work for the running kernel, load it, prune.
    ///
    /// Run early at boot by dkms-hook.service, for when a kernel was installed without its headers or a hook was interrupted. What it installs for the running kernel is loaded (modules-load.d again, device aliases). Never fails boot.
    Boot,
    /// Build and install AUTOINSTALL modules, by hand.
    ///
    /// For the running kernel, the kernels given with -k, or every installed kernel under /lib/modules (not the directory a removed kernel left behind: neither its image nor its headers); with the hooks' parallel builds, progress and summary.
    Autoinstall {
        /// A kernel version to build for; may be repeated (default: the running kernel). One that is not installed is an error (exit 2).
        #[arg(short = 'k', long = "kernel", value_name = "KVER")]
        kernels: Vec<String>,
        /// Build for every installed kernel under /lib/modules (one with its image or its headers).
        #[arg(long, conflicts_with = "kernels")]
        all_kernels: bool,
    },
    /// Remove the builds of kernels that are no longer installed.
    ///
    /// A kernel is gone when it has neither /lib/modules/KVER/kernel nor /boot/vmlinuz-KVER; its builds and kernel-KVER-ARCH links in the dkms tree are removed. An installed kernel is never touched. Run by kernel-prerm, apt-post-invoke and boot, or by hand.
    Prune {
        /// Only print what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// List deferred work and recorded failures.
    ///
    /// Kernels waiting for their headers, modules waiting for a BUILD_DEPENDS module, modules that failed in a hook (with the log to read, or the reason: a BUILD_DEPENDS that failed or forms a cycle, a dkms.conf that names no module), and kernels whose depmod an interrupted run left due. Run by hand; never waits for the lock.
    Pending,
    /// Make a binary package of an installed module for one kernel.
    ///
    /// Build once, install everywhere: turns the build of MODULE/VERSION that DKMS installed for KVER into NAME-modules-KVER (Debian naming rules applied), a .deb or .rpm that holds the module files exactly as DKMS installed them (signed, compressed) at the same paths, depends on that kernel's image package (linux-image-KVER; for RPM kernel-core-uname-r = KVER, or the file /lib/modules/KVER/modules.builtin when KVER is no valid RPM version), conflicts with NAME-dkms, and runs depmod for KVER only. Machines that install it need no compiler and no headers; dkms status there shows the module as installed. The same build gives the same bytes: times come from SOURCE_DATE_EPOCH, else the build's make.log. Needs dpkg-deb (deb) or rpmbuild (rpm). The dkms tree is only read; --out is a path on this machine, not under --root.
    Package {
        /// The installed module, as MODULE/VERSION.
        #[arg(value_name = "MODULE/VERSION")]
        module_version: String,
        /// The kernel version the module is installed for.
        #[arg(short = 'k', long = "kernel", value_name = "KVER")]
        kernel: String,
        /// The architecture (default: the machine's).
        #[arg(short = 'a', long = "arch", value_name = "ARCH")]
        arch: Option<String>,
        /// The package format (default: the distribution's own).
        #[arg(long, value_name = "FORMAT", value_parser = ["deb", "rpm"])]
        format: Option<String>,
        /// The directory the package is written to (created when missing).
        #[arg(long, value_name = "DIR", default_value = ".", value_hint = ValueHint::DirPath)]
        out: PathBuf,
    },
    /// Add packages to a local repository and index it.
    ///
    /// Copies FILES (.deb and .rpm packages, e.g. what package --out wrote) into DIR, then indexes every package DIR holds: Packages, Packages.gz and Release (apt-ftparchive, else dpkg-scanpackages without Release) for .deb files, repodata/ (createrepo_c, when installed) for .rpm files. Without FILES, only indexes. DIR can be served as it is over HTTP or rsync, or used directly: deb [trusted=yes] file:DIR ./ in an apt source. With publish_repo=DIR in framework.conf, the hooks package and publish every module they build.
    Publish {
        /// The repository directory (created when missing).
        #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
        repo: PathBuf,
        /// Package files to add.
        #[arg(value_name = "FILES", value_hint = ValueHint::FilePath)]
        files: Vec<PathBuf>,
    },
    /// Say which modules are critical and why; mark or unmark one.
    ///
    /// A critical module is one the machine cannot live without. When it fails to build or install for a kernel, or is deferred there (headers missing, BUILD_DEPENDS), that kernel is guarded: the boot loader is set to boot the newest installed kernel that has every critical module (GRUB: next_entry in grubenv as grub-reboot does, or saved_entry with GRUB_DEFAULT=saved; systemd-boot and other BLS loaders: loader.conf's default, or bootctl set-default when that EFI variable is in use), the hook says so loudly and exits 0. The guard is lifted by itself once the module is installed for that kernel. A module is critical when framework.conf's critical_modules names it (or one of the kernel modules it builds), when it provides the type of the root or another mounted file system, or when one of its kernel modules is loaded at the moment of the run.
    Critical {
        /// What to do (default: list).
        #[command(subcommand)]
        action: Option<CriticalAction>,
    },
    /// Say why a module does or does not load, and what fixes it.
    ///
    /// Checks in order, one line each (✔ passed, ✘ failed, - not checked): registered (else similar names, unregistered sources and *-dkms packages that provide it); built for KVER (else why: the kernel's headers missing, a BUILD_EXCLUSIVE rule, BUILD_DEPENDS waiting, AUTOINSTALL off, a failed build with its make.log from the first compiler error); installed, and the installed file the one built; modules.dep lists that file (else which file wins: the kernel's own module, another directory, a depmod.d override or search line); its vermagic is KVER; not blacklisted nor redirected by an install line in /etc/modprobe.d, /run/modprobe.d, /usr/lib/modprobe.d or /lib/modprobe.d (nor on the kernel command line); its depends are there for KVER; its signature, where KVER requires one (module.sig_enforce, lockdown, CONFIG_MODULE_SIG_FORCE, or Secure Boot): signed, by which signer and key id, whether the kernel trusts that key (its keyrings, the MOK list) or it waits for enrolment at the next reboot (MokNew); a compression KVER's configuration supports (CONFIG_MODULE_COMPRESS_*); for the running kernel, whether it is loaded and the loaded copy is the file on disk (srcversion), and what the kernel's log says when it refused the module. Then the first cause in plain words and the command that fixes it. Under --root every file is read there: the root's /proc (osrelease, modules, cmdline, keys), /sys (firmware/efi, module parameters, lockdown) and /dev/kmsg describe its running kernel.
    ///
    /// Exit status: 0 when the module would load, 1 when it would not, 2 on a bad argument. Only reads.
    Why {
        /// The module name (as modprobe knows it, or the dkms module name).
        #[arg(value_name = "MODULE")]
        module: String,
        /// The kernel (default: the running kernel).
        #[arg(short = 'k', long = "kernel", value_name = "KVER")]
        kernel: Option<String>,
        /// Print the checks and the verdict as JSON: module, dkms_module, version, kernel, arch, running, loads, checks (check, result: pass, fail or skipped, fact), cause (check, text, fix) or null, file, signature (signed, signer, key_id, hash, configured_key, trust: keyring, mok, pending or untrusted) or null, kernel_log.
        #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
        output: String,
    },
    /// Sign installed modules again with the configured key.
    ///
    /// After a key rotation, or once a new key is enrolled: for each installed build of MODULE[/VERSION] (or of every module with --all), on the kernels given with -k (default: every kernel it is installed for), the old signature is taken off, sign-file signs the module with the key and certificate framework.conf names (mok_signing_key, mok_certificate; default /var/lib/dkms/mok.key and mok.pub) and the kernel's CONFIG_MODULE_SIG_HASH, and the file is compressed as it was. The built copy in the dkms tree and the installed copy are each replaced by an atomic rename, so dkms status stays true. A key behind a passphrase takes it from KBUILD_SIGN_PIN; a PKCS#11 URI as mok_signing_key is passed to sign-file as it is. A key or certificate is never made or replaced here: no pair, or a key without its certificate (or the reverse), is an error that says what to do.
    #[command(group = clap::ArgGroup::new("what").required(true).args(["module_version", "all"]))]
    Sign {
        /// The module, as MODULE or MODULE/VERSION.
        #[arg(value_name = "MODULE[/VERSION]")]
        module_version: Option<String>,
        /// Every installed module.
        #[arg(long)]
        all: bool,
        /// A kernel; may be repeated (default: every kernel the module is installed for).
        #[arg(short = 'k', long = "kernel", value_name = "KVER")]
        kernels: Vec<String>,
    },
    /// Find what interrupted runs and lost sources left behind; repair it with --repair.
    ///
    /// Without --repair it only looks and changes nothing, as apt-get check does: each finding says what --repair would do about it, and the report ends with the exact command that repairs them. --check, which older releases (where doctor repaired by default) needed to only look, is still accepted.
    ///
    /// It finds leftovers of interrupted runs: temporary build directories and files, swapped-out builds, dangling kernel links, the module of an install that died before its kernel link was switched, archived originals that were never put back, a modules.dep older than the modules. It finds module files in a kernel's updates/dkms that no dkms record, binary module package or dpkg package claims, left when a module's dkms tree was deleted by hand or when dkms build --force failed after an install. On Fedora and SUSE, where dkms installs into extra or updates, directories the distribution's module packages share, such a file named like a dkms module is reported and never removed. It finds broken modules: for one whose source is gone it says how to keep it (reinstall the package, or put the source back) or forget it, which --repair does, since dkms remove refuses a broken module; one whose source cannot be read is left alone.
    ///
    /// It also lists pending work and failed builds, and shows the Secure Boot and signing-key state with the mokutil command that enrols the key. Run by hand, e.g. after a crash or power cut.
    Doctor {
        /// Repair what was found: remove leftovers, put back what an interrupted install moved, remove unclaimed module files from updates/dkms, forget broken modules whose source is gone (put back the originals they replaced, remove their module files, delete their kernel links, dkms tree entries and records), then run depmod for the kernels touched.
        #[arg(long)]
        repair: bool,
        /// Only look and change nothing: the default. Older releases repaired by default and needed --check to only look; scripts written for them keep working.
        #[arg(long, conflicts_with = "repair")]
        check: bool,
    },
}

/// `dkms-hook critical`'s actions.
#[derive(Subcommand, Debug)]
pub enum CriticalAction {
    /// List the critical modules, each with why it is critical.
    List,
    /// Mark modules critical: writes critical_modules in /etc/dkms/framework.conf.d/critical.conf.
    Add {
        /// DKMS module names (or kernel module names).
        #[arg(required = true, value_name = "MODULE")]
        modules: Vec<String>,
    },
    /// Unmark modules: takes them out of critical_modules (a module the running system needs stays critical).
    Remove {
        /// DKMS module names.
        #[arg(required = true, value_name = "MODULE")]
        modules: Vec<String>,
    },
}

/// kernel-install's first argument: help, the man page and the
/// completions offer `add` and `remove`, yet any word is accepted (and
/// ignored later), since kernel-install may pass verbs it adds in future.
#[derive(Debug, Clone, Copy)]
pub struct KernelInstallVerb;

impl TypedValueParser for KernelInstallVerb {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            ["add", "remove"].into_iter().map(PossibleValue::new),
        ))
    }
}

/// `p` made absolute against the current directory (the file operations
/// take absolute paths), unchanged when that fails.
fn absolute(p: PathBuf) -> PathBuf {
    std::path::absolute(&p).unwrap_or(p)
}

/// The request for a parsed command line (`running` is `uname -r`, the
/// default kernel of `autoinstall`).
pub fn request(cli: Cli, running: &str) -> Request {
    let event = match cli.event {
        Command::KernelPostinst { kver, .. } => Event::KernelPostinst(kver),
        Command::KernelPreinst { kver, .. } => Event::KernelPreinst(kver),
        Command::KernelPrerm { kver, .. } => Event::KernelPrerm(kver),
        Command::HeaderPostinst { kver } => Event::HeaderPostinst(kver),
        Command::AptPostInvoke => Event::AptPostInvoke,
        Command::DpkgTrigger { .. } => Event::DpkgTrigger,
        Command::KernelInstall { command, kver, .. } => match command.as_str() {
            "add" => Event::KernelPostinst(kver),
            "remove" => Event::KernelPrerm(kver),
            _ => Event::KernelInstallOther,
        },
        Command::Boot => Event::Boot,
        Command::Autoinstall {
            kernels,
            all_kernels,
        } => {
            if all_kernels {
                Event::Autoinstall(AutoinstallFor::All)
            } else if kernels.is_empty() {
                Event::Autoinstall(AutoinstallFor::Running(running.to_string()))
            } else {
                Event::Autoinstall(AutoinstallFor::Named(kernels))
            }
        }
        Command::Prune { dry_run } => Event::Prune { dry_run },
        Command::Pending => Event::Pending,
        Command::Doctor { repair, check: _ } => Event::Doctor { repair },
        Command::Critical { action } => Event::Critical(match action {
            None | Some(CriticalAction::List) => CriticalCmd::List,
            Some(CriticalAction::Add { modules }) => CriticalCmd::Add(modules),
            Some(CriticalAction::Remove { modules }) => CriticalCmd::Remove(modules),
        }),
        Command::Package {
            module_version,
            kernel,
            arch,
            format,
            out,
        } => {
            let (module, version) = match module_version.split_once('/') {
                Some((m, v)) => (m.to_string(), v.to_string()),
                None => (module_version, String::new()),
            };
            Event::Package(PackageArgs {
                module,
                version,
                kernel,
                arch,
                format,
                out: absolute(out),
            })
        }
        Command::Why {
            module,
            kernel,
            output,
        } => Event::Why {
            module,
            kernel,
            json: output == "json",
        },
        Command::Sign {
            module_version,
            all: _,
            kernels,
        } => {
            let mv = module_version.unwrap_or_default();
            let (module, version) = match mv.split_once('/') {
                Some((m, v)) => (m.to_string(), v.to_string()),
                None => (mv, String::new()),
            };
            Event::Sign {
                module,
                version,
                kernels,
            }
        }
        Command::Publish { repo, files } => Event::Publish {
            repo: absolute(repo),
            files: files.into_iter().map(absolute).collect(),
        },
    };
    let mut req = Request {
        command: PlanCommand::Hook(event),
        root: cli.root,
        ..Default::default()
    };
    req.opts.verbose = cli.verbose;
    req
}
