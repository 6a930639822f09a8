//! `dkms`: the drop-in command line. Parses upstream's argument forms and
//! runs the request through the engine; exits with upstream's codes, and
//! with 1 instead of 0 when its output could not be written.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use dkms_hook::report::{lost, Console, Say, Style};
use dkms_hook::text;
use dkms_hook::{child, cli, engine};

fn main() -> ExitCode {
    // Files and directories we create are readable by anyone, as upstream's umask 022.
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o022));
    // upstream unsets these so they cannot leak into module builds.
    for v in ["CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS"] {
        std::env::remove_var(v);
    }
    let mut say = Console::new(Style::Upstream);
    let c = run(&mut say);
    // Text that never reached its reader (a full disk under a log) makes
    // the run a failure, said on the other stream; a closed pipe does not.
    let c = match say.finish() {
        None => c,
        Some(l) => {
            say.tell(&l);
            lost::failed_status(c)
        }
    };
    code(c)
}

/// Everything but the end: parse, run the request; the exit status.
fn run(say: &mut Console) -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv0 = std::env::args().next().unwrap_or_else(|| "dkms".into());
    let parsed = match cli::dkms::parse(&args) {
        Ok(p) => p,
        Err(e) => {
            say.error(&e);
            if e.code() == 2
                && e.lines()
                    .first()
                    .is_some_and(|l| text::is_unknown_option(l))
            {
                say.out(&text::usage(&argv0));
            }
            return e.code();
        }
    };
    init_log(parsed.debug);
    if parsed.show_version {
        say.line(text::RELEASE);
        return 0;
    }
    if parsed.show_help {
        say.out(&text::usage(&argv0));
        return 0;
    }
    if parsed.request.quiet {
        say.quiet();
    }
    child::handle_signals();
    let c = engine::run(&parsed.request, say);
    child::hold_if_stopping();
    child::finish();
    c
}

/// Diagnostics: `DKMS_LOG` (e.g. `debug`), or debug with `--debug`.
fn init_log(debug: bool) {
    let mut b = env_logger::Builder::from_env(env_logger::Env::new().filter("DKMS_LOG"));
    if debug {
        b.filter_level(log::LevelFilter::Debug);
    }
    b.format_timestamp(None).init();
}

fn code(c: i32) -> ExitCode {
    ExitCode::from((c & 0xff) as u8)
}
