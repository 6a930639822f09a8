//! The `.deb`: `DEBIAN/control`, `postinst` and `postrm` next to the
//! payload, built by `dpkg-deb --root-owner-group -Zxz` with
//! SOURCE_DATE_EPOCH set (dpkg-deb sorts the entries and clamps their
//! times; the staging tree's times are the epoch already).

use std::path::Path;

use crate::error::Result;
use crate::exec::package::{staging, tool};
use crate::plan::package::{control, scripts, BinaryPackage};

/// Build the `.deb` of `p` from the payload staged in `tree`, as `file`.
pub fn build(p: &BinaryPackage, tree: &Path, file: &Path) -> Result<()> {
    tool::require("dpkg-deb", "dpkg")?;
    let debian = tree.join("DEBIAN");
    let k = &p.record.kernel;
    staging::write(
        tree,
        &debian.join("control"),
        control::control(p, staging::size_kib(p)).as_bytes(),
        0o644,
    )?;
    staging::write(
        tree,
        &debian.join("postinst"),
        scripts::deb_postinst(k).as_bytes(),
        0o755,
    )?;
    staging::write(
        tree,
        &debian.join("postrm"),
        scripts::deb_postrm(k).as_bytes(),
        0o755,
    )?;
    staging::set_times(tree, p.epoch)?;
    let tree_s = tree.display().to_string();
    let file_s = file.display().to_string();
    tool::run(
        &[
            "dpkg-deb",
            "--root-owner-group",
            "-Zxz",
            "--build",
            &tree_s,
            &file_s,
        ],
        tree.parent().unwrap_or(tree),
        Some(p.epoch),
    )?;
    Ok(())
}
