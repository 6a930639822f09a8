//! Running a shell command the way upstream's `invoke_command` does: a
//! description with progress dots (or the command itself with `--verbose`),
//! output appended to make.log in upstream's framing, and the exit status.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One command to run.
#[derive(Debug, Clone)]
pub struct Step {
    /// Shell command, run by `bash -c` (upstream `eval`s it).
    pub cmd: String,
    /// What the user sees, e.g. `Building module(s)`.
    pub description: String,
    /// Append output here, framed like upstream's make.log; `None` discards
    /// output when `background`, else shows it.
    pub log: Option<PathBuf>,
    /// Print a dot every 3 s while it runs (and hide output when no log).
    pub background: bool,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

impl Step {
    /// A step with upstream's defaults: background, no log, no cwd.
    pub fn new(cmd: impl Into<String>, description: impl Into<String>) -> Step {
        Step {
            cmd: cmd.into(),
            description: description.into(),
            log: None,
            background: true,
            cwd: None,
            env: Vec::new(),
        }
    }
}

/// Run `step`, print progress like upstream, return the exit status
/// (signals map to 128+n; a spawn failure to 127).
pub fn invoke(step: &Step, verbose: bool) -> i32 {
    invoke_with(step, verbose, None)
}

/// [`invoke`], handing `make` the shared jobserver through MAKEFLAGS.
pub fn invoke_with(step: &Step, verbose: bool, jobserver: Option<&jobserver::Client>) -> i32 {
    if verbose {
        crate::output::line(&step.cmd);
    } else {
        crate::output::text(&format!("{}...", step.description));
    }
    let dots = if step.background && !verbose && !crate::output::capturing() {
        Some(start_dots())
    } else {
        None
    };
    let status = run(step, jobserver);
    if let Some((tx, handle)) = dots {
        let _ = tx.send(());
        let _ = handle.join();
    }
    if status > 0 {
        crate::output::text(&format!("(bad exit status: {status})"));
        if !verbose {
            crate::output::line(&format!("\nFailed command:\n{}", step.cmd));
        } else {
            crate::output::line("");
        }
    } else {
        crate::output::line(" done.");
    }
    status
}

fn start_dots() -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(3)) {
            print!(".");
            let _ = std::io::stdout().flush();
        }
    });
    (tx, handle)
}

/// The words of `cmd` when it is a plain command line that bash would only
/// split on spaces (no quoting, expansion, redirection or operators), so it
/// can be run without starting a shell.
pub fn plain_words(cmd: &str) -> Option<Vec<&str>> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./=:+,@-".contains(c) || c == ' ';
    if cmd.trim().is_empty() || !cmd.chars().all(plain) {
        return None;
    }
    let words: Vec<&str> = cmd.split(' ').filter(|w| !w.is_empty()).collect();
    // An assignment prefix (`A=b cmd`) needs the shell.
    if words[0].contains('=') {
        return None;
    }
    Some(words)
}

fn run(step: &Step, jobserver: Option<&jobserver::Client>) -> i32 {
    let mut cmd = match plain_words(&step.cmd) {
        Some(words) => {
            let mut c = Command::new(words[0]);
            c.args(&words[1..]);
            c
        }
        None => {
            let mut c = Command::new("bash");
            c.arg("-c").arg(&step.cmd);
            c
        }
    };
    cmd.stdin(Stdio::null());
    if let Some(js) = jobserver {
        js.configure_make(&mut cmd);
    }
    if let Some(d) = &step.cwd {
        cmd.current_dir(d);
    }
    for (k, v) in &step.env {
        cmd.env(k, v);
    }
    match &step.log {
        Some(log) => {
            let started = Instant::now();
            append(
                log,
                &format!("\n{}\n# command: {}\n", step.description, step.cmd),
            );
            let file = OpenOptions::new().create(true).append(true).open(log);
            match file.and_then(|f| Ok((f.try_clone()?, f))) {
                Ok((a, b)) => {
                    cmd.stdout(a).stderr(b);
                }
                Err(_) => {
                    cmd.stdout(Stdio::null()).stderr(Stdio::null());
                }
            }
            let code = status_code(cmd.status());
            append(
                log,
                &format!(
                    "\n# exit code: {code}\n# elapsed time: {}\n{}\n",
                    hms(started.elapsed()),
                    "-".repeat(64)
                ),
            );
            code
        }
        None if step.background => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            status_code(cmd.status())
        }
        None => status_code(cmd.status()),
    }
}

fn status_code(r: std::io::Result<std::process::ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match r {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        Err(_) => 127,
    }
}

/// Append text to a log file, ignoring failures (a log must never stop a build).
pub fn append(log: &Path, text: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(log) {
        let _ = f.write_all(text.as_bytes());
    }
}

/// `HH:MM:SS` for an elapsed time, as upstream's `date -u +%T` prints it.
pub fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// The last `n` lines of a log file (for failure reports).
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The current time as `date` prints it in the C locale, in UTC
/// (e.g. `Tue Nov 24 21:09:33 UTC 2026`).
pub fn date_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_date(secs)
}

/// Format seconds since the epoch like `date -u`.
pub fn format_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} UTC {}",
        DAYS[(days.rem_euclid(7)) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        y
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, "Thu Jan  1 00:00:00 UTC 1970")]
    #[case(1_795_554_573, "Tue Nov 24 21:09:33 UTC 2026")]
    fn dates(#[case] secs: u64, #[case] want: &str) {
        assert_eq!(format_date(secs), want);
    }

    #[rstest]
    #[case("make -j2 KERNELRELEASE=6.1 -C /k M=/b", Some(vec!["make", "-j2", "KERNELRELEASE=6.1", "-C", "/k", "M=/b"]))]
    #[case("make -C $kernel_source_dir", None)]
    #[case("cd /x && make", None)]
    #[case("CC=clang make", None)]
    #[case("make 'a b'", None)]
    #[case("", None)]
    fn plain_commands_skip_the_shell(#[case] cmd: &str, #[case] want: Option<Vec<&str>>) {
        assert_eq!(plain_words(cmd), want);
    }

    #[test]
    fn log_framing_matches_upstream() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("make.log");
        let mut s = Step::new("echo hi; exit 3", "Building module(s)");
        s.log = Some(log.clone());
        s.background = false;
        assert_eq!(run(&s, None), 3);
        let text = std::fs::read_to_string(&log).unwrap();
        let want = format!(
            "\nBuilding module(s)\n# command: echo hi; exit 3\nhi\n\n# exit code: 3\n# elapsed time: 00:00:00\n{}\n",
            "-".repeat(64)
        );
        assert_eq!(text, want);
        assert_eq!(
            tail(&log, 2),
            vec!["# elapsed time: 00:00:00".to_string(), "-".repeat(64)]
        );
    }
}
