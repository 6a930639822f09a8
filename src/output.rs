//! User-visible strings that are interface facts shared by several actions:
//! the release string, the usage text, and upstream's status-line format.

/// What `dkms --version` prints and make.log headers carry: the upstream
/// release this tool is a drop-in for (scripts compare it).
pub const RELEASE: &str = "dkms-3.4.3";

/// Upstream's usage text (`dkms --help`), with `$0` filled in.
pub fn usage(argv0: &str) -> String {
    format!(
        "Usage: {argv0} [action] [options]
  [action]  = {{ add | remove | build | unbuild | install | uninstall | match |
               autoinstall | mktarball | ldtarball | status | generate_mok |
               kernel_preinst | kernel_postinst | kernel_prerm }}
  [options] = [-m module] [-v module-version] [-k kernel-version] [-a arch]
              [-c dkms.conf-location] [-q] [--force] [--force-version-override] [--all]
              [--templatekernel=kernel] [--directive='cli-directive=cli-value']
              [--config=kernel-include/config/auto.conf-location] [--archive=tarball-location]
              [--kernelsourcedir=source-location] [--rpm_safe_upgrade]
              [--dkmstree path] [--sourcetree path] [--installtree path]
              [--binaries-only] [--source-only] [--verbose]
              [--no-depmod] [--modprobe-on-install] [-j number] [--version] [--help]
  extensions: [--root dir] [--output text|json|yaml] (status)
"
    )
}

/// The usage lines upstream adds to "Arguments <module> and <module-version> are not specified."
pub fn module_args_usage(action: &str) -> Vec<String> {
    vec![
        format!("Usage: {action} <module>/<module-version> or"),
        format!("       {action} -m <module>/<module-version> or"),
        format!("       {action} -m <module> -v <module-version>"),
    ]
}

use std::cell::RefCell;
use std::io::Write;

thread_local! {
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Start capturing this thread's progress text (parallel builds print their
/// output as one block when they finish, so lines never interleave).
pub fn capture_start() {
    CAPTURE.with(|c| *c.borrow_mut() = Some(String::new()));
}

/// Stop capturing and return what was captured.
pub fn capture_take() -> String {
    CAPTURE.with(|c| c.borrow_mut().take().unwrap_or_default())
}

/// True while this thread's output is captured.
pub fn capturing() -> bool {
    CAPTURE.with(|c| c.borrow().is_some())
}

/// Write progress text to stdout, or to the capture buffer.
pub fn text(s: &str) {
    let captured = CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some(buf) => {
            buf.push_str(s);
            true
        }
        None => false,
    });
    if !captured {
        let mut out = std::io::stdout();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    }
}

/// [`text`] plus a newline.
pub fn line(s: &str) {
    text(&format!("{s}\n"));
}
