//! The shims and config files that package managers run (`kernel-postinst.d/`,
//! `hooks/`, `apt.conf.d/`), driven the way dpkg, run-parts, apt, rpm and
//! kernel-install call them.
//!
//! The shims name `/usr/sbin/dkms-hook` by absolute path, so each test copies a
//! shim into a temporary directory with that path rewritten to a fake program
//! that records its arguments and exits with a chosen code.
//!
//! `hooks/dkms_common.postinst` and `hooks/dkms-autopkgtest` have fixed paths
//! (`/lib/modules`, `/var/lib/dkms`, `/etc/dkms`). The former's argument
//! checks run directly; the rest runs in a throwaway root entered through a private user and mount namespace (`unshare -rm` +
//! `chroot`), so the real system is never touched. Those tests are skipped with
//! a message where user namespaces are not available, except under CI (`CI`
//! set), where that is a failure.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::harness::*;

/// The path every shim uses for the real program.
const REAL: &str = "/usr/sbin/dkms-hook";

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A scratch directory with a fake `dkms-hook` that appends one line per call
/// (its arguments joined by `|`) to `calls` and exits with `$FAKE_RC`.
struct Fake {
    dir: TempDir,
}

impl Fake {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("dkms-shims-")
            .tempdir()
            .unwrap();
        let log = dir.path().join("calls");
        write_executable(
            &dir.path().join("fake-dkms-hook"),
            format!(
                "#!/bin/sh\n(IFS='|'; printf '%s\\n' \"$*\") >> '{}'\nexit \"${{FAKE_RC:-0}}\"\n",
                log.display()
            ),
        );
        Fake { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The fake program's path.
    fn bin(&self) -> String {
        self.path("fake-dkms-hook").display().to_string()
    }

    /// A path where no program exists (the package was removed).
    fn missing(&self) -> String {
        self.path("removed/dkms-hook").display().to_string()
    }

    /// Copies the repository file `src` to `dest` (relative to the scratch
    /// dir) with `/usr/sbin/dkms-hook` replaced by `program`.
    fn install(&self, src: &str, dest: &str, program: &str) -> PathBuf {
        let text = read(&repo().join(src));
        assert!(text.contains(REAL), "{src} does not call {REAL}");
        let path = self.path(dest);
        write_executable(&path, text.replace(REAL, program));
        path
    }

    /// The recorded calls, one per line.
    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.path("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn run(cmd: &mut Command, rc: i32) -> Output {
    run_command(cmd.env("FAKE_RC", rc.to_string()), RUN_TIMEOUT)
}

// ---------------------------------------------------------------------------
// /etc/kernel/*.d shims

#[test]
fn postinst_shim_passes_kernel_and_image() {
    let fake = Fake::new();
    let shim = fake.install(
        "kernel-postinst.d/dkms-hook",
        "etc/kernel/postinst.d/dkms-hook",
        &fake.bin(),
    );
    let out = run(
        Command::new(&shim).args(["6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-9-amd64"]),
        0,
    );
    assert_eq!(out.code, 0, "{}", out);
    assert_eq!(
        fake.calls(),
        ["kernel-postinst|6.1.0-9-amd64|/boot/vmlinuz-6.1.0-9-amd64"]
    );
}

#[test]
fn postinst_shim_reports_a_build_failure() {
    // run-parts --exit-on-error must see the real exit code.
    let fake = Fake::new();
    let shim = fake.install(
        "kernel-postinst.d/dkms-hook",
        "etc/kernel/postinst.d/dkms-hook",
        &fake.bin(),
    );
    let out = run(Command::new(&shim).args(["6.1.0-9-amd64"]), 11);
    assert_eq!(out.code, 11, "{}", out);
}

#[test]
fn same_shim_under_header_postinst_d_runs_header_postinst() {
    let fake = Fake::new();
    let shim = fake.install(
        "kernel-postinst.d/dkms-hook",
        "etc/kernel/header_postinst.d/dkms-hook",
        &fake.bin(),
    );
    let out = run(Command::new(&shim).args(["6.1.0-9-amd64"]), 0);
    assert_eq!(out.code, 0, "{}", out);
    // A caller that also passes an image path must not break the headers hook.
    let out = run(
        Command::new(&shim).args(["6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-9-amd64"]),
        0,
    );
    assert_eq!(out.code, 0, "{}", out);
    assert_eq!(
        fake.calls(),
        [
            "header-postinst|6.1.0-9-amd64",
            "header-postinst|6.1.0-9-amd64"
        ]
    );
}

#[test]
fn preinst_and_prerm_shims_pass_their_event() {
    let fake = Fake::new();
    for (src, event) in [
        ("hooks/preinst.d/dkms-hook", "kernel-preinst"),
        ("hooks/prerm.d/dkms-hook", "kernel-prerm"),
    ] {
        let shim = fake.install(src, &format!("{event}/dkms-hook"), &fake.bin());
        let out = run(
            Command::new(&shim).args(["6.1.0-9-amd64", "/boot/vmlinuz"]),
            0,
        );
        assert_eq!(out.code, 0, "{src}: {}", out);
    }
    assert_eq!(
        fake.calls(),
        [
            "kernel-preinst|6.1.0-9-amd64|/boot/vmlinuz",
            "kernel-prerm|6.1.0-9-amd64|/boot/vmlinuz"
        ]
    );
}

#[test]
fn kernel_shims_do_nothing_once_the_program_is_removed() {
    // /etc/kernel/*.d files are conffiles: they stay after "apt remove", and a
    // missing program must not make every later kernel install fail.
    let fake = Fake::new();
    for (src, dest) in [
        ("kernel-postinst.d/dkms-hook", "postinst.d/dkms-hook"),
        ("kernel-postinst.d/dkms-hook", "header_postinst.d/dkms-hook"),
        ("hooks/preinst.d/dkms-hook", "preinst.d/dkms-hook"),
        ("hooks/prerm.d/dkms-hook", "prerm.d/dkms-hook"),
    ] {
        let shim = fake.install(src, dest, &fake.missing());
        let out = run(Command::new(&shim).args(["6.1.0-9-amd64"]), 0);
        assert_eq!(out.code, 0, "{dest}: {}", out);
    }
}

#[test]
fn shims_are_short_executable_sh_scripts() {
    for rel in [
        "kernel-postinst.d/dkms-hook",
        "hooks/preinst.d/dkms-hook",
        "hooks/prerm.d/dkms-hook",
        "hooks/40-dkms-hook.install",
        "hooks/dkms_common.postinst",
    ] {
        let path = repo().join(rel);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{rel} is not executable");
        assert!(read(&path).starts_with("#!/bin/sh\n"), "{rel}");
    }
    for rel in [
        "kernel-postinst.d/dkms-hook",
        "hooks/preinst.d/dkms-hook",
        "hooks/prerm.d/dkms-hook",
    ] {
        let lines = read(&repo().join(rel)).lines().count();
        assert!(lines <= 4, "{rel} has {lines} lines");
    }
}

// ---------------------------------------------------------------------------
// kernel-install plugin

#[test]
fn kernel_install_plugin_never_returns_77() {
    let fake = Fake::new();
    let plugin = fake.install(
        "hooks/40-dkms-hook.install",
        "install.d/40-dkms-hook.install",
        &fake.bin(),
    );
    for (rc, want) in [(0, 0), (77, 0), (1, 1), (10, 10), (11, 11)] {
        let out = run(
            Command::new(&plugin).args([
                "add",
                "6.1.0-9-amd64",
                "/boot/efi/abc/6.1.0-9-amd64",
                "/boot/vmlinuz-6.1.0-9-amd64",
            ]),
            rc,
        );
        assert_eq!(out.code, want, "fake exit {rc}: {}", out);
    }
    let out = run(
        Command::new(&plugin).args(["remove", "6.1.0-9-amd64", "/boot/efi/abc/6.1.0-9-amd64"]),
        77,
    );
    assert_eq!(out.code, 0, "{}", out);
    let calls = fake.calls();
    assert_eq!(calls.len(), 6);
    assert_eq!(
        calls[0],
        "kernel-install|add|6.1.0-9-amd64|/boot/efi/abc/6.1.0-9-amd64|/boot/vmlinuz-6.1.0-9-amd64"
    );
    assert_eq!(
        calls[5],
        "kernel-install|remove|6.1.0-9-amd64|/boot/efi/abc/6.1.0-9-amd64"
    );
}

// ---------------------------------------------------------------------------
// apt

/// The shell command inside `DPkg::Post-Invoke { "..."; };`.
fn apt_command() -> String {
    let text = read(&repo().join("apt.conf.d/90dkms-hook"));
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("DPkg::Post-Invoke"))
        .expect("a DPkg::Post-Invoke line");
    assert!(line.trim_end().ends_with("\"; };"), "{line}");
    let start = line.find('"').unwrap() + 1;
    let end = line.rfind('"').unwrap();
    line[start..end].to_owned()
}

#[test]
fn apt_post_invoke_calls_the_hook_and_never_fails_apt() {
    let fake = Fake::new();
    let cmd = apt_command();
    assert!(cmd.contains("/usr/sbin/dkms-hook apt-post-invoke"), "{cmd}");
    let cmd = cmd.replace(REAL, &fake.bin());
    for rc in [0, 1, 11] {
        let out = run(Command::new("sh").args(["-c", &cmd]), rc);
        assert_eq!(out.code, 0, "fake exit {rc}: {}", out);
    }
    assert_eq!(fake.calls(), ["apt-post-invoke"; 3]);
}

#[test]
fn apt_post_invoke_is_quiet_when_the_program_is_gone() {
    let fake = Fake::new();
    let cmd = apt_command().replace(REAL, &fake.missing());
    let out = run(Command::new("sh").args(["-c", &cmd]), 0);
    assert_eq!(out.code, 0, "{}", out);
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{}", out);
}

// ---------------------------------------------------------------------------
// dpkg triggers

#[test]
fn dpkg_triggers_file_has_exactly_the_two_interests() {
    let text = read(&repo().join("hooks/triggers"));
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        ["interest-noawait /usr/src", "interest-noawait /lib/modules"]
    );
}

#[test]
fn postinst_trigger_snippet_passes_trigger_names_and_never_fails() {
    let fake = Fake::new();
    let snippet = fake.install(
        "hooks/postinst-trigger.sh",
        "postinst-trigger.sh",
        &fake.bin(),
    );
    let script = format!(". '{}'", snippet.display());
    let out = run(
        Command::new("sh").args([
            "-c",
            &script,
            "postinst",
            "triggered",
            "/usr/src /lib/modules",
        ]),
        1,
    );
    assert_eq!(out.code, 0, "{}", out);
    let out = run(
        Command::new("sh").args(["-c", &script, "postinst", "configure", "0.1.0"]),
        0,
    );
    assert_eq!(out.code, 0, "{}", out);
    assert_eq!(fake.calls(), ["dpkg-trigger|/usr/src|/lib/modules"]);
}

// ---------------------------------------------------------------------------
// RPM file triggers

/// The scriptlet bodies of `hooks/rpm-triggers.spec`, keyed by their header line.
fn rpm_scriptlets() -> Vec<(String, String)> {
    let text = read(&repo().join("hooks/rpm-triggers.spec"));
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('%') {
            out.push((line.to_owned(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

fn run_scriptlet(fake: &Fake, body: &str, stdin: &str, rc: i32) -> Output {
    let path = fake.path("scriptlet.sh");
    write_executable(
        &path,
        format!("#!/bin/sh\n{}", body.replace(REAL, &fake.bin())),
    );
    let mut cmd = Command::new("sh");
    cmd.arg(&path).env("FAKE_RC", rc.to_string());
    run_command_with_stdin(cmd, stdin.as_bytes(), RUN_TIMEOUT)
}

#[test]
fn rpm_triggers_cover_headers_modules_and_removal() {
    let heads: Vec<String> = rpm_scriptlets().into_iter().map(|(h, _)| h).collect();
    assert_eq!(
        heads,
        [
            "%transfiletriggerin -- /usr/src/kernels",
            "%transfiletriggerin -- /lib/modules",
            "%transfiletriggerpostun -- /lib/modules",
        ]
    );
}

#[test]
fn rpm_header_trigger_runs_once_per_kernel_and_never_fails() {
    let (_, body) = rpm_scriptlets().remove(0);
    let fake = Fake::new();
    let files = "/usr/src/kernels/6.8.1-300.fc40.x86_64/Makefile\n\
                 /usr/src/kernels/6.8.1-300.fc40.x86_64/include/linux/module.h\n\
                 /usr/src/kernels/6.9.0-100.fc40.x86_64\n\
                 /usr/src/kernels/6.9.0-100.fc40.x86_64/Kconfig\n";
    let out = run_scriptlet(&fake, &body, files, 1);
    assert_eq!(out.code, 0, "{}", out);
    assert_eq!(
        fake.calls(),
        [
            "header-postinst|6.8.1-300.fc40.x86_64",
            "header-postinst|6.9.0-100.fc40.x86_64"
        ]
    );
}

#[test]
fn rpm_modules_triggers_pick_kernels_and_prune() {
    let scriptlets = rpm_scriptlets();
    let fake = Fake::new();
    let files = "/lib/modules/6.9.0-100.fc40.x86_64/vmlinuz\n\
                 /lib/modules/6.9.0-100.fc40.x86_64/kernel/fs/ext4/ext4.ko.xz\n";
    let out = run_scriptlet(&fake, &scriptlets[1].1, files, 0);
    assert_eq!(out.code, 0, "{}", out);
    let out = run_scriptlet(&fake, &scriptlets[2].1, "", 3);
    assert_eq!(out.code, 0, "{}", out);
    assert_eq!(
        fake.calls(),
        ["header-postinst|6.9.0-100.fc40.x86_64", "prune"]
    );
    // With the program gone every scriptlet still succeeds.
    let gone = Fake::new();
    for (head, body) in &scriptlets {
        let path = gone.path("s.sh");
        write_executable(&path, body.replace(REAL, &gone.missing()));
        let out = run_command(Command::new("sh").arg(&path), RUN_TIMEOUT);
        assert_eq!(out.code, 0, "{head}: {}", out);
    }
}

// ---------------------------------------------------------------------------
// systemd unit

#[test]
fn boot_unit_is_a_bounded_oneshot_before_the_network() {
    let text = read(&repo().join("hooks/dkms-hook.service"));
    let keys: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .filter_map(|l| l.split_once('='))
        .collect();
    let get = |k: &str| -> Vec<&str> {
        keys.iter()
            .filter(|(key, _)| *key == k)
            .map(|(_, v)| *v)
            .collect()
    };
    assert_eq!(get("Type"), ["oneshot"]);
    assert_eq!(get("ExecStart"), ["/usr/sbin/dkms-hook boot"]);
    assert_eq!(get("RemainAfterExit"), ["yes"]);
    assert_eq!(get("WantedBy"), ["multi-user.target"]);
    assert_eq!(get("Documentation"), ["man:dkms-hook(8)"]);
    assert_eq!(get("ConditionPathExists"), ["/var/lib/dkms"]);
    // Upstream's ordering: default dependencies, before the network and the
    // graphical session; never before systemd-modules-load (a cycle with
    // ZFS-style setups whose file systems need modules).
    assert!(get("Before")
        .iter()
        .any(|v| v.split_whitespace().any(|u| u == "network-pre.target")));
    assert!(!text.contains("Before=systemd-modules-load"));
    assert!(get("DefaultDependencies").is_empty());
    let timeout = get("TimeoutStartSec");
    assert_eq!(timeout.len(), 1);
    assert!(
        !["0", "infinity"].contains(&timeout[0]),
        "boot must not wait forever: {timeout:?}"
    );
}

// ---------------------------------------------------------------------------
// bash completion

/// Completes `words` (the last one is being typed) and returns COMPREPLY.
fn complete(words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    // dkms's completion is a file; dkms-hook's is generated by the binary
    // and its function takes the command, the word and the word before.
    let (source, call) = if words[0] == "dkms" {
        (
            format!(". '{}'", repo().join("completions/dkms.bash").display()),
            "_dkms",
        )
    } else {
        (
            format!(". <('{}' __generate bash)", env!("CARGO_BIN_EXE_dkms-hook")),
            "f=$(complete -p dkms-hook | sed 's/.*-F \\([^ ]*\\).*/\\1/')\n\
             \"$f\" dkms-hook \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"",
        )
    };
    let script = format!(
        "{source}\nCOMP_WORDS=({})\nCOMP_CWORD={}\n{call}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        quoted.join(" "),
        words.len() - 1
    );
    let out = run_command(
        Command::new("bash").args(["--norc", "-c", &script]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out);
    let mut words: Vec<String> = out
        .stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    words.sort();
    words
}

#[test]
fn bash_completion_knows_actions_options_and_subcommands() {
    assert_eq!(complete(&["dkms", "bu"]), ["build"]);
    assert_eq!(
        complete(&["dkms", "kernel_p"]),
        ["kernel_postinst", "kernel_preinst", "kernel_prerm"]
    );
    assert_eq!(complete(&["dkms", "status", "--out"]), ["--output"]);
    assert_eq!(complete(&["dkms", "status", "--output", "j"]), ["json"]);
    assert_eq!(complete(&["dkms", "install", "--ro"]), ["--root"]);
    assert_eq!(
        complete(&["dkms", "build", "--force"]),
        ["--force", "--force-version-override"]
    );
    assert_eq!(complete(&["dkms-hook", "kernel-i"]), ["kernel-install"]);
    assert_eq!(
        complete(&["dkms-hook", "--root", "/tmp", "ap"]),
        ["apt-post-invoke"]
    );
    assert_eq!(complete(&["dkms-hook", "prune", "--d"]), ["--dry-run"]);
    assert_eq!(complete(&["dkms-hook", "kernel-install", "r"]), ["remove"]);
    assert_eq!(
        complete(&["dkms-hook", "autoinstall", "--a"]),
        ["--all-kernels"]
    );
}

// ---------------------------------------------------------------------------
// Every shell file parses, and shellcheck (when installed) is clean.

const SH_FILES: &[&str] = &[
    "kernel-postinst.d/dkms-hook",
    "hooks/preinst.d/dkms-hook",
    "hooks/prerm.d/dkms-hook",
    "hooks/40-dkms-hook.install",
    "hooks/postinst-trigger.sh",
    "hooks/dkms_common.postinst",
];

#[test]
fn shell_files_parse() {
    for rel in SH_FILES {
        let out = run_command(
            Command::new("sh").arg("-n").arg(repo().join(rel)),
            RUN_TIMEOUT,
        );
        assert_eq!(out.code, 0, "{rel}: {}", out);
    }
    let out = run_command(
        Command::new("bash")
            .arg("-n")
            .arg(repo().join("completions/dkms.bash")),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out);
    for (head, body) in rpm_scriptlets() {
        let out = run_command(Command::new("sh").args(["-n", "-c", &body]), RUN_TIMEOUT);
        assert_eq!(out.code, 0, "{head}: {}", out);
    }
}

#[test]
fn shellcheck_is_clean_when_available() {
    if !require_tools(
        "shellcheck_is_clean_when_available",
        &["shellcheck"],
        ".ci/run installs shellcheck",
    ) {
        return;
    }
    let mut files: Vec<PathBuf> = SH_FILES.iter().map(|f| repo().join(f)).collect();
    files.push(repo().join("completions/dkms.bash"));
    let out = run_command(Command::new("shellcheck").args(&files), RUN_TIMEOUT);
    assert_eq!(out.code, 0, "{}", out);
}

// ---------------------------------------------------------------------------
// /usr/lib/dkms/common.postinst: argument checks (safe on the real system:
// the script stops before it looks at anything).

#[test]
fn common_postinst_needs_name_and_version() {
    for args in [&[][..], &["hello"][..], &["", "1.0"][..]] {
        let out = run_command(
            Command::new(repo().join("hooks/dkms_common.postinst"))
                .args(args)
                .env("PATH", "/nonexistent"),
            RUN_TIMEOUT,
        );
        assert_eq!(out.code, 1, "{args:?}: {}", out);
        assert_eq!(
            out.stdout, "Need NAME and VERSION defined\nARCH is optional\n",
            "{args:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// common.postinst in a throwaway root, inside a private namespace

/// Fake `dkms`: logs each call to /calls and keeps just enough state under
/// /var/lib/dkms for `status` to answer. `build` exits with the number in
/// /build-rc-<kernel> when that file exists (leaving a make.log saying so);
/// `install` marks the kernel installed.
const FAKE_DKMS: &str = r#"#!/bin/sh
echo "dkms $*" >> /calls
action=$1
shift
m= v= k=
while [ $# -gt 0 ]; do
    case $1 in
        -m) m=$2; shift ;;
        -v) v=$2; shift ;;
        -k) k=$2; shift ;;
        -a) shift ;;
    esac
    shift
done
d=/var/lib/dkms/$m/$v
case $action in
    add)
        mkdir -p "$d"
        ln -s "/usr/src/$m-$v" "$d/source"
        echo "Creating symlink $d/source -> /usr/src/$m-$v"
        ;;
    remove) rm -rf "$d" ;;
    status)
        if [ -e "$d/$k/installed" ]; then
            echo "$m/$v, $k, x86_64: installed"
        elif [ -e "$d/$k/built" ]; then
            echo "$m/$v, $k, x86_64: built"
        else
            echo "$m/$v: added"
        fi
        ;;
    build)
        mkdir -p "$d/build" "$d/$k"
        rc=0
        [ -f "/build-rc-$k" ] && rc=$(cat "/build-rc-$k")
        if [ "$rc" != 0 ]; then
            echo "make: *** hello.c: error for $k" > "$d/build/make.log"
            exit "$rc"
        fi
        : > "$d/$k/built"
        ;;
    install)
        mkdir -p "$d/$k"
        : > "$d/$k/installed"
        echo "installed $m/$v for $k"
        ;;
esac
exit 0
"#;

/// Enters the namespace's root: the host's /usr (read-only use) with our own
/// /usr/lib/modules and /usr/src over it, then runs the script there.
const ENTER_ROOT: &str = r#"
R=$1
shift
for d in bin sbin lib lib64; do
    if [ -L "/$d" ]; then
        ln -s "$(readlink "/$d")" "$R/$d"
    elif [ -d "/$d" ]; then
        mkdir -p "$R/$d" && mount --rbind "/$d" "$R/$d" || exit 200
    fi
done
mount --rbind /usr "$R/usr" || exit 200
mount --rbind /dev "$R/dev" || exit 200
mount --bind "$R/.modules" "$R/lib/modules" || exit 200
mount --bind "$R/.src" "$R/usr/src" || exit 200
exec chroot "$R" /usr/bin/env -i PATH=/fakebin:/usr/sbin:/usr/bin:/sbin:/bin \
    FAKE_UNAME="$FAKE_UNAME" LC_ALL=C "$@"
"#;

/// A throwaway root for common.postinst with module `hello/1.0` in /usr/src.
struct Chroot {
    dir: TempDir,
}

impl Chroot {
    fn new(autoinstall: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("dkms-common-postinst-")
            .tempdir()
            .unwrap();
        let r = dir.path();
        for d in [
            ".modules",
            ".src",
            "usr",
            "dev",
            "etc/dkms",
            "var/lib/dkms",
            "boot",
        ] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        fs::create_dir_all(r.join(".src/hello-1.0")).unwrap();
        fs::write(
            r.join(".src/hello-1.0/dkms.conf"),
            format!("PACKAGE_NAME=hello\nPACKAGE_VERSION=1.0\n{autoinstall}\necho noise\n"),
        )
        .unwrap();
        write_executable(&r.join("fakebin/dkms"), FAKE_DKMS);
        write_executable(
            &r.join("fakebin/uname"),
            "#!/bin/sh\nif [ \"$1\" = -r ]; then echo \"$FAKE_UNAME\"; else exec /usr/bin/uname \"$@\"; fi\n",
        );
        fs::copy(
            repo().join("hooks/dkms_common.postinst"),
            r.join("common.postinst"),
        )
        .unwrap();
        fs::write(r.join("enter.sh"), ENTER_ROOT).unwrap();
        Chroot { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A kernel in /lib/modules: its own modules dir, and headers when asked
    /// (otherwise a dangling build link, as an image without headers leaves).
    fn kernel(&self, kver: &str, headers: bool) -> &Self {
        let d = self.root().join(".modules").join(kver);
        fs::create_dir_all(d.join("kernel")).unwrap();
        if headers {
            fs::create_dir_all(d.join("build/include")).unwrap();
        } else {
            symlink(format!("/usr/src/linux-headers-{kver}"), d.join("build")).unwrap();
        }
        self
    }

    /// Headers only (a chroot with linux-headers but no linux-image).
    fn headers_only(&self, kver: &str) -> &Self {
        let d = self.root().join(".modules").join(kver);
        fs::create_dir_all(d.join("build/include")).unwrap();
        self
    }

    fn file(&self, rel: &str, text: &str) -> &Self {
        let p = self.root().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }

    /// Runs `common.postinst ARGS` with `uname -r` answering `running`;
    /// None (and a message) when private namespaces cannot be used here,
    /// which under CI is a failure.
    fn run(&self, running: &str, args: &[&str]) -> Option<Output> {
        self.run_script("/common.postinst", running, args)
    }

    /// Runs `/bin/sh SCRIPT ARGS` in the root (SCRIPT is a path inside
    /// it), as [`Chroot::run`].
    fn run_script(&self, script: &str, running: &str, args: &[&str]) -> Option<Output> {
        // libtest names each test's thread after the test.
        let current = std::thread::current();
        let test = current.name().unwrap_or("common_postinst");
        let probe = have("unshare")
            .then(|| run_command(Command::new("unshare").args(["-rm", "true"]), RUN_TIMEOUT));
        if probe.as_ref().is_none_or(|o| o.code != 0) {
            skip_unless_ci(
                test,
                &format!("`unshare -rm` does not work here: {probe:?}"),
            );
            return None;
        }
        let out = run_command(
            Command::new("unshare")
                .args(["-rm", "sh"])
                .arg(self.root().join("enter.sh"))
                .arg(self.root())
                .args(["/bin/sh", script])
                .args(args)
                .env("FAKE_UNAME", running),
            RUN_TIMEOUT,
        );
        if out.code == 200 {
            skip_unless_ci(
                test,
                &format!("could not set up the namespace root:\n{out}"),
            );
            return None;
        }
        Some(out)
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.root().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn common_postinst_builds_for_running_and_newest_kernel() {
    let c = Chroot::new("AUTOINSTALL=yes");
    c.kernel(K1, true)
        .kernel(K2, true)
        .headers_only("6.1.0-10-fake");
    let Some(out) = c.run(K1, &["hello", "1.0", "/usr/share/hello-dkms", "", ""]) else {
        return;
    };
    assert_eq!(out.code, 0, "{}", out);
    let text = &out.stdout;
    assert!(
        text.starts_with("Loading new hello/1.0 DKMS files...\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Building for {K1} and {K2}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Building initial module hello/1.0 for {K2}\n")),
        "{text}"
    );
    assert!(!text.contains("noise"), "{text}");
    assert_eq!(
        c.calls(),
        [
            "dkms add -m hello -v 1.0".to_owned(),
            format!("dkms status -m hello -v 1.0 -k {K1}"),
            format!("dkms build -m hello -v 1.0 -k {K1}"),
            format!("dkms status -m hello -v 1.0 -k {K1}"),
            format!("dkms install -m hello -v 1.0 -k {K1}"),
            format!("dkms status -m hello -v 1.0 -k {K2}"),
            format!("dkms build -m hello -v 1.0 -k {K2}"),
            format!("dkms status -m hello -v 1.0 -k {K2}"),
            format!("dkms install -m hello -v 1.0 -k {K2}"),
        ]
    );
}

#[test]
fn common_postinst_reinstall_removes_the_old_registration_first() {
    let c = Chroot::new("AUTOINSTALL=Yes");
    c.kernel(K1, true);
    fs::create_dir_all(c.root().join("var/lib/dkms/hello/1.0")).unwrap();
    let Some(out) = c.run(K1, &["hello", "1.0", "/usr/share/hello-dkms", "", "0.9"]) else {
        return;
    };
    assert_eq!(out.code, 0, "{}", out);
    let text = &out.stdout;
    assert!(
        text.starts_with(
            "Removing old hello/1.0 DKMS files...\nLoading new hello/1.0 DKMS files...\n"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("Building for {K1}\n")), "{text}");
    assert_eq!(c.calls()[0], "dkms remove -m hello -v 1.0 --all");
}

#[test]
fn common_postinst_skips_kernels_without_headers() {
    let c = Chroot::new("AUTOINSTALL=yes");
    c.kernel(K1, true).kernel(K2, false);
    let Some(out) = c.run(K1, &["hello", "1.0", "", "", ""]) else {
        return;
    };
    assert_eq!(out.code, 0, "{}", out);
    let text = &out.stdout;
    assert!(
        text.contains(&format!(
            "Module build for kernel {K2} was skipped since the\n\
             kernel headers for this kernel do not seem to be installed.\n"
        )),
        "{text}"
    );
    assert!(!c
        .calls()
        .iter()
        .any(|l| l.contains(&format!("build -m hello -v 1.0 -k {K2}"))));
}

#[test]
fn common_postinst_honours_autoinstall_settings() {
    for (conf, want_code, want) in [
        (
            "",
            0,
            "Not building the hello module which does not have AUTOINSTALL enabled.\n",
        ),
        (
            "AUTOINSTALL=no",
            0,
            "Not building the hello module which does not have AUTOINSTALL enabled.\n",
        ),
        ("AUTOINSTALL=maybe", 1, ""),
    ] {
        let c = Chroot::new(conf);
        c.kernel(K1, true);
        let Some(out) = c.run(K1, &["hello", "1.0", "", "", ""]) else {
            return;
        };
        assert_eq!(out.code, want_code, "{conf}: {}", out);
        assert!(out.stdout.ends_with(want), "{conf}: {}", out);
        assert!(!c.calls().iter().any(|l| l.contains("build")), "{conf}");
        if want_code == 1 {
            assert_eq!(
                out.stderr,
                "dkms.conf: Error! Unsupported AUTOINSTALL value 'maybe'\n"
            );
        }
    }
}

#[test]
fn common_postinst_respects_no_autoinstall() {
    let c = Chroot::new("AUTOINSTALL=yes");
    c.kernel(K1, true).file("etc/dkms/no-autoinstall", "");
    let Some(out) = c.run(K1, &["hello", "1.0", "", "", ""]) else {
        return;
    };
    assert_eq!(out.code, 0, "{}", out);
    assert_eq!(
        out.stdout,
        "autoinstall for dkms modules has been disabled.\n"
    );
    assert!(c.calls().is_empty());
}

#[test]
fn common_postinst_in_a_chroot_builds_all_on_first_install_newest_on_upgrade() {
    let c = Chroot::new("AUTOINSTALL=yes");
    c.headers_only(K1).headers_only(K3).kernel(K2, true);
    let Some(out) = c.run("5.10.0-host", &["hello", "1.0", "", "", ""]) else {
        return;
    };
    assert_eq!(out.code, 0, "{}", out);
    let text = &out.stdout;
    assert!(
        text.contains("It is likely that 5.10.0-host belongs to a chroot's host\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Building for {K1}, {K2} and {K3}\n")),
        "{text}"
    );

    let c = Chroot::new("AUTOINSTALL=yes");
    c.headers_only(K1).headers_only(K3).kernel(K2, true);
    let out = c
        .run("5.10.0-host", &["hello", "1.0", "", "", "0.9"])
        .unwrap();
    assert_eq!(out.code, 0, "{}", out);
    assert!(
        out.stdout.contains(&format!("Building for {K2}\n")),
        "{}",
        out
    );
}

#[test]
fn common_postinst_all_kernels_from_framework_conf() {
    let c = Chroot::new("AUTOINSTALL=yes");
    c.kernel(K1, true).kernel(K2, true).headers_only(K3).file(
        "etc/dkms/framework.conf.d/all.conf",
        "# build everywhere\nautoinstall_all_kernels=\"yes\"\n",
    );
    let Some(out) = c.run(K1, &["hello", "1.0", "", "x86_64", ""]) else {
        return;
    };
    assert_eq!(out.code, 0, "{}", out);
    let text = &out.stdout;
    assert!(
        text.contains(&format!("Building for {K1}, {K2} and {K3}\n")),
        "{text}"
    );
    assert!(
        text.contains("Building for architecture x86_64\n"),
        "{text}"
    );
    assert!(c
        .calls()
        .contains(&format!("dkms install -m hello -v 1.0 -k {K3} -a x86_64")));
}

#[test]
fn common_postinst_reports_failed_builds_and_skips_exclusive_ones() {
    let c = Chroot::new("AUTOINSTALL=yes");
    c.kernel(K1, true)
        .kernel(K2, true)
        .file(&format!("build-rc-{K1}"), "77")
        .file(&format!("build-rc-{K2}"), "10");
    let Some(out) = c.run(K1, &["hello", "1.0", "", "", ""]) else {
        return;
    };
    assert_eq!(out.code, 10, "{}", out);
    assert!(
        out.stdout.ends_with(&format!(
            "Builds for the following kernel(s) failed: {K2}\n"
        )),
        "{}",
        out
    );
    assert!(!c.calls().iter().any(|l| l.starts_with("dkms install")));
}

#[test]
fn common_postinst_without_any_headers_warns() {
    let c = Chroot::new("AUTOINSTALL=yes");
    let Some(out) = c.run("5.10.0-host", &["hello", "1.0", "", "", ""]) else {
        return;
    };
    assert_eq!(out.code, 0, "{}", out);
    assert!(
        out.stdout.ends_with(
            "WARNING: No kernel headers were found, skipping module build.\n\
             \x20        To get the headers for the running kernel (5.10.0-host)\n\
             \x20        please install the linux-headers-5.10.0-host package.\n"
        ),
        "{}",
        out
    );
}

/// A failed build moves on to the next kernel by default and when
/// framework.conf says `continue_on_error=true`; any other value (upstream
/// counts an empty one too) stops at the first failure. Either way the
/// failure's exit status is the script's.
#[test]
fn common_postinst_continue_on_error_decides_whether_later_kernels_build() {
    for (framework, goes_on) in [
        (None, true),
        (Some("continue_on_error=true\n"), true),
        (Some("continue_on_error=\"false\"\n"), false),
        (Some("continue_on_error=\n"), false),
    ] {
        let c = Chroot::new("AUTOINSTALL=yes");
        c.kernel(K1, true)
            .kernel(K2, true)
            .file(&format!("build-rc-{K1}"), "10\n");
        if let Some(text) = framework {
            c.file("etc/dkms/framework.conf", text);
        }
        let Some(out) = c.run(K1, &["hello", "1.0", "", "", ""]) else {
            return;
        };
        assert_eq!(out.code, 10, "{framework:?}: {out}");
        let calls = c.calls();
        assert!(
            calls.contains(&format!("dkms build -m hello -v 1.0 -k {K1}")),
            "{framework:?}: {calls:?}"
        );
        let k2_built = calls.contains(&format!("dkms build -m hello -v 1.0 -k {K2}"));
        assert_eq!(k2_built, goes_on, "{framework:?}: {calls:?}");
        assert_eq!(
            out.stdout.contains(&format!(
                "Builds for the following kernel(s) failed: {K1}\n"
            )),
            goes_on,
            "{framework:?}: {out}"
        );
    }
}

// ---------------------------------------------------------------------------
// dkms-autopkgtest in the same throwaway root

/// Package tools answering as on a system where `hello-dkms` (shipping
/// /usr/src/hello-1.0/dkms.conf) is available and dkms-hook is installed;
/// apt-get only logs its calls.
const FAKE_PACKAGE_TOOLS: [(&str, &str); 4] = [
    ("apt-get", "#!/bin/sh\necho \"apt-get $*\" >> /calls\n"),
    ("apt-cache", "#!/bin/sh\nexit 0\n"),
    (
        "dpkg",
        "#!/bin/sh\ncase $1 in\n  -L) printf '/usr/src\\n/usr/src/hello-1.0\\n/usr/src/hello-1.0/dkms.conf\\n' ;;\n  --remove) echo \"dpkg: dependency problems prevent removal of $2\" >&2; exit 1 ;;\n  --set-selections) cat >/dev/null ;;\nesac\n",
    ),
    (
        "dpkg-query",
        "#!/bin/sh\neval last=\\${$#}\nif [ \"$last\" = dkms-hook ]; then printf 'install ok installed'; else printf 'install ok installed linux-headers-fake\\n'; fi\n",
    ),
];

/// Puts the shipped dkms-autopkgtest at /autopkgtest in the root, with
/// [`FAKE_PACKAGE_TOOLS`] on its PATH.
fn add_autopkgtest(c: &Chroot) {
    fs::copy(
        repo().join("hooks/dkms-autopkgtest"),
        c.root().join("autopkgtest"),
    )
    .unwrap();
    for (name, text) in FAKE_PACKAGE_TOOLS {
        write_executable(&c.root().join("fakebin").join(name), text);
    }
}

/// A module that fails on one kernel, is ruled out by BUILD_EXCLUSIVE on
/// another (exit 77) and builds on a third: the test fails (exit 1), names
/// the failure with its make.log, skips without failing, passes the rest,
/// saves the make.logs and takes /etc/dkms/no-autoinstall away again.
#[test]
fn autopkgtest_reports_fail_skip_and_pass_per_kernel() {
    let c = Chroot::new("AUTOINSTALL=yes");
    c.kernel(K1, true)
        .kernel(K2, true)
        .kernel(K3, true)
        .file(&format!("build-rc-{K1}"), "10\n")
        .file(&format!("build-rc-{K2}"), "77\n");
    add_autopkgtest(&c);
    let Some(out) = c.run_script("/autopkgtest", K1, &["hello-dkms"]) else {
        return;
    };

    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "E: hello/1.0 failed to build for {K1} (dkms exit status 10)\n"
        )),
        "{out}"
    );
    assert!(
        out.stderr
            .contains(&format!("make: *** hello.c: error for {K1}\n")),
        "{out}"
    );
    assert!(
        out.stdout.ends_with(&format!(
            "I: Summary:\nI: FAIL {K1} (hello-dkms)\nI: SKIP {K2} (hello-dkms)\nI: PASS {K3} (hello-dkms)\n"
        )),
        "{out}"
    );
    assert!(
        c.calls()
            .contains(&format!("dkms install --force -m hello -v 1.0 -k {K3}")),
        "{:?}",
        c.calls()
    );
    assert!(
        !c.calls()
            .iter()
            .any(|l| l.contains("install --force") && !l.contains(K3)),
        "{:?}",
        c.calls()
    );
    let logs = c.root().join("hello-dkms-make-logs.tar.gz");
    let listing = stdout_of(Command::new("tar").arg("tzf").arg(&logs));
    assert!(listing.contains("hello/1.0/build/make.log"), "{listing}");
    assert!(!c.root().join("etc/dkms/no-autoinstall").exists());
}

/// Every kernel passing is exit 0 with one PASS line per kernel.
#[test]
fn autopkgtest_passes_when_every_kernel_builds() {
    let c = Chroot::new("AUTOINSTALL=yes");
    c.kernel(K1, true).kernel(K2, true);
    add_autopkgtest(&c);
    let Some(out) = c.run_script("/autopkgtest", K1, &["hello-dkms"]) else {
        return;
    };
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.ends_with(&format!(
            "I: Summary:\nI: PASS {K1} (hello-dkms)\nI: PASS {K2} (hello-dkms)\n"
        )),
        "{out}"
    );
    assert!(
        out.stderr.is_empty() || !out.stderr.contains("E: "),
        "{out}"
    );
}
