//! Evaluate dkms.conf (and its override files) in bash, as upstream does,
//! for files the static reader does not claim.
//!
//! Upstream's `safe_source` sources each file in a subshell with stdout
//! discarded, dumps the dkms.conf variables (one trailing `\r` stripped from
//! each value) and reads them back into its own shell; so helper variables of
//! one file do not reach the next, while the directives do, element by
//! element. This module does the same in one `bash` process: each file runs
//! in a subshell, its directives come back `printf %q`-quoted, and the parent
//! writes a NUL-framed snapshot after every file to a private temp file (never
//! stdout), so values with quotes or newlines survive intact. The process runs
//! in its own process group and the whole group is killed at the time limit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{ConfContext, RawConf};
use crate::error::Error;
use crate::text::{self, BashReadFailure};

/// Every variable upstream accepts from a dkms.conf: the ones the bash
/// evaluator reports and the ones that cross from one file to the next.
pub const DIRECTIVES: &[&str] = &[
    "PACKAGE_NAME",
    "PACKAGE_VERSION",
    "BUILT_MODULE_NAME",
    "BUILT_MODULE_LOCATION",
    "DEST_MODULE_NAME",
    "DEST_MODULE_LOCATION",
    "MAKE",
    "MAKE_MATCH",
    "PATCH",
    "PATCH_MATCH",
    "STRIP",
    "AUTOINSTALL",
    "BUILD_DEPENDS",
    "BUILD_DEPENDS_REBUILD",
    "BUILD_EXCLUSIVE_KERNEL",
    "BUILD_EXCLUSIVE_KERNEL_MIN",
    "BUILD_EXCLUSIVE_KERNEL_MAX",
    "BUILD_EXCLUSIVE_ARCH",
    "BUILD_EXCLUSIVE_CONFIG",
    "PRE_BUILD",
    "POST_BUILD",
    "PRE_INSTALL",
    "POST_INSTALL",
    "POST_ADD",
    "POST_REMOVE",
    "NO_WEAK_MODULES",
    "OBSOLETE_BY",
    "CLEAN",
    "REMAKE_INITRD",
    "MODULES_CONF",
    "MODULES_CONF_OBSOLETES",
    "MODULES_CONF_ALIAS_TYPE",
    "MODULES_CONF_OBSOLETE_ONLY",
];

/// The driver script. Arguments: output path, the ten ConfContext values in
/// `ConfContext::pairs` order, then the files. It never writes to stdout.
const SCRIPT: &str = r#"
__dkms_out=$1
kernelver=$2 arch=$3 kernel_source_dir=$4 dkms_tree=$5 source_tree=$6
install_tree=$7 module=$8 module_version=$9 kernel_config=${10} tmp_location=${11}
shift 11
__dkms_files=("$@")
set --
__dkms_names=(@NAMES@)
unset -v "${__dkms_names[@]}"
shopt -s extglob
__dkms_cr=$'\r'
__dkms_k=0
for __dkms_f in "${__dkms_files[@]}"; do
    printf 'F\0%s\0' "$__dkms_k" >>"$__dkms_out"
    __dkms_state=$(
        . "$__dkms_f" >/dev/null
        { set +eux; } 2>/dev/null
        for __dkms_n in "${__dkms_names[@]}"; do
            eval "__dkms_idx=(\"\${!${__dkms_n}[@]}\")"
            for __dkms_i in "${__dkms_idx[@]}"; do
                eval "__dkms_v=\${${__dkms_n}[\$__dkms_i]}"
                printf '%s[%s]=%q\n' "$__dkms_n" "$__dkms_i" "${__dkms_v%"$__dkms_cr"}"
            done
        done
    )
    eval "$__dkms_state"
    printf 'S\0%s\0' "$__dkms_k" >>"$__dkms_out"
    for __dkms_n in "${__dkms_names[@]}"; do
        eval "__dkms_idx=(\"\${!${__dkms_n}[@]}\")"
        for __dkms_i in "${__dkms_idx[@]}"; do
            eval "__dkms_v=\${${__dkms_n}[\$__dkms_i]}"
            printf 'V\0%s\0%s\0%s\0' "$__dkms_n" "$__dkms_i" "$__dkms_v" >>"$__dkms_out"
        done
    done
    __dkms_k=$((__dkms_k + 1))
done
"#;

/// Source `files` in order in bash with `ctx`'s variables in scope (the
/// caller's environment plus `env_extra` inherited, like upstream) and return
/// every dkms.conf directive that is set afterwards, with all indices.
///
/// bash's own error messages (syntax errors, failing commands) go to our
/// stderr; values set before an error still count. When `timeout` passes the
/// whole process group is killed and an exit-8 error names the file.
pub fn eval_bash(
    files: &[PathBuf],
    ctx: &ConfContext,
    env_extra: &[(String, String)],
    timeout: Duration,
) -> Result<RawConf, Error> {
    let (snaps, _stderr) = eval_bash_snapshots(files, ctx, env_extra, timeout)?;
    Ok(snaps.into_iter().last().unwrap_or_default())
}

/// Like [`eval_bash`], but the directives as they stand after each file (for
/// upstream's per-file deprecation warnings), and what bash wrote on stderr
/// (shown when the conf is used, where upstream shows it).
pub fn eval_bash_snapshots(
    files: &[PathBuf],
    ctx: &ConfContext,
    env_extra: &[(String, String)],
    timeout: Duration,
) -> Result<(Vec<RawConf>, String), Error> {
    if files.is_empty() {
        return Ok((Vec::new(), String::new()));
    }
    let errfile = tempfile::Builder::new()
        .prefix("dkms-conf-err.")
        .tempfile()
        .map_err(|e| {
            Error::bad_conf([text::bash_read_failed(
                BashReadFailure::TempFile,
                "",
                Some(&e),
            )])
        })?;
    let errout = errfile.reopen().map_err(|e| {
        Error::bad_conf([text::bash_read_failed(
            BashReadFailure::TempFile,
            "",
            Some(&e),
        )])
    })?;
    let out = tempfile::Builder::new()
        .prefix("dkms-conf.")
        .tempfile()
        .map_err(|e| {
            Error::bad_conf([text::bash_read_failed(
                BashReadFailure::TempFile,
                "",
                Some(&e),
            )])
        })?;
    let script = SCRIPT.replace("@NAMES@", &DIRECTIVES.join(" "));
    let bash = if Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "bash"
    };
    let mut cmd = Command::new(bash);
    cmd.arg("--norc")
        .arg("--noprofile")
        .arg("-c")
        .arg(script)
        .arg("dkms")
        .arg(out.path());
    for (_, v) in ctx.pairs() {
        cmd.arg(v);
    }
    cmd.args(files);
    cmd.envs(env_extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(errout));
    let mut child = crate::child::spawn(&mut cmd).map_err(|e| {
        Error::bad_conf([text::bash_read_failed(
            BashReadFailure::Start,
            &files[0].display().to_string(),
            Some(&e),
        )])
    })?;
    let start = Instant::now();
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                return Err(Error::bad_conf([text::bash_read_failed(
                    BashReadFailure::Lost,
                    &files[0].display().to_string(),
                    Some(&e),
                )]))
            }
        }
        if start.elapsed() >= timeout {
            child.kill_group();
            // Killed: how it ended says nothing more.
            let _ = child.wait();
            let data = crate::fs::read_file(out.path()).unwrap_or_default();
            let file = current_file(&data)
                .and_then(|i| files.get(i))
                .unwrap_or(&files[0]);
            return Err(Error::bad_conf([text::bash_read_failed(
                BashReadFailure::Timeout(timeout.as_secs_f64()),
                &file.display().to_string(),
                None,
            )]));
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    };
    let data = crate::fs::read_file(out.path()).map_err(|e| {
        Error::bad_conf([text::bash_read_failed(
            BashReadFailure::ReadBack,
            &files[0].display().to_string(),
            Some(&e),
        )])
    })?;
    let snaps = parse_snapshots(&data);
    if snaps.len() != files.len() {
        let file = current_file(&data)
            .and_then(|i| files.get(i))
            .unwrap_or(&files[0]);
        return Err(Error::bad_conf([text::bash_read_failed(
            BashReadFailure::Failed(&status),
            &file.display().to_string(),
            None,
        )]));
    }
    log::debug!("bash read {} file(s) in {:?}", files.len(), start.elapsed());
    let stderr = crate::fs::read_regular_text(errfile.path(), 1 << 20).unwrap_or_default();
    Ok((snaps, stderr))
}

/// The index of the last file the script started on.
fn current_file(data: &[u8]) -> Option<usize> {
    let fields: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let mut last = None;
    let mut i = 0;
    while i < fields.len() {
        match fields[i] {
            b"F" | b"S" => {
                if fields[i] == b"F" {
                    last = fields
                        .get(i + 1)
                        .and_then(|f| std::str::from_utf8(f).ok()?.parse().ok());
                }
                i += 2;
            }
            b"V" => i += 4,
            _ => i += 1,
        }
    }
    last
}

/// Decode the NUL-framed snapshots the script wrote.
fn parse_snapshots(data: &[u8]) -> Vec<RawConf> {
    let fields: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let mut snaps: Vec<RawConf> = Vec::new();
    let mut i = 0;
    while i < fields.len() {
        match fields[i] {
            b"F" => i += 2,
            b"S" => {
                snaps.push(RawConf::default());
                i += 2;
            }
            b"V" if i + 3 < fields.len() => {
                let name = String::from_utf8_lossy(fields[i + 1]).into_owned();
                let idx = std::str::from_utf8(fields[i + 2])
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok());
                let value = String::from_utf8_lossy(fields[i + 3]).into_owned();
                if let (Some(snap), Some(idx)) = (snaps.last_mut(), idx) {
                    snap.vars
                        .entry(name)
                        .or_insert_with(BTreeMap::new)
                        .insert(idx, value);
                }
                i += 4;
            }
            _ => i += 1,
        }
    }
    snaps
}
