//! What reading a dkms.conf printed, shown where the conf is used.
//!
//! Observation reads every dkms.conf once, before the run; upstream reads
//! one (and prints what reading it says) each time an action needs it.
//! [`Shown`] replays a read the way upstream's `read_conf[_strict]_or_die`
//! prints it, for both users of a conf: the steps of a run (`Ctx::conf`)
//! and the hooks' parallel builds (into each build's buffer), so a module's
//! dkms.conf says the same in a hook as in `dkms`.

use crate::error::Result;
use crate::observe::conf::{ConfRead, ModuleConf};
use crate::observe::ConfKey;
use crate::report::{Say, Stream};

/// Which read was shown last: upstream says what reading printed once for
/// the same read in a row (its strict warnings excepted).
#[derive(Debug, Default)]
pub struct Shown {
    last: Option<ConfKey>,
}

impl Shown {
    /// The conf `read` (the read of `key`) gives, after what reading it
    /// printed: bash's stderr, the `Deprecated feature` lines (strict
    /// reads), the `DIRECTIVE:` lines, then the strict warnings (strict
    /// reads, on every read as upstream's `read_conf_strict` prints them)
    /// or the `dkms.conf: Error!` lines of a conf that cannot be used.
    /// Only the last two are said again for the same read in a row.
    pub fn show<'c>(
        &mut self,
        say: &mut dyn Say,
        key: &ConfKey,
        read: &'c ConfRead,
    ) -> Result<&'c ModuleConf> {
        let again = self.last.as_ref() == Some(key);
        if !again {
            show_reading(say, key, read);
        }
        self.remember(key, read);
        match &read.result {
            Ok(c) => {
                if key.strict {
                    for w in &c.strict_warnings {
                        say.eline(w);
                    }
                }
                Ok(c)
            }
            Err(e) => {
                for l in &e.lines {
                    say.eline(l);
                }
                Err(e.error.clone())
            }
        }
    }

    /// What reading `key` printed was just shown by other means (a
    /// parallel build's output begins with it): as after [`Shown::show`],
    /// the same read next in a row does not say it again.
    pub fn remember(&mut self, key: &ConfKey, read: &ConfRead) {
        self.last = read.result.is_ok().then(|| key.clone());
    }
}

/// The conf of a build that runs on its own (a hook's parallel build):
/// what reading `key` printed goes first into the build's output, as the
/// first read of a run shows it.
pub fn for_build<'c>(
    say: &mut dyn Say,
    key: &ConfKey,
    read: &'c ConfRead,
) -> Result<&'c ModuleConf> {
    Shown::default().show(say, key, read)
}

/// What upstream prints while it reads the files: bash's stderr, the
/// deprecations (strict reads only), the `DIRECTIVE:` lines.
fn show_reading(say: &mut dyn Say, key: &ConfKey, read: &ConfRead) {
    if !read.bash_stderr.is_empty() {
        say.emit(Stream::Err, &read.bash_stderr);
    }
    if let Ok(c) = &read.result {
        if key.strict {
            for d in &c.deprecations {
                say.eline(d);
            }
        }
    }
    for l in &read.directive_lines {
        say.line(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::observe::conf::resolve::{resolve, ResolveOpts};
    use crate::observe::conf::static_reader::read_static;
    use crate::observe::conf::{ConfContext, ConfError};
    use crate::report::{Buffer, Style};

    fn key(strict: bool) -> ConfKey {
        ConfKey {
            path: "/usr/src/m-1/dkms.conf".into(),
            shown: "/var/lib/dkms/m/1/source/dkms.conf".into(),
            module: "m".into(),
            version: "1".into(),
            kernel: "6.1.0-1-amd64".into(),
            arch: "x86_64".into(),
            strict,
        }
    }

    /// A conf with a deprecated directive and no module, read strictly:
    /// it has a deprecation and a strict warning.
    fn zero_modules() -> ModuleConf {
        let text = "PACKAGE_NAME=m\nPACKAGE_VERSION=1\nREMAKE_INITRD=yes\n";
        let raw = read_static(text, &Default::default(), false).expect("static conf");
        let opts = ResolveOpts {
            distribution: "debian".into(),
            strict: true,
            conf_path: "dkms.conf".into(),
            ..Default::default()
        };
        let conf = resolve(&raw, &ConfContext::sample(), &opts).expect("valid conf");
        assert_eq!(conf.deprecations.len(), 1, "{conf:?}");
        assert_eq!(conf.strict_warnings.len(), 1, "{conf:?}");
        conf
    }

    /// A read that printed something of every kind.
    fn read(ok: bool) -> ConfRead {
        let result = if ok {
            Ok(zero_modules())
        } else {
            Err(ConfError {
                lines: vec!["dkms.conf: Error! No 'PACKAGE_NAME' directive specified.".into()],
                error: Error::msg("Bad conf file."),
            })
        };
        ConfRead {
            bash_stderr: "dkms.conf: line 3: x: command not found\n".into(),
            directive_lines: vec!["DIRECTIVE: MAKE=\"make\"".into()],
            result,
        }
    }

    /// What `dkms` shows for a build then an install of one module: one
    /// memory of the last read, as `Ctx::conf` keeps it.
    fn dkms_path(key: &ConfKey, read: &ConfRead) -> Buffer {
        let mut out = Buffer::new(Style::Upstream);
        let mut shown = Shown::default();
        let built = shown.show(&mut out, key, read).is_ok();
        if built {
            let _ = shown.show(&mut out, key, read);
        }
        out
    }

    /// What a hook shows for the same: the build reads in a worker into
    /// its buffer, the buffer is replayed, then the install reads in the
    /// run's context.
    fn hook_path(key: &ConfKey, read: &ConfRead) -> Buffer {
        let mut out = Buffer::new(Style::Upstream);
        let mut buf = Buffer::new(Style::Upstream);
        let built = for_build(&mut buf, key, read).is_ok();
        buf.replay(&mut out);
        let mut shown = Shown::default();
        shown.remember(key, read);
        if built {
            let _ = shown.show(&mut out, key, read);
        }
        out
    }

    #[test]
    fn the_hooks_parallel_build_and_dkms_say_the_same_for_the_same_read() {
        for strict in [true, false] {
            for ok in [true, false] {
                let (key, read) = (key(strict), read(ok));
                let (dkms, hook) = (dkms_path(&key, &read), hook_path(&key, &read));
                assert_eq!(dkms.items(), hook.items(), "strict {strict}, ok {ok}");
            }
        }
    }

    #[test]
    fn a_strict_read_says_everything_in_upstreams_order_then_only_its_warnings() {
        let out = dkms_path(&key(true), &read(true));
        let want: &[(Stream, &str)] = &[
            (
                Stream::Err,
                "dkms.conf: line 3: x: command not found\n\
                 Deprecated feature: REMAKE_INITRD (dkms.conf)\n",
            ),
            (Stream::Out, "DIRECTIVE: MAKE=\"make\"\n"),
            (
                Stream::Err,
                "dkms.conf: Warning! Zero modules specified.\n\
                 dkms.conf: Warning! Zero modules specified.\n",
            ),
        ];
        let got: Vec<(Stream, &str)> = out.items().iter().map(|(s, t)| (*s, t.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_lenient_read_shows_no_deprecation_nor_warning() {
        let mut out = Buffer::new(Style::Upstream);
        let read = read(true);
        assert!(for_build(&mut out, &key(false), &read).is_ok());
        let text: String = out.items().iter().map(|(_, t)| t.as_str()).collect();
        assert!(
            !text.contains("Deprecated") && !text.contains("Warning"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_read_says_its_errors_every_time() {
        let (key, read) = (key(true), read(false));
        let mut out = Buffer::new(Style::Upstream);
        let mut shown = Shown::default();
        for _ in 0..2 {
            let res = shown.show(&mut out, &key, &read);
            assert!(res.is_err());
        }
        let text: String = out.items().iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(text.matches("command not found").count(), 2, "{text}");
        assert_eq!(
            text.matches("Error! No 'PACKAGE_NAME'").count(),
            2,
            "{text}"
        );
    }
}
