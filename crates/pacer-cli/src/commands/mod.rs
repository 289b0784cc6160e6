//! The operator commands.

pub mod import;
pub mod run;
pub mod status;
pub mod trace;
