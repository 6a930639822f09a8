//! Every write and delete under a tree goes through this module, and none
//! of it can leave the tree it was given: paths are resolved by
//! [`beneath`] (no symlink followed, no `..`), files appear by an atomic
//! rename after `fsync`, and a move across filesystems is a verified copy
//! before the source goes. Every read of a file goes through [`read`], which
//! refuses FIFOs, sockets, devices and oversized files at once instead of
//! blocking; `clippy.toml` disallows `std::fs::read`, `read_to_string` and
//! `File::open` everywhere else, so a new read cannot forget it.
//!
//! Every function takes `base`, the tree the path must stay under (the dkms
//! tree, the install tree, the source tree), and absolute host paths.
//!
//! Writing needs the lock: the writes are methods of [`Locked`] (the held
//! writers' lock, [`lock`]), and nothing else here writes, so code that
//! changes a tree without holding the lock does not compile.

pub mod beneath;
mod copy;
pub mod lock;
pub mod msg;
mod read;
mod remove;
mod temp_dir;
mod write;
mod writer;

pub use lock::Locked;
pub use read::{
    is_dir, is_symlink, list_dirs, list_names, open_regular, read_file, read_regular,
    read_regular_text, same_bytes, special_kind, FILE_CAP,
};
pub use temp_dir::TempDir;
