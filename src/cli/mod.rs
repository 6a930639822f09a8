//! Command lines into requests: upstream's argument forms for `dkms`
//! ([`dkms`]), clap for `dkms-hook` ([`hook`]).

pub mod dkms;
pub mod hook;
