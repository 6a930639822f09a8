//! Our own wording for what executing reports: the build user and source
//! checks, files another module claims, originals that could not be put
//! back. Re-exports the layers below (and binary packages'), so a file of
//! this layer names every message as `msg::…`.

pub mod build_confinement;
pub mod install_claims;
pub mod kept_originals;

pub use crate::plan::msg::*;
pub use crate::plan::package::msg::*;
pub use build_confinement::*;
pub use install_claims::*;
pub use kept_originals::*;
