//! `dkms-hook`: the entry points package managers call. Each subcommand is
//! one event (see `--help`); all of them go through the same engine as
//! `dkms install`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use dkms_hook::plan::hook::exit_status_on_lost_output;
use dkms_hook::report::{lost, Console, Stream, Style};
use dkms_hook::{child, cli, engine};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::new().filter("DKMS_LOG"))
        .format_timestamp(None)
        .init();
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o022));
    for v in ["CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS"] {
        std::env::remove_var(v);
    }
    // The package builds generate the man page and completions from this
    // very binary (see cli::generate); nothing else takes this path.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == cli::generate::ENTRY)
    {
        return ExitCode::from(cli::generate::main(std::env::args_os().skip(1)));
    }
    let mut say = Console::new(Style::Hook);
    let parsed = match cli::hook::Cli::try_parse() {
        Ok(p) => p,
        Err(e) => {
            // clap prints its help, version and usage errors itself.
            let stream = if e.use_stderr() {
                Stream::Err
            } else {
                Stream::Out
            };
            say.record(stream, e.print());
            let c = e.exit_code();
            return code(finish(&mut say, c, lost::failed_status));
        }
    };
    let running = dkms_hook::observe::kernel::running_kernel();
    let req = cli::hook::request(parsed, &running);
    child::handle_signals();
    let c = engine::run(&req, &mut say);
    child::hold_if_stopping();
    child::finish();
    // kernel-install aborts every later plugin on 77: never return it.
    let c = if c == 77 { 0 } else { c };
    let c = finish(&mut say, c, |c| match engine::event(&req) {
        Some(ev) => exit_status_on_lost_output(ev, c),
        None => lost::failed_status(c),
    });
    code(c)
}

/// The exit status once the output is flushed: `c`, or `on_lost(c)` when
/// text could not be written (not a closed pipe), which is then said on
/// the other stream.
fn finish(say: &mut Console, c: i32, on_lost: impl FnOnce(i32) -> i32) -> i32 {
    match say.finish() {
        None => c,
        Some(l) => {
            say.tell(&l);
            on_lost(c)
        }
    }
}

fn code(c: i32) -> ExitCode {
    ExitCode::from((c & 0xff) as u8)
}
