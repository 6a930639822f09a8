//! The watchdog: a small bash process in its own process group, started
//! with the first child of a run. Its standard input is the read end of a
//! pipe whose only write end is ours (close-on-exec, so no child holds
//! it). We tell it `+<group>` for each process group we start and
//! `-<group>` for each we reap. When the pipe closes, that is when we are
//! gone by any means (a normal exit, SIGKILL, the OOM killer), it kills
//! every group still listed, and then every process marked as the run's
//! (see [`MARK_VAR`]), so no make, script or depmod outlives the run that
//! started it. It is in its own group so a signal to ours does not
//! take it down first.
//!
//! In a run that holds the writers' lock, the watchdog holds it too (the
//! locked file is its standard output): after we die the lock is released
//! only once the watchdog has killed what we left, so a rerun never works
//! beside an orphan of ours, however that orphan was started.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The watchdog's program: keep the set of live groups; on end of input,
/// kill each. Then, because a child may have been started in the moment
/// before it could be named (or may have left its group), kill every
/// process that carries the run's mark in its environment, until a pass
/// finds none (three passes at least, 50 ms apart, for a child that was
/// between fork and exec when we died).
const SCRIPT: &str = r#"live=" "
while IFS= read -r line; do
  case $line in
    +*) live+="${line#+} " ;;
    -*) live="${live/ ${line#-} / }" ;;
    done) exit 0 ;;
    stop) break ;;
  esac
done
for g in $live; do kill -KILL -- "-$g" 2>/dev/null; done
mark="$1"
pass=0
while :; do
  found=0
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$$" ] && continue
    while IFS= read -r -d '' kv; do
      if [ "$kv" = "$mark" ]; then kill -KILL "$p" 2>/dev/null; found=1; break; fi
    done < "$d/environ" 2>/dev/null
  done
  pass=$((pass + 1))
  if [ "$found" = 0 ] && [ "$pass" -ge 3 ]; then break; fi
  [ "$pass" -ge 20 ] && break
  sleep 0.05
done
exit 0
"#;

/// The environment variable every child of a run carries, with the run's
/// own value: how the watchdog finds what the run left.
pub const MARK_VAR: &str = "DKMS_HOOK_RUN";

/// This run's mark (`<pid>-<start time in ns>`).
pub fn mark() -> &'static str {
    static MARK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARK.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{}-{t}", std::process::id())
    })
}

/// The watchdog and our end of its pipe, once it runs (`None` inside: it
/// could not be started, and children are only covered by the signal
/// handlers).
static TO_WATCHDOG: Mutex<Option<Option<(File, Child)>>> = Mutex::new(None);

/// The lock the watchdog will hold, registered by the run that took it.
static LOCK: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// The run holds the writers' lock: the watchdog (started with the first
/// child) holds a descriptor of it as well.
pub fn hold(lock: OwnedFd) {
    *LOCK.lock().unwrap_or_else(|e| e.into_inner()) = Some(lock);
}

/// Start the watchdog unless it runs (or could not be started).
pub fn ensure() {
    let mut w = TO_WATCHDOG.lock().unwrap_or_else(|e| e.into_inner());
    if w.is_none() {
        *w = Some(start().map_err(|e| log::debug!("no watchdog: {e}")).ok());
    }
}

fn start() -> std::io::Result<(File, Child)> {
    // Both ends close-on-exec: no child of ours inherits either; the
    // watchdog gets the read end as its standard input.
    let (read, write): (OwnedFd, OwnedFd) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let held = LOCK.lock().unwrap_or_else(|e| e.into_inner()).take();
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-c", SCRIPT, "dkms-watchdog"])
        .arg(format!("{MARK_VAR}={}", mark()))
        .env_remove(MARK_VAR)
        .stdin(Stdio::from(read))
        .stdout(held.map(Stdio::from).unwrap_or_else(Stdio::null))
        .stderr(Stdio::null())
        .process_group(0);
    // Waited for by [`finish`] at a normal end; after any other end of
    // ours init reaps it.
    let child = cmd.spawn()?;
    Ok((File::from(write), child))
}

fn tell(line: String) {
    let mut w = TO_WATCHDOG.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(Some((f, _))) = w.as_mut() {
        // A line is far below PIPE_BUF: written whole or not at all. A
        // watchdog that died leaves us with the signal handlers only.
        if let Err(e) = f.write_all(line.as_bytes()) {
            log::debug!("watchdog gone: {e}");
            *w = Some(None);
        }
    }
}

/// The run ends normally (every child was waited for): the watchdog goes
/// at once, without looking for leftovers (a daemon a script started on
/// purpose is not ours to kill), and is waited for, so the lock it holds is
/// released when we exit, not a moment later.
pub fn finish() {
    end(b"done\n");
}

/// A signal is taking the run down: the watchdog kills what is left (the
/// groups, then every marked process) and is waited for, so the lock is
/// free when we exit, and nothing of ours is left.
pub fn stop() {
    end(b"stop\n");
}

fn end(word: &[u8]) {
    let taken = TO_WATCHDOG
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .replace(None);
    if let Some(Some((mut f, mut child))) = taken {
        // A watchdog that cannot be told ends at end of input anyway.
        let _ = f.write_all(word);
        drop(f);
        if let Err(e) = child.wait() {
            log::debug!("watchdog: {e}");
        }
    }
}

/// Process group `pgid` was started.
pub fn started(pgid: u32) {
    tell(format!("+{pgid}\n"));
}

/// Process group `pgid` was reaped (its number may be reused now).
pub fn reaped(pgid: u32) {
    tell(format!("-{pgid}\n"));
}
