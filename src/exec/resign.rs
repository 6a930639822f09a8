//! `dkms-hook sign`: sign installed modules again with the configured key,
//! after a key rotation or once a new key is enrolled. For each module file
//! of an installed build: the old signature is taken off, sign-file signs
//! a private copy, the copy is compressed as the file was, and then the
//! built copy in the dkms tree and the installed copy are each replaced by
//! an atomic rename, so they stay byte for byte the same (`dkms status`
//! keeps no "Differences" suffix) and a crash leaves each file whole.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::child::{self, Run};
use crate::error::{Error, Result};
use crate::exec::msg;
use crate::exec::sign::{half_pair, key_paths, sign_file_path, Signer};
use crate::exec::{Ctx, Locked};
use crate::layout::TMP_BUILD;
use crate::observe::der::hex_colons;
use crate::observe::files::{files_equal, find_module};
use crate::observe::module_file::{name_of_file, Compression};
use crate::observe::signature::{self, Signature};
use crate::observe::{modinfo, Host, Mvka};
use crate::report::Say;

/// Sign the installed module files of `targets`; fails (exit 1) when a
/// file could not be signed, after trying every one.
pub fn run(cx: &mut Ctx, lock: &Locked, say: &mut dyn Say, targets: &[Mvka]) -> Result<()> {
    let w = cx.world;
    let h = &w.host;
    let mut signed = 0;
    let mut failed = 0;
    for at in targets {
        let hash = w
            .build_facts(&at.k)
            .and_then(|b| b.sig_hash.clone())
            .ok_or_else(|| Error::msg(msg::sign_no_hash(&at.k)))?;
        let signer = signer(h, &at.k, &at.a, hash)?;
        let l = &h.layout;
        let mdir = l.base_dir(&at.m, &at.v, &at.k, &at.a).join("module");
        let mut names = crate::fs::list_names(&mdir);
        names.sort();
        for n in names.iter().filter(|n| name_of_file(n).is_some()) {
            let built = mdir.join(n);
            match sign_one(w, lock, &signer, at, &built) {
                Ok(lines) => {
                    signed += 1;
                    for line in lines {
                        say.line(&line);
                    }
                }
                Err(why) => {
                    failed += 1;
                    say.eline(&msg::sign_file_failed(&l.root.inside(&built), &why));
                }
            }
        }
    }
    say.line(&msg::signed_summary(signed, failed));
    if failed > 0 {
        return Err(Error::msg("").shown());
    }
    Ok(())
}

/// What signing for k/a needs, checked before any file changes: sign-file,
/// the hash, the key pair (never made here, never completed).
fn signer(h: &Host, k: &str, a: &str, hash: String) -> Result<Signer> {
    let sign_file = sign_file_path(h, k, a);
    if !child::is_executable(&sign_file) {
        return Err(Error::msg(msg::sign_no_sign_file(&sign_file)));
    }
    let (key, cert, _) = key_paths(h, k, a);
    let pkcs11 = crate::observe::keys::is_pkcs11(&key);
    if !pkcs11 && !key.is_file() && !cert.is_file() {
        return Err(Error::denied(msg::sign_no_pair(&key, &cert)));
    }
    if let Some(cert_missing) = half_pair(&key, &cert, pkcs11) {
        return Err(Error::denied(if cert_missing {
            msg::sign_certificate_missing(&key, &cert)
        } else {
            msg::sign_key_missing(&key, &cert)
        }));
    }
    let mut used = vec![&sign_file, &cert];
    if !pkcs11 {
        used.push(&key);
    }
    if let Some(u) = used.into_iter().find_map(|f| h.trust.of(f)) {
        return Err(Error::denied([u.line()]));
    }
    Ok(Signer {
        sign_file,
        hash,
        key,
        cert,
    })
}

/// Sign one built file and its installed copy; the lines to print, or why
/// it could not be done (nothing changed then, or only the built copy when
/// the installed one could not be replaced: the next run repairs it).
fn sign_one(
    w: &crate::observe::World,
    lock: &Locked,
    signer: &Signer,
    at: &Mvka,
    built: &Path,
) -> std::result::Result<Vec<String>, String> {
    let l = &w.host.layout;
    let name = built
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(name_of_file)
        .unwrap_or_default()
        .to_string();
    let suffix = built
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once(".ko").map(|x| x.1.to_string()))
        .unwrap_or_default();
    let lib = l.lib_tree(&at.k);
    // The installed copy: a file of that name in the kernel's tree that is
    // byte for byte the built one.
    let installed: Vec<PathBuf> = find_module(&lib, &name, &suffix)
        .into_iter()
        .filter(|p| files_equal(p, built))
        .collect();
    let Some(installed) = installed.into_iter().next() else {
        return Err(msg::sign_installed_differs(&at.m, &at.v, &at.k));
    };
    let mode = std::fs::metadata(built)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let head = crate::fs::read_file(built).map_err(|e| crate::error::os_error(&e))?;
    let compression = Compression::of_head(&head);
    let data = match compression {
        Compression::None => head,
        c => modinfo::decompress(c.name(), built).map_err(|e| e.to_string())?,
    };
    let plain = signature::strip(&data).ok_or_else(|| msg::SIGN_CANNOT_STRIP.to_string())?;
    let kdir = l.version_dir(&at.m, &at.v).join(&at.k);
    let tmp = lock
        .temp_dir(&l.dkms, &kdir, &format!("{TMP_BUILD}{}_sign-", at.a))
        .map_err(|e| crate::error::os_error(&e))?;
    let work = tmp.path().join(format!("{name}.ko"));
    lock.write_atomic(&l.dkms, &work, plain, 0o600)
        .map_err(|e| crate::error::os_error(&e))?;
    signer.sign_file(&work)?;
    let signed = crate::fs::read_regular(&work, 512 << 20).map_err(|e| e.to_string())?;
    let Signature::Signed(who) = signature::read(&signed) else {
        return Err(msg::SIGN_NOT_READABLE.into());
    };
    let out = match compression {
        Compression::None => signed,
        c => compress(w, c, &work)?,
    };
    lock.write_atomic(&l.dkms, built, &out, mode)
        .map_err(|e| crate::error::os_error(&e))?;
    lock.write_atomic(&l.install, &installed, &out, mode)
        .map_err(|e| crate::error::os_error(&e))?;
    Ok(vec![msg::signed_file(
        &l.root.inside(&installed),
        &who.issuer_cn,
        &hex_colons(&who.key_id),
    )])
}

/// `file` compressed as `c`, with framework.conf's options for it.
fn compress(
    w: &crate::observe::World,
    c: Compression,
    file: &Path,
) -> std::result::Result<Vec<u8>, String> {
    let s = &w.host.settings;
    let opts = match c {
        Compression::Gzip => &s.compress_gzip_opts,
        Compression::Xz => &s.compress_xz_opts,
        Compression::Zstd => &s.compress_zstd_opts,
        Compression::None => return Err(String::new()),
    };
    let opts: Vec<&str> = opts.split_whitespace().filter(|o| *o != "--rm").collect();
    Command::new(c.name())
        .args(&opts)
        .arg("-c")
        .arg(file)
        .run_stdout()
        .map_err(|e| e.to_string())
}
