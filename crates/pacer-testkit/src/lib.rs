//! Test support for pacer.
//!
//! * [`mock_api`]: a mock of the internal API pacer calls, with fault injection
//!   and a detector of concurrent calls to the same provider.
//!
//! This crate does not depend on `pacer-core`: it observes pacer from the outside,
//! the way the real API would. It is meant for dev-dependencies, tests and demos,
//! never for production code.

pub mod mock_api;
// pub mod contract; (added by the core author)
