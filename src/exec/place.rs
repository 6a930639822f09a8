//! Placing a built module's files into the kernel's module tree (the
//! per-record part of upstream's `do_install`): the version check, the
//! original archived, same-named modules moved aside, our file put in place
//! by an atomic rename. Any failure undoes the whole install: our files
//! out, originals back, collisions back, the backups made by this run
//! dropped. An original leaves the module tree only after every one of our
//! files is in place, so a crash never leaves the kernel without either.

use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result};
use crate::exec::depmod;
use crate::exec::msg;
use crate::exec::version_check::{version_sane, with_suffix};
use crate::exec::Locked;
use crate::layout::{ORIGIN, PLACING};
use crate::observe::conf::{ModuleConf, ModuleRecord};
use crate::observe::files::{compressed_or_uncompressed, find_module, join_loc};
use crate::observe::World;
use crate::plan::Mvka;
use crate::report::Say;
use crate::text;

/// How an install goes, decided before any file moves.
pub struct How<'a> {
    /// The kernel's module compression suffix.
    pub suffix: &'a str,
    /// `--force` (or a forced module).
    pub force: bool,
    /// `--force-version-override`.
    pub version_override: bool,
    /// A `kernel-K-A` link of the module exists already.
    pub active_exists: bool,
}

/// What this install changed so far, to undo it or to finish it.
struct Placement<'a> {
    world: &'a World,
    lock: &'a Locked,
    /// Our files now in the module tree.
    placed: Vec<PathBuf>,
    /// (backup copy, original path) archived by this run.
    archived: Vec<(PathBuf, PathBuf)>,
    /// (where it was, where it went) of same-named modules moved aside.
    moved: Vec<(PathBuf, PathBuf)>,
    /// The kernel whose depmod marker this install wrote (there was none):
    /// a complete undo takes it away again, as nothing changed.
    marked: Option<String>,
}

/// Place every buildable record of m/v into k/a; undone completely on
/// failure.
pub fn place_modules(
    world: &World,
    lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    conf: &ModuleConf,
    how: &How,
) -> Result<()> {
    let mut p = Placement {
        world,
        lock,
        placed: Vec::new(),
        archived: Vec::new(),
        moved: Vec::new(),
        marked: None,
    };
    let mut any = false;
    for r in conf.modules.iter().filter(|r| r.buildable) {
        match p.one(say, at, conf, r, how) {
            Ok(placed) => any |= placed,
            Err(e) => {
                p.undo(at);
                return Err(e);
            }
        }
    }
    p.finish();
    if !conf.modules.is_empty() && !any {
        return Err(Error::install_failed([text::INSTALLATION_ABORTED]));
    }
    Ok(())
}

impl Placement<'_> {
    /// One record: returns whether its file was placed.
    fn one(
        &mut self,
        say: &mut dyn Say,
        at: &Mvka,
        conf: &ModuleConf,
        r: &ModuleRecord,
        how: &How,
    ) -> Result<bool> {
        let world = self.world;
        let l = &world.host.layout;
        let suffix = how.suffix;
        if !version_sane(
            world,
            say,
            at,
            conf,
            r,
            suffix,
            how.force,
            how.version_override,
        ) {
            return Ok(false);
        }
        let name = &r.dest_name;
        let lib_tree = l.lib_tree(&at.k);
        let base_dir = l.base_dir(&at.m, &at.v, &at.k, &at.a);
        let Some(toinstall) = compressed_or_uncompressed(&base_dir.join("module"), name, suffix)
        else {
            return Ok(false);
        };
        // A file identical to ours is ours, left by an interrupted install.
        let ours = crate::fs::read_file(&toinstall).ok();
        let is_ours = |p: &Path| ours.is_some() && crate::fs::read_file(p).ok() == ours;
        let installed: Vec<PathBuf> = find_module(&lib_tree, name, suffix)
            .into_iter()
            .filter(|p| !is_ours(p))
            .collect();
        self.archive_original(say, at, r, how, &installed, &is_ours)?;
        if installed.len() > 1 {
            self.move_collisions(say, at, name, suffix, &installed)?;
        }
        let dest_dir = join_loc(&lib_tree, &r.dest_location);
        let dest = dest_dir.join(toinstall.file_name().unwrap_or_default());
        say.line(&text::installing(&dest));
        let was_due = depmod::is_due(world, &at.k);
        depmod::mark_pending(world, self.lock, &at.k)?;
        if !was_due {
            self.marked = Some(at.k.clone());
        }
        let symlink = world.host.opts.symlink_modules || world.host.settings.symlink_modules;
        let install = &l.install;
        let placed_now = mkdirs(self.lock, install, &dest_dir).and_then(|()| {
            remove_stale_temps(self.lock, install, &dest_dir, name);
            self.lock
                .place_atomically(install, &toinstall, &dest, symlink)
                .map_err(|e| Error::io(msg::CANNOT_PLACE, &dest, e))
        });
        if let Err(e) = placed_now {
            return Err(Error::install_failed(
                [text::copy_failed(&toinstall)]
                    .into_iter()
                    .chain(e.lines().iter().cloned()),
            ));
        }
        self.placed.push(dest);
        crate::fault::point("install:after-place");
        Ok(true)
    }

    /// Archive the kernel's (or another place's) module of the same name,
    /// as upstream does, unless one is archived already.
    fn archive_original(
        &mut self,
        say: &mut dyn Say,
        at: &Mvka,
        r: &ModuleRecord,
        how: &How,
        installed: &[PathBuf],
        is_ours: &dyn Fn(&Path) -> bool,
    ) -> Result<()> {
        let l = &self.world.host.layout;
        let (dkms, suffix, name) = (&l.dkms, how.suffix, &r.dest_name);
        let lib_tree = l.lib_tree(&at.k);
        let orig_dir = l.original_dir(&at.m, &at.k, &at.a);
        if how.active_exists {
            if compressed_or_uncompressed(&orig_dir, name, suffix).is_some() {
                say.line(text::ORIGINAL_ALREADY_STORED);
            }
            return Ok(());
        }
        let mut candidates: Vec<PathBuf> = [
            compressed_or_uncompressed(&lib_tree.join("extra"), name, suffix),
            compressed_or_uncompressed(&lib_tree.join("updates"), name, suffix),
            compressed_or_uncompressed(&join_loc(&lib_tree, &r.dest_location), name, suffix),
        ]
        .into_iter()
        .flatten()
        .filter(|p| !is_ours(p))
        .collect();
        if installed.len() == 1 {
            candidates.push(installed[0].clone());
        }
        let Some(original) = candidates.into_iter().find(|p| p.is_file()) else {
            if installed.len() > 1 {
                say.line(text::MULTIPLE_ORIGINALS);
                say.line(&text::collisions_kept(&orig_dir));
            }
            return Ok(());
        };
        say.line(&text::archiving_original(&original));
        mkdirs(self.lock, dkms, &orig_dir)?;
        let fname = original
            .file_name()
            .map(|n| n.to_owned())
            .unwrap_or_default();
        let backup = orig_dir.join(&fname);
        remove_stale_temps(self.lock, dkms, &orig_dir, name);
        self.lock
            .place_atomically(dkms, &original, &backup, false)
            .map_err(|e| {
                Error::io(msg::CANNOT_ARCHIVE_TO, &backup, e).into_kind(Kind::InstallFailed)
            })?;
        self.archived.push((backup.clone(), original.clone()));
        let origin = orig_dir.join(format!("{}{ORIGIN}", fname.to_string_lossy()));
        self.lock
            .write_atomic(
                dkms,
                &origin,
                format!("{}\n", l.root.inside(&original).display()).as_bytes(),
                0o644,
            )
            .map_err(|e| Error::io(msg::CANNOT_WRITE, &origin, e).into_kind(Kind::InstallFailed))?;
        crate::fault::point("install:after-archive");
        Ok(())
    }

    /// Several modules of this name in the kernel's tree: every one goes
    /// aside into `collisions/` (upstream's behaviour), with its origin.
    fn move_collisions(
        &mut self,
        say: &mut dyn Say,
        at: &Mvka,
        name: &str,
        suffix: &str,
        installed: &[PathBuf],
    ) -> Result<()> {
        let l = &self.world.host.layout;
        let (dkms, install) = (&l.dkms, &l.install);
        let lib_tree = l.lib_tree(&at.k);
        let orig_dir = l.original_dir(&at.m, &at.k, &at.a);
        say.line(&text::same_named_modules(
            installed.len(),
            name,
            suffix,
            &lib_tree,
        ));
        for dup in installed {
            let rel = dup.strip_prefix(&lib_tree).unwrap_or(dup);
            let sub = rel.parent().unwrap_or(Path::new(""));
            let cdir = orig_dir.join("collisions").join(sub);
            mkdirs(self.lock, dkms, &cdir)?;
            let Some(fname) = dup.file_name() else {
                continue;
            };
            let aside = cdir.join(fname);
            self.lock
                .move_verified(install, dup, dkms, &aside)
                .map_err(|e| Error::io(msg::CANNOT_MOVE, dup, e).into_kind(Kind::InstallFailed))?;
            self.moved.push((dup.clone(), aside));
            let origin = cdir.join(format!("{}{ORIGIN}", fname.to_string_lossy()));
            self.lock
                .write_atomic(
                    dkms,
                    &origin,
                    format!("{}\n", l.root.inside(dup).display()).as_bytes(),
                    0o644,
                )
                .map_err(|e| {
                    Error::io(msg::CANNOT_WRITE, &origin, e).into_kind(Kind::InstallFailed)
                })?;
        }
        Ok(())
    }

    /// Undo everything this install did. Best effort by nature: each step
    /// that cannot be undone leaves what the next run's checks find (an
    /// archived original stays archived and comes back on uninstall).
    fn undo(&self, at: &Mvka) {
        let l = &self.world.host.layout;
        let (dkms, install) = (&l.dkms, &l.install);
        // Whether the module tree is back as it was (then the depmod
        // marker this install wrote goes: nothing is due).
        let mut restored = true;
        for p in &self.placed {
            restored &= match self.archived.iter().find(|(_, orig)| orig == p) {
                Some((backup, _)) => self.lock.place_atomically(install, backup, p, false),
                None => self.lock.remove_file(install, p),
            }
            .is_ok();
        }
        for (was, aside) in &self.moved {
            if self.lock.move_verified(dkms, aside, install, was).is_ok() {
                // A note without its archived file is skipped by every reader.
                let _ = self.lock.remove_file(dkms, &with_suffix(aside, ORIGIN));
            } else {
                restored = false;
            }
        }
        if let (true, Some(k)) = (restored, &self.marked) {
            depmod::unmark(self.world, self.lock, k);
        }
        for (backup, original) in &self.archived {
            // The original is still where it was (it only leaves in
            // `finish`), so its backup can go.
            if original.exists() {
                // Best effort: a backup that stays equals the original still in place.
                let _ = self.lock.remove_file(dkms, backup);
                // A note without its archived file is skipped by every reader.
                let _ = self.lock.remove_file(dkms, &with_suffix(backup, ORIGIN));
            }
        }
        // The directories the archiving made go once nothing is left in
        // them: status says "(Original modules exist)" while they stand.
        if let Some(kdir) = l.original_dir(&at.m, &at.k, &at.a).parent() {
            self.lock.remove_empty_dirs(dkms, kdir);
        }
    }

    /// Our modules are in place: now the originals may leave theirs. One
    /// that cannot be removed stays beside ours (depmod orders them).
    fn finish(&self) {
        let install = &self.world.host.layout.install;
        for (_, original) in &self.archived {
            if !self.placed.contains(original) {
                // An original that cannot go stays beside ours (see above): depmod orders them.
                let _ = self.lock.remove_file(install, original);
            }
        }
    }
}

fn mkdirs(lock: &Locked, base: &Path, p: &Path) -> Result<()> {
    lock.create_dir_all(base, p, 0o755)
        .map_err(|e| Error::io(msg::CANNOT_CREATE, p, e).into_kind(Kind::InstallFailed))
}

/// Remove temporary files an interrupted placement of `name` left in `dir`
/// (`.<name>.ko*.dkms-*`); a leftover that cannot go is harmless (never
/// loaded, never listed by depmod) and tried again next time.
fn remove_stale_temps(lock: &Locked, base: &Path, dir: &Path, name: &str) {
    let prefix = format!(".{name}.ko");
    for n in crate::fs::list_names(dir) {
        if n.starts_with(&prefix) && n.contains(PLACING) {
            // A leftover is harmless and tried again next time (see above).
            let _ = lock.remove_file(base, &dir.join(n));
        }
    }
}
