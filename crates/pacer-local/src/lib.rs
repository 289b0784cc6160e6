//! pacer's local runtime: the core services driven on one machine the way AWS drives
//! them — a release tick (EventBridge Scheduler), worker pollers (the SQS FIFO event
//! source mapping, concurrent across providers), and a results poller (the results
//! queue's event source mapping).
//!
//! It owns no business rules: every decision is in `pacer-core`'s services. It owns the
//! loops, their shutdown, and the idle check behind `pacer run --until-idle`.

mod gate;
mod runtime;

pub use gate::GovernorGate;
pub use runtime::{is_idle, Runtime, RuntimeConfig, RuntimeStats, SCHEDULE_KEY};
