//! The whole dkms.conf pipeline for one kernel: check the files, read them
//! with the static reader when it claims every one (no bash started), else
//! with bash, then resolve and report like upstream's `read_conf_or_die` /
//! `read_conf_strict_or_die`.

use std::collections::BTreeMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use super::bash_eval::{eval_bash_snapshots, DIRECTIVES};
use super::resolve::{deprecation_lines, resolve_with, ResolveOpts};
use super::static_reader::read_static;
use super::{ConfContext, ConfError, ConfFiles, ConfRead, ModuleConf, RawConf, Reader};
use crate::error::Error;
use crate::text::{self, ConfRefusal};

/// Files larger than this are refused before reading (no dkms.conf is).
pub const MAX_CONF_BYTES: u64 = 1 << 20;

/// How long bash may take to source a dkms.conf and its override files.
pub const BASH_TIMEOUT: Duration = Duration::from_secs(30);

/// The time limit for bash: `DKMS_CONF_TIMEOUT` seconds when set to a
/// positive number (tests use a short one), else [`BASH_TIMEOUT`].
pub fn bash_timeout() -> Duration {
    std::env::var("DKMS_CONF_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(BASH_TIMEOUT)
}

/// Read, resolve and validate `files` for `ctx`. Nothing is printed here:
/// what upstream prints while reading a conf is returned in [`ConfRead`] for
/// the caller to show at the moment upstream shows it.
///
/// - `files.main` unreadable: exit 4, `Could not locate dkms.conf file.`
/// - a file over 1 MiB, containing NUL bytes or not a regular file: exit 8,
///   refused unread.
/// - validation failure: the deprecation lines (strict) and every
///   `dkms.conf: Error! ...` line in [`ConfError::lines`], then exit 8
///   `Bad conf file.` / `File: <opts.conf_path> does not represent a valid
///   dkms.conf file.`
///
/// Like upstream, each `--directive` gives a `DIRECTIVE: NAME="VALUE"` line
/// for stdout. On success the warnings are in `ModuleConf::deprecations`.
pub fn load(files: &ConfFiles, ctx: &ConfContext, opts: &ResolveOpts) -> ConfRead {
    let mut bash_stderr = String::new();
    let result = load_inner(files, ctx, opts, &mut bash_stderr);
    ConfRead {
        bash_stderr,
        directive_lines: opts
            .directives
            .iter()
            .map(|(name, value)| text::directive_line(name, value))
            .collect(),
        result,
    }
}

// File operation outside crate::fs: a read-only, non-blocking open to test readability; nothing is read.
#[allow(clippy::disallowed_methods)]
fn load_inner(
    files: &ConfFiles,
    ctx: &ConfContext,
    opts: &ResolveOpts,
    bash_stderr: &mut String,
) -> Result<ModuleConf, ConfError> {
    let main = &files.main;
    let readable = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(main)
        .is_ok();
    if !readable {
        return Err(ConfError::plain(Error::unusable(text::conf_missing(
            &opts.conf_path,
        ))));
    }
    let paths: Vec<PathBuf> = std::iter::once(main.clone())
        .chain(files.overrides.iter().cloned())
        .collect();
    let mut texts = Vec::with_capacity(paths.len());
    for p in &paths {
        texts.push(read_text(p).map_err(ConfError::plain)?);
    }

    let (mut snaps, reader) = match read_all_static(&paths, &texts, ctx) {
        Some(snaps) => (snaps, Reader::Static),
        None => {
            let (snaps, err) =
                eval_bash_snapshots(&paths, ctx, &[], bash_timeout()).map_err(ConfError::plain)?;
            *bash_stderr = err;
            (snaps, Reader::Bash)
        }
    };
    log::debug!("{}: read by the {reader:?} reader", main.display());

    let env_directives = env_directives();
    for snap in &mut snaps {
        for (name, value) in &env_directives {
            snap.set(name, 0, value.clone());
        }
    }
    let mut deprecations = Vec::new();
    if opts.strict {
        for (i, (snap, path)) in snaps.iter().zip(&paths).enumerate() {
            // The main file by the name upstream reads it through.
            let name = if i == 0 {
                opts.conf_path.clone()
            } else {
                path.display().to_string()
            };
            deprecations.extend(deprecation_lines(snap, &name));
        }
    }
    let raw = snaps.pop().unwrap_or_default();
    match resolve_with(&raw, ctx, opts, deprecations.clone(), reader) {
        Ok(conf) => Ok(conf),
        Err(lines) => Err(ConfError {
            lines: deprecations.into_iter().chain(lines).collect(),
            error: Error::bad_conf(text::conf_invalid(&opts.conf_path)),
        }),
    }
}

/// The file's text, or None when bash should deal with it (not UTF-8, or
/// unreadable: bash then prints its own error, as upstream's does).
/// Oversized and binary files are refused outright.
fn read_text(path: &PathBuf) -> Result<Option<String>, Error> {
    let bad =
        |why: ConfRefusal| Error::bad_conf(text::conf_refused(&path.display().to_string(), why));
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => return Ok(None),
    };
    if !meta.is_file() {
        return Err(bad(ConfRefusal::NotRegular));
    }
    if meta.len() > MAX_CONF_BYTES {
        return Err(bad(ConfRefusal::TooLarge));
    }
    let data = match crate::fs::read_regular(path, MAX_CONF_BYTES) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(bad(ConfRefusal::TooLarge))
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(bad(ConfRefusal::NotRegular))
        }
        Err(_) => return Ok(None),
    };
    if data.contains(&0) {
        return Err(bad(ConfRefusal::HasNul));
    }
    Ok(String::from_utf8(data).ok())
}

/// Read every file statically, carrying directives from one file to the
/// next the way upstream's `safe_source` does; None as soon as one file is
/// not claimed by the static reader.
pub(crate) fn read_all_static(
    paths: &[PathBuf],
    texts: &[Option<String>],
    ctx: &ConfContext,
) -> Option<Vec<RawConf>> {
    let mut merged = RawConf::default();
    let mut snaps = Vec::with_capacity(texts.len());
    for (path, text) in paths.iter().zip(texts) {
        let Some(text) = text else {
            log::debug!(
                "{}: not valid UTF-8 or unreadable; using bash",
                path.display()
            );
            return None;
        };
        let mut known: BTreeMap<String, String> = ctx
            .pairs()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (name, arr) in &merged.vars {
            if let Some(v) = arr.get(&0) {
                known.insert(name.clone(), v.clone());
            }
        }
        let raw = match read_static(text, &known, false) {
            Ok(raw) => raw,
            Err(ns) => {
                log::debug!(
                    "{}: line {}: {}; using bash",
                    path.display(),
                    ns.line,
                    ns.reason
                );
                return None;
            }
        };
        // Every value passes through one more `%$CR` strip per file upstream:
        // the file's own values were stripped by the reader, the rest now.
        for (name, arr) in merged.vars.iter_mut() {
            for (i, v) in arr.iter_mut() {
                let touched = raw.vars.get(name).is_some_and(|a| a.contains_key(i));
                if !touched && v.ends_with('\r') {
                    v.pop();
                }
            }
        }
        for (name, arr) in raw.vars {
            if DIRECTIVES.contains(&name.as_str()) {
                merged.vars.entry(name).or_default().extend(arr);
            }
        }
        snaps.push(merged.clone());
    }
    Some(snaps)
}

/// Upstream's `DKMS_DIRECTIVE*` environment variables: `set | grep
/// ^DKMS_DIRECTIVE | cut -d = -f 2-3`, each `NAME=VALUE` applied as element 0
/// after every file. Only values `set` prints unquoted survive that
/// pipeline; only dkms.conf directives are honoured here.
fn env_directives() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("DKMS_DIRECTIVE"))
        .collect();
    vars.sort();
    let mut out = Vec::new();
    for (_, value) in vars {
        if value.is_empty()
            || !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./:=+,@%-".contains(c))
        {
            continue;
        }
        let mut fields = value.split('=');
        let first = fields.next().unwrap_or_default();
        let directive = match fields.next() {
            Some(second) => format!("{first}={second}"),
            None => first.to_string(),
        };
        let (name, val) = match directive.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (directive.clone(), directive.clone()),
        };
        if DIRECTIVES.contains(&name.as_str()) {
            out.push((name, val));
        }
    }
    out
}
