//! How long a module version took to build before: the `# elapsed time`
//! lines of the make.logs of its builds (already in the tree), else a guess
//! from the size of its C sources plus a bonus for a `configure` script (a
//! serial PRE_BUILD step). The hooks start the longest builds first.

use std::path::Path;

use crate::layout::Layout;
use crate::observe::tree::TreeState;

/// The expected build cost of m/v in milliseconds.
pub fn estimate(layout: &Layout, tree: &TreeState, m: &str, v: &str) -> u64 {
    let history = tree
        .built_kernels(m, v)
        .into_iter()
        .filter_map(|(k, a)| {
            crate::fs::read_regular_text(
                &layout.base_dir(m, v, &k, &a).join("log/make.log"),
                16 << 20,
            )
            .ok()
        })
        .map(|log| log_seconds(&log) * 1000)
        .max();
    if let Some(ms) = history.filter(|ms| *ms > 0) {
        return ms;
    }
    let src = tree
        .version(m, v)
        .map(|s| s.source_dir.clone())
        .unwrap_or_else(|| layout.source_tree_dir(m, v));
    let bonus = if src.join("configure").is_file() {
        20_000
    } else {
        0
    };
    source_bytes(&src, 4) / 20 + bonus
}

/// Sum of the `# elapsed time: HH:MM:SS` lines of a make.log, in seconds.
fn log_seconds(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.strip_prefix("# elapsed time: "))
        .map(|t| {
            t.split(':')
                .filter_map(|x| x.trim().parse::<u64>().ok())
                .fold(0, |acc, x| acc * 60 + x)
        })
        .sum()
}

fn source_bytes(dir: &Path, depth: u32) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() && depth > 0 {
            total += source_bytes(&e.path(), depth - 1);
        } else if ft.is_file() && e.file_name().to_string_lossy().ends_with(".c") {
            total += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::log_seconds;

    #[test]
    fn elapsed_times_add_up() {
        let log = "x\n# elapsed time: 00:00:07\n---\n# elapsed time: 00:01:02\n";
        assert_eq!(log_seconds(log), 69);
    }
}
