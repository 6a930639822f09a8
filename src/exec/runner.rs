//! Running a shell command the way upstream's `invoke_command` does: the
//! description with progress dots (or the command itself with `--verbose`),
//! the command run by bash (upstream `eval`s it) in its directory with `PWD`
//! set to it, output appended to make.log in upstream's framing, and the
//! exit status.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::exec::children;
use crate::report::{Say, Stream};
use crate::text;

/// Where a command's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Appended to this log, framed like upstream's make.log.
    Log(PathBuf),
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

/// Run `step`, print progress like upstream, return the exit status
/// (signals map to 128+n; a spawn failure to 127).
pub fn invoke(
    say: &mut dyn Say,
    step: &Step,
    verbose: bool,
    jobserver: Option<&jobserver::Client>,
) -> i32 {
    let shown = step.shown.as_deref().unwrap_or(&step.cmd);
    if verbose {
        say.line(shown);
    } else {
        say.out(&text::step_running(&step.description));
    }
    let dots = step.dots && !verbose && say.live();
    let status = run(say, step, jobserver, dots);
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
    wait(say, cmd, false, capture)
}

fn run(say: &mut dyn Say, step: &Step, jobserver: Option<&jobserver::Client>, dots: bool) -> i32 {
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
            log_append(log, &text::log_step_start(&step.description, &step.cmd));
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .custom_nofollow()
                .open(log)
                .and_then(|f| Ok((f.try_clone()?, f)))
            {
                Ok((a, b)) => {
                    cmd.stdout(a).stderr(b);
                }
                Err(_) => {
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
    let code = wait(say, cmd, dots, capture);
    if let Output::Log(log) = &step.output {
        log_append(log, &text::log_step_end(code, &hms(started.elapsed())));
    }
    code
}

/// Spawn `cmd` in its own process group (so a signal to us takes it down
/// too), print a dot every 3 s while it runs when `dots`, and return its
/// status.
fn wait(say: &mut dyn Say, mut cmd: Command, dots: bool, capture: bool) -> i32 {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let mut child = match children::spawn(&mut cmd) {
        Ok(c) => c,
        Err(_) => return 127,
    };
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let readers = capture.then(|| {
        let o = out.take().map(|mut p| {
            std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = p.read_to_end(&mut b);
                b
            })
        });
        let e = err.take().map(|mut p| {
            std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = p.read_to_end(&mut b);
                b
            })
        });
        (o, e)
    });
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let st = child.wait();
        let _ = tx.send(());
        st
    });
    while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(3)) {
        if dots {
            say.out(text::STEP_DOT);
        }
    }
    let status = waiter.join().ok().and_then(|r| r.ok());
    children::reaped(pid);
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

trait NoFollow {
    fn custom_nofollow(&mut self) -> &mut Self;
}

impl NoFollow for std::fs::OpenOptions {
    fn custom_nofollow(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
    }
}

/// Append to make.log (never through a symlink); a log never stops a build.
pub fn log_append(log: &Path, text: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(log)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// `HH:MM:SS` for an elapsed time, as upstream's `date -u +%T` prints it.
pub fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Quote a word for bash (only when it needs it).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:+,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// True if `prog` is an executable in PATH (or an executable path).
pub fn in_path(prog: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    if prog.contains('/') {
        return Path::new(prog).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p).any(|d| {
                std::fs::metadata(d.join(prog))
                    .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false)
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
        let mut s = Step::new("echo hi; exit 3", "Building module(s)");
        s.output = Output::Log(log.clone());
        s.dots = false;
        let mut b = Buffer::new(Style::Upstream);
        assert_eq!(run(&mut b, &s, None, false), 3);
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
        let mut s = Step::new("echo \"$PWD\"", "x");
        s.cwd = Some(d.path().to_path_buf());
        s.output = Output::Log(log.clone());
        let mut b = Buffer::new(Style::Upstream);
        assert_eq!(invoke(&mut b, &s, false, None), 0);
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
        assert_eq!(invoke(&mut b, &s, false, None), 0);
        let all: String = b.items().iter().map(|(_, t)| t.as_str()).collect();
        assert!(all.contains("out\n") && all.contains("err\n"), "{all}");
    }
}
