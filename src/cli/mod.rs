//! Command lines into requests: upstream's argument forms for `dkms`
//! ([`dkms`]), clap for `dkms-hook` ([`hook`]); and dkms-hook's own manual
//! page and completions, generated from those clap definitions
//! ([`manpage`], [`generate`]).

pub mod dkms;
pub mod generate;
pub mod hook;
pub mod manpage;
