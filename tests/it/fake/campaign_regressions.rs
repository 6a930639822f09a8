//! Divergences the randomized campaign (`tests/it/campaign`) found, each
//! kept as its shrunk sequence and replayed against the serial model and
//! the invariants: a test fails when the sequence diverges again.

use crate::campaign::replay;

#[track_caller]
fn replays(sequence: &str) {
    if let Err(report) = replay(sequence) {
        panic!("{report}");
    }
}

/// `autoinstall --all-kernels` took the directory a removed kernel left
/// under /lib/modules (a module file dkms installed) for a kernel without
/// headers: it said the headers were missing and queued a pending record
/// for a kernel that is gone.
#[test]
fn autoinstall_all_kernels_passes_over_a_removed_kernels_directory() {
    replays("add-module hello/1.0; install-kernel k2 with-headers; remove-kernel-files k2; autoinstall all");
}

/// A kill while the copy of a failed build's make.log was being written
/// (a temporary `.X.make.log.dkms-*` in `.dkms-hook/failed/`) left that
/// temporary behind even after the run was redone; doctor found it.
#[cfg(feature = "fault-injection")]
#[test]
fn a_kill_while_a_failure_log_is_kept_leaves_nothing_after_the_rerun() {
    replays(
        "add-module hello/3.0; install-kernel k1 with-headers !kill@install:before-rename rerun",
    );
}

/// dep waited for its BUILD_DEPENDS (hello) to be registered; once hello
/// was registered and failed to build, dep failed too, yet its deferral
/// ("waits for hello to be registered") stayed pending beside the failure.
#[test]
fn a_deferral_goes_when_the_deferred_module_fails() {
    replays("add-module dep/1.0; install-kernel k2 with-headers; add-module hello/3.0; boot");
}

/// An install over the kernel's own hello onto a full install tree was
/// rolled back (the original stays in place) but left the empty
/// `original_module/K/A` directories, so status went on saying
/// "(Original modules exist)".
#[test]
fn a_rolled_back_install_over_an_original_leaves_no_archive_behind() {
    if !rustix::process::geteuid().is_root() {
        crate::harness::skip_unless_ci("full disk campaign regression", "needs root for a tmpfs");
        return;
    }
    replays("install-kernel k1 with-headers; add-module hello/1.0; autoinstall k1 !full-disk k1");
}

/// A run that finishes a depmod an interrupted run left due puts that
/// step in front of its plan; the autoinstall summary then read every
/// module's outcome one step off: a hello/3.0 that failed to build was
/// reported as "succeeded" and the hook exited 0 instead of 11.
#[cfg(feature = "fault-injection")]
#[test]
fn a_failed_build_after_a_due_depmod_is_still_a_failure() {
    replays("install-kernel k0 with-headers; add-module excl/1.0; add-module hello/3.0; autoinstall k0 !kill@install:before-depmod rerun");
}

/// header-postinst for a kernel waiting for its headers cleared the
/// kernel's pending record before building: killed during the build, the
/// work was lost, and the next trigger (apt-post-invoke) had nothing to do.
#[cfg(feature = "fault-injection")]
#[test]
fn a_kill_during_a_pending_kernels_build_keeps_it_pending() {
    replays("add-module hello/1.0; install-kernel k0 without-headers; install-headers k0 !kill@build:after-copy next-trigger");
}

/// The same, killed while a module's BUILD_DEPENDS deferral was written.
#[cfg(feature = "fault-injection")]
#[test]
fn a_kill_while_a_deferral_is_written_keeps_the_kernel_pending() {
    replays("add-module dep/1.0; install-kernel k0 without-headers; install-headers k0 !kill@pending:before-persist next-trigger");
}

/// Killed while uninstalling over the kernel's own hello, after the
/// original was put back and ours deleted: the emptied archive directory
/// made status say "(Original modules exist)" with nothing archived.
#[cfg(feature = "fault-injection")]
#[test]
fn status_claims_no_original_that_an_interrupted_uninstall_put_back() {
    replays("add-module hello/2.0; install-kernel k1 with-headers; remove-module hello/2.0 !kill@uninstall:after-delete rerun");
}

/// Pruning a kernel removed without its hooks put the kernel's own hello
/// back from the archive into the removed kernel's tree: that recreated
/// `lib/modules/K/kernel/`, so the kernel looked installed again; killed
/// right after, the rerun never pruned it and it stayed "installed".
#[test]
fn prune_puts_no_original_back_into_a_removed_kernel() {
    replays("add-module hello/2.0; install-kernel k1 with-headers; remove-kernel-files k1; boot");
}

/// The same, killed after the restore: the rerun must still prune it.
#[cfg(feature = "fault-injection")]
#[test]
fn a_prune_killed_in_an_uninstall_is_finished_by_the_rerun() {
    replays("add-module hello/2.0; install-kernel k1 with-headers; remove-kernel-files k1; boot !kill@uninstall:after-delete rerun");
}

/// A kernel-prerm killed while it deleted a build (the `.ko` files gone,
/// the directory not yet) left `<v>/K/A/` without modules: `dkms status`
/// went on calling it "built (Built modules are missing in the kernel
/// modules folder)" and the rerun passed it over (found by seed 268704157,
/// sequence 764, a kill 67 ms into the prerm). A build is now renamed out
/// of sight before it is deleted; the kill lands between the two here, and
/// the rerun, or doctor and the rerun, must end as the model says.
#[cfg(feature = "fault-injection")]
#[test]
fn a_kill_while_a_build_is_deleted_leaves_no_build_that_status_calls_built() {
    replays("add-module excl/1.0; add-module hello/1.0; install-kernel k0 with-headers; remove-kernel k0 !kill@remove:after-hide rerun");
    replays("add-module excl/1.0; add-module hello/1.0; install-kernel k0 with-headers; remove-kernel k0 !kill@remove:after-hide doctor+rerun");
    replays("add-module hello/1.0; install-kernel k1 with-headers; dkms-remove hello/1.0 !kill@remove:after-hide rerun");
}
