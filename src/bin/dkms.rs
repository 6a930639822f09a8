//! `dkms`: the drop-in command line. Parses upstream's argument forms and
//! hands the action to the library; prints errors the way upstream does and
//! exits with upstream's codes.

use dkms_hook::{actions, cli, output};

fn main() {
    env_logger::Builder::from_env(env_logger::Env::new().filter("DKMS_LOG"))
        .format_timestamp(None)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv0 = std::env::args().next().unwrap_or_else(|| "dkms".into());
    // Files and directories we create are readable by anyone, as upstream's umask 022.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // upstream unsets these so they cannot leak into module builds.
    for v in ["CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS"] {
        std::env::remove_var(v);
    }
    let mut inv = match cli::parse(&args) {
        Ok(i) => i,
        Err(e) => {
            e.report();
            if e.code == 2
                && e.lines
                    .first()
                    .is_some_and(|l| l.starts_with("Unknown option"))
            {
                print!("{}", output::usage(&argv0));
            }
            std::process::exit(e.code);
        }
    };
    if inv.show_version {
        println!("{}", output::RELEASE);
        return;
    }
    if inv.show_help {
        print!("{}", output::usage(&argv0));
        return;
    }
    if inv.quiet {
        silence();
    }
    for w in &inv.warnings {
        eprintln!("{w}");
    }
    let code = actions::run(&mut inv);
    std::process::exit(code);
}

/// `-q`: upstream redirects stdout and stderr to /dev/null.
fn silence() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let fd = null.as_raw_fd();
        let _ = nix::unistd::dup2(fd, 1);
        let _ = nix::unistd::dup2(fd, 2);
    }
}
