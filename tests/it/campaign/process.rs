//! Running one command of an event the way the campaign needs: spawned
//! (not run to completion) so that it can be killed at a moment of the
//! campaign's choosing, its output collected, and its children left alone,
//! so that a process that outlives its parent is found, not hidden.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::*;

use super::event::Phase;
use super::rng::Rng;

/// A spawned command.
pub struct Running {
    command: String,
    pid: i32,
    exited: mpsc::Receiver<std::io::Result<ExitStatus>>,
    status: Option<std::io::Result<ExitStatus>>,
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
}

/// Spawns `bin args` against `root`, with `DKMS_HOOK_FAULT=fault` when given.
pub fn spawn(root: &TestRoot, bin: &str, args: &[String], fault: Option<&str>) -> Running {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = root.command(bin, &args);
    cmd.env_remove("DKMS_HOOK_FAULT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(f) = fault {
        cmd.env("DKMS_HOOK_FAULT", f);
    }
    let command = format!(
        "{}{} {}",
        fault
            .map(|f| format!("DKMS_HOOK_FAULT={f} "))
            .unwrap_or_default(),
        bin.rsplit('/').next().unwrap_or(bin),
        args.join(" ")
    );
    let mut child = dkms_hook::child::retry_text_busy(|| cmd.spawn())
        .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
    let pid = child.id() as i32;
    let mut o = child.stdout.take().expect("stdout");
    let mut e = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = o.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = e.read_to_end(&mut b);
        b
    });
    let (tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    Running {
        command,
        pid,
        exited,
        status: None,
        out,
        err,
    }
}

/// The processes below `pid`: (pid, command name).
fn descendants(pid: i32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in children
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
            {
                let comm = std::fs::read_to_string(format!("/proc/{c}/comm")).unwrap_or_default();
                out.push((c, comm.trim().to_string()));
                todo.push(c);
            }
        }
    }
    out
}

impl Running {
    /// True once the process has exited.
    fn done(&mut self) -> bool {
        if self.status.is_none() {
            if let Ok(s) = self.exited.try_recv() {
                self.status = Some(s);
            }
        }
        self.status.is_some()
    }

    /// SIGKILL to the process (not its children: they must die with it).
    fn kill(&mut self) -> bool {
        if self.done() {
            return false;
        }
        rustix::process::Pid::from_raw(self.pid).is_some_and(|p| {
            rustix::process::kill_process(p, rustix::process::Signal::KILL).is_ok()
        })
    }

    /// Kills the process during `phase` (a random moment of it). True if
    /// it was killed; false if it ended first.
    pub fn kill_during(&mut self, phase: Phase, rng: &mut Rng, limit: Duration) -> bool {
        let start = Instant::now();
        let name = match phase {
            Phase::Delay(ms) => {
                let until = start + Duration::from_millis(ms);
                while Instant::now() < until {
                    if self.done() {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                return self.kill();
            }
            Phase::Make => "make",
            Phase::Depmod => "depmod",
        };
        while start.elapsed() < limit {
            if self.done() {
                return false;
            }
            if descendants(self.pid).iter().any(|(_, c)| c == name) {
                std::thread::sleep(Duration::from_millis(rng.below(if name == "make" {
                    30
                } else {
                    4
                })));
                return self.kill();
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        false
    }

    /// Waits for the end (killing its process group past `timeout`).
    pub fn wait(mut self, timeout: Duration) -> Output {
        let st = match self.status.take() {
            Some(s) => s,
            None => match self.exited.recv_timeout(timeout) {
                Ok(s) => s,
                Err(_) => {
                    if let Some(p) = rustix::process::Pid::from_raw(self.pid) {
                        let _ =
                            rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
                    }
                    let s = self.exited.recv().expect("child reaped");
                    let mut o = self.collect(s);
                    o.stderr.push_str("\n[campaign: timed out and killed]");
                    return o;
                }
            },
        };
        self.collect(st)
    }

    fn collect(self, st: std::io::Result<ExitStatus>) -> Output {
        let st = st.expect("wait for the child");
        let code = st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
        // Output threads end when every writer closed the pipes; a child
        // that outlived the process would keep them open, so do not wait
        // for long.
        let take = |h: std::thread::JoinHandle<Vec<u8>>| -> String {
            let until = Instant::now() + Duration::from_secs(5);
            while !h.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
            } else {
                "[campaign: output still open: a process outlived the command]".into()
            }
        };
        Output {
            command: self.command,
            code,
            stdout: take(self.out),
            stderr: take(self.err),
        }
    }
}
