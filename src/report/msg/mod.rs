//! Our own wording for what reporting and the layers above it say about
//! critical modules and the boot guard (not upstream's: `dkms` never prints
//! these).

pub mod guard;
