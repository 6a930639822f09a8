//! The fake-kernel fixtures: kernel names that never match a real kernel,
//! the fake kernel build tree under `tests/fixtures/fake-kernel` (its
//! Makefile compiles modules with the host gcc), the test module sources,
//! and building one of them outside any root.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{copy_tree, repo, run_command, Output, RUN_TIMEOUT};

/// A kernel release the tests use; chosen so it never matches a real kernel.
pub const K1: &str = "6.1.0-90-fake";
/// A second kernel release, newer than [`K1`].
pub const K2: &str = "6.1.0-91-fake";
/// The architecture the binaries detect on the test host (the real kernels
/// of the real tier are amd64, so there it is `x86_64`).
pub const ARCH: &str = std::env::consts::ARCH;

/// `tests/fixtures` in the source tree.
pub fn fixtures_dir() -> PathBuf {
    repo().join("tests").join("fixtures")
}

/// The fake kernel build tree (`tests/fixtures/fake-kernel`), a stand-in for
/// `/lib/modules/K/build` whose Makefile compiles modules with the host gcc.
pub fn fake_kernel_dir() -> PathBuf {
    fixtures_dir().join("fake-kernel")
}

/// A test module source tree, `tests/fixtures/modules/<name>` (e.g. `hello-1.0`).
pub fn module_fixture(name: &str) -> PathBuf {
    fixtures_dir().join("modules").join(name)
}

/// Runs the fake kernel's make for an external module: `make -C <kernel_dir>
/// M=<module_dir> KERNELRELEASE=<kver> <extra...>`.
pub fn fake_make(kernel_dir: &Path, module_dir: &Path, kver: &str, extra: &[&str]) -> Output {
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(kernel_dir)
        .arg(format!("M={}", module_dir.display()))
        .arg(format!("KERNELRELEASE={kver}"))
        .args(extra)
        .env("LC_ALL", "C")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL");
    run_command(cmd, RUN_TIMEOUT)
}

/// Modules compiled from a fixture by [`build_fixture`], in a scratch
/// directory outside any test root.
pub struct Built {
    /// The scratch copy of the fixture, holding the `.ko` files.
    pub dir: tempfile::TempDir,
}

impl Built {
    /// The path of `<name>.ko` in the scratch directory.
    pub fn ko(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.ko"))
    }
}

/// Compiles `tests/fixtures/modules/<fixture>` for `kver` with the fake
/// kernel, in a scratch copy (applying no patches and running no scripts).
/// Panics if the build fails. Use it to make "original" in-kernel modules.
pub fn build_fixture(fixture: &str, kver: &str) -> Built {
    let dir = tempfile::Builder::new()
        .prefix("dkms-ko-")
        .tempdir()
        .expect("tempdir");
    copy_tree(&module_fixture(fixture), dir.path());
    fake_make(&fake_kernel_dir(), dir.path(), kver, &[]).assert_ok();
    Built { dir }
}

/// A third kernel release, newer than [`K2`] (e.g. one whose image a test
/// removes, for prune).
pub const K3: &str = "6.1.0-92-fake";
/// A fourth kernel release, newer than [`K3`] (e.g. one installed without
/// headers, for the pending queue).
pub const K4: &str = "6.1.0-93-fake";

/// The dkms tree lock, root-relative: created by any locked run, never a
/// state change a test compares.
pub const LOCK: &str = "var/lib/dkms/.dkms-hook.lock";
