//! The index of an RPM repository: `repodata/` by createrepo_c (which
//! replaces it atomically itself), or a note when createrepo_c is not
//! installed: the packages stay in the directory, unindexed.

use std::path::Path;

use crate::child::in_path;
use crate::error::Result;
use crate::exec::msg;
use crate::exec::package::tool;
use crate::report::Say;

/// Index the `n` `.rpm` files in `repo`.
pub fn write(say: &mut dyn Say, repo: &Path, n: usize) -> Result<()> {
    if !in_path("createrepo_c") {
        say.line(&msg::publish_rpms_not_indexed(n));
        return Ok(());
    }
    tool::run(
        &[
            "createrepo_c",
            "--quiet",
            "--update",
            "--excludes",
            ".*",
            ".",
        ],
        repo,
        None,
    )?;
    say.line(&msg::publish_indexed_rpms(n, repo));
    Ok(())
}
