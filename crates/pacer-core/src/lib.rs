//! pacer's pure core.
//!
//! Everything that decides *what* pacer does lives here: the domain types, the record
//! lifecycle, error classification, the retry policy, the window planner, the versioned
//! message schemas, the ports (traits) the backends implement, and the services that drive
//! the ports. Nothing here opens a socket, a file or a database: backends (`pacer-embedded`,
//! later `pacer-aws`) and callers (`pacer-http`) live in their own crates, so the same
//! services run on one machine and in Lambda.

pub mod breaker;
pub mod callback_url;
pub mod classify;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod planner;
pub mod ports;
pub mod provider;
pub mod record;
pub mod retry;
pub mod schema;
pub mod services;
pub mod time;
pub mod webhook;

pub use error::PortError;
pub use ids::{IdError, ProviderId, RecordId};
pub use record::{ApiRequest, HttpMethod, NewRecord, Record, RecordState};
pub use time::{Clock, SystemClock, Timestamp};
