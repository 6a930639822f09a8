//! The plans of `dkms-hook package`, `dkms mkbmdeb` and `dkms-hook
//! publish`, and the packaging step the hooks add when framework.conf sets
//! `publish_repo`. Every check is made here, before anything is written:
//! a module that is not installed for the kernel is refused with nothing
//! written.

use std::path::PathBuf;

use super::Format;
use crate::error::{Error, Result};
use crate::observe::Facts;
use crate::plan::package::msg;
use crate::plan::{checks, DkmsArgs, ExitRule, Mvka, PackageArgs, Plan, ReadJob, WriteJob};
use crate::text;

/// The format asked for (`deb`/`rpm`), else the distribution's own.
pub fn format(asked: Option<&str>, world: &Facts) -> Result<Format> {
    match asked {
        None | Some("") => Ok(Format::native(&world.host.distribution)),
        Some("deb") => Ok(Format::Deb),
        Some("rpm") => Ok(Format::Rpm),
        Some(other) => Err(Error::usage([msg::package_unknown_format(other)])),
    }
}

/// Refuse m/v/k/a unless m/v is installed for k/a.
fn installed(world: &Facts, at: &Mvka) -> Result<()> {
    checks::names(&at.m, &at.v)?;
    checks::component(text::NAME_KERNEL_VERSION, &at.k)?;
    checks::component(text::NAME_ARCH, &at.a)?;
    if world.tree.is_installed(&at.m, &at.v, &at.k, &at.a) {
        Ok(())
    } else {
        Err(Error::state(msg::package_not_installed(
            &at.m, &at.v, &at.k, &at.a,
        )))
    }
}

/// `dkms-hook package`.
pub fn package(args: &PackageArgs, world: &Facts) -> Plan {
    let a = args
        .arch
        .clone()
        .unwrap_or_else(|| world.host.machine_arch.clone());
    let at = Mvka::new(&args.module, &args.version, &args.kernel, &a);
    let r = format(args.format.as_deref(), world).and_then(|f| {
        installed(world, &at)?;
        Ok(f)
    });
    match r {
        Ok(format) => {
            let mut p = Plan::new(ExitRule::Stop);
            p.push(
                ReadJob::Package {
                    at,
                    format,
                    out: args.out.clone(),
                },
                &[],
                0,
            );
            p
        }
        Err(e) => Plan::fail(e),
    }
}

/// `dkms mkbmdeb -m M -v V -k K` (Debian's old interface): the `.deb`,
/// left in `<dkms_tree>/<m>/<v>/bmdeb/`.
pub fn mkbmdeb(args: &DkmsArgs, world: &Facts, k: &str, a: &str) -> Result<Plan> {
    checks::module_args(args, &args.action)?;
    checks::have_one_kernel(args)?;
    let at = Mvka::new(&args.module, &args.version, k, a);
    installed(world, &at)?;
    // It writes into the dkms tree (bmdeb/), under the lock.
    let mut p = Plan::new(ExitRule::Stop);
    p.push(
        WriteJob::MkBmDeb {
            out: world.host.layout.bmdeb_dir(&at.m, &at.v),
            at,
        },
        &[],
        0,
    );
    Ok(p)
}

/// `dkms-hook publish`.
pub fn publish(repo: &std::path::Path, files: &[PathBuf]) -> Plan {
    let mut p = Plan::new(ExitRule::Stop);
    p.push(
        ReadJob::Publish {
            repo: repo.to_path_buf(),
            files: files.to_vec(),
        },
        &[],
        0,
    );
    p
}

/// The hooks' packaging step when framework.conf sets `publish_repo`.
pub fn publish_built(world: &Facts) -> Option<WriteJob> {
    let repo = world.host.settings.publish_repo.clone()?;
    Some(WriteJob::PublishBuilt {
        repo,
        format: Format::native(&world.host.distribution),
    })
}
