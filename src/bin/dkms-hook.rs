//! `dkms-hook`: the entry points package managers call. Each subcommand is
//! one event (see `--help`); all of them go through the same engine as
//! `dkms install`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use dkms_hook::cli::Invocation;
use dkms_hook::config::TreeOverrides;
use dkms_hook::plan::Event;
use dkms_hook::{actions, doctor, hook};

/// Make out-of-tree kernel modules follow the kernel: package-manager hooks for DKMS.
#[derive(Parser, Debug)]
#[command(name = "dkms-hook", version = env!("CARGO_PKG_VERSION"), about, long_about = None)]
struct Cli {
    /// Treat DIR as the root of the system: every path the tool reads or writes resolves under it (also DKMS_ROOT).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Show build commands instead of progress dots.
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    event: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A kernel was installed. Called by /etc/kernel/postinst.d/dkms-hook (run-parts) as `KVER IMAGE`. Builds and installs every AUTOINSTALL module; without headers it defers the kernel and exits 0.
    KernelPostinst { kver: String, image: Option<String> },
    /// A kernel is about to be upgraded. Called by /etc/kernel/preinst.d/dkms-hook. Removes AUTOINSTALL modules built for it; never fails.
    KernelPreinst { kver: String, image: Option<String> },
    /// A kernel is being removed. Called by /etc/kernel/prerm.d/dkms-hook. Removes every module built for it, then prunes; never fails.
    KernelPrerm { kver: String, image: Option<String> },
    /// Kernel headers were installed. Called by /etc/kernel/header_postinst.d/dkms-hook and RPM file triggers. Finishes pending work for every kernel whose headers are now present.
    HeaderPostinst { kver: String },
    /// apt finished a dpkg run (DPkg::Post-Invoke in /etc/apt/apt.conf.d/90dkms-hook). Finishes whatever is still pending and prunes; never fails apt.
    AptPostInvoke,
    /// dpkg file trigger on /usr/src or /lib/modules (the package's postinst `triggered`). Finishes pending work; never fails.
    DpkgTrigger { triggers: Vec<String> },
    /// systemd kernel-install plugin 40-dkms-hook.install: `add|remove KVER ENTRY_DIR [IMAGE...]`. Never returns 77.
    KernelInstall {
        command: String,
        kver: String,
        entry_dir: Option<String>,
        images: Vec<String>,
    },
    /// Boot catch-up (dkms-hook.service): pending work for the running kernel, then prune. Never fails boot.
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

fn main() {
    env_logger::Builder::from_env(env_logger::Env::new().filter("DKMS_LOG"))
        .format_timestamp(None)
        .init();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    for v in ["CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS"] {
        std::env::remove_var(v);
    }
    let cli = Cli::parse();
    let mut inv = Invocation {
        root: cli.root.clone(),
        trees: TreeOverrides::default(),
        ..Default::default()
    };
    inv.opts.verbose = cli.verbose;
    let ctx = match actions::context(&inv) {
        Ok(c) => c,
        Err(e) => {
            e.report();
            // Hooks must not break the package manager over a broken setup.
            std::process::exit(
                if matches!(
                    cli.event,
                    Command::KernelPostinst { .. } | Command::Autoinstall { .. }
                ) {
                    e.code
                } else {
                    0
                },
            );
        }
    };
    // Kernel versions name directories: refuse any that could escape them.
    for k in event_kernels(&cli.event) {
        if let Err(e) = actions::check_component("kernel version", k) {
            e.report();
            std::process::exit(2);
        }
    }
    let running = dkms_hook::kernel::running_kernel();
    let code = match cli.event {
        Command::KernelPostinst { kver, .. } => hook::handle(&ctx, &Event::KernelPostinst(kver)),
        Command::KernelPreinst { kver, .. } => hook::handle(&ctx, &Event::KernelPreinst(kver)),
        Command::KernelPrerm { kver, .. } => hook::handle(&ctx, &Event::KernelPrerm(kver)),
        Command::HeaderPostinst { kver } => hook::handle(&ctx, &Event::HeaderPostinst(kver)),
        Command::AptPostInvoke => hook::handle(&ctx, &Event::AptPostInvoke),
        Command::DpkgTrigger { .. } => hook::handle(&ctx, &Event::DpkgTrigger),
        Command::KernelInstall { command, kver, .. } => {
            let code = match command.as_str() {
                "add" => hook::handle(&ctx, &Event::KernelPostinst(kver)),
                "remove" => hook::handle(&ctx, &Event::KernelPrerm(kver)),
                _ => 0,
            };
            if code == 77 {
                0
            } else {
                code
            }
        }
        Command::Boot => hook::handle(&ctx, &Event::Boot(running)),
        Command::Autoinstall {
            kernels,
            all_kernels,
        } => {
            let ks = if all_kernels {
                hook::all_kernels(&ctx)
            } else if kernels.is_empty() {
                vec![running]
            } else {
                kernels
            };
            hook::handle(&ctx, &Event::Autoinstall(ks))
        }
        Command::Prune { dry_run } => {
            let _lock = match actions::lock(&ctx) {
                Ok(l) => l,
                Err(e) => {
                    e.report();
                    std::process::exit(e.code);
                }
            };
            let gone = hook::prune(&ctx, dry_run);
            if gone.is_empty() {
                println!("Nothing to prune.");
            }
            0
        }
        Command::Pending => hook::print_pending(&ctx),
        Command::Doctor { check } => {
            if check {
                doctor::report(&ctx, false)
            } else {
                match actions::lock(&ctx) {
                    Ok(_l) => doctor::report(&ctx, true),
                    Err(e) => {
                        e.report();
                        e.code
                    }
                }
            }
        }
    };
    std::process::exit(code);
}

/// The kernel versions an event names on its command line.
fn event_kernels(event: &Command) -> Vec<&str> {
    match event {
        Command::KernelPostinst { kver, .. }
        | Command::KernelPreinst { kver, .. }
        | Command::KernelPrerm { kver, .. }
        | Command::HeaderPostinst { kver }
        | Command::KernelInstall { kver, .. } => vec![kver.as_str()],
        Command::Autoinstall { kernels, .. } => kernels.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}
