//! The index of a flat apt repository: `Packages` (apt-ftparchive, else
//! dpkg-scanpackages), `Packages.gz` (gzip -9n: no name, no time) and
//! `Release` (apt-ftparchive; without it apt still takes a `[trusted=yes]`
//! source). The three are made in a private directory and renamed into the
//! repository one by one, `Release` last, so a client never reads a
//! `Release` that names an index not yet in place.

use std::path::Path;

use crate::child::in_path;
use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::package::{deliver, tool};
use crate::exec::Locked;
use crate::report::Say;

/// Write the index of the `n` `.deb` files in `repo`.
pub fn write(lock: &Locked, say: &mut dyn Say, repo: &Path, n: usize) -> Result<()> {
    let ftparchive = in_path("apt-ftparchive");
    let packages = if ftparchive {
        tool::run(&["apt-ftparchive", "packages", "."], repo, None)?
    } else {
        tool::require("dpkg-scanpackages", "dpkg-dev")?;
        tool::run(
            &["dpkg-scanpackages", "--multiversion", ".", "/dev/null"],
            repo,
            None,
        )?
    };
    let work = lock
        .temp_dir(repo, repo, ".dkms-hook-index-")
        .map_err(|e| Error::io(msg::CANNOT_USE_REPOSITORY, repo, e))?;
    let w = work.path();
    deliver::bytes(lock, repo, w, "Packages", &packages)?;
    tool::require("gzip", "gzip")?;
    let gz = tool::run(&["gzip", "-9", "-n", "-c", "Packages"], w, None)?;
    deliver::bytes(lock, repo, w, "Packages.gz", &gz)?;
    let mut made = vec!["Packages", "Packages.gz"];
    if ftparchive {
        let release = tool::run(&["apt-ftparchive", "release", "."], w, None)?;
        deliver::bytes(lock, repo, w, "Release", &release)?;
        made.push("Release");
    } else {
        say.line(msg::PUBLISH_NO_RELEASE);
    }
    for name in &made {
        lock.rename(repo, &w.join(name), &repo.join(name))
            .map_err(|e| Error::io(msg::CANNOT_USE_REPOSITORY, &repo.join(name), e))?;
    }
    say.line(&msg::publish_indexed_debs(n, repo, &made));
    Ok(())
}
