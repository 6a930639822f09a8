//! What doctor says besides its findings: the pending work and recorded
//! failures (in the words of `dkms-hook pending`), the Secure Boot and
//! signing-key state, and the closing lines: "nothing found", or the exact
//! command that repairs what was found.

use std::collections::BTreeSet;
use std::path::Path;

use crate::exec::doctor::msg;
use crate::observe::pending::Reason;
use crate::observe::World;
use crate::report::Say;

/// The pending work and the recorded failures (but those of module
/// versions this run forgot, whose records it deleted).
pub(super) fn records(w: &World, say: &mut dyn Say, forgotten: &BTreeSet<(String, String)>) {
    for i in &w.records.items {
        // Forgetting the only version of a module dropped its deferrals.
        let dropped =
            forgotten.iter().any(|(m, _)| *m == i.module) && w.tree.versions(&i.module).len() <= 1;
        if dropped {
            continue;
        }
        say.line(&match i.reason {
            Reason::HeadersMissing => msg::doctor_pending_headers(&i.kernel, &i.arch, &i.detail),
            Reason::BuildDepends => {
                msg::doctor_pending_depends(&i.kernel, &i.arch, &i.module, &i.detail)
            }
            // Markers, not queue entries: the findings report them.
            Reason::DepmodDue => continue,
        });
    }
    for f in &w.records.failures {
        if forgotten.contains(&(f.module.clone(), f.version.clone())) {
            continue;
        }
        say.line(&msg::doctor_failed(
            &f.module, &f.version, &f.kernel, &f.arch, f.code, &f.log,
        ));
    }
}

/// The command that repairs what this run found: `dkms-hook doctor
/// --repair`, with this run's `--root`.
pub(super) fn repair_command(w: &World) -> String {
    command(w, "dkms-hook", "doctor --repair")
}

/// `program rest`, with this run's `--root` when it has one.
pub(super) fn command(w: &World, program: &str, rest: &str) -> String {
    let root = &w.host.layout.root;
    if root.is_slash() {
        format!("{program} {rest}")
    } else {
        format!("{program} --root {} {rest}", quoted(root.dir()))
    }
}

/// `p` as one shell word.
fn quoted(p: &Path) -> String {
    let s = p.display().to_string();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+-:=@%,".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The last lines: that nothing was found, or (without `--repair`, when
/// `--repair` can act on something) the command to run.
pub(super) fn closing(w: &World, say: &mut dyn Say, found: usize, repairable: usize) {
    if found == 0 {
        say.line(msg::NO_LEFTOVERS);
    } else if repairable > 0 {
        say.line(&msg::to_repair_run(&repair_command(w)));
    }
}

/// Secure Boot as the firmware reports it: on, off, or not available (no
/// EFI: then nothing about MOK); where it is on, whether the configured
/// certificate is enrolled with shim, waits for enrolment at the next
/// reboot, or is neither (with the command that enrols it). Read from the
/// EFI variables under the root (what `mokutil --test-key` and
/// `mokutil --list-new` read).
pub(super) fn secure_boot(w: &World, say: &mut dyn Say) {
    let (_key, cert, _) = crate::exec::sign::key_paths(&w.host, "", "");
    let root = &w.host.layout.root;
    let keys = crate::observe::secure_boot::KeyState::observe(root);
    let shown = root.inside(&cert);
    if !keys.efi {
        say.line(msg::SECURE_BOOT_UNAVAILABLE);
        return;
    }
    if keys.secure_boot != Some(true) {
        say.line(msg::SECURE_BOOT_DISABLED);
        return;
    }
    say.line(msg::SECURE_BOOT_ENABLED);
    let parsed = crate::fs::read_regular(&cert, 1 << 20)
        .ok()
        .and_then(|d| crate::observe::x509::Certificate::parse(&d));
    match parsed {
        None if !cert.is_file() => say.line(&msg::signing_key_absent(&shown)),
        None => say.line(&msg::signing_key_not_enrolled(&shown)),
        Some(c) if keys.enrolled(&c) => say.line(&msg::signing_key_enrolled(&shown)),
        Some(c) if keys.pending(&c) => say.line(&msg::signing_key_pending(&shown)),
        Some(_) => say.line(&msg::signing_key_not_enrolled(&shown)),
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;
    use std::path::Path;

    #[test]
    fn roots_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(quoted(Path::new("/tmp/dkms-root-x1")), "/tmp/dkms-root-x1");
        assert_eq!(quoted(Path::new("/mnt/my image")), "'/mnt/my image'");
        assert_eq!(quoted(Path::new("/mnt/it's")), r"'/mnt/it'\''s'");
    }
}
