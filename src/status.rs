//! `dkms status`: the facts for each module version and kernel, rendered
//! as upstream's text lines or as JSON/YAML with the same facts plus the
//! pending and failed entries.

use serde::Serialize;

use crate::context::Ctx;
use crate::install::{compressed_or_uncompressed, installed_file};
use crate::tree::{Entry, State};

/// One status record with upstream's suffix facts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Record {
    /// Module name.
    pub module: String,
    /// Module version.
    pub version: String,
    /// Kernel (empty for added/broken).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kernel: String,
    /// Arch (empty for added/broken).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// added / built / installed / broken.
    pub state: String,
    /// ` (Original modules exist)`.
    pub original_modules_exist: bool,
    /// ` (Built modules are missing in the kernel modules folder)`.
    pub built_modules_missing: bool,
    /// ` (Differences between built and installed modules)`.
    pub differences: bool,
}

impl Record {
    /// Upstream's text line.
    pub fn line(&self) -> String {
        let mut s = match self.state.as_str() {
            "added" | "broken" => {
                return format!("{}/{}: {}", self.module, self.version, self.state)
            }
            st => format!(
                "{}/{}, {}, {}: {}",
                self.module, self.version, self.kernel, self.arch, st
            ),
        };
        if self.original_modules_exist {
            s.push_str(" (Original modules exist)");
        }
        if self.built_modules_missing {
            s.push_str(" (Built modules are missing in the kernel modules folder)");
        } else if self.differences {
            s.push_str(" (Differences between built and installed modules)");
        }
        s
    }
}

/// Compute the records for the filters (empty = any).
pub fn records(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str) -> Vec<Record> {
    ctx.tree()
        .status(m, v, k, a)
        .into_iter()
        .map(|e| extra(ctx, e))
        .collect()
}

fn extra(ctx: &Ctx, e: Entry) -> Record {
    let mut r = Record {
        module: e.module.clone(),
        version: e.version.clone(),
        kernel: e.kernel.clone(),
        arch: e.arch.clone(),
        state: e.state.word().to_string(),
        original_modules_exist: false,
        built_modules_missing: false,
        differences: false,
    };
    if !matches!(e.state, State::Built | State::Installed) {
        return r;
    }
    let tree = ctx.tree();
    let (m, v, k, a) = (&e.module, &e.version, &e.kernel, &e.arch);
    r.original_modules_exist = tree.original_dir(m, k, a).is_dir();
    let Ok(conf) = ctx.read_conf(
        m,
        v,
        k,
        a,
        Some(tree.source_dir(m, v).join("dkms.conf")),
        false,
    ) else {
        return r;
    };
    let suffix = ctx.kernel(k).module_suffix();
    let mdir = tree.base_dir(m, v, k, a).join("module");
    for rec in conf.modules.iter().filter(|x| x.buildable) {
        let Some(ours) = compressed_or_uncompressed(&mdir, &rec.dest_name, suffix) else {
            r.built_modules_missing = true;
            break;
        };
        if e.state == State::Installed {
            let same = installed_file(ctx, m, k, a, rec, suffix)
                .map(|inst| files_equal(&ours, &inst))
                .unwrap_or(false);
            if !same {
                r.differences = true;
                break;
            }
        }
    }
    r
}

/// Byte equality without spawning `diff`: sizes first, then contents.
pub fn files_equal(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) if x.len() == y.len() => std::fs::read(a).ok() == std::fs::read(b).ok(),
        _ => false,
    }
}

/// The machine-readable document for `--output json|yaml`.
#[derive(Debug, Serialize)]
pub struct Document {
    /// Status records.
    pub modules: Vec<Record>,
    /// Deferred work (kernels waiting for headers, modules waiting for dependencies).
    pub pending: Vec<crate::pending::Item>,
    /// Recorded failures from hooks and autoinstall.
    pub failed: Vec<crate::pending::Failure>,
}

/// Print status in the requested format. Broken modules also print
/// upstream's error on stderr in text mode.
pub fn print(ctx: &Ctx, recs: &[Record], format: &str) -> crate::Result<()> {
    match format {
        "" | "text" => {
            for r in recs {
                println!("{}", r.line());
                if r.state == "broken" {
                    eprintln!(
                        "\nError! {}/{}: Missing the module source directory or the symbolic link pointing to it.\nManual intervention is required!",
                        r.module, r.version
                    );
                }
            }
            Ok(())
        }
        "json" | "yaml" => {
            let q = crate::pending::Queue::new(&ctx.settings.dkms_tree);
            let doc = Document {
                modules: recs.to_vec(),
                pending: q.items(),
                failed: q.failures(),
            };
            let text = if format == "json" {
                serde_json::to_string_pretty(&doc)
                    .map_err(|e| crate::Error::msg(1, e.to_string()))?
                    + "\n"
            } else {
                serde_norway::to_string(&doc).map_err(|e| crate::Error::msg(1, e.to_string()))?
            };
            print!("{text}");
            Ok(())
        }
        other => Err(crate::Error::msg(
            2,
            format!("Unknown output format: {other} (use text, json or yaml)."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn rec(state: &str, orig: bool, missing: bool, diff: bool) -> Record {
        Record {
            module: "hello".into(),
            version: "1.0".into(),
            kernel: if state == "added" {
                String::new()
            } else {
                "6.1.0-1-amd64".into()
            },
            arch: if state == "added" {
                String::new()
            } else {
                "x86_64".into()
            },
            state: state.into(),
            original_modules_exist: orig,
            built_modules_missing: missing,
            differences: diff,
        }
    }

    #[rstest]
    #[case(rec("added", false, false, false), "hello/1.0: added")]
    #[case(
        rec("built", false, false, false),
        "hello/1.0, 6.1.0-1-amd64, x86_64: built"
    )]
    #[case(
        rec("installed", false, false, false),
        "hello/1.0, 6.1.0-1-amd64, x86_64: installed"
    )]
    #[case(
        rec("installed", true, false, false),
        "hello/1.0, 6.1.0-1-amd64, x86_64: installed (Original modules exist)"
    )]
    #[case(rec("built", false, true, false), "hello/1.0, 6.1.0-1-amd64, x86_64: built (Built modules are missing in the kernel modules folder)")]
    #[case(rec("installed", true, false, true), "hello/1.0, 6.1.0-1-amd64, x86_64: installed (Original modules exist) (Differences between built and installed modules)")]
    fn status_lines(#[case] r: Record, #[case] want: &str) {
        assert_eq!(r.line(), want);
    }
}
