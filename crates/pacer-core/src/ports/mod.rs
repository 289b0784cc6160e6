//! Ports: the traits every backend implements.
//!
//! Each trait's doc comment is its contract — idempotency, ordering, and what each error
//! means — and one contract test suite (`pacer-testkit`) checks every backend against it.
//! All methods return [`crate::PortError`]; races a conditional write can lose are typed
//! results, never errors.

mod api_caller;
mod callbacks;
mod clients;
mod dead_letters;
mod feed;
mod intake;
mod lease_store;
mod outcome_bus;
mod provider_directory;
mod rate_gate;
mod record_store;
mod resolver;
mod webhook_sender;
mod work_queue;

pub use api_caller::{ApiCall, ApiCaller};
pub use callbacks::{CallbackDeadLetter, CallbackDelivery, CallbackQueue, Settlement};
pub use clients::{
    AppName, Client, ClientDirectory, InvalidAppName, Registration, TokenHash, MAX_APP_NAME_LEN,
};
pub use dead_letters::{DeadLetter, DeadLetterFilter, DeadLetterQueue};
pub use feed::{FinalOutcome, OutcomeFeed};
pub use intake::{Admission, RecordIntake};
pub use lease_store::{Claim, Lease, LeaseGrant, LeaseStore};
pub use outcome_bus::OutcomeBus;
pub use provider_directory::{ProviderDefaults, ProviderDirectory, WithDefaults};
pub use rate_gate::{RateGate, Unlimited};
pub use record_store::{
    ApplyReport, HistoryEntry, InsertReport, RecordFilter, RecordStore, Replay, ScheduleReport,
    StateCount, StoredResult,
};
pub use resolver::{HostResolver, ResolveError};
pub use webhook_sender::{WebhookFailure, WebhookPost, WebhookSender};
pub use work_queue::{Delivery, QueueDepth, SendReport, WorkQueue};

use crate::time::Clock;
use std::sync::Arc;

/// Every port a service may need, built once by the entry point and shared.
#[derive(Clone)]
pub struct Ports {
    /// Records, attempts and results.
    pub records: Arc<dyn RecordStore>,
    /// Provider leases and breaker state.
    pub leases: Arc<dyn LeaseStore>,
    /// Provider settings.
    pub providers: Arc<dyn ProviderDirectory>,
    /// The FIFO work queue.
    pub work: Arc<dyn WorkQueue>,
    /// The dead-letter queue operators inspect and replay.
    pub dead_letters: Arc<dyn DeadLetterQueue>,
    /// The outcome bus (SNS → SQS results on AWS).
    pub outcomes: Arc<dyn OutcomeBus>,
    /// The internal API.
    pub caller: Arc<dyn ApiCaller>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The global call-rate cap.
    pub gate: Arc<dyn RateGate>,
}

/// The pipeline's ports plus those of the HTTP API (on-demand intake, consumer apps,
/// the outcome feed, webhook deliveries). Kept apart so a backend can run the pipeline
/// before it serves the API; derefs to [`Ports`].
#[derive(Clone)]
pub struct ApiPorts {
    /// The pipeline's ports.
    pub core: Ports,
    /// Records submitted on demand (the HTTP API).
    pub intake: Arc<dyn RecordIntake>,
    /// Consumer applications of the HTTP API.
    pub clients: Arc<dyn ClientDirectory>,
    /// The feed of final outcomes.
    pub feed: Arc<dyn OutcomeFeed>,
    /// Webhook deliveries.
    pub callbacks: Arc<dyn CallbackQueue>,
}

impl Ports {
    /// These ports, answering providers without settings of their own with `defaults`
    /// (see [`WithDefaults`]); unchanged when there are none.
    pub fn with_provider_defaults(mut self, defaults: Option<ProviderDefaults>) -> Self {
        if let Some(defaults) = defaults {
            self.providers = Arc::new(WithDefaults::new(self.providers, defaults));
        }
        self
    }
}

impl ApiPorts {
    /// These ports, answering providers without settings of their own with `defaults`.
    pub fn with_provider_defaults(mut self, defaults: Option<ProviderDefaults>) -> Self {
        self.core = self.core.with_provider_defaults(defaults);
        self
    }
}

impl std::ops::Deref for ApiPorts {
    type Target = Ports;

    fn deref(&self) -> &Ports {
        &self.core
    }
}
