//! Every write and delete under a tree goes through this module, and none
//! of it can leave the tree it was given: paths are resolved by
//! [`beneath`] (no symlink followed, no `..`), files appear by an atomic
//! rename after `fsync`, and a move across filesystems is a verified copy
//! before the source goes. Reads of configuration and records go through
//! [`read`], which refuses FIFOs, devices and oversized files.
//!
//! Every function takes `base`, the tree the path must stay under (the dkms
//! tree, the install tree, the source tree), and absolute host paths.

pub mod beneath;
mod copy;
mod read;
mod remove;
mod write;

pub use copy::{copy_file_into, copy_tree, copy_tree_replacing};
pub use read::{is_dir, is_symlink, list_dirs, list_names, read_regular, read_regular_text};
pub use remove::{remove_all, remove_empty_dirs, remove_empty_parents, remove_file, rmdir};
pub use write::{
    append, create_dir_all, create_file, create_new, exchange, move_verified, place_atomically,
    rename, replace_symlink, set_dir_mode_and_mtime, symlink, write_atomic,
};
