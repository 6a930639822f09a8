//! After the boot unit's catch-up installed modules for the running
//! kernel: load them as the boot would have, had they been there. Early in
//! boot, systemd-modules-load.service loaded the lists in modules-load.d
//! and udev's coldplug loaded a driver for each device's modalias; a module
//! built later by dkms-hook.service missed both (systemd-modules-load skips
//! a module it cannot find). Both are done again, once per run, after
//! depmod. Nothing here fails the run: a module that does not load is the
//! same warning the boot would have logged.

use std::path::Path;
use std::process::Command;

use crate::child::Run;
use crate::error::Result;
use crate::exec::Ctx;
use crate::report::summary::HookResult;
use crate::report::Say;

/// Deepest directory level under /sys/devices that is searched.
const MAX_DEPTH: usize = 32;

/// True when this run installed a module for kernel `k`.
pub fn installed_for(results: &[(String, String, String, HookResult)], k: &str) -> bool {
    results
        .iter()
        .any(|(kk, _, _, r)| kk == k && *r == HookResult::Installed)
}

/// The distinct `modalias` values of the devices under `dir` (sysfs'
/// /sys/devices), sorted; symbolic links are not followed.
pub fn device_aliases(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out.sort();
    out.dedup();
    out
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else {
            continue;
        };
        if t.is_dir() {
            walk(&e.path(), depth + 1, out);
        } else if t.is_file() && e.file_name() == "modalias" {
            if let Ok(text) = crate::fs::read_regular_text(&e.path(), 1 << 16) {
                let alias = text.trim();
                if !alias.is_empty() {
                    out.push(alias.to_string());
                }
            }
        }
    }
}

/// Run `cmd`; with `warn`, a failure is a warning (its exit status only
/// when `check_status`); without, it is only logged (`dkms
/// --modprobe-on-install`, where upstream prints nothing of it).
fn run(say: &mut dyn Say, shown: &str, cmd: &mut Command, check_status: bool, warn: bool) {
    let said = match cmd.run_status() {
        Ok(s) if s.success() || !check_status => return,
        Ok(s) => format!("`{shown}` failed ({s}); the module loads on the next boot."),
        Err(e) => format!("cannot run `{shown}`: {e}; the module loads on the next boot."),
    };
    if warn {
        say.warning(&[said]);
    } else {
        log::debug!("{said}");
    }
}

/// Restart systemd-modules-load.service: it loads the modules-load.d lists
/// again, now that their modules exist.
pub fn modules_load_lists(say: &mut dyn Say, warn: bool) {
    let unit = "systemd-modules-load.service";
    run(
        say,
        &format!("systemctl restart {unit}"),
        Command::new("systemctl").args(["restart", unit]),
        true,
        warn,
    );
}

/// Load a module for each device's modalias, as udev's coldplug does. Most
/// devices have no module of their own (built in, or none at all): modprobe
/// then exits 1, which is no failure here (udev ignores the same).
pub fn device_modules(say: &mut dyn Say, warn: bool) {
    let aliases = device_aliases(Path::new("/sys/devices"));
    if !aliases.is_empty() {
        run(
            say,
            "modprobe -a -b -q <device aliases>",
            Command::new("modprobe")
                .args(["-a", "-b", "-q"])
                .args(&aliases),
            false,
            warn,
        );
    }
}

/// Load what this run installed for the running kernel `k` (on the real
/// root only, and only when something was installed).
pub fn load_installed(cx: &mut Ctx, say: &mut dyn Say, k: &str) -> Result<()> {
    let host = &cx.world.host;
    if !installed_for(&cx.ledger.results, k)
        || !host.layout.root.is_slash()
        || host.running_kernel != k
    {
        return Ok(());
    }
    say.line(&format!(
        "dkms-hook: loading the modules installed for the running kernel {k} (modules-load.d, device aliases)"
    ));
    if Path::new("/run/systemd/system").is_dir() {
        modules_load_lists(say, true);
    }
    device_modules(say, true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(k: &str, m: &str, res: HookResult) -> (String, String, String, HookResult) {
        (k.into(), m.into(), String::new(), res)
    }

    #[test]
    fn only_an_install_for_that_kernel_counts() {
        let results = vec![
            r("6.1.0-2-amd64", "hello", HookResult::Installed),
            r("6.1.0-1-amd64", "world", HookResult::Excluded),
            r("6.1.0-1-amd64", "broken", HookResult::Failed(10, None)),
        ];
        assert!(installed_for(&results, "6.1.0-2-amd64"));
        assert!(!installed_for(&results, "6.1.0-1-amd64"));
        assert!(!installed_for(&[], "6.1.0-2-amd64"));
    }

    #[test]
    fn aliases_are_read_from_the_device_tree_without_following_links() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path();
        let pci = d.join("pci0000:00/0000:00:02.0");
        let usb = d.join("pci0000:00/0000:00:1d.0/usb1");
        std::fs::create_dir_all(&pci).expect("mkdir");
        std::fs::create_dir_all(&usb).expect("mkdir");
        std::fs::write(pci.join("modalias"), "pci:v00001AF4d00001001\n").expect("write");
        std::fs::write(usb.join("modalias"), "usb:v1D6Bp0002\n").expect("write");
        std::fs::write(usb.join("uevent"), "x\n").expect("write");
        // The same device twice, an empty alias, and a link back up (sysfs
        // has many; following them would loop).
        let dup = d.join("platform/serial8250");
        std::fs::create_dir_all(&dup).expect("mkdir");
        std::fs::write(dup.join("modalias"), "pci:v00001AF4d00001001").expect("write");
        std::fs::write(d.join("platform/modalias"), "\n").expect("write");
        std::os::unix::fs::symlink(d, usb.join("subsystem")).expect("symlink");
        assert_eq!(
            device_aliases(d),
            vec![
                "pci:v00001AF4d00001001".to_string(),
                "usb:v1D6Bp0002".to_string()
            ]
        );
        assert!(device_aliases(&d.join("missing")).is_empty());
    }
}
