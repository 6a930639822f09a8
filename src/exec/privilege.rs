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
use std::process::Command;

use rustix::process::{Gid, Uid};

use crate::child::Run;
use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::runner::shell_quote;
use crate::exec::Locked;
use crate::observe::settings::Settings;

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
    if name.is_empty() || !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    lookup(name).map(Some)
}

/// Exit status of `getent` when the key is not in the database.
const GETENT_NOT_FOUND: i32 = 2;

/// Look `name` up in the host's user database: `getent passwd`, which asks
/// NSS as getpwnam does (files, LDAP, systemd's dynamic users...).
pub fn lookup(name: &str) -> Result<BuildUser> {
    let missing = || Error::denied(msg::build_user_missing(name));
    let out = match Command::new("getent")
        .args(["passwd", "--", name])
        .run_stdout()
    {
        Ok(out) => out,
        Err(e) if e.code() == Some(GETENT_NOT_FOUND) => return Err(missing()),
        Err(e) => {
            return Err(Error::msg(msg::build_user_lookup_failed(
                name,
                &e.to_string(),
            )))
        }
    };
    match parse_passwd(name, &String::from_utf8_lossy(&out)) {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(missing()),
        Err(line) => Err(Error::msg(msg::build_user_lookup_failed(
            name,
            &format!("getent printed a malformed entry: {line}"),
        ))),
    }
}

/// The entry of user `name` in `getent passwd` output
/// (`name:password:uid:gid:gecos:home:shell` lines): None when no line is
/// `name`'s (getent looks an all-digit key up as a uid, getpwnam does not),
/// the line itself when its ids are not numbers.
fn parse_passwd(name: &str, out: &str) -> std::result::Result<Option<BuildUser>, String> {
    let Some(line) = out.lines().find(|l| l.split(':').next() == Some(name)) else {
        return Ok(None);
    };
    let id = |field: Option<&str>| {
        field
            .and_then(|f| f.parse::<u32>().ok())
            .filter(|&id| id != u32::MAX)
    };
    let mut fields = line.split(':').skip(2);
    match (id(fields.next()), id(fields.next())) {
        (Some(uid), Some(gid)) => Ok(Some(BuildUser {
            name: name.to_string(),
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
        })),
        _ => Err(line.to_string()),
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
    let root = rustix::process::geteuid();
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
            return Err(Error::build_failed(msg::build_left_foreign_file(
                p, dir, &u.name,
            )));
        }
        Ok(())
    })?;
    let (root, group) = (rustix::process::geteuid(), rustix::process::getegid());
    walk(dir, &mut |p, _| chown(lock, base, p, root, group))?;
    chown(lock, base, dir, root, group)?;
    chmod(lock, base, dir, 0o755)
}

/// Call `f` on every entry under `dir` (not `dir` itself), never following
/// symbolic links.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata) -> Result<()>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(msg::CANNOT_READ, dir, e))?;
    for e in rd {
        let e = e.map_err(|e| Error::io(msg::CANNOT_READ, dir, e))?;
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p).map_err(|e| Error::io(msg::CANNOT_STAT, &p, e))?;
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
        .map_err(|e| Error::io(msg::CANNOT_CHANGE_OWNER, p, e))
}

fn chmod(lock: &Locked, base: &Path, p: &Path, mode: u32) -> Result<()> {
    lock.set_mode(base, p, mode)
        .map_err(|e| Error::io(msg::CANNOT_CHANGE_MODE, p, e))
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
    fn a_user_is_found_by_name_with_its_ids() {
        let root = lookup("root").unwrap();
        assert_eq!(
            (root.name.as_str(), root.uid, root.gid),
            ("root", Uid::ROOT, Gid::ROOT)
        );
    }

    #[rstest]
    #[case("b:x:123:456:B:/:/bin/false\n", Ok(Some((123, 456))))]
    // getent answers an all-digit key by uid: that is not user "0".
    #[case("root:x:0:0:root:/root:/bin/bash\n", Ok(None))]
    #[case("", Ok(None))]
    #[case("b:x:abc:456::/:\n", Err("b:x:abc:456::/:"))]
    #[case("b:x:123\n", Err("b:x:123"))]
    fn passwd_lines(
        #[case] out: &str,
        #[case] want: std::result::Result<Option<(u32, u32)>, &str>,
    ) {
        let name = if out.starts_with("root") { "0" } else { "b" };
        let got = parse_passwd(name, out).map(|u| u.map(|u| (u.uid.as_raw(), u.gid.as_raw())));
        assert_eq!(got, want.map_err(str::to_string));
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
