//! Upstream's `check_version_sanity` for one record of an install: an
//! OBSOLETE_BY kernel, or a module of the same name in the kernel's tree
//! that is newer or the same version, keeps ours out (unless forced).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::observe::conf::{ModuleConf, ModuleRecord};
use crate::observe::files::{compressed_or_uncompressed, find_module, info};
use crate::observe::modinfo::{compare_module_version, VersionCmp};
use crate::observe::World;
use crate::plan::Mvka;
use crate::report::Say;
use crate::text;

/// `p` with `suffix` appended to its file name.
pub fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Upstream's `check_version_sanity`: false (with upstream's message) when
/// the module must not be installed for this record.
#[allow(clippy::too_many_arguments)]
pub fn version_sane(
    world: &World,
    say: &mut dyn Say,
    at: &Mvka,
    conf: &ModuleConf,
    r: &ModuleRecord,
    suffix: &str,
    force: bool,
    version_override: bool,
) -> bool {
    let k = &at.k;
    if !conf.obsolete_by.is_empty() && !force && obsoleted(k, &conf.obsolete_by) {
        say.eline("");
        for line in text::obsoleted(&conf.obsolete_by) {
            say.eline(&line);
        }
        return false;
    }
    let l = &world.host.layout;
    let lib_tree = l.lib_tree(k);
    let mine = compressed_or_uncompressed(
        &l.base_dir(&at.m, &at.v, k, &at.a).join("module"),
        &r.dest_name,
        suffix,
    );
    let ours_bytes = mine.as_ref().and_then(|p| crate::fs::read_file(p).ok());
    // A copy of our own module (left by an interrupted install) is not a
    // competing module.
    let found: Vec<PathBuf> = find_module(&lib_tree, &r.dest_name, suffix)
        .into_iter()
        .filter(|p| ours_bytes.is_none() || crate::fs::read_file(p).ok() != ours_bytes)
        .collect();
    if found.is_empty() || version_override {
        return true;
    }
    if found.len() > 1 {
        say.warning(&[text::version_check_ambiguous(&r.dest_name, suffix, k)]);
        return true;
    }
    let Some(ours) = mine else {
        return true;
    };
    let (kinfo, oinfo) = (info(&found[0]), info(&ours));
    match compare_module_version(&kinfo, &oinfo) {
        VersionCmp::Newer if !force => {
            say.error(&Error::denied(text::not_newer(
                &oinfo.verinfo().version,
                &r.dest_name,
                suffix,
                k,
                &kinfo.verinfo().version,
            )));
            false
        }
        VersionCmp::Same if !force => {
            let ver = oinfo.version().unwrap_or("");
            let has_info =
                !ver.trim().is_empty() || !oinfo.srcversion().unwrap_or("").trim().is_empty();
            let same_bytes = crate::fs::same_bytes(&found[0], &ours);
            if has_info || same_bytes {
                if !ver.is_empty() {
                    say.eline(&text::same_version_installed(&found[0], ver));
                } else {
                    say.eline(&text::same_unversioned_installed(&found[0]));
                }
                return false;
            }
            true
        }
        _ => true,
    }
}

/// OBSOLETE_BY as upstream compares it.
fn obsoleted(kver: &str, obs: &str) -> bool {
    // Upstream splits with a quoted expansion, so each "array" holds the whole
    // string with '-' turned into spaces and the ABI branch never applies: the
    // module is obsolete when this kernel is at or above OBSOLETE_BY.
    crate::observe::version::ver_cmp(&kver.replace('-', " "), &obs.replace('-', " "))
        != std::cmp::Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("6.1.0-10-amd64", "6.1.0", true)]
    #[case("6.1.0-10-amd64", "6.2", false)]
    #[case("6.3.0-1-amd64", "6.2", true)]
    #[case("6.1.0-9-amd64", "6.1.0-10", false)]
    fn obsolete_rule(#[case] k: &str, #[case] obs: &str, #[case] want: bool) {
        assert_eq!(obsoleted(k, obs), want);
    }
}
