//! Test support for pacer.
//!
//! * [`mock_api`]: a mock of the internal API pacer calls, with fault injection
//!   and a detector of concurrent calls to the same provider. It observes pacer from
//!   the outside, the way the real API would, and uses nothing from `pacer-core`.
//! * [`clock`]: a [`clock::ManualClock`] tests move by hand instead of sleeping.
//! * [`leases`]: a provider's lease taken with a record claimed, as a worker does.
//! * [`contract`]: the port contract suite every backend runs, stamped out as one
//!   test per case by [`contract_suite!`].
//!
//! This crate is meant for dev-dependencies, tests and demos, never for production code.

pub mod clock;
pub mod contract;
pub mod leases;
pub mod mock_api;
