//! Our own wording for what the fs layer and the layers above report about
//! files: failed operations, paths outside their tree, the writers' lock.
//! (Upstream's catalogue, the bytes `dkms` must print, is `crate::text`.)

pub mod io;
pub mod lock;

pub use io::*;
pub use lock::*;
