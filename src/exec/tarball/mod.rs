//! `mktarball` and `ldtarball`: pack a module's source and built modules
//! into upstream's archive layout, and load such an archive (or a plain
//! source tarball) back into the trees.
//!
//! Archive layout (upstream's; other tools read it):
//!
//! - `dkms_main_tree/<kver>/<arch>/{module,log,...}`: prebuilt modules;
//! - `dkms_source_tree/`: the module source with its dkms.conf, or
//! - `dkms_binaries_only/{PACKAGE_NAME,PACKAGE_VERSION,dkms.conf}`.
//!
//! Loading treats the archive as hostile and goes one step at a time, each
//! only once the one before has passed:
//!
//! 1. [`stream`]: a private copy is read, through the system's
//!    decompressor when its first bytes say it is compressed (as GNU tar
//!    does);
//! 2. [`list`]: the `tar` crate gives every member's type, name, link
//!    target, mode and size as data, within [`list::LIMITS`];
//! 3. [`check`]: all members are checked together (a pure function) and
//!    the layout is found; one problem refuses the whole archive, before
//!    anything is unpacked;
//! 4. [`unpack`]: the archive is unpacked into a private temporary
//!    directory through the tree-confined `fs` layer;
//! 5. [`load`]: only then is a dkms.conf from it read (by bash only when
//!    the static reader cannot), its names checked, and the trees written.

mod check;
mod list;
mod load;
mod make;
pub mod msg;
mod scratch;
mod stream;
mod unpack;

pub use load::ldtarball_and_add;
pub use make::mktarball;
