//! One error type for the whole tool: a [`Kind`] (one of upstream DKMS's
//! exit statuses, the table at the top of upstream's `dkms`), so a call
//! site says *what kind* of failure it is and the number follows from that;
//! the message lines upstream prints after `Error! ` (or `Warning: ` for the
//! BUILD_EXCLUSIVE skip); and the cause it came from, which `--debug`
//! prints.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::text;

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

/// What kind of failure, named after upstream's exit statuses: the exit
/// status follows from the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: not root, no write access, module/version not given, I/O failure.
    Denied,
    /// 2: bad option or combination, source directory or archive missing,
    /// a name that could escape the trees.
    Usage,
    /// 3: already added / not in the tree / `--all` with `-a`.
    State,
    /// 4: one action only, wrong kernel count, broken module, no dkms.conf,
    /// no os-release.
    Unusable,
    /// 5: `--all` not allowed, bad patch path, already installed.
    NotAllowed,
    /// 6: patch, install, depmod or tarball creation failed.
    InstallFailed,
    /// 7: a built module file is missing.
    BuiltModuleMissing,
    /// 8: bad dkms.conf, empty source, conflicting options.
    BadConf,
    /// 9: tarball and source-tree loading errors.
    Tarball,
    /// 10: make failed (or a malformed dkms.conf in a source tree).
    BuildFailed,
    /// 11: one or more modules failed during autoinstall.
    AutoinstallFailed,
    /// 12: the architecture could not be determined.
    NoArch,
    /// 13: BUILD_DEPENDS missing.
    BuildDepends,
    /// 14: kernel_preinst / kernel_prerm failed for some module.
    KernelHook,
    /// 15: a `cd` failed.
    Chdir,
    /// 16: empty kernel version or arch.
    EmptyKernel,
    /// 21: the kernel headers are missing.
    NoHeaders,
    /// 77: BUILD_EXCLUSIVE rules the kernel out (printed as a warning).
    BuildExclusive,
    /// 101: PRE_INSTALL failed.
    PreInstall,
    /// A build script's own exit status, passed on as upstream's
    /// `run_build_script` does (`exit $res`).
    Script(i32),
}

impl Kind {
    /// The exit status upstream uses for this kind of failure.
    pub fn code(self) -> i32 {
        match self {
            Kind::Denied => 1,
            Kind::Usage => 2,
            Kind::State => 3,
            Kind::Unusable => 4,
            Kind::NotAllowed => 5,
            Kind::InstallFailed => 6,
            Kind::BuiltModuleMissing => 7,
            Kind::BadConf => 8,
            Kind::Tarball => 9,
            Kind::BuildFailed => 10,
            Kind::AutoinstallFailed => 11,
            Kind::NoArch => 12,
            Kind::BuildDepends => 13,
            Kind::KernelHook => 14,
            Kind::Chdir => 15,
            Kind::EmptyKernel => 16,
            Kind::NoHeaders => 21,
            Kind::BuildExclusive => 77,
            Kind::PreInstall => 101,
            Kind::Script(c) => c,
        }
    }
}

/// The cause an error was made from (an OS error, a child's failure),
/// kept for `--debug`.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Every way the tool fails: a kind (the exit status), the message upstream
/// prints after `Error! `, and the cause it came from.
#[derive(Clone)]
pub struct Error {
    kind: Kind,
    msg: Msg,
    source: Option<Cause>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("msg", &self.msg)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

/// Two errors are the same failure when kind and message are (the cause
/// is what led to it, not what it is).
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.msg == other.msg
    }
}

impl Eq for Error {}

/// Shorthand for results throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $kind:ident;)*) => {
        impl Error {
            $(
                $(#[$doc])*
                pub fn $name<S: Into<String>>(lines: impl IntoIterator<Item = S>) -> Error {
                    Error::new(Kind::$kind, Msg::new(lines))
                }
            )*
        }
    };
}

constructors! {
    /// [`Kind::Denied`] (1).
    denied => Denied;
    /// [`Kind::Usage`] (2).
    usage => Usage;
    /// [`Kind::State`] (3).
    state => State;
    /// [`Kind::Unusable`] (4).
    unusable => Unusable;
    /// [`Kind::NotAllowed`] (5).
    not_allowed => NotAllowed;
    /// [`Kind::InstallFailed`] (6).
    install_failed => InstallFailed;
    /// [`Kind::BuiltModuleMissing`] (7).
    built_missing => BuiltModuleMissing;
    /// [`Kind::BadConf`] (8).
    bad_conf => BadConf;
    /// [`Kind::Tarball`] (9).
    tarball => Tarball;
    /// [`Kind::BuildFailed`] (10).
    build_failed => BuildFailed;
    /// [`Kind::AutoinstallFailed`] (11).
    autoinstall_failed => AutoinstallFailed;
    /// [`Kind::NoArch`] (12).
    no_arch => NoArch;
    /// [`Kind::BuildDepends`] (13).
    build_depends => BuildDepends;
    /// [`Kind::KernelHook`] (14).
    kernel_hook => KernelHook;
    /// [`Kind::Chdir`] (15).
    chdir => Chdir;
    /// [`Kind::EmptyKernel`] (16).
    empty_kernel => EmptyKernel;
    /// [`Kind::NoHeaders`] (21).
    no_headers => NoHeaders;
    /// [`Kind::BuildExclusive`] (77).
    build_exclusive => BuildExclusive;
    /// [`Kind::PreInstall`] (101).
    pre_install => PreInstall;
}

impl Error {
    /// An error of `kind` with `msg`.
    pub fn new(kind: Kind, msg: Msg) -> Self {
        Error {
            kind,
            msg,
            source: None,
        }
    }

    /// A one-line [`Kind::Denied`].
    pub fn msg(line: impl Into<String>) -> Self {
        Error::denied([line.into()])
    }

    /// An I/O failure on `path`: `<what> <path>: <the OS error>`
    /// ([`Kind::Denied`], exit 1; change the kind with [`Error::into_kind`]),
    /// the OS error kept as its cause.
    pub fn io(what: &str, path: &Path, err: io::Error) -> Self {
        Error::msg(format!("{what} {}: {}", path.display(), os_error(&err))).caused_by(err)
    }

    /// A script's exit status that was already reported.
    pub fn script_status(code: i32) -> Self {
        Error::new(
            Kind::Script(code),
            Msg {
                lines: Vec::new(),
                shown: true,
            },
        )
    }

    /// The same error with `cause` kept as what led to it.
    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The exit status upstream uses for this failure.
    pub fn code(&self) -> i32 {
        self.kind.code()
    }

    /// The message.
    pub fn msg_ref(&self) -> &Msg {
        &self.msg
    }

    /// The message lines.
    pub fn lines(&self) -> &[String] {
        &self.msg.lines
    }

    /// The same message as another kind of failure (another exit status),
    /// e.g. an I/O error during install becomes [`Kind::InstallFailed`].
    pub fn into_kind(mut self, kind: Kind) -> Error {
        self.kind = kind;
        self
    }

    /// The same error, marked as already shown to the user.
    pub fn shown(mut self) -> Self {
        self.msg.shown = true;
        self
    }

    /// Lines added after the message (e.g. the cause).
    pub fn with_lines<S: Into<String>>(mut self, more: impl IntoIterator<Item = S>) -> Self {
        self.msg.lines.extend(more.into_iter().map(Into::into));
        self
    }

    /// Whether it was already shown.
    pub fn is_shown(&self) -> bool {
        self.msg.shown
    }

    /// True for the BUILD_EXCLUSIVE skip (77), which callers count as skipped.
    pub fn is_skip(&self) -> bool {
        self.kind == Kind::BuildExclusive
    }

    /// What led to it, outermost first (for `--debug`).
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static));
        while let Some(e) = next {
            out.push(e.to_string());
            next = e.source();
        }
        out
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

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

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
        assert_eq!(e.clone().into_kind(Kind::InstallFailed).code(), 6);
        assert_eq!(e.causes(), ["No space left on device (os error 28)"]);
    }
}
