//! `dkms-hook __generate man|bash|zsh`: the hidden entry point that writes
//! dkms-hook's manual page or a shell completion to standard output, for
//! the package builds (`debian/gen-manpages.sh`,
//! `debian/gen-completions.sh`) and the tests.
//!
//! It is a word the binary checks before clap parses anything, not a
//! subcommand of [`super::hook::Cli`]: so the man page, the completions and
//! `--help` never show it, and the package builds need nothing but the
//! binary they ship (the RPM can be built from prebuilt binaries alone).

use std::io::Write;

use clap::{CommandFactory, Parser, ValueEnum};
use clap_complete::Shell;

use super::hook::Cli;
use super::manpage::{hook_page, Title};

/// The first argument that selects this entry point.
pub const ENTRY: &str = "__generate";

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// dkms-hook(8), roff source.
    Man,
    /// The bash completion of dkms-hook.
    Bash,
    /// The zsh completion of dkms-hook.
    Zsh,
}

/// The generator's own command line.
#[derive(Parser, Debug)]
#[command(
    name = "dkms-hook __generate",
    about = "Write dkms-hook's manual page or a shell completion to standard output"
)]
pub struct Args {
    /// What to write.
    #[arg(value_enum)]
    pub what: What,
    /// The date on the manual page's title line (YYYY-MM-DD).
    #[arg(long, default_value = "")]
    pub date: String,
    /// The package version on the manual page's title line.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    pub package_version: String,
}

/// The text `args` asks for.
pub fn render(args: &Args) -> std::io::Result<Vec<u8>> {
    let shell = match args.what {
        What::Man => {
            let title = Title {
                date: args.date.clone(),
                version: args.package_version.clone(),
            };
            return hook_page(&title).map(String::into_bytes);
        }
        What::Bash => Shell::Bash,
        What::Zsh => Shell::Zsh,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut out);
    if shell == Shell::Bash {
        return Ok(fix_bash_states(&String::from_utf8_lossy(&out)).into_bytes());
    }
    Ok(out)
}

/// The program's name.
const BIN: &str = "dkms-hook";

/// clap_complete's bash script names each subcommand's state twice, and for
/// a program name with a hyphen it spells the two differently (clap issue
/// 6421): the loop sets `dkms__hook__subcmd__prune`, the case arm waits for
/// `dkms__subcmd__hook__subcmd__prune`, so no subcommand's options would
/// complete. Spell the arms the way the loop does.
fn fix_bash_states(script: &str) -> String {
    let arm = BIN.replace('-', "__subcmd__");
    let state = BIN.replace('-', "__");
    script.replace(&arm, &state)
}

/// Run the generator on `argv` (starting with [`ENTRY`]); returns the exit
/// status.
pub fn main(argv: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let args = Args::parse_from(argv);
    let written = render(&args).and_then(|text| {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&text)?;
        stdout.flush()
    });
    match written {
        Ok(()) => 0,
        Err(e) => {
            let mut say = crate::report::Console::new(crate::report::Style::Hook);
            crate::report::Say::eline(&mut say, &format!("dkms-hook {ENTRY}: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bash() -> String {
        let args = Args::parse_from([ENTRY, "bash"]);
        String::from_utf8(render(&args).unwrap()).unwrap()
    }

    #[test]
    fn bash_states_agree() {
        let script = bash();
        assert!(!script.contains("dkms__subcmd__hook"));
        assert!(script.contains("cmd=\"dkms__hook__subcmd__prune\""));
        assert!(script.contains("\n        dkms__hook__subcmd__prune)\n"));
    }
}
