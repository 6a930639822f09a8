//! `dkms`: the drop-in command line. Parses upstream's argument forms and
//! runs the request through the engine; exits with upstream's codes.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use dkms_hook::report::{Console, Say, Style};
use dkms_hook::text;
use dkms_hook::{cli, engine, exec};

fn main() -> ExitCode {
    // Files and directories we create are readable by anyone, as upstream's umask 022.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // upstream unsets these so they cannot leak into module builds.
    for v in ["CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS"] {
        std::env::remove_var(v);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv0 = std::env::args().next().unwrap_or_else(|| "dkms".into());
    let mut say = Console::new(Style::Upstream);
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
            return code(e.code());
        }
    };
    init_log(parsed.debug);
    if parsed.show_version {
        say.line(text::RELEASE);
        return ExitCode::SUCCESS;
    }
    if parsed.show_help {
        say.out(&text::usage(&argv0));
        return ExitCode::SUCCESS;
    }
    if parsed.request.quiet {
        say.quiet();
    }
    exec::children::handle_signals();
    let c = engine::run(&parsed.request, &mut say);
    exec::children::hold_if_stopping();
    code(c)
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
