//! Running a shell command the way upstream's `invoke_command` does: the
//! description with progress dots (or the command itself with `--verbose`),
//! the command run by bash (upstream `eval`s it) in its directory with `PWD`
//! set to it, output appended to make.log in upstream's framing, and the
//! exit status.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::child;
use crate::exec::Locked;
use crate::report::{Say, Stream};
use crate::text;

/// A log the commands of a step append to (make.log, post_transaction.log),
/// opened beneath its tree through the lock: never through a symlink, never
/// a FIFO or device.
#[derive(Debug)]
pub struct Log {
    path: PathBuf,
    file: Mutex<File>,
}

impl Log {
    /// Open `path` beneath `base` for appending (created when missing;
    /// emptied first with `truncate`).
    pub fn open(
        lock: &Locked,
        base: &Path,
        path: &Path,
        truncate: bool,
    ) -> std::io::Result<Arc<Log>> {
        let file = lock.create_file(base, path, truncate)?;
        Ok(Arc::new(Log {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        }))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `text`. A log that cannot be written never stops a build
    /// (upstream's redirections do not either); the loss is logged.
    pub fn append(&self, text: &str) {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = f.write_all(text.as_bytes()) {
            log::warn!("cannot write {}: {e}", self.path.display());
        }
    }

    /// Two more descriptors of it, for a child's stdout and stderr.
    fn streams(&self) -> std::io::Result<(File, File)> {
        let f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        Ok((f.try_clone()?, f.try_clone()?))
    }
}

/// Where a command's output goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// Appended to this log, framed like upstream's make.log.
    Log(Arc<Log>),
    /// Discarded (upstream's background mode without a log).
    Discard,
    /// Shown to the user.
    Show,
}

/// One command to run.
#[derive(Debug, Clone)]
pub struct Step {
    /// Shell command, run by `bash -c`.
    pub cmd: String,
    /// What the user sees, e.g. `Building module(s)`.
    pub description: String,
    /// Where the output goes.
    pub output: Output,
    /// Print a dot every 3 s while it runs.
    pub dots: bool,
    /// Working directory (and `PWD`).
    pub cwd: Option<PathBuf>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// What `--verbose` and a failure show as the command, when not `cmd`
    /// (upstream shows `do_depmod K` for the depmod it runs).
    pub shown: Option<String>,
}

impl Step {
    /// A step with upstream's background defaults: dots, output discarded.
    pub fn new(cmd: impl Into<String>, description: impl Into<String>) -> Step {
        Step {
            cmd: cmd.into(),
            description: description.into(),
            output: Output::Discard,
            dots: true,
            cwd: None,
            env: Vec::new(),
            shown: None,
        }
    }
}

/// How a step's command holds the writers' lock.
#[derive(Clone, Copy)]
pub enum Hold<'a> {
    /// It does not (the lock is released when we exit, whatever it left).
    No,
    /// It and everything it starts hold `lock` (build steps: no rerun may
    /// build where an orphan of ours still writes).
    Lock(&'a Locked),
}

/// Run `step`, print progress like upstream, return the exit status
/// (signals map to 128+n; a spawn failure to 127).
pub fn invoke(
    say: &mut dyn Say,
    step: &Step,
    verbose: bool,
    jobserver: Option<&jobserver::Client>,
    hold: Hold,
) -> i32 {
    let shown = step.shown.as_deref().unwrap_or(&step.cmd);
    if verbose {
        say.line(shown);
    } else {
        say.out(&text::step_running(&step.description));
    }
    let dots = step.dots && !verbose && say.live();
    let status = run(say, step, jobserver, dots, hold);
    if status > 0 {
        say.out(&text::step_bad_exit(status));
        if !verbose {
            say.out(&text::step_failed_command(shown));
        }
    } else {
        say.line(text::STEP_DONE);
    }
    status
}

/// Run `argv` directly (no shell) in `dir` with `PWD` set, its output shown;
/// returns the exit status.
pub fn exec_words(say: &mut dyn Say, argv: &[String], dir: &Path, env: &[(String, String)]) -> i32 {
    let Some((prog, args)) = argv.split_first() else {
        return 0;
    };
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .current_dir(dir)
        .env("PWD", dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null());
    let capture = !say.live();
    if capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    wait(say, cmd, false, capture, Hold::No)
}

fn run(
    say: &mut dyn Say,
    step: &Step,
    jobserver: Option<&jobserver::Client>,
    dots: bool,
    hold: Hold,
) -> i32 {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(&step.cmd);
    cmd.stdin(Stdio::null());
    if let Some(js) = jobserver {
        js.configure_make(&mut cmd);
    }
    if let Some(d) = &step.cwd {
        cmd.current_dir(d);
        cmd.env("PWD", d);
    }
    for (k, v) in &step.env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut capture = false;
    match &step.output {
        Output::Log(log) => {
            log.append(&text::log_step_start(&step.description, &step.cmd));
            match log.streams() {
                Ok((a, b)) => {
                    cmd.stdout(a).stderr(b);
                }
                Err(e) => {
                    log::warn!("cannot write {}: {e}", log.path().display());
                    cmd.stdout(Stdio::null()).stderr(Stdio::null());
                }
            }
        }
        Output::Discard => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        Output::Show if !say.live() => {
            capture = true;
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        Output::Show => {}
    }
    let code = wait(say, cmd, dots, capture, hold);
    if let Output::Log(log) = &step.output {
        log.append(&text::log_step_end(code, &hms(started.elapsed())));
    }
    code
}

/// Start `cmd` (through [`child`]), print a dot every 3 s while it runs when
/// `dots`, and return its status.
fn wait(say: &mut dyn Say, mut cmd: Command, dots: bool, capture: bool, hold: Hold) -> i32 {
    let started = match hold {
        Hold::No => child::spawn(&mut cmd),
        Hold::Lock(lock) => child::spawn_holding(&mut cmd, lock),
    };
    let mut running = match started {
        Ok(c) => c,
        Err(e) => {
            log::debug!("cannot run {}: {e}", child::command_line(&cmd));
            return 127;
        }
    };
    let readers = capture.then(|| {
        let read = |p: Option<Box<dyn Read + Send>>| {
            p.map(|mut p| {
                std::thread::spawn(move || {
                    let mut b = Vec::new();
                    // What could be read is what the child wrote.
                    let _ = p.read_to_end(&mut b);
                    b
                })
            })
        };
        let o = read(
            running
                .stdout()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let e = read(
            running
                .stderr()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        (o, e)
    });
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let st = running.wait();
        // The receiver only stops listening once we have the status.
        let _ = tx.send(());
        st
    });
    while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(3)) {
        if dots {
            say.out(text::STEP_DOT);
        }
    }
    let status = waiter.join().ok().and_then(|r| r.ok());
    if let Some((o, e)) = readers {
        if let Some(o) = o.and_then(|t| t.join().ok()) {
            say.emit(Stream::Out, &String::from_utf8_lossy(&o));
        }
        if let Some(e) = e.and_then(|t| t.join().ok()) {
            say.emit(Stream::Err, &String::from_utf8_lossy(&e));
        }
    }
    status_code(status)
}

fn status_code(s: Option<std::process::ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match s {
        Some(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        None => 127,
    }
}

/// `HH:MM:SS` for an elapsed time, as upstream's `date -u +%T` prints it.
pub fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Quote a word for bash (only when it needs it).
pub fn shell_quote(s: &str) -> String {
    child::quote(s)
}

/// The current time as `date` prints it in the C locale, in UTC
/// (e.g. `Tue Nov 24 21:09:33 UTC 2026`), for make.log's header.
pub fn date_now() -> String {
    crate::report::time::date(crate::report::time::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Buffer, Style};
    use rstest::rstest;

    fn test_lock(dir: &Path) -> Locked {
        Locked::acquire(&dir.join(".lock"), &mut |_| {})
            .unwrap()
            .lock
    }

    /// A step that holds the lock keeps it held by what it leaves running
    /// outside its process group (what stays in the group is killed when
    /// the step ends): another taker waits until that process is gone.
    #[test]
    fn a_holding_step_keeps_the_lock_while_its_orphans_live() {
        let d = tempfile::tempdir().unwrap();
        let lock = test_lock(d.path());
        // The step leaves a grandchild that lives 1 s after the step ends
        // (an asynchronous list gets /dev/null as stdin: it inherits the
        // step's stdin, the lock, as fd 3).
        let s = Step::new("exec 3<&0; (setsid sleep 1 &) ; sleep 0.2", "x");
        let mut b = Buffer::new(Style::Upstream);
        assert_eq!(invoke(&mut b, &s, false, None, Hold::Lock(&lock)), 0);
        drop(lock);
        let t = Instant::now();
        let again = Locked::acquire(&d.path().join(".lock"), &mut |_| {}).unwrap();
        assert!(again.waited, "the orphan did not hold the lock");
        assert!(
            t.elapsed() >= Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
    }

    #[rstest]
    #[case("abc", "abc")]
    #[case("a b", "'a b'")]
    #[case("it's", "'it'\\''s'")]
    #[case("6.1;reboot", "'6.1;reboot'")]
    fn quoting(#[case] s: &str, #[case] want: &str) {
        assert_eq!(shell_quote(s), want);
    }

    #[test]
    fn log_framing_matches_upstream() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("make.log");
        let lock = test_lock(d.path());
        let mut s = Step::new("echo hi; exit 3", "Building module(s)");
        s.output = Output::Log(Log::open(&lock, d.path(), &log, false).unwrap());
        s.dots = false;
        let mut b = Buffer::new(Style::Upstream);
        assert_eq!(run(&mut b, &s, None, false, Hold::No), 3);
        let text = std::fs::read_to_string(&log).unwrap();
        let want = format!(
            "\nBuilding module(s)\n# command: echo hi; exit 3\nhi\n\n# exit code: 3\n# elapsed time: 00:00:00\n{}\n",
            "-".repeat(64)
        );
        assert_eq!(text, want);
    }

    #[test]
    fn commands_see_their_directory_as_pwd() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        let lock = test_lock(d.path());
        let mut s = Step::new("echo \"$PWD\"", "x");
        s.cwd = Some(d.path().to_path_buf());
        s.output = Output::Log(Log::open(&lock, d.path(), &log, false).unwrap());
        let mut b = Buffer::new(Style::Upstream);
        assert_eq!(invoke(&mut b, &s, false, None, Hold::No), 0);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains(&format!("\n{}\n", d.path().display())),
            "{text}"
        );
    }

    #[test]
    fn shown_output_is_captured_when_not_live() {
        let mut s = Step::new("echo out; echo err >&2", "x");
        s.output = Output::Show;
        let mut b = Buffer::new(Style::Hook);
        assert_eq!(invoke(&mut b, &s, false, None, Hold::No), 0);
        let all: String = b.items().iter().map(|(_, t)| t.as_str()).collect();
        assert!(all.contains("out\n") && all.contains("err\n"), "{all}");
    }
}
