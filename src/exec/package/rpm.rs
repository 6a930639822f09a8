//! The `.rpm`: a generated spec whose `%install` copies the staged payload,
//! built by `rpmbuild -bb` in a private top directory with
//! SOURCE_DATE_EPOCH set (the spec pins the build host, the build time
//! and the file times to it).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::package::{staging, tool};
use crate::plan::package::{rpm_spec, BinaryPackage, Format};

/// Build the `.rpm` of `p` from the payload staged in `tree`, working in
/// `work`; returns the file rpmbuild wrote.
pub fn build(p: &BinaryPackage, tree: &Path, work: &Path) -> Result<PathBuf> {
    tool::require("rpmbuild", "rpm")?;
    staging::set_times(tree, p.epoch)?;
    let spec = work.join(format!("{}.spec", p.name));
    staging::write(work, &spec, rpm_spec::spec(p, tree).as_bytes(), 0o644)?;
    let top = work.join("rpmbuild");
    let rpms = work.join("RPMS");
    let d = |name: &str, v: &Path| format!("{name} {}", v.display());
    let (top_d, rpm_d, tmp_d) = (d("_topdir", &top), d("_rpmdir", &rpms), d("_tmppath", work));
    let spec_s = spec.display().to_string();
    tool::run(
        &[
            "rpmbuild", "-bb", "--quiet", "--target", &p.arch, "--define", &top_d, "--define",
            &rpm_d, "--define", &tmp_d, &spec_s,
        ],
        work,
        Some(p.epoch),
    )?;
    let built = rpms.join(p.file_name(Format::Rpm));
    if built.is_file() {
        Ok(built)
    } else {
        Err(Error::install_failed(msg::package_tool_failed(
            "rpmbuild",
            msg::NO_PACKAGE_WRITTEN,
            &built.display().to_string(),
        )))
    }
}
