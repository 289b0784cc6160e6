//! pacer's local runtime: the core services driven on one machine the way AWS drives
//! them — a release tick (EventBridge Scheduler), worker pollers (the SQS FIFO event
//! source mapping, concurrent across providers), a results poller (the results
//! queue's event source mapping), and, when asked, a webhook deliverer (the callbacks
//! queue's).
//!
//! It owns no business rules: every decision is in `pacer-core`'s services. It owns the
//! loops, their shutdown, and the idle check behind `pacer run --until-idle`.

mod callbacks;
mod gate;
mod runtime;
mod webhook_client;

pub use callbacks::CallbackWorker;
pub use gate::GovernorGate;
pub use runtime::{is_idle, Runtime, RuntimeConfig, RuntimeStats, SCHEDULE_KEY};
pub use webhook_client::{ClientError, ReqwestWebhookSender, SystemResolver};
