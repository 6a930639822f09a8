//! The one way this tool starts a process (make, scripts, depmod, signing,
//! compression, archives, bash for dkms.conf): [`spawn`] and the [`Run`]
//! extension of `std::process::Command` built on it.
//!
//! Every child:
//! - runs in its own process group, registered so that a SIGINT, SIGTERM
//!   or SIGHUP to us takes it down ([`registry`]);
//! - dies with us even when we cannot act (SIGKILL, the OOM killer): a
//!   watchdog process in its own group holds the read end of a pipe that
//!   only we write, learns each group we start and each we reap, and kills
//!   the ones left when the pipe closes ([`watchdog`]);
//! - with [`spawn_holding`] (make and the build scripts), holds the writers'
//!   lock too: it gets the locked file as its standard input, so the lock
//!   stays held until the last process it started is gone, and a rerun
//!   never builds in a directory an orphan still writes to;
//! - is started again when exec fails with ETXTBSY (a script just written
//!   by another thread whose fork still holds it open);
//! - has its command line logged (`--debug`), and when it fails, the
//!   error carries the command line and the last lines of its stderr
//!   ([`Run`]).

pub mod registry;
pub mod run;
pub mod watchdog;

pub use registry::{handle_signals, hold_if_stopping, retry_text_busy, Running};
pub use run::{ChildError, Run};

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::fs::Locked;

/// The run holds the writers' lock `lock`: the watchdog holds it too, so
/// after our death it is released only when no child of ours is left.
pub fn hold_lock(lock: &Locked) -> io::Result<()> {
    watchdog::hold(lock.share()?);
    Ok(())
}

/// The run ends normally: let the watchdog go (and the lock it holds).
pub fn finish() {
    watchdog::finish();
}

/// Start `cmd` as our child (see the module documentation).
pub fn spawn(cmd: &mut Command) -> io::Result<Running> {
    registry::spawn(cmd)
}

/// Start `cmd` as our child holding the writers' lock `lock` as long as it
/// or anything it starts lives (its standard input is the locked file).
pub fn spawn_holding(cmd: &mut Command, lock: &Locked) -> io::Result<Running> {
    cmd.stdin(Stdio::from(lock.share()?));
    registry::spawn(cmd)
}

/// Where `prog` is in PATH, as an executable file (`prog` itself when it
/// names a path).
pub fn which(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| is_executable(p))
}

/// True if `prog` is an executable in PATH (or an executable path).
pub fn in_path(prog: &str) -> bool {
    which(prog).is_some()
}

/// A regular file with an execute bit.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The command line of `cmd` as a shell would show it (for logs and errors).
pub fn command_line(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// Quote a word for bash (only when it needs it).
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:+,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
