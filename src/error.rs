//! One error type for the whole tool. Each variant is one of upstream DKMS's
//! exit statuses (the table at the top of upstream's `dkms`), so a call site
//! says *what kind* of failure it is and the number follows from that; the
//! message lines are what upstream prints after `Error! ` (or `Warning: `
//! for the BUILD_EXCLUSIVE skip).

use std::fmt;
use std::io;
use std::path::Path;

use crate::text;

/// `match` over every variant, binding its message as `$m` (one list of
/// variants for the borrowing and the mutating accessor).
macro_rules! each_msg {
    ($e:expr, $m:ident => $body:expr) => {
        match $e {
            Error::Denied($m)
            | Error::Usage($m)
            | Error::State($m)
            | Error::Unusable($m)
            | Error::NotAllowed($m)
            | Error::InstallFailed($m)
            | Error::BuiltModuleMissing($m)
            | Error::BadConf($m)
            | Error::Tarball($m)
            | Error::BuildFailed($m)
            | Error::AutoinstallFailed($m)
            | Error::NoArch($m)
            | Error::BuildDepends($m)
            | Error::KernelHook($m)
            | Error::Chdir($m)
            | Error::EmptyKernel($m)
            | Error::NoHeaders($m)
            | Error::BuildExclusive($m)
            | Error::PreInstall($m)
            | Error::Script(_, $m) => $body,
        }
    };
}
/// The lines of an error message and whether they were already shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msg {
    /// Message lines; the first follows `Error! `.
    pub lines: Vec<String>,
    /// Already reported to the user (e.g. the `dkms.conf: Error!` lines, or
    /// a script whose failure was printed by the runner): print nothing more.
    pub shown: bool,
}

impl Msg {
    /// A message of `lines`.
    pub fn new<S: Into<String>>(lines: impl IntoIterator<Item = S>) -> Msg {
        Msg {
            lines: lines.into_iter().map(Into::into).collect(),
            shown: false,
        }
    }
}

/// Every way the tool fails, named after upstream's exit statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// 1: not root, no write access, module/version not given, I/O failure.
    Denied(Msg),
    /// 2: bad option or combination, source directory or archive missing,
    /// a name that could escape the trees.
    Usage(Msg),
    /// 3: already added / not in the tree / `--all` with `-a`.
    State(Msg),
    /// 4: one action only, wrong kernel count, broken module, no dkms.conf,
    /// no os-release.
    Unusable(Msg),
    /// 5: `--all` not allowed, bad patch path, already installed.
    NotAllowed(Msg),
    /// 6: patch, install, depmod or tarball creation failed.
    InstallFailed(Msg),
    /// 7: a built module file is missing.
    BuiltModuleMissing(Msg),
    /// 8: bad dkms.conf, empty source, conflicting options.
    BadConf(Msg),
    /// 9: tarball and source-tree loading errors.
    Tarball(Msg),
    /// 10: make failed (or a malformed dkms.conf in a source tree).
    BuildFailed(Msg),
    /// 11: one or more modules failed during autoinstall.
    AutoinstallFailed(Msg),
    /// 12: the architecture could not be determined.
    NoArch(Msg),
    /// 13: BUILD_DEPENDS missing.
    BuildDepends(Msg),
    /// 14: kernel_preinst / kernel_prerm failed for some module.
    KernelHook(Msg),
    /// 15: a `cd` failed.
    Chdir(Msg),
    /// 16: empty kernel version or arch.
    EmptyKernel(Msg),
    /// 21: the kernel headers are missing.
    NoHeaders(Msg),
    /// 77: BUILD_EXCLUSIVE rules the kernel out (printed as a warning).
    BuildExclusive(Msg),
    /// 101: PRE_INSTALL failed.
    PreInstall(Msg),
    /// A build script's own exit status, passed on as upstream's
    /// `run_build_script` does (`exit $res`).
    Script(i32, Msg),
}

/// Shorthand for results throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {
        impl Error {
            $(
                $(#[$doc])*
                pub fn $name<S: Into<String>>(lines: impl IntoIterator<Item = S>) -> Error {
                    Error::$variant(Msg::new(lines))
                }
            )*
        }
    };
}

constructors! {
    /// [`Error::Denied`] (1).
    denied => Denied;
    /// [`Error::Usage`] (2).
    usage => Usage;
    /// [`Error::State`] (3).
    state => State;
    /// [`Error::Unusable`] (4).
    unusable => Unusable;
    /// [`Error::NotAllowed`] (5).
    not_allowed => NotAllowed;
    /// [`Error::InstallFailed`] (6).
    install_failed => InstallFailed;
    /// [`Error::BuiltModuleMissing`] (7).
    built_missing => BuiltModuleMissing;
    /// [`Error::BadConf`] (8).
    bad_conf => BadConf;
    /// [`Error::Tarball`] (9).
    tarball => Tarball;
    /// [`Error::BuildFailed`] (10).
    build_failed => BuildFailed;
    /// [`Error::AutoinstallFailed`] (11).
    autoinstall_failed => AutoinstallFailed;
    /// [`Error::NoArch`] (12).
    no_arch => NoArch;
    /// [`Error::BuildDepends`] (13).
    build_depends => BuildDepends;
    /// [`Error::KernelHook`] (14).
    kernel_hook => KernelHook;
    /// [`Error::Chdir`] (15).
    chdir => Chdir;
    /// [`Error::EmptyKernel`] (16).
    empty_kernel => EmptyKernel;
    /// [`Error::NoHeaders`] (21).
    no_headers => NoHeaders;
    /// [`Error::BuildExclusive`] (77).
    build_exclusive => BuildExclusive;
    /// [`Error::PreInstall`] (101).
    pre_install => PreInstall;
}

impl Error {
    /// A one-line [`Error::Denied`].
    pub fn msg(line: impl Into<String>) -> Self {
        Error::denied([line.into()])
    }

    /// An I/O failure on `path`: `<what> <path>: <the OS error>`
    /// ([`Error::Denied`], exit 1; change the kind with [`Error::into_kind`]).
    pub fn io(what: &str, path: &Path, err: io::Error) -> Self {
        Error::msg(format!("{what} {}: {}", path.display(), os_error(&err)))
    }

    /// A script's exit status that was already reported.
    pub fn script_status(code: i32) -> Self {
        Error::Script(
            code,
            Msg {
                lines: Vec::new(),
                shown: true,
            },
        )
    }

    /// The exit status upstream uses for this failure.
    pub fn code(&self) -> i32 {
        match self {
            Error::Denied(_) => 1,
            Error::Usage(_) => 2,
            Error::State(_) => 3,
            Error::Unusable(_) => 4,
            Error::NotAllowed(_) => 5,
            Error::InstallFailed(_) => 6,
            Error::BuiltModuleMissing(_) => 7,
            Error::BadConf(_) => 8,
            Error::Tarball(_) => 9,
            Error::BuildFailed(_) => 10,
            Error::AutoinstallFailed(_) => 11,
            Error::NoArch(_) => 12,
            Error::BuildDepends(_) => 13,
            Error::KernelHook(_) => 14,
            Error::Chdir(_) => 15,
            Error::EmptyKernel(_) => 16,
            Error::NoHeaders(_) => 21,
            Error::BuildExclusive(_) => 77,
            Error::PreInstall(_) => 101,
            Error::Script(c, _) => *c,
        }
    }

    /// The message.
    pub fn msg_ref(&self) -> &Msg {
        each_msg!(self, m => m)
    }

    fn msg_mut(&mut self) -> &mut Msg {
        each_msg!(self, m => m)
    }

    /// The message lines.
    pub fn lines(&self) -> &[String] {
        &self.msg_ref().lines
    }

    /// The same message as another kind of failure (another exit status),
    /// e.g. an I/O error during install becomes [`Error::InstallFailed`].
    pub fn into_kind(self, kind: fn(Msg) -> Error) -> Error {
        let msg = self.msg_ref().clone();
        kind(msg)
    }

    /// The same error, marked as already shown to the user.
    pub fn shown(mut self) -> Self {
        self.msg_mut().shown = true;
        self
    }

    /// Lines added after the message (e.g. the cause).
    pub fn with_lines<S: Into<String>>(mut self, more: impl IntoIterator<Item = S>) -> Self {
        self.msg_mut()
            .lines
            .extend(more.into_iter().map(Into::into));
        self
    }

    /// Whether it was already shown.
    pub fn is_shown(&self) -> bool {
        self.msg_ref().shown
    }

    /// True for the BUILD_EXCLUSIVE skip (77), which callers count as skipped.
    pub fn is_skip(&self) -> bool {
        matches!(self, Error::BuildExclusive(_))
    }
}

/// The OS error text for a failure, e.g. `No space left on device (os error 28)`
/// without the noise: `No space left on device`.
pub fn os_error(err: &io::Error) -> String {
    let s = err.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl fmt::Display for Error {
    /// What upstream prints on stderr: `\nError! line...` or `Warning: line...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_skip() {
            write!(f, "{}", text::WARNING_PREFIX)?;
        } else {
            write!(f, "{}", text::ERROR_PREFIX)?;
        }
        for l in self.lines() {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Error::denied(["x"]), 1)]
    #[case(Error::usage(["x"]), 2)]
    #[case(Error::bad_conf(["x"]), 8)]
    #[case(Error::no_headers(["x"]), 21)]
    #[case(Error::build_exclusive(["x"]), 77)]
    #[case(Error::pre_install(["x"]), 101)]
    #[case(Error::script_status(3), 3)]
    fn codes(#[case] e: Error, #[case] code: i32) {
        assert_eq!(e.code(), code);
    }

    #[test]
    fn display_matches_upstream() {
        assert_eq!(Error::state(["a", "b"]).to_string(), "\nError! a\nb\n");
        assert_eq!(Error::build_exclusive(["a"]).to_string(), "Warning: a\n");
    }

    #[test]
    fn io_names_the_cause() {
        let e = Error::io(
            "Cannot copy to",
            Path::new("/x"),
            io::Error::from_raw_os_error(28),
        );
        assert_eq!(e.lines(), ["Cannot copy to /x: No space left on device"]);
        assert_eq!(e.clone().into_kind(Error::InstallFailed).code(), 6);
    }
}
