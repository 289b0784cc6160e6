//! Webhook deliveries waiting to be made: the callbacks queue and its dead letters.

use crate::callback_url::CallbackUrl;
use crate::error::PortError;
use crate::ids::RecordId;
use crate::ports::FinalOutcome;
use crate::time::Timestamp;
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;

/// One delivery to make: POST `outcome` to `url`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallbackDelivery {
    /// Unique id, `record_id#attempt` of the outcome; receivers deduplicate on it.
    pub id: String,
    /// The record.
    pub record_id: RecordId,
    /// Where to POST.
    pub url: CallbackUrl,
    /// What to POST.
    pub outcome: FinalOutcome,
    /// Delivery attempts already made (0 on the first).
    pub attempts: u32,
    /// Names this receive; `settle` takes it.
    pub receipt: String,
}

/// How a delivery attempt ended, as the callbacks service decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The receiver answered 2xx: done.
    Delivered,
    /// Failed; try again at `due_at`.
    Retry {
        /// When.
        due_at: Timestamp,
        /// What went wrong, for people.
        reason: String,
    },
    /// Failed for the last time (or for good): move to the callbacks dead-letter queue.
    DeadLetter {
        /// What went wrong, for people.
        reason: String,
    },
}

/// A delivery that will not be made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallbackDeadLetter {
    /// The delivery id (`record_id#attempt`).
    pub id: String,
    /// The record.
    pub record_id: RecordId,
    /// The callback URL.
    pub url: CallbackUrl,
    /// Delivery attempts made.
    pub attempts: u32,
    /// The last failure.
    pub reason: String,
    /// When it was dead-lettered.
    pub dead_lettered_at: Timestamp,
}

/// Holds webhook deliveries until they are made or dead-lettered.
///
/// Contract:
/// - Deliveries are enqueued by `RecordStore::apply_outcomes`, atomically with the move
///   of a record that has a `callback_url` into a final state, due at once, with id
///   `record_id#attempt` (enqueueing the same id twice keeps one delivery).
/// - `receive` returns up to `max` deliveries due at `now`, oldest due first, and hides
///   each until `now + lease` under a fresh receipt; one not settled by then comes back
///   under a new receipt (the old one is then stale).
/// - `settle` applies a [`Settlement`] to the delivery its receipt names, counting one
///   more attempt: `Delivered` removes it, `Retry` makes it due again at `due_at`,
///   `DeadLetter` moves it to the dead letters. It returns false, changing nothing, for
///   a stale or unknown receipt.
/// - `dead_letters` lists dead-lettered deliveries, oldest first, at most `limit`.
#[async_trait]
pub trait CallbackQueue: Send + Sync {
    /// Takes due deliveries.
    async fn receive(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<CallbackDelivery>, PortError>;
    /// Records how a delivery attempt ended.
    async fn settle(
        &self,
        receipt: &str,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<bool, PortError>;
    /// The callbacks dead-letter queue.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<CallbackDeadLetter>, PortError>;
}
