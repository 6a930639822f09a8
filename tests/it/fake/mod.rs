//! The fake-kernel tier: `dkms` and `dkms-hook` against throwaway roots whose
//! kernels are the fake kernel build tree in `tests/fixtures/fake-kernel`
//! (it compiles modules with the host gcc), plus the shell shims, crash and
//! concurrency safety, and the harness's own checks.

mod boot_guard;
mod campaign_regressions;
mod ci_script;
mod concurrency;
#[cfg(feature = "fault-injection")]
mod crash;
#[cfg(not(feature = "fault-injection"))]
mod crash_not_compiled;
mod dkms_actions;
mod dkms_errors;
mod dkms_forced;
mod dkms_kernel_actions;
mod docs;
mod doctor_broken;
mod doctor_orphans;
mod doctor_report;
mod doctor_secure_boot;
mod fake_harness_selftest;
mod full_disk;
mod fuzz_smoke;
mod hardening;
mod hook_absent_kernels;
mod hook_failures;
mod hooks_fake;
mod hostile_input;
mod kernel_names;
mod live_progress;
mod no_spawn;
mod not_root;
mod orphans;
mod output_errors;
mod package_fake;
mod readme_failed_build;
mod shims;
mod signing_keys;
mod source_rules;
mod special_files;
mod status_schema;
mod tarball_security;
mod trust;
mod ubuntu_signing;
mod upstream_text;
mod why;
