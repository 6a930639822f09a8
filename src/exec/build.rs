//! Building one module version for one kernel: upstream's `do_build`, in
//! upstream's build directory `<dkms_tree>/<m>/<v>/build` (the scheduler
//! never runs two builds of one module version at once), with the result
//! published atomically only when everything succeeded, so a failed
//! rebuild never takes away the build that worked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::child::Run;
use crate::error::{Error, Kind, Result};
use crate::exec::runner::{self, Hold, Log, Output, Step};
use crate::exec::sign::Signer;
use crate::exec::{privilege, source_check, Ctx, Locked};
use crate::layout::{Layout, OLD_BUILD, TMP_BUILD};
use crate::observe::conf::ModuleConf;
use crate::observe::kernel::KernelFacts;
use crate::observe::{ConfKey, World};
use crate::plan::Mvka;
use crate::report::{Say, Style};
use crate::text;

/// How a build gets its make parallelism.
#[derive(Clone, Copy)]
pub enum Jobs<'a> {
    /// `make -jN` (upstream's `dkms build`); `None` for a bare `-j`.
    Fixed(Option<usize>),
    /// A shared GNU make jobserver: make gets its slots through MAKEFLAGS.
    Server(&'a jobserver::Client),
}

/// Upstream's `prepare_kernel_and_signing` for k/a: headers (exit 21), the
/// signing preamble, an empty line; once per kernel in a context.
pub fn prepare_kernel(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    k: &str,
    a: &str,
) -> Result<()> {
    if cx.ledger.prepared_signer(k, a).is_some() {
        return Ok(());
    }
    let world = cx.world;
    let facts = kernel(world, k)?;
    check_headers(world, facts)?;
    let ka = (k.to_string(), a.to_string());
    if let Some(e) = cx.ledger.signing_refused.get(&ka) {
        return Err(e.clone().shown());
    }
    let build = world
        .build_facts(k)
        .ok_or_else(|| Error::msg(text::kernel_not_observed(k)))?;
    let signer =
        crate::exec::sign::prepare(&world.host, lock, say, facts, build, a).inspect_err(|e| {
            cx.ledger.signing_refused.insert(ka, e.clone());
        })?;
    cx.ledger.prepared.insert((k.into(), a.into()), signer);
    say.blank();
    Ok(())
}

/// The observed facts of kernel `k`.
pub fn kernel<'w>(world: &'w World, k: &str) -> Result<&'w KernelFacts> {
    world
        .kernel(k)
        .ok_or_else(|| Error::msg(text::kernel_not_observed(k)))
}

/// Upstream's `prepare_kernel`: the headers must be there (exit 21).
pub fn check_headers(world: &World, kernel: &KernelFacts) -> Result<()> {
    if kernel.headers {
        return Ok(());
    }
    let it = world.host.layout.root.inside(&world.host.layout.install);
    Err(Error::no_headers(text::no_headers(
        &it.display().to_string(),
        kernel.version(),
    )))
}

/// What one build needs, decided before it starts.
pub struct BuildInput<'a> {
    /// The observation.
    pub world: &'a World,
    /// The lock.
    pub lock: &'a Locked,
    /// What to build.
    pub at: Mvka,
    /// Its dkms.conf.
    pub conf: &'a ModuleConf,
    /// The kernel.
    pub kernel: &'a KernelFacts,
    /// How to sign, when signing.
    pub signer: Option<Signer>,
    /// BUILD_DEPENDS not installed for the kernel.
    pub missing_deps: Vec<String>,
    /// Whose output.
    pub style: Style,
}

/// Upstream's `do_build` as `dkms` runs it (one at a time).
pub fn build(
    cx: &mut Ctx,
    lock: &Locked,
    say: &mut dyn Say,
    at: &Mvka,
    key: &ConfKey,
) -> Result<()> {
    let conf = cx.conf(say, key)?;
    let world = cx.world;
    checks_before_prepare(world, at, conf)?;
    prepare_kernel(cx, lock, say, &at.k, &at.a)?;
    let signer = cx.ledger.prepared_signer(&at.k, &at.a).cloned().flatten();
    let missing_deps = cx
        .ledger
        .missing_deps(world, &conf.build_depends, &at.k, &at.a);
    let input = BuildInput {
        world,
        lock,
        at: at.clone(),
        conf,
        kernel: kernel(world, &at.k)?,
        signer,
        missing_deps,
        style: cx.style,
    };
    let res = after_prepare(&input, say, Jobs::Fixed(upstream_jobs(world)));
    if res.is_ok() {
        cx.ledger.set_built(at, true);
    }
    res
}

/// A build directory left by a build that was killed after it published
/// its result (it has files but no make.log: the log went with the
/// result). Nothing else leaves one like that: a failed build keeps its
/// make.log there for the user to read; `add` leaves it empty.
pub fn clean_leftover(world: &World, lock: &Locked, m: &str, v: &str) {
    let l = &world.host.layout;
    let bdir = l.build_dir(m, v);
    if !crate::fs::list_names(&bdir).is_empty() && !bdir.join("make.log").exists() {
        // Best effort: a leftover is found and removed by the next run, as this one did.
        let _ = lock.remove_all(&l.dkms, &bdir);
    }
}

/// upstream's `-j$parallel_jobs` (a bare `-j` for 0), at most
/// [`crate::observe::host::MAX_JOBS`]: see [`crate::observe::Host::upstream_jobs`].
pub fn upstream_jobs(world: &World) -> Option<usize> {
    world.host.upstream_jobs()
}

/// The checks `do_build` makes before preparing the kernel: the build must
/// not exist (3), BUILD_EXCLUSIVE (77), a source to build (8).
pub fn checks_before_prepare(world: &World, at: &Mvka, conf: &ModuleConf) -> Result<()> {
    let l = &world.host.layout;
    let base_dir = l.base_dir(&at.m, &at.v, &at.k, &at.a);
    if at.k.is_empty() || at.a.is_empty() {
        return Err(Error::empty_kernel([text::DO_BUILD_EMPTY_KERNEL]));
    }
    if base_dir.is_dir() && !base_dir.join("module").is_dir() {
        return Err(Error::state(text::already_built_dir(&at.k, &base_dir)));
    }
    if conf.build_exclude {
        return Err(Error::build_exclusive(text::build_excluded(
            &base_dir, &at.m, &at.v,
        )));
    }
    let entries = world
        .tree
        .version(&at.m, &at.v)
        .map(|s| s.source_entries)
        .unwrap_or_else(|| {
            std::fs::read_dir(l.source_tree_dir(&at.m, &at.v))
                .map(|r| r.count())
                .unwrap_or(0)
        });
    if entries < 2 {
        return Err(Error::bad_conf(text::no_module_source(
            &l.source_link(&at.m, &at.v),
        )));
    }
    Ok(())
}

/// The source directory of m/v (the registered one, else the source tree's).
fn source_dir(l: &Layout, world: &World, m: &str, v: &str) -> PathBuf {
    world
        .tree
        .version(m, v)
        .filter(|s| s.added)
        .map(|s| s.source_dir.clone())
        .unwrap_or_else(|| l.source_tree_dir(m, v))
}

/// The rest of `do_build`, from the BUILD_DEPENDS check on.
pub fn after_prepare(input: &BuildInput, say: &mut dyn Say, jobs: Jobs<'_>) -> Result<()> {
    let (world, at, conf) = (input.world, &input.at, input.conf);
    let (m, v, k, a) = (at.m.as_str(), at.v.as_str(), at.k.as_str(), at.a.as_str());
    let l = &world.host.layout;
    let settings = &world.host.settings;
    let verbose = world.host.verbose();
    let base = &l.dkms;
    let lock = input.lock;

    if !input.missing_deps.is_empty() {
        let deps = &input.missing_deps;
        if world.host.opts.force {
            say.warning(&[text::build_depends_forced(m, v, k, a, deps)]);
        } else {
            return Err(Error::build_depends(text::build_depends_missing(
                m, v, k, a, deps,
            )));
        }
    }

    // Unpublished results of a killed build of this kernel (we hold the lock).
    let kdir = l.kernel_dir(m, v, k);
    for n in crate::fs::list_names(&kdir) {
        if n.starts_with(&format!("{TMP_BUILD}{a}_")) || n.starts_with(&format!("{OLD_BUILD}{a}_"))
        {
            // Best effort: leftovers are never published and every build tries again.
            let _ = lock.remove_all(base, &kdir.join(n));
        }
    }
    // CC/LD from the kernel's configuration and build_environment's
    // variables, observed before planning.
    let env = world
        .build_facts(k)
        .map(|b| b.env.clone())
        .ok_or_else(|| Error::msg(text::kernel_not_observed(k)))?;
    let source = source_dir(l, world, m, v);
    let bdir = l.build_dir(m, v);
    let log = bdir.join("make.log");
    lock.remove_all(base, &bdir)
        .map_err(|e| Error::io(text::CANNOT_REMOVE, &bdir, e))?;
    source_check::check_source_tree(&source)?;
    lock.copy_tree(&source, base, &bdir).map_err(|e| {
        // The copy's error is the one that counts; the next build empties it first.
        let _ = lock.remove_all(base, &bdir);
        Error::io(&text::cannot_copy_from(&source), &bdir, e)
    })?;
    source_check::confine_build_copy(lock, base, &source, &bdir)?;
    overlay_patches(world, lock, m, &bdir)?;
    crate::fault::point("build:after-copy");
    let make_log =
        Log::open(lock, base, &log, false).map_err(|e| Error::io(text::CANNOT_WRITE, &log, e))?;
    make_log.append(&text::make_log_header(m, v, k, a, &runner::date_now()));

    for p in &conf.patches {
        if format!("patches/{p}").contains("/../") {
            return Err(Error::not_allowed([text::patch_dotdot(p)]));
        }
        if !bdir.join("patches").join(p).exists() {
            return Err(Error::not_allowed(text::patch_missing(p, &bdir)));
        }
        let mut step = Step::new(format!("patch -p1 < ./patches/{p}"), text::step_patch(p));
        step.output = Output::Log(make_log.clone());
        step.cwd = Some(bdir.clone());
        step.dots = dots(m);
        if runner::invoke(say, &step, verbose, None, Hold::Lock(lock)) != 0 {
            return Err(Error::install_failed(text::patch_failed(p, &log)));
        }
    }

    privilege::hand_over(lock, base, settings, &bdir, &log)?;
    run_script(
        world,
        say,
        "pre_build",
        &conf.pre_build,
        &bdir,
        Some((&make_log, lock)),
        &env,
        m,
    )?;

    let make = match jobs {
        Jobs::Fixed(n) => make_command(&conf.make_command, n, k),
        // Upstream's -jN is dropped: the jobserver in MAKEFLAGS decides.
        Jobs::Server(_) => match conf.make_command.strip_prefix("make") {
            Some(rest) => format!("make KERNELRELEASE={k}{rest}"),
            None => conf.make_command.clone(),
        },
    };
    let mut step = Step::new(privilege::wrap(settings, &make)?, text::STEP_BUILD);
    step.output = Output::Log(make_log.clone());
    step.cwd = Some(bdir.clone());
    step.env = env.clone();
    step.dots = dots(m);
    let client = match jobs {
        Jobs::Server(c) => Some(c),
        Jobs::Fixed(_) => None,
    };
    if runner::invoke(say, &step, verbose, client, Hold::Lock(lock)) != 0 {
        // The hooks show make.log's tail once, in their summary.
        return Err(Error::build_failed(text::make_failed(k, a, &log)));
    }

    privilege::take_back(lock, base, settings, &bdir, &log)?;
    for r in conf.modules.iter().filter(|r| r.buildable) {
        let f = bdir.join(format!("{}{}.ko", r.built_location, r.built_name));
        if !f.exists() {
            return Err(Error::built_missing(text::built_module_missing(
                &r.built_location,
                &r.built_name,
                k,
                a,
                &log,
            )));
        }
    }

    crate::fault::point("build:after-make");
    let suffix = input.kernel.suffix;
    lock.create_dir_all(base, &kdir, 0o755).map_err(|e| {
        Error::io(text::CANNOT_CREATE, &kdir, e).into_kind(Kind::BuiltModuleMissing)
    })?;
    let tmp = lock
        .temp_dir(base, &kdir, &format!("{TMP_BUILD}{a}_"))
        .map_err(|e| Error::io(text::NO_TEMP_DIR_IN, &kdir, e))?;
    let tmp_base = tmp.path().to_path_buf();
    for sub in ["log", "module"] {
        let d = tmp_base.join(sub);
        lock.create_dir_all(base, &d, 0o755).map_err(|e| {
            Error::io(text::CANNOT_CREATE, &d, e).into_kind(Kind::BuiltModuleMissing)
        })?;
    }
    let symvers = bdir.join("Module.symvers");
    if symvers.is_file() {
        copy(
            lock,
            base,
            &symvers,
            &tmp_base.join("module/Module.symvers"),
        )?;
    }
    for r in conf.modules.iter().filter(|r| r.buildable) {
        let built = bdir.join(format!("{}{}.ko", r.built_location, r.built_name));
        if r.strip {
            let strip = if env.iter().any(|(k, v)| k == "CC" && v == "clang") {
                "llvm-strip"
            } else {
                "strip"
            };
            // Upstream strips with its output discarded and goes on when
            // strip fails (the module is only bigger): so do we, logging why.
            if let Err(e) = Command::new(strip).arg("-g").arg(&built).run_ok() {
                log::debug!("{e}");
            }
        }
        if let Some(s) = &input.signer {
            s.sign(say, &built);
        }
        let out = tmp_base
            .join("module")
            .join(format!("{}.ko{}", r.dest_name, suffix));
        compress_into(world, lock, base, &built, suffix, &out)?;
    }
    lock.set_mode(base, &tmp_base, 0o755).map_err(|e| {
        Error::io(text::CANNOT_CREATE, &tmp_base, e).into_kind(Kind::BuiltModuleMissing)
    })?;
    // The log travels with the build, so a published build always has one
    // (and a build directory without a make.log is a finished one).
    let _ = lock.rename(base, &log, &tmp_base.join("log/make.log"));
    crate::fault::point("build:before-rename");
    // Publish atomically: a first build by rename, a rebuild by exchanging
    // the two directories, so there is never a moment without one.
    let base_dir = l.base_dir(m, v, k, a);
    let kept = tmp.keep();
    let published = if base_dir.exists() {
        lock.exchange(base, &kept, &base_dir)
    } else {
        lock.rename(base, &kept, &base_dir)
    };
    if let Err(e) = published {
        // The error that counts is the rename's; an unpublished result goes in the next build.
        let _ = lock.remove_all(base, &kept);
        return Err(Error::built_missing([text::final_mv_failed(
            &crate::error::os_error(&e),
        )]));
    }
    // After an exchange `kept` holds the previous build: best effort, the
    // next build of this kernel removes a leftover.
    let _ = lock.remove_all(base, &kept);
    crate::fault::point("build:after-rename");

    let log = base_dir.join("log/make.log");
    privilege::hand_over(lock, base, settings, &bdir, &log)?;
    // POST_BUILD's output goes on in the build's log.
    drop(make_log);
    let make_log =
        Log::open(lock, base, &log, false).map_err(|e| Error::io(text::CANNOT_WRITE, &log, e))?;
    let post = run_script(
        world,
        say,
        "post_build",
        &conf.post_build,
        &bdir,
        Some((&make_log, lock)),
        &env,
        m,
    );
    post?;
    // Best effort: a build directory without a make.log goes in the next run (clean_leftover).
    let _ = lock.remove_all(base, &bdir);

    if conf.build_depends_rebuild && !world.host.opts.force {
        for bd in &conf.build_depends {
            if let Some(dv) = installed_dep_version(world, bd, k, a) {
                let f = base_dir.join(format!(".dep_{bd}"));
                if let Err(e) = lock.write_atomic(base, &f, format!("{dv}\n").as_bytes(), 0o644) {
                    // The build stands; without the record the next install
                    // takes the dependency for updated and rebuilds it.
                    log::warn!("cannot write {}: {e}", f.display());
                }
            }
        }
    }
    Ok(())
}

/// The newest installed version of `dep` for k/a as the disk says now (a
/// dependency installed earlier in this run counts: the build just used it).
fn installed_dep_version(world: &World, dep: &str, k: &str, a: &str) -> Option<String> {
    let l = &world.host.layout;
    let link = l.kernel_link(dep, k, a);
    let target = std::fs::read_link(&link).ok()?;
    let v = target.to_string_lossy().split('/').next()?.to_string();
    l.base_dir(dep, &v, k, a)
        .join("module")
        .is_dir()
        .then_some(v)
}

/// Upstream prints no progress dots for its own test packages (`dkms*_test`).
fn dots(m: &str) -> bool {
    !(m.starts_with("dkms") && m.ends_with("_test"))
}

/// Upstream's overlay of `/etc/dkms/<module>/patches/` onto the build's
/// `patches/`, refused (exit 1) when another user can change any of it.
fn overlay_patches(world: &World, lock: &Locked, m: &str, bdir: &Path) -> Result<()> {
    let dir = world
        .host
        .layout
        .root
        .join(format!("/etc/dkms/{m}/patches"));
    if !dir.is_dir() {
        return Ok(());
    }
    // Patches another user can change are not applied: the build fails.
    if let Some(u) = world.host.trust.of_tree(&dir) {
        return Err(Error::denied([u.line()]));
    }
    let base = &world.host.layout.dkms;
    lock.copy_tree(&dir, base, &bdir.join("patches"))
        .map_err(|e| Error::io(&text::cannot_copy_from(&dir), &bdir.join("patches"), e))
}

/// Upstream's make command: a command starting with `make` gets
/// `-j<jobs> KERNELRELEASE=<kver>` inserted after it.
pub fn make_command(conf_make: &str, jobs: Option<usize>, kver: &str) -> String {
    match conf_make.strip_prefix("make") {
        Some(rest) => {
            let j = jobs
                .map(|n| format!("-j{n}"))
                .unwrap_or_else(|| "-j".into());
            format!("make {j} KERNELRELEASE={kver}{rest}")
        }
        None => conf_make.to_string(),
    }
}

/// Where upstream runs PRE_INSTALL, POST_INSTALL, POST_ADD and POST_REMOVE:
/// `<dkms_tree>/<m>/<v>/source` (the link, as upstream's shell sees it).
/// Under `--root` the link's target is a path inside the root, so the
/// directory is the link resolved there.
pub fn script_dir(world: &World, m: &str, v: &str) -> PathBuf {
    let l = &world.host.layout;
    let link = l.source_link(m, v);
    if l.root.is_slash() {
        link
    } else {
        l.root.read_link(&link).unwrap_or(link)
    }
}

/// Upstream's `run_build_script`: PRE_/POST_BUILD run in the build
/// directory, the others in the source (`<dkms_tree>/<m>/<v>/source`);
/// `/etc/dkms/<module>/<script>` overrides the module's own, unless another
/// user can change it (then it is not run: exit 1). A script that is not
/// executable is only warned about. With a log the output goes
/// there and a failure ends the action with the script's status.
#[allow(clippy::too_many_arguments)]
pub fn run_script(
    world: &World,
    say: &mut dyn Say,
    kind: &str,
    script: &str,
    run_dir: &Path,
    log: Option<(&Arc<Log>, &Locked)>,
    env: &[(String, String)],
    module: &str,
) -> Result<()> {
    if script.is_empty() {
        return Ok(());
    }
    let first = script.split_whitespace().next().unwrap_or("");
    let etc = world.host.layout.root.join(format!("/etc/dkms/{module}"));
    let (dir, prog_dir) = if crate::child::is_executable(&etc.join(first)) {
        // An override another user can change is not run: a build script's
        // refusal fails the build; the others' results are ignored by
        // their callers (as upstream ignores them), so it is said here.
        if let Some(u) = world.host.trust.of(&etc.join(first)) {
            let e = Error::denied([u.line()]);
            if log.is_some() {
                return Err(e);
            }
            say.warning(&[u.line()]);
            return Err(e.shown());
        }
        (etc.clone(), etc)
    } else {
        (run_dir.to_path_buf(), run_dir.to_path_buf())
    };
    let run = format!("{}/{}", prog_dir.display(), script);
    if !crate::child::is_executable(&prog_dir.join(first)) {
        say.blank();
        say.warning(&[text::script_not_executable(kind)]);
        return Ok(());
    }
    let settings = &world.host.settings;
    let verbose = world.host.verbose();
    match log {
        Some((log, lock)) => {
            let mut step = Step::new(
                privilege::wrap(settings, &format!("cd {}/ && {run}", dir.display()))?,
                text::step_script(kind),
            );
            step.output = Output::Log(log.clone());
            step.env = env.to_vec();
            step.cwd = Some(dir.clone());
            step.dots = dots(module);
            let res = runner::invoke(say, &step, verbose, None, Hold::Lock(lock));
            if res != 0 {
                say.line(&text::consult(log.path()));
                return Err(Error::script_status(res));
            }
            Ok(())
        }
        None => {
            say.line(&text::script_running(kind));
            // `( cd "$run_dir/"; exec $run )`: split on blanks, no shell.
            let argv: Vec<String> = run.split_whitespace().map(str::to_string).collect();
            let code = runner::exec_words(say, &argv, &dir, env);
            if code == 0 {
                Ok(())
            } else {
                Err(Error::script_status(code))
            }
        }
    }
}

fn copy(lock: &Locked, base: &Path, from: &Path, to: &Path) -> Result<()> {
    lock.place_atomically(base, from, to, false)
        .map_err(|e| Error::io(text::CANNOT_COPY_TO, to, e).into_kind(Kind::BuiltModuleMissing))
}

/// Copy `built` to `out`, compressed like the kernel's modules (`suffix`);
/// upstream falls back to the uncompressed module when compression fails.
fn compress_into(
    world: &World,
    lock: &Locked,
    base: &Path,
    built: &Path,
    suffix: &str,
    out: &Path,
) -> Result<()> {
    let s = &world.host.settings;
    let (prog, opts) = match suffix {
        ".gz" => ("gzip", s.compress_gzip_opts.as_str()),
        ".xz" => ("xz", s.compress_xz_opts.as_str()),
        ".zst" => ("zstd", s.compress_zstd_opts.as_str()),
        _ => return copy(lock, base, built, out),
    };
    let opts: Vec<&str> = opts.split_whitespace().filter(|o| *o != "--rm").collect();
    let file = lock
        .create_file(base, out, true)
        .map_err(|e| Error::io(text::CANNOT_CREATE, out, e).into_kind(Kind::BuiltModuleMissing))?;
    let st = Command::new(prog)
        .args(&opts)
        .arg("-c")
        .arg(built)
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(std::process::Stdio::null())
        .run_status();
    match st {
        Ok(s) if s.success() => Ok(()),
        _ => {
            // Upstream falls back to the uncompressed module. The partial
            // compressed file must go first: left beside it, install would
            // take it (compressed names win), so failing to remove it fails
            // the build.
            lock.remove_file(base, out).map_err(|e| {
                Error::io(text::CANNOT_REMOVE, out, e).into_kind(Kind::BuiltModuleMissing)
            })?;
            let plain = out.with_file_name(
                out.file_name()
                    .and_then(|n| n.to_str())
                    .map(|n| n.trim_end_matches(suffix).to_string())
                    .unwrap_or_default(),
            );
            copy(lock, base, built, &plain)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(
        "make -C /k M=/t/m/1/build",
        "make -j4 KERNELRELEASE=6.1 -C /k M=/t/m/1/build"
    )]
    #[case("make", "make -j4 KERNELRELEASE=6.1")]
    #[case("./build.sh", "./build.sh")]
    #[case("makefoo x", "make -j4 KERNELRELEASE=6.1foo x")]
    fn make_insertion(#[case] conf: &str, #[case] want: &str) {
        assert_eq!(make_command(conf, Some(4), "6.1"), want);
    }

    #[test]
    fn bare_j_for_zero_jobs() {
        assert_eq!(
            make_command("make all", None, "6.1"),
            "make -j KERNELRELEASE=6.1 all"
        );
    }

    #[rstest]
    #[case("dkms_test", false)]
    #[case("dkms_noisy_test", false)]
    #[case("hello", true)]
    #[case("dkms", true)]
    fn upstream_test_packages_get_no_dots(#[case] m: &str, #[case] want: bool) {
        assert_eq!(dots(m), want);
    }
}
