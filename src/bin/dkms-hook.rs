//! `dkms-hook`: the entry points package managers call. Each subcommand is
//! one event (see `--help`); all of them go through the same engine as
//! `dkms install`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use dkms_hook::report::{Console, Style};
use dkms_hook::{cli, engine, exec};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::new().filter("DKMS_LOG"))
        .format_timestamp(None)
        .init();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
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
    let parsed = cli::hook::Cli::parse();
    let running = dkms_hook::observe::kernel::running_kernel();
    let req = cli::hook::request(parsed, &running);
    let mut say = Console::new(Style::Hook);
    exec::children::handle_signals();
    let c = engine::run(&req, &mut say);
    exec::children::hold_if_stopping();
    // kernel-install aborts every later plugin on 77: never return it.
    let c = if c == 77 { 0 } else { c };
    ExitCode::from((c & 0xff) as u8)
}
