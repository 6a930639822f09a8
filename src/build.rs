//! Building one module version for one kernel: upstream's `do_build`, in a
//! build directory of its own (`<dkms_tree>/<m>/<v>/build-<kver>-<arch>`)
//! so builds for several kernels can run at once, with the result moved into
//! place only when everything succeeded.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::conf::ModuleConf;
use crate::context::Ctx;
use crate::distro::is_debian_like;
use crate::error::{Error, Result};
use crate::kernel::Kernel;
use crate::runner::{self, Step};
use crate::sign::{self, Signer};

/// Lines of make.log shown when a build fails.
pub const TAIL_LINES: usize = 10;

/// The per-kernel build directory for m/v on k/a.
pub fn build_dir(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str) -> PathBuf {
    ctx.tree().version_dir(m, v).join(format!("build-{k}-{a}"))
}

/// Remove what an interrupted build of m/v for k/a can leave behind: the
/// per-kernel build directory and unpublished `.tmp_<arch>_*` results.
/// Only called with the tree lock held, so nothing else is using them.
pub fn clean_stale(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str) {
    let _ = std::fs::remove_dir_all(build_dir(ctx, m, v, k, a));
    let kdir = ctx.tree().version_dir(m, v).join(k);
    if let Ok(rd) = std::fs::read_dir(&kdir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&format!(".tmp_{a}_")) || n.starts_with(&format!(".old_{a}_")) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    if crate::tree::list_dirs(&kdir).is_empty() {
        let _ = std::fs::remove_dir(&kdir);
    }
}

/// Upstream's `prepare_kernel`: the headers must be there (exit 21).
pub fn check_headers(ctx: &Ctx, kernel: &Kernel) -> Result<()> {
    if kernel.has_headers() {
        return Ok(());
    }
    let k = &kernel.version;
    let it = ctx.settings.root.inside(&ctx.settings.install_tree);
    let second = if is_debian_like(&ctx.distribution) {
        format!("Please install the linux-headers-{k} package or use the --kernelsourcedir option to tell DKMS where it's located.")
    } else {
        format!("Please install your distribution's kernel headers package matching {k}, or use the --kernelsourcedir option to tell DKMS where it's located.")
    };
    Err(Error::new(
        21,
        [format!("Your kernel headers for kernel {k} cannot be found at {}/{k}/build or {}/{k}/source.", it.display(), it.display()), second],
    ))
}

/// Replace the shared upstream build path `<dkms_tree>/<m>/<v>/build` in a
/// command with this build's own directory, where it stands as a whole path.
pub fn retarget(cmd: &str, shared: &str, own: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    let mut rest = cmd;
    while let Some(pos) = rest.find(shared) {
        let after = &rest[pos + shared.len()..];
        let boundary = after.chars().next().map_or(true, |c| {
            c == '/' || c.is_whitespace() || c == '"' || c == '\'' || c == ';'
        });
        out.push_str(&rest[..pos]);
        out.push_str(if boundary { own } else { shared });
        rest = after;
    }
    out.push_str(rest);
    out
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

/// What a finished build produced, for the caller's messages.
#[derive(Debug, Clone)]
pub struct Built {
    /// `<dkms_tree>/<m>/<v>/<k>/<a>`.
    pub base_dir: PathBuf,
}

/// How a build gets its make parallelism.
#[derive(Clone, Copy)]
pub enum Jobs<'a> {
    /// `make -jN` (a plain `dkms build`).
    Fixed(usize),
    /// A shared GNU make jobserver: make gets `-j` slots from it through MAKEFLAGS.
    Server(&'a jobserver::Client),
}

/// Build m/v for k/a (upstream `do_build`). The module must be added. When a
/// build already exists it is replaced only after the new one succeeded.
pub fn build(ctx: &Ctx, m: &str, v: &str, k: &str, a: &str, jobs: Jobs<'_>) -> Result<Built> {
    if k.is_empty() || a.is_empty() {
        return Err(Error::msg(16, "do_build: Empty $kernelver or $arch"));
    }
    let tree = ctx.tree();
    let base_dir = tree.base_dir(m, v, k, a);
    let conf = ctx.read_conf(m, v, k, a, None, true)?;
    if conf.build_exclude {
        return Err(Error::warn(
            77,
            [
                format!("The {}/dkms.conf", base_dir.display()),
                format!("for module {m}/{v} includes BUILD_EXCLUSIVE directives"),
                "which do not match this kernel/arch/config for any modules.".to_string(),
                "This indicates that it should not be built.".to_string(),
            ],
        ));
    }
    let source_dir = tree.source_dir(m, v);
    let entries = std::fs::read_dir(&source_dir)
        .map(|r| r.count())
        .unwrap_or(0);
    if entries < 2 {
        return Err(Error::new(
            8,
            [
                format!(
                    "The directory {} does not appear to have module source located within it.",
                    tree.source_link(m, v).display()
                ),
                "Build halted.".to_string(),
            ],
        ));
    }
    let kernel = ctx.kernel(k);
    check_headers(ctx, &kernel)?;
    let signer = sign::prepare(ctx, &kernel, a);
    crate::output::line("");

    check_build_depends(ctx, m, v, k, a, &conf)?;

    clean_stale(ctx, m, v, k, a);
    let bdir = build_dir(ctx, m, v, k, a);
    let log = bdir.join("make.log");
    crate::source_check::check_source_tree(&source_dir)?;
    prepare_build_dir(&source_dir, &bdir)?;
    crate::source_check::confine_build_copy(&source_dir, &bdir)?;
    crate::fault::point("build:after-copy");
    runner::append(
        &log,
        &format!(
            "DKMS ({}) make.log for {m}/{v} for kernel {k} ({a})\n{}\n",
            crate::output::RELEASE,
            runner::date_now()
        ),
    );
    let env = compiler_env(ctx, &kernel);
    let shared = tree.version_dir(m, v).join("build").display().to_string();
    let own = bdir.display().to_string();

    // Patches.
    for p in &conf.patches {
        if format!("patches/{p}").contains("/../") {
            return Err(fail(
                5,
                [format!(
                    "Patch {p} as specified in dkms.conf contains '..' path component."
                )],
            ));
        }
        if !bdir.join("patches").join(p).exists() {
            return Err(fail(
                5,
                [
                    format!("Patch {p} as specified in dkms.conf cannot be"),
                    format!("found in {}/patches/.", bdir.display()),
                ],
            ));
        }
        let mut step = Step::new(
            format!("patch -p1 < ./patches/{p}"),
            format!("Applying patch {p}"),
        );
        step.log = Some(log.clone());
        step.cwd = Some(bdir.clone());
        if runner::invoke(&step, ctx.verbose()) != 0 {
            return Err(fail(
                6,
                [
                    format!("Application of patch {p} failed."),
                    format!("Consult {} for more information.", log.display()),
                ],
            ));
        }
    }

    crate::privilege::hand_over(ctx, &bdir, &log)?;
    run_script(
        ctx,
        "pre_build",
        &retarget(&conf.pre_build, &shared, &own),
        &bdir,
        Some(&log),
        &env,
    )?;

    let make = retarget(&conf.make_command, &shared, &own);
    let (make, mut make_env) = match jobs {
        Jobs::Fixed(n) => (make_command(&make, Some(n), k), env.clone()),
        Jobs::Server(_) => {
            // Drop upstream's -jN: the jobserver in MAKEFLAGS decides.
            let cmd = match make.strip_prefix("make") {
                Some(rest) => format!("make KERNELRELEASE={k}{rest}"),
                None => make.clone(),
            };
            (cmd, env.clone())
        }
    };
    let mut step = Step::new(crate::privilege::wrap(ctx, &make)?, "Building module(s)");
    step.log = Some(log.clone());
    step.cwd = Some(bdir.clone());
    step.env.append(&mut make_env);
    let status = match jobs {
        Jobs::Server(client) => runner::invoke_with(&step, ctx.verbose(), Some(client)),
        Jobs::Fixed(_) => runner::invoke(&step, ctx.verbose()),
    };
    if status != 0 {
        let mut e = fail(
            10,
            [
                format!("Bad return status for module build on kernel: {k} ({a})"),
                format!("Consult {} for more information.", log.display()),
            ],
        );
        e.lines.extend(tail_block(&log));
        return Err(e);
    }

    crate::privilege::take_back(ctx, &bdir, &log)?;
    for r in conf.modules.iter().filter(|r| r.buildable) {
        let f = bdir.join(format!("{}{}.ko", r.built_location, r.built_name));
        if !f.exists() {
            return Err(fail(
                7,
                [
                    format!(
                        "Build of {}{}.ko failed for: {k} ({a})",
                        r.built_location, r.built_name
                    ),
                    "Make sure the name and location of the generated module are correct,"
                        .to_string(),
                    format!("or consult {} for more information.", log.display()),
                ],
            ));
        }
    }

    crate::fault::point("build:after-make");
    let suffix = kernel.module_suffix();
    let kdir = tree.version_dir(m, v).join(k);
    std::fs::create_dir_all(&kdir)
        .map_err(|e| Error::io("Cannot create", &kdir, e).with_code(7))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp_{a}_"))
        .tempdir_in(&kdir)
        .map_err(|e| Error::io("Unable to make temporary directory in", &kdir, e))?;
    let tmp_base = tmp.path().to_path_buf();
    let mk = |p: &Path| {
        std::fs::create_dir_all(p).map_err(|e| Error::io("Cannot create", p, e).with_code(7))
    };
    mk(&tmp_base.join("log"))?;
    mk(&tmp_base.join("module"))?;
    let symvers = bdir.join("Module.symvers");
    if symvers.is_file() {
        copy(&symvers, &tmp_base.join("module/Module.symvers"))?;
    }
    for r in conf.modules.iter().filter(|r| r.buildable) {
        let built = bdir.join(format!("{}{}.ko", r.built_location, r.built_name));
        if r.strip {
            let _ = Command::new("strip").arg("-g").arg(&built).status();
        }
        if let Some(s) = &signer {
            Signer::sign(s, &built);
        }
        let out = tmp_base
            .join("module")
            .join(format!("{}.ko{}", r.dest_name, suffix));
        compress_into(ctx, &built, suffix, &out)?;
    }
    set_mode_755(&tmp_base);
    // The log travels with the build, so a published build always has it.
    let _ = std::fs::rename(&log, tmp_base.join("log/make.log"));
    let log = base_dir.join("log/make.log");
    crate::fault::point("build:before-rename");
    // Publish atomically: a first build by rename, a rebuild (--force) by
    // exchanging the two directories, so there is never a moment without one.
    let kept = tmp.keep();
    let published = if base_dir.exists() {
        nix::fcntl::renameat2(
            None,
            &kept,
            None,
            &base_dir,
            nix::fcntl::RenameFlags::RENAME_EXCHANGE,
        )
        .map_err(std::io::Error::from)
    } else {
        std::fs::rename(&kept, &base_dir)
    };
    if let Err(e) = published {
        let _ = std::fs::remove_dir_all(&kept);
        return Err(Error::msg(7, format!("do_build: final mv failed ({e})")));
    }
    // After an exchange `kept` holds the previous build.
    let _ = std::fs::remove_dir_all(&kept);

    crate::fault::point("build:after-rename");
    crate::privilege::hand_over(ctx, &bdir, &log)?;
    // POST_BUILD runs in the build directory, as upstream's does.
    let post = run_script(
        ctx,
        "post_build",
        &retarget(&conf.post_build, &shared, &own),
        &bdir,
        Some(&log),
        &env,
    );
    let _ = std::fs::remove_dir_all(&bdir);
    post?;

    if conf.build_depends_rebuild && !ctx.opts.force {
        for bd in &conf.build_depends {
            if let Some(dv) = installed_version(ctx, bd, k, a) {
                let _ = std::fs::write(base_dir.join(format!(".dep_{bd}")), format!("{dv}\n"));
            }
        }
    }
    Ok(Built { base_dir })
}

fn fail<S: Into<String>>(code: i32, lines: impl IntoIterator<Item = S>) -> Error {
    Error::new(code, lines)
}

/// The "last lines of make.log" block appended to a build failure.
pub fn tail_block(log: &Path) -> Vec<String> {
    // Skip make.log's closing frame (exit code, elapsed time, dashes) so the
    // lines shown are the compiler's.
    let mut lines = runner::tail(log, TAIL_LINES + 5);
    while lines.last().is_some_and(|l| {
        l.is_empty()
            || l.starts_with("# exit code:")
            || l.starts_with("# elapsed time:")
            || l.chars().all(|c| c == '-')
    }) {
        lines.pop();
    }
    let lines: Vec<String> = lines[lines.len().saturating_sub(TAIL_LINES)..].to_vec();
    if lines.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!("Last {} lines of {}:", lines.len(), log.display())];
    out.extend(lines.into_iter().map(|l| format!("  {l}")));
    out
}

/// The newest version of `dep` installed for k/a, if any.
pub fn installed_version(ctx: &Ctx, dep: &str, k: &str, a: &str) -> Option<String> {
    let tree = ctx.tree();
    let mut vs: Vec<String> = tree
        .versions(dep)
        .into_iter()
        .filter(|v| tree.is_installed(dep, v, k, a))
        .collect();
    vs.sort_by(|x, y| crate::version::sort_v_cmp(x, y));
    vs.pop()
}

fn check_build_depends(
    ctx: &Ctx,
    m: &str,
    v: &str,
    k: &str,
    a: &str,
    conf: &ModuleConf,
) -> Result<()> {
    let missing: Vec<&str> = conf
        .build_depends
        .iter()
        .map(String::as_str)
        .filter(|bd| installed_version(ctx, bd, k, a).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list: String = missing.iter().map(|d| format!(" {d}")).collect();
    if ctx.opts.force {
        eprintln!("Warning: Trying to build module {m}/{v} for kernel {k} ({a}) despite of missing BUILD_DEPENDS:{list}.");
        return Ok(());
    }
    Err(Error::new(
        13,
        [
            format!("Aborting build of module {m}/{v} for kernel {k} ({a}) due to missing BUILD_DEPENDS:{list}."),
            "You may override by specifying --force.".to_string(),
        ],
    ))
}

fn prepare_build_dir(source: &Path, bdir: &Path) -> Result<()> {
    if bdir.exists() {
        std::fs::remove_dir_all(bdir).map_err(|e| Error::io("Cannot remove", bdir, e))?;
    }
    if let Some(p) = bdir.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io("Cannot create", p, e))?;
    }
    let ok = crate::copytree::copy_tree(source, bdir).is_ok();
    if ok {
        Ok(())
    } else {
        let _ = std::fs::remove_dir_all(bdir);
        Err(Error::msg(
            1,
            format!("Cannot copy {} to {}.", source.display(), bdir.display()),
        ))
    }
}

/// Upstream's compiler selection: CC (and KERNEL_CC) from
/// CONFIG_CC_VERSION_TEXT when that compiler exists, clang/ld.lld for clang kernels.
fn compiler_env(ctx: &Ctx, kernel: &Kernel) -> Vec<(String, String)> {
    let cfg = ctx.kernel_config(kernel);
    let mut env = crate::forced::build_environment(ctx.settings.build_environment.as_deref());
    if let Some(text) = crate::kernel::config_file_value(&cfg, "CONFIG_CC_VERSION_TEXT") {
        if let Some(cc) = text.split_whitespace().next() {
            if in_path(cc) {
                env.push(("CC".to_string(), cc.to_string()));
                env.push(("KERNEL_CC".to_string(), cc.to_string()));
            }
        }
    }
    if crate::kernel::config_file_value(&cfg, "CONFIG_CC_IS_CLANG").as_deref() == Some("y")
        && in_path("clang")
    {
        env.push(("CC".into(), "clang".into()));
        env.push(("KERNEL_CC".into(), "clang".into()));
    }
    if crate::kernel::config_file_value(&cfg, "CONFIG_LD_IS_LLD").as_deref() == Some("y")
        && in_path("ld.lld")
    {
        env.push(("LD".into(), "ld.lld".into()));
        env.push(("KERNEL_LD".into(), "ld.lld".into()));
    }
    env
}

/// True if `prog` is an executable in PATH.
pub fn in_path(prog: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    if prog.contains('/') {
        return Path::new(prog).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p).any(|d| {
                std::fs::metadata(d.join(prog))
                    .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false)
}

/// Upstream's `run_build_script`: PRE_/POST_BUILD run in the build dir, the
/// others in the source dir. A script that is not executable is only warned about.
pub fn run_script(
    ctx: &Ctx,
    kind: &str,
    script: &str,
    dir: &Path,
    log: Option<&Path>,
    env: &[(String, String)],
) -> Result<()> {
    if script.is_empty() {
        return Ok(());
    }
    let first = script.split_whitespace().next().unwrap_or("");
    let prog = if first.starts_with('/') {
        PathBuf::from(first)
    } else {
        dir.join(first)
    };
    let run = if first.starts_with('/') {
        script.to_string()
    } else {
        format!("{}/{}", dir.display(), script)
    };
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(&prog)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    if !executable {
        crate::output::line("");
        eprintln!("Warning: The {kind} script is not executable.");
        return Ok(());
    }
    match log {
        Some(log) => {
            let mut step = Step::new(
                crate::privilege::wrap(ctx, &format!("cd {}/ && {run}", dir.display()))?,
                format!("Running the {kind} script"),
            );
            step.log = Some(log.to_path_buf());
            step.env = env.to_vec();
            let res = runner::invoke(&step, ctx.verbose());
            if res != 0 {
                crate::output::line(&format!("Consult {} for more information.", log.display()));
                return Err(Error {
                    code: res,
                    lines: Vec::new(),
                    warning: false,
                    silent: true,
                });
            }
            Ok(())
        }
        None => {
            crate::output::line(&format!("Running the {kind} script:"));
            let st = Command::new("bash")
                .arg("-c")
                .arg(format!("exec {run}"))
                .current_dir(dir)
                .envs(env.iter().cloned())
                .status();
            match st {
                Ok(s) if s.success() => Ok(()),
                Ok(s) => Err(Error {
                    code: s.code().unwrap_or(1),
                    lines: Vec::new(),
                    warning: false,
                    silent: true,
                }),
                Err(e) => Err(Error::msg(1, format!("Cannot run the {kind} script: {e}"))),
            }
        }
    }
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| Error::io("Cannot copy to", to, e).with_code(7))
}

/// Copy `built` to `out`, compressed like the kernel's modules (`suffix`).
fn compress_into(ctx: &Ctx, built: &Path, suffix: &str, out: &Path) -> Result<()> {
    let s = &ctx.settings;
    let (prog, opts) = match suffix {
        ".gz" => ("gzip", s.compress_gzip_opts.as_str()),
        ".xz" => ("xz", s.compress_xz_opts.as_str()),
        ".zst" => ("zstd", s.compress_zstd_opts.as_str()),
        _ => return copy(built, out),
    };
    let opts: Vec<&str> = opts.split_whitespace().filter(|o| *o != "--rm").collect();
    let file =
        std::fs::File::create(out).map_err(|e| Error::io("Cannot create", out, e).with_code(7))?;
    let st = Command::new(prog)
        .args(&opts)
        .arg("-c")
        .arg(built)
        .stdout(file)
        .status();
    match st {
        Ok(s) if s.success() => Ok(()),
        _ => {
            // Upstream falls back to the uncompressed module when compression fails.
            let _ = std::fs::remove_file(out);
            let plain = out.with_file_name(
                out.file_name()
                    .and_then(|n| n.to_str())
                    .map(|n| n.trim_end_matches(suffix).to_string())
                    .unwrap_or_default(),
            );
            copy(built, &plain)
        }
    }
}

fn set_mode_755(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
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

    #[rstest]
    #[case("make M=/t/m/1/build", "make M=/t/m/1/build-6.1-x86_64")]
    #[case(
        "make M=/t/m/1/build/src V=1",
        "make M=/t/m/1/build-6.1-x86_64/src V=1"
    )]
    #[case("make M=\"/t/m/1/build\"", "make M=\"/t/m/1/build-6.1-x86_64\"")]
    #[case("make M=/t/m/1/builder", "make M=/t/m/1/builder")]
    fn retargets_shared_build_dir(#[case] cmd: &str, #[case] want: &str) {
        assert_eq!(
            retarget(cmd, "/t/m/1/build", "/t/m/1/build-6.1-x86_64"),
            want
        );
    }
}
