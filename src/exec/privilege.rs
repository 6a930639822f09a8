//! Beyond upstream: least privilege for builds (`build_user=` in
//! framework.conf; off by default).
//!
//! When `build_user` is set and we run as root, PRE_BUILD, make and
//! POST_BUILD run as that user, with no capabilities and `no_new_privs`, in a
//! fresh network namespace (only a loopback that is down: no network at all)
//! and a fresh PID namespace (when the step's main process exits, every
//! process it left behind is killed, so nothing can still be writing once
//! root reads the results). The tools are util-linux's `unshare` and
//! `setpriv`.
//!
//! The build directory is handed over before PRE_BUILD: every file in it
//! becomes the user's; the directory itself stays root's, group-writable for
//! the user's group and sticky, so the build can create and replace its own
//! files but cannot replace root's `make.log` (for instance by a symlink that
//! root would then append to). After make, with all build processes gone,
//! the directory is checked again (links leading outside it are removed,
//! see [`crate::source_check`]; a device node, fifo or socket, or a file of
//! another owner, e.g. a hard link to a foreign file, refuses the results);
//! then it is taken back to root before the modules are stripped, signed and
//! moved into the dkms tree. POST_BUILD gets the directory back after the
//! results were moved.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{Gid, Uid, User};

use crate::error::{Error, Result};
use crate::exec::runner::shell_quote;
use crate::exec::Locked;
use crate::observe::settings::Settings;
use crate::text;

/// The unprivileged account a build runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildUser {
    /// Its login name.
    pub name: String,
    /// Its user id.
    pub uid: Uid,
    /// Its primary group id.
    pub gid: Gid,
}

/// The build user to drop to: None when `build_user` is unset or we are not
/// root (then there is no privilege to drop). A name that does not exist is
/// an error, never a silent root build.
pub fn build_user(settings: &Settings) -> Result<Option<BuildUser>> {
    let name = settings.build_user.trim();
    if name.is_empty() || !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    lookup(name).map(Some)
}

/// Look `name` up in the host's user database.
pub fn lookup(name: &str) -> Result<BuildUser> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok(BuildUser {
            name: u.name,
            uid: u.uid,
            gid: u.gid,
        }),
        Ok(None) => Err(Error::denied(text::build_user_missing(name))),
        Err(e) => Err(Error::msg(text::build_user_lookup_failed(
            name,
            &e.to_string(),
        ))),
    }
}

/// The shell command for a build step: `cmd` itself, or, with a build user,
/// `cmd` run as that user in new network and PID namespaces.
pub fn wrap(settings: &Settings, cmd: &str) -> Result<String> {
    Ok(match build_user(settings)? {
        Some(u) => wrap_as(&u, cmd),
        None => cmd.to_string(),
    })
}

/// `cmd` wrapped to run as `user` (see the module docs).
pub fn wrap_as(user: &BuildUser, cmd: &str) -> String {
    format!(
        "unshare --net --pid --fork --kill-child -- setpriv --reuid={} --regid={} --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- bash -c {}",
        user.uid,
        user.gid,
        shell_quote(cmd)
    )
}

/// Give build directory `dir` to the build user (a no-op without one):
/// everything in it except `log` becomes theirs; `dir` itself becomes
/// `root:<their group>` mode 01770.
pub fn hand_over(
    lock: &Locked,
    base: &Path,
    settings: &Settings,
    dir: &Path,
    log: &Path,
) -> Result<()> {
    let Some(u) = build_user(settings)? else {
        return Ok(());
    };
    let root = nix::unistd::geteuid();
    walk(dir, &mut |p, _| {
        if p == log {
            return Ok(());
        }
        chown(lock, base, p, u.uid, u.gid)
    })?;
    chown(lock, base, dir, root, u.gid)?;
    chmod(lock, base, dir, 0o1770)
}

/// Take build directory `dir` back from the build user (a no-op without
/// one) after checking that the build left no link leading outside, no
/// device node, and no file of another owner (besides `log`).
pub fn take_back(
    lock: &Locked,
    base: &Path,
    settings: &Settings,
    dir: &Path,
    log: &Path,
) -> Result<()> {
    let Some(u) = build_user(settings)? else {
        return Ok(());
    };
    for link in crate::exec::source_check::remove_escaping_links(lock, base, dir)? {
        log::debug!(
            "removed {} left by the build: it leads outside",
            link.display()
        );
    }
    walk(dir, &mut |p, meta| {
        if p != log && meta.uid() != u.uid.as_raw() {
            return Err(Error::build_failed(text::build_left_foreign_file(
                p, dir, &u.name,
            )));
        }
        Ok(())
    })?;
    let (root, group) = (nix::unistd::geteuid(), nix::unistd::getegid());
    walk(dir, &mut |p, _| chown(lock, base, p, root, group))?;
    chown(lock, base, dir, root, group)?;
    chmod(lock, base, dir, 0o755)
}

/// Call `f` on every entry under `dir` (not `dir` itself), never following
/// symbolic links.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata) -> Result<()>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(text::CANNOT_READ, dir, e))?;
    for e in rd {
        let e = e.map_err(|e| Error::io(text::CANNOT_READ, dir, e))?;
        let p = e.path();
        let meta =
            std::fs::symlink_metadata(&p).map_err(|e| Error::io(text::CANNOT_STAT, &p, e))?;
        f(&p, &meta)?;
        if meta.file_type().is_dir() {
            walk(&p, f)?;
        }
    }
    Ok(())
}

/// Change the owner of `p` itself (beneath `base`), never a link's target.
fn chown(lock: &Locked, base: &Path, p: &Path, uid: Uid, gid: Gid) -> Result<()> {
    lock.set_owner(base, p, uid.as_raw(), gid.as_raw())
        .map_err(|e| Error::io(text::CANNOT_CHANGE_OWNER, p, e))
}

fn chmod(lock: &Locked, base: &Path, p: &Path, mode: u32) -> Result<()> {
    lock.set_mode(base, p, mode)
        .map_err(|e| Error::io(text::CANNOT_CHANGE_MODE, p, e))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("make -j4", "'make -j4'")]
    #[case("echo 'a b'", r"'echo '\''a b'\'''")]
    #[case("", "''")]
    fn quoting(#[case] cmd: &str, #[case] want: &str) {
        assert_eq!(shell_quote(cmd), want);
    }

    #[test]
    fn wrapped_command_runs_the_original_through_bash() {
        let u = BuildUser {
            name: "b".into(),
            uid: Uid::from_raw(123),
            gid: Gid::from_raw(456),
        };
        let w = wrap_as(&u, "cd /x/ && ./pre.sh 'q'");
        assert!(w.starts_with("unshare --net --pid --fork --kill-child -- setpriv --reuid=123 --regid=456 --init-groups"), "{w}");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -- {}; printf %s \"$1\"",
                &w[w.rfind("bash -c ").unwrap() + 8..]
            ))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "cd /x/ && ./pre.sh 'q'"
        );
    }

    #[test]
    fn unknown_user_is_a_clear_error() {
        let err = lookup("no-such-user-dkms-hook-test").unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(
            err.lines()[0].contains("does not exist"),
            "{:?}",
            err.lines()
        );
    }
}
