//! `dkms status` rendered: upstream's text lines, or JSON/YAML with the
//! same facts plus the pending and failed entries, under a schema version.
//! Filters apply to every section; fields that do not apply are `null`.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::observe::pending::{Failure, Item};
use crate::observe::status::{records, Filter, Record};
use crate::observe::World;
use crate::report::Say;

/// The version of the machine-readable document's layout. Bumped when a
/// field changes meaning or goes away; new fields may appear without a bump.
pub const SCHEMA: u32 = 1;

/// The machine-readable document for `--output json|yaml`.
#[derive(Debug, Serialize)]
pub struct Document {
    /// [`SCHEMA`].
    pub schema: u32,
    /// Status records.
    pub modules: Vec<Record>,
    /// Deferred work (kernels waiting for headers, modules waiting for dependencies).
    pub pending: Vec<Item>,
    /// Recorded failures from hooks.
    pub failed: Vec<Failure>,
}

/// Upstream's text line for a record.
pub fn line(r: &Record) -> String {
    let (k, a) = (
        r.kernel.as_deref().unwrap_or(""),
        r.arch.as_deref().unwrap_or(""),
    );
    let mut s = match r.state.as_str() {
        "added" | "broken" => return format!("{}/{}: {}", r.module, r.version, r.state),
        st => format!("{}/{}, {k}, {a}: {st}", r.module, r.version),
    };
    if r.original_modules_exist {
        s.push_str(" (Original modules exist)");
    }
    if r.built_modules_missing {
        s.push_str(" (Built modules are missing in the kernel modules folder)");
    } else if r.differences {
        s.push_str(" (Differences between built and installed modules)");
    }
    s
}

/// The document for `f`.
pub fn document(world: &World, f: &Filter) -> Document {
    let keep = |m: &str, v: Option<&str>, k: &str, a: &str| {
        (f.module.is_empty() || f.module == m)
            && (f.version.is_empty() || v.is_none_or(|v| f.version == v))
            && (f.kernel.is_empty() || f.kernel == k)
            && (f.arch.is_empty() || f.arch == a)
    };
    Document {
        schema: SCHEMA,
        modules: records(world, f),
        pending: world
            .records
            .items
            .iter()
            // A whole-kernel deferral (no module) concerns every module.
            .filter(|i| {
                (i.module.is_empty() || f.module.is_empty() || i.module == f.module)
                    && keep(&f.module, None, &i.kernel, &i.arch)
            })
            .cloned()
            .collect(),
        failed: world
            .records
            .failures
            .iter()
            .filter(|x| keep(&x.module, Some(&x.version), &x.kernel, &x.arch))
            .cloned()
            .collect(),
    }
}

/// Print status in `format` (text, json, yaml). Broken modules also print
/// upstream's error on stderr in text mode.
pub fn print(world: &World, say: &mut dyn Say, f: &Filter, format: &str) -> Result<()> {
    match format {
        "" | "text" => {
            for r in records(world, f) {
                say.line(&line(&r));
                if r.state == "broken" {
                    say.error(&Error::denied([
                        format!(
                            "{}/{}: Missing the module source directory or the symbolic link pointing to it.",
                            r.module, r.version
                        ),
                        "Manual intervention is required!".to_string(),
                    ]));
                }
            }
            Ok(())
        }
        "json" => {
            let doc = document(world, f);
            let text = serde_json::to_string_pretty(&doc).map_err(|e| Error::msg(e.to_string()))?;
            say.line(&text);
            Ok(())
        }
        "yaml" => {
            let doc = document(world, f);
            let value = serde_json::to_value(&doc).map_err(|e| Error::msg(e.to_string()))?;
            say.out(&crate::report::yaml::to_yaml(&value));
            Ok(())
        }
        other => Err(Error::usage([format!(
            "Unknown output format: {other} (use text, json or yaml)."
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn rec(state: &str, orig: bool, missing: bool, diff: bool) -> Record {
        let built = state != "added";
        Record {
            module: "hello".into(),
            version: "1.0".into(),
            kernel: built.then(|| "6.1.0-1-amd64".into()),
            arch: built.then(|| "x86_64".into()),
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
        assert_eq!(line(&r), want);
    }
}
