//! `dkms status` rendered: upstream's text lines, or JSON/YAML with the
//! same facts plus the pending and failed entries, under a schema version.
//! Filters apply to every section; fields that do not apply are `null`.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::observe::pending::{DepmodDue, Failure, Item, Reason};
use crate::observe::status::{Record, StatusView};
use crate::observe::World;
use crate::report::Say;

/// How `status` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusFormat {
    /// Upstream's lines.
    #[default]
    Text,
    /// `--output json`.
    Json,
    /// `--output yaml`.
    Yaml,
}

impl StatusFormat {
    /// The machine-readable forms (which also list pending work, failures
    /// and BUILD_EXCLUSIVE skips).
    pub fn is_document(&self) -> bool {
        !matches!(self, StatusFormat::Text)
    }
}

/// The version of the machine-readable document's layout. Bumped when a
/// field changes meaning or goes away; new fields may appear without a bump.
pub const SCHEMA: u32 = 1;

/// The machine-readable document for `--output json|yaml`. Fields that do
/// not apply are `null`; times are RFC 3339 in UTC.
#[derive(Debug, Serialize)]
pub struct Document {
    /// [`SCHEMA`].
    pub schema: u32,
    /// Status records (upstream's lines, as fields), with the signature of
    /// installed modules.
    pub modules: Vec<ModuleDoc>,
    /// Added module versions that BUILD_EXCLUSIVE rules out for an
    /// installed kernel with headers.
    pub skipped: Vec<Skipped>,
    /// Deferred work (kernels waiting for headers, modules waiting for dependencies).
    pub pending: Vec<Pending>,
    /// Recorded failures from hooks.
    pub failed: Vec<Failed>,
}

/// A status record in the document: upstream's fields, then the
/// signature of what is installed.
#[derive(Debug, Serialize)]
pub struct ModuleDoc {
    /// Upstream's fields.
    #[serde(flatten)]
    pub record: Record,
    /// The signature of the installed module files (`null` when not
    /// installed from a build of the dkms tree).
    pub signature: Option<SignatureDoc>,
}

/// Who signed an installed module's files.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct SignatureDoc {
    /// Every module file carries a signature.
    pub signed: bool,
    /// The signer (the certificate issuer's name) of the first signed file.
    pub signer: Option<String>,
    /// Its key id (the certificate's serial number), as `modinfo` shows it.
    pub key_id: Option<String>,
    /// Every file is signed with the configured key (framework.conf's
    /// `mok_certificate`).
    pub configured_key: bool,
}

/// The signature of the module files of m/v installed for k/a: the files
/// of its build, each read where it is installed (the build's copy when no
/// installed file of that name is found outside the kernel's own tree).
fn signature_of(world: &World, r: &Record) -> Option<SignatureDoc> {
    use crate::observe::module_file::{name_of_file, ModuleFile};
    use crate::observe::x509::Certificate;
    let (Some(k), Some(a)) = (r.kernel.as_deref(), r.arch.as_deref()) else {
        return None;
    };
    if r.state != "installed" || r.prebuilt {
        return None;
    }
    let l = &world.host.layout;
    let mdir = l.base_dir(&r.module, &r.version, k, a).join("module");
    let lib = l.lib_tree(k);
    let (_, cert, _) = crate::observe::keys::key_paths(&world.host, k, a);
    let configured = crate::fs::read_regular(&cert, 1 << 20)
        .ok()
        .and_then(|d| Certificate::parse(&d));
    let mut names = crate::fs::list_names(&mdir);
    names.sort();
    let mut files = Vec::new();
    for n in &names {
        let Some(name) = name_of_file(n) else {
            continue;
        };
        let suffix = n.split_once(".ko").map(|x| x.1).unwrap_or("");
        let installed = crate::observe::files::find_module(&lib, name, suffix)
            .into_iter()
            .find(|p| !p.starts_with(lib.join("kernel")) && !p.starts_with(lib.join("build")))
            .unwrap_or_else(|| mdir.join(n));
        files.push(ModuleFile::read(&installed).ok()?);
    }
    let first = files.iter().find_map(|f| f.signature.signer());
    Some(SignatureDoc {
        signed: !files.is_empty() && files.iter().all(|f| f.signature.present()),
        signer: first.map(|s| s.issuer_cn.clone()),
        key_id: first.map(|s| crate::observe::der::hex_colons(&s.key_id)),
        configured_key: !files.is_empty()
            && files.iter().all(|f| {
                f.signature
                    .signer()
                    .is_some_and(|s| configured.as_ref().is_some_and(|c| c.signed(s)))
            }),
    })
}

/// A module version BUILD_EXCLUSIVE keeps off a kernel.
#[derive(Debug, Serialize)]
pub struct Skipped {
    /// Module name.
    pub module: String,
    /// Module version.
    pub version: String,
    /// Kernel version.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// Always `build-exclusive` in this schema.
    pub reason: &'static str,
}

/// Deferred work, as shown.
#[derive(Debug, Serialize)]
pub struct Pending {
    /// Kernel version.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// `headers-missing`, `build-depends` or `depmod-due`.
    pub reason: Reason,
    /// The module, or `null` when the whole kernel waits.
    pub module: Option<String>,
    /// What to install or what is missing, when known.
    pub detail: Option<String>,
    /// When first recorded.
    pub since: Option<String>,
}

/// A recorded failure, as shown.
#[derive(Debug, Serialize)]
pub struct Failed {
    /// Module name.
    pub module: String,
    /// Module version.
    pub version: String,
    /// Kernel version.
    pub kernel: String,
    /// Arch.
    pub arch: String,
    /// The exit code of the failed step (upstream's codes: 10 build, 6 install...).
    pub code: i32,
    /// The kept make.log, when there is one.
    pub log: Option<String>,
    /// When it failed.
    pub when: Option<String>,
    /// Why, in one line, when known (a failed or missing BUILD_DEPENDS, a
    /// dkms.conf that names no module, the failed step's error).
    pub reason: Option<String>,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn time(secs: u64) -> Option<String> {
    (secs > 0).then(|| crate::report::time::rfc3339(secs))
}

impl From<&Item> for Pending {
    fn from(i: &Item) -> Pending {
        Pending {
            kernel: i.kernel.clone(),
            arch: i.arch.clone(),
            reason: i.reason,
            module: non_empty(&i.module),
            detail: non_empty(&i.detail),
            since: time(i.since),
        }
    }
}

impl From<&Failure> for Failed {
    fn from(x: &Failure) -> Failed {
        Failed {
            module: x.module.clone(),
            version: x.version.clone(),
            kernel: x.kernel.clone(),
            arch: x.arch.clone(),
            code: x.code,
            log: non_empty(&x.log),
            when: time(x.when),
            reason: non_empty(&x.reason),
        }
    }
}

impl Pending {
    /// The entry of a kernel whose depmod is still due (arch: the
    /// machine's, the only one a kernel's module tree is for).
    pub fn depmod_due(d: &DepmodDue, arch: &str) -> Pending {
        Pending {
            kernel: d.kernel.clone(),
            arch: arch.to_string(),
            reason: Reason::DepmodDue,
            module: None,
            detail: None,
            since: time(d.since),
        }
    }
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

/// The document for what status observed.
pub fn document(world: &World, view: &StatusView) -> Document {
    let f = &view.filter;
    let keep = |m: &str, v: Option<&str>, k: &str, a: &str| {
        (f.module.is_empty() || f.module == m)
            && (f.version.is_empty() || v.is_none_or(|v| f.version == v))
            && (f.kernel.is_empty() || f.kernel == k)
            && (f.arch.is_empty() || f.arch == a)
    };
    Document {
        schema: SCHEMA,
        modules: view
            .records
            .iter()
            .map(|r| ModuleDoc {
                record: r.clone(),
                signature: signature_of(world, r),
            })
            .collect(),
        skipped: view
            .skipped
            .iter()
            .map(|(module, version, kernel, arch)| Skipped {
                module: module.clone(),
                version: version.clone(),
                kernel: kernel.clone(),
                arch: arch.clone(),
                reason: "build-exclusive",
            })
            .collect(),
        pending: world
            .records
            .items
            .iter()
            // A whole-kernel deferral (no module) concerns every module.
            .filter(|i| {
                (i.module.is_empty() || f.module.is_empty() || i.module == f.module)
                    && keep(&f.module, None, &i.kernel, &i.arch)
            })
            .map(Pending::from)
            .chain(
                world
                    .records
                    .depmod_due
                    .iter()
                    .map(|d| Pending::depmod_due(d, &world.host.machine_arch))
                    .filter(|p| keep(&f.module, None, &p.kernel, &p.arch)),
            )
            .collect(),
        failed: world
            .records
            .failures
            .iter()
            .filter(|x| keep(&x.module, Some(&x.version), &x.kernel, &x.arch))
            .map(Failed::from)
            .collect(),
    }
}

/// Print status in `format` (text, json, yaml). Broken modules also print
/// upstream's error on stderr in text mode.
pub fn print(
    world: &World,
    say: &mut dyn Say,
    view: &StatusView,
    format: StatusFormat,
) -> Result<()> {
    match format {
        StatusFormat::Text => {
            for r in &view.records {
                say.line(&line(r));
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
        StatusFormat::Json => {
            let doc = document(world, view);
            let text = serde_json::to_string_pretty(&doc).map_err(|e| Error::msg(e.to_string()))?;
            say.line(&text);
            Ok(())
        }
        StatusFormat::Yaml => {
            let doc = document(world, view);
            let value = serde_json::to_value(&doc).map_err(|e| Error::msg(e.to_string()))?;
            say.out(&crate::report::yaml::to_yaml(&value));
            Ok(())
        }
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
            prebuilt: false,
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
