//! Running the packaging and indexing programs (dpkg-deb, rpmbuild,
//! apt-ftparchive, dpkg-scanpackages, gzip, createrepo_c): checked for
//! first, with a clear error naming the Debian package to install when
//! missing; run in the C locale with SOURCE_DATE_EPOCH set; their output
//! shown only when they fail.

use std::path::Path;
use std::process::Command;

use crate::child::in_path;
use crate::error::{Error, Result};
use crate::exec::msg;

/// Fail (exit 4) unless `tool` is in PATH; `package` provides it.
pub fn require(tool: &str, package: &str) -> Result<()> {
    if in_path(tool) {
        Ok(())
    } else {
        Err(Error::unusable(msg::package_tool_missing(tool, package)))
    }
}

/// Run `argv` in `dir`; its stdout when it succeeds, else an error (exit 6)
/// with everything it printed.
pub fn run(argv: &[&str], dir: &Path, epoch: Option<u64>) -> Result<Vec<u8>> {
    let Some((prog, args)) = argv.split_first() else {
        return Ok(Vec::new());
    };
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .env_remove("LANG")
        .env("TZ", "UTC")
        .stdin(std::process::Stdio::null());
    if let Some(e) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", e.to_string());
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = crate::child::spawn(&mut cmd)
        .and_then(|c| c.wait_with_output())
        .map_err(|e| {
            Error::install_failed(msg::package_tool_failed(
                prog,
                &crate::error::os_error(&e),
                "",
            ))
            .caused_by(e)
        })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let mut shown = String::from_utf8_lossy(&out.stdout).into_owned();
    shown.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(Error::install_failed(msg::package_tool_failed(
        prog,
        &out.status.to_string(),
        shown.trim_end(),
    )))
}
