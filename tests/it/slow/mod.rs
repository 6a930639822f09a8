//! The slow tier: end-to-end runs that take minutes or boot a kernel. They
//! are in the same binary as the rest, so they overlap with the other tiers.

mod boot_qemu;
mod boot_systemd;
mod boot_why_qemu;
mod debian_root;
mod fleet;
mod migration;
