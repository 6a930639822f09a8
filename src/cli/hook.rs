//! `dkms-hook`'s command line (clap): one subcommand per package-manager
//! event or administrator command, turned into a [`Request`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::plan::{Command as PlanCommand, Event, Request};

/// Make out-of-tree kernel modules follow the kernel: package-manager hooks for DKMS.
#[derive(Parser, Debug)]
#[command(name = "dkms-hook", version = env!("CARGO_PKG_VERSION"), about, long_about = None)]
pub struct Cli {
    /// Treat DIR as the root of the system: every path the tool reads or writes resolves under it (also DKMS_ROOT).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Show build commands instead of progress dots.
    #[arg(long, global = true)]
    pub verbose: bool,
    /// The event.
    #[command(subcommand)]
    pub event: Command,
}

/// The events and commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// A kernel was installed. Called by /etc/kernel/postinst.d/dkms-hook (run-parts) as `KVER IMAGE`. Builds and installs every AUTOINSTALL module; without headers it defers the kernel and exits 0.
    KernelPostinst {
        /// Kernel version.
        kver: String,
        /// Kernel image path (unused).
        image: Option<String>,
    },
    /// A kernel is about to be upgraded. Called by /etc/kernel/preinst.d/dkms-hook. Removes AUTOINSTALL modules built for it; never fails.
    KernelPreinst {
        /// Kernel version.
        kver: String,
        /// Kernel image path (unused).
        image: Option<String>,
    },
    /// A kernel is being removed. Called by /etc/kernel/prerm.d/dkms-hook. Removes every module built for it, then prunes; never fails.
    KernelPrerm {
        /// Kernel version.
        kver: String,
        /// Kernel image path (unused).
        image: Option<String>,
    },
    /// Kernel headers were installed. Called by /etc/kernel/header_postinst.d/dkms-hook and RPM file triggers. Finishes pending work for every kernel whose headers are now present.
    HeaderPostinst {
        /// Kernel version.
        kver: String,
    },
    /// apt finished a dpkg run (DPkg::Post-Invoke in /etc/apt/apt.conf.d/90dkms-hook). Finishes whatever is still pending and prunes; never fails apt.
    AptPostInvoke,
    /// dpkg file trigger on /usr/src or /lib/modules (the package's postinst `triggered`). Finishes pending work; never fails.
    DpkgTrigger {
        /// The trigger names dpkg passes (unused).
        triggers: Vec<String>,
    },
    /// systemd kernel-install plugin 40-dkms-hook.install: `add|remove KVER ENTRY_DIR [IMAGE...]`. Never returns 77.
    KernelInstall {
        /// add or remove (others do nothing).
        command: String,
        /// Kernel version.
        kver: String,
        /// Boot entry directory (unused).
        entry_dir: Option<String>,
        /// Kernel images (unused).
        images: Vec<String>,
    },
    /// Boot catch-up (dkms-hook.service): pending work for the running kernel, then loads what it installed for that kernel (modules-load.d again, device aliases) and prunes. Never fails boot.
    Boot,
    /// Build and install AUTOINSTALL modules by hand, for the running kernel, -k KVER, or every kernel.
    Autoinstall {
        /// Kernel version (repeatable); default: the running kernel.
        #[arg(short = 'k', long = "kernel", value_name = "KVER")]
        kernels: Vec<String>,
        /// Every kernel under /lib/modules.
        #[arg(long, conflicts_with = "kernels")]
        all_kernels: bool,
    },
    /// Remove builds and kernel-K-A links of kernels that are no longer installed (no /lib/modules/K/kernel and no /boot/vmlinuz-K). Run by kernel-prerm, apt-post-invoke and the boot unit, or by hand.
    Prune {
        /// Only print what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// List deferred work (kernels waiting for headers, modules waiting for dependencies) and recorded failures. Run by hand; never takes the lock.
    Pending,
    /// Report and repair what interrupted runs leave behind; show Secure Boot and signing-key state. Run by hand (e.g. after a crash or power cut).
    Doctor {
        /// Only report, change nothing.
        #[arg(long)]
        check: bool,
    },
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
                Event::Autoinstall(None)
            } else if kernels.is_empty() {
                Event::Autoinstall(Some(vec![running.to_string()]))
            } else {
                Event::Autoinstall(Some(kernels))
            }
        }
        Command::Prune { dry_run } => Event::Prune { dry_run },
        Command::Pending => Event::Pending,
        Command::Doctor { check } => Event::Doctor { repair: !check },
    };
    let mut req = Request {
        command: PlanCommand::Hook(event),
        root: cli.root,
        ..Default::default()
    };
    req.opts.verbose = cli.verbose;
    req
}
