//! Building one module version for one kernel: upstream's `do_build`, in
//! upstream's build directory `<dkms_tree>/<m>/<v>/build` (the scheduler
//! never runs two builds of one module version at once), with the result
//! published atomically only when everything succeeded, so a failed
//! rebuild never takes away the build that worked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
pub use crate::exec::build_input::BuildInput;
use crate::exec::msg;
use crate::exec::runner::{self, Hold, Log, Output, Step};
use crate::exec::{build_result, privilege, source_check, Ctx, Locked};
use crate::layout::{Layout, OLD_BUILD, TMP_BUILD};
use crate::observe::conf::ModuleConf;
use crate::observe::kernel::KernelFacts;
use crate::observe::{ConfKey, World};
use crate::plan::Mvka;
use crate::report::Say;
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
        .ok_or_else(|| Error::msg(msg::kernel_not_observed(k)))?;
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
        .ok_or_else(|| Error::msg(msg::kernel_not_observed(k)))
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

/// The rest of `do_build`, from the BUILD_DEPENDS check on: each step
/// below in turn; the result is published only when all of them succeeded.
pub fn after_prepare(input: &BuildInput, say: &mut dyn Say, jobs: Jobs<'_>) -> Result<()> {
    let world = input.world;
    check_build_depends(input, say)?;
    remove_unpublished(input);
    // CC/LD from the kernel's configuration and build_environment's
    // variables, observed before planning.
    let env = world
        .build_facts(&input.at.k)
        .map(|b| b.env.clone())
        .ok_or_else(|| Error::msg(msg::kernel_not_observed(&input.at.k)))?;
    let dir = BuildDir::fill(input)?;
    apply_patches(input, say, &dir)?;
    let (lock, base, settings) = (input.lock, &world.host.layout.dkms, &world.host.settings);
    privilege::hand_over(lock, base, settings, &dir.path, &dir.log_path)?;
    dir.script(input, say, "pre_build", &input.conf.pre_build, &env)?;
    run_make(input, say, jobs, &dir, &env)?;
    privilege::take_back(lock, base, settings, &dir.path, &dir.log_path)?;
    check_built(input, &dir)?;
    crate::fault::point("build:after-make");
    let published = build_result::publish(input, say, &dir.path, &dir.log_path, &env)?;
    // POST_BUILD's output goes on in the build's log, which moved with the result.
    let log_path = published.join("log/make.log");
    privilege::hand_over(lock, base, settings, &dir.path, &log_path)?;
    let dir = dir.reopen_log(input, log_path)?;
    dir.script(input, say, "post_build", &input.conf.post_build, &env)?;
    // Best effort: a build directory without a make.log goes in the next run (clean_leftover).
    let _ = lock.remove_all(base, &dir.path);
    record_dep_versions(input, &published);
    Ok(())
}

/// BUILD_DEPENDS not installed for the kernel: the build is deferred
/// (upstream's exit 13), or only warned about under `--force`.
fn check_build_depends(input: &BuildInput, say: &mut dyn Say) -> Result<()> {
    let deps = &input.missing_deps;
    if deps.is_empty() {
        return Ok(());
    }
    let at = &input.at;
    if input.world.host.opts.force {
        say.warning(&[text::build_depends_forced(&at.m, &at.v, &at.k, &at.a, deps)]);
        Ok(())
    } else {
        Err(Error::build_depends(text::build_depends_missing(
            &at.m, &at.v, &at.k, &at.a, deps,
        )))
    }
}

/// Unpublished results of a killed build of this kernel (we hold the lock).
fn remove_unpublished(input: &BuildInput) {
    let (l, at) = (&input.world.host.layout, &input.at);
    let kdir = l.kernel_dir(&at.m, &at.v, &at.k);
    let ours = [
        format!("{TMP_BUILD}{}_", at.a),
        format!("{OLD_BUILD}{}_", at.a),
    ];
    for n in crate::fs::list_names(&kdir) {
        if ours.iter().any(|p| n.starts_with(p.as_str())) {
            // Best effort: leftovers are never published and every build tries again.
            let _ = input.lock.remove_all(&l.dkms, &kdir.join(n));
        }
    }
}

/// Upstream's build directory `<dkms_tree>/<m>/<v>/build` with the source
/// copied in and its make.log open.
struct BuildDir {
    path: PathBuf,
    log_path: PathBuf,
    log: Arc<Log>,
}

impl BuildDir {
    /// Empty the build directory, copy the source and the overlay patches
    /// in, and start make.log with its header.
    fn fill(input: &BuildInput) -> Result<BuildDir> {
        let (world, lock, at) = (input.world, input.lock, &input.at);
        let l = &world.host.layout;
        let base = &l.dkms;
        let source = source_dir(l, world, &at.m, &at.v);
        let path = l.build_dir(&at.m, &at.v);
        let log_path = path.join("make.log");
        lock.remove_all(base, &path)
            .map_err(|e| Error::io(msg::CANNOT_REMOVE, &path, e))?;
        source_check::check_source_tree(&source)?;
        lock.copy_tree(&source, base, &path).map_err(|e| {
            // The copy's error is the one that counts; the next build empties it first.
            let _ = lock.remove_all(base, &path);
            Error::io(&msg::cannot_copy_from(&source), &path, e)
        })?;
        source_check::confine_build_copy(lock, base, &source, &path)?;
        overlay_patches(world, lock, &at.m, &path)?;
        crate::fault::point("build:after-copy");
        let log = Log::open(lock, base, &log_path, false)
            .map_err(|e| Error::io(msg::CANNOT_WRITE, &log_path, e))?;
        log.append(&text::make_log_header(
            &at.m,
            &at.v,
            &at.k,
            &at.a,
            &runner::date_now(),
        ));
        Ok(BuildDir {
            path,
            log_path,
            log,
        })
    }

    /// The same directory with its log at `log_path` (where it moved).
    fn reopen_log(self, input: &BuildInput, log_path: PathBuf) -> Result<BuildDir> {
        let BuildDir { path, log, .. } = self;
        drop(log);
        let log = Log::open(input.lock, &input.world.host.layout.dkms, &log_path, false)
            .map_err(|e| Error::io(msg::CANNOT_WRITE, &log_path, e))?;
        Ok(BuildDir {
            path,
            log_path,
            log,
        })
    }

    /// A step that runs in the build directory, its output in make.log.
    fn step(&self, m: &str, command: String, what: String) -> Step {
        let mut step = Step::new(command, what);
        step.output = Output::Log(self.log.clone());
        step.cwd = Some(self.path.clone());
        step.dots = dots(m);
        step
    }

    /// PRE_BUILD or POST_BUILD, run in the build directory into make.log.
    fn script(
        &self,
        input: &BuildInput,
        say: &mut dyn Say,
        kind: &str,
        script: &str,
        env: &[(String, String)],
    ) -> Result<()> {
        run_script(
            input.world,
            say,
            kind,
            script,
            &self.path,
            Some((&self.log, input.lock)),
            env,
            &input.at.m,
        )
    }
}

/// PATCH[]: each applied with `patch -p1` in the build directory.
fn apply_patches(input: &BuildInput, say: &mut dyn Say, dir: &BuildDir) -> Result<()> {
    let verbose = input.world.host.verbose();
    for p in &input.conf.patches {
        if format!("patches/{p}").contains("/../") {
            return Err(Error::not_allowed([text::patch_dotdot(p)]));
        }
        if !dir.path.join("patches").join(p).exists() {
            return Err(Error::not_allowed(text::patch_missing(p, &dir.path)));
        }
        let step = dir.step(
            &input.at.m,
            format!("patch -p1 < ./patches/{p}"),
            text::step_patch(p),
        );
        if runner::invoke(say, &step, verbose, None, Hold::Lock(input.lock)) != 0 {
            return Err(Error::install_failed(text::patch_failed(p, &dir.log_path)));
        }
    }
    Ok(())
}

/// MAKE[] with upstream's `-jN KERNELRELEASE=` (or the jobserver's slots).
fn run_make(
    input: &BuildInput,
    say: &mut dyn Say,
    jobs: Jobs<'_>,
    dir: &BuildDir,
    env: &[(String, String)],
) -> Result<()> {
    let (world, at, conf) = (input.world, &input.at, input.conf);
    let make = match jobs {
        Jobs::Fixed(n) => make_command(&conf.make_command, n, &at.k),
        // Upstream's -jN is dropped: the jobserver in MAKEFLAGS decides.
        Jobs::Server(_) => match conf.make_command.strip_prefix("make") {
            Some(rest) => format!("make KERNELRELEASE={}{rest}", at.k),
            None => conf.make_command.clone(),
        },
    };
    let command = privilege::wrap(&world.host.settings, &make)?;
    let mut step = dir.step(&at.m, command, text::STEP_BUILD.into());
    step.env = env.to_vec();
    let client = match jobs {
        Jobs::Server(c) => Some(c),
        Jobs::Fixed(_) => None,
    };
    if runner::invoke(
        say,
        &step,
        world.host.verbose(),
        client,
        Hold::Lock(input.lock),
    ) != 0
    {
        // The hooks show make.log's tail once, in their summary.
        return Err(Error::build_failed(text::make_failed(
            &at.k,
            &at.a,
            &dir.log_path,
        )));
    }
    Ok(())
}

/// Every module dkms.conf names must have come out of make.
fn check_built(input: &BuildInput, dir: &BuildDir) -> Result<()> {
    let at = &input.at;
    for r in input.conf.modules.iter().filter(|r| r.buildable) {
        let f = dir
            .path
            .join(format!("{}{}.ko", r.built_location, r.built_name));
        if !f.exists() {
            return Err(Error::built_missing(text::built_module_missing(
                &r.built_location,
                &r.built_name,
                &at.k,
                &at.a,
                &dir.log_path,
            )));
        }
    }
    Ok(())
}

/// BUILD_DEPENDS_REBUILD: the version of each dependency this build used,
/// so that a newer one rebuilds it.
fn record_dep_versions(input: &BuildInput, published: &Path) {
    let (world, at, conf) = (input.world, &input.at, input.conf);
    if !conf.build_depends_rebuild || world.host.opts.force {
        return;
    }
    for bd in &conf.build_depends {
        if let Some(dv) = installed_dep_version(world, bd, &at.k, &at.a) {
            let f = published.join(format!(".dep_{bd}"));
            let bytes = format!("{dv}\n");
            let res = input
                .lock
                .write_atomic(&world.host.layout.dkms, &f, bytes.as_bytes(), 0o644);
            if let Err(e) = res {
                // The build stands; without the record the next install
                // takes the dependency for updated and rebuilds it.
                log::warn!("cannot write {}: {e}", f.display());
            }
        }
    }
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

/// Upstream prints no progress dots for its own test packages (`dkms*_test`):
/// its background steps (scripts, patches, make, depmod, post_transaction)
/// test the `$package_name` of the dkms.conf it read last.
pub(crate) fn dots(m: &str) -> bool {
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
        .map_err(|e| Error::io(&msg::cannot_copy_from(&dir), &bdir.join("patches"), e))
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
