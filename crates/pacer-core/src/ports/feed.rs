//! The outcome feed: a sequenced log of final outcomes, read by consumer applications
//! each at its own position.

use crate::classify::ErrorClass;
use crate::error::PortError;
use crate::ids::{ProviderId, RecordId};
use crate::ports::AppName;
use crate::record::RecordState;
use crate::schema::OutcomeEvent;
use crate::time::Timestamp;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A record's final outcome: what the feed lists and what a webhook POSTs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalOutcome {
    /// Position in the feed: strictly increasing in append order.
    pub seq: u64,
    /// The record.
    pub record_id: RecordId,
    /// Its provider.
    pub provider: ProviderId,
    /// The final state: `succeeded`, `failed` or `dead_lettered`.
    pub state: RecordState,
    /// The attempt that ended it.
    pub attempt: u32,
    /// That attempt's HTTP status, if an answer came.
    pub status_code: Option<u16>,
    /// Why it failed, if it did.
    pub error_class: Option<ErrorClass>,
    /// Human detail about the failure.
    pub detail: Option<String>,
    /// Response body excerpt.
    pub response: Option<String>,
    /// When that attempt ended.
    pub finished_at: Timestamp,
}

impl FinalOutcome {
    /// The outcome of `event`, which moved its record into the final state `state`.
    pub fn from_event(seq: u64, event: &OutcomeEvent, state: RecordState) -> Self {
        Self {
            seq,
            record_id: event.record_id.clone(),
            provider: event.provider.clone(),
            state,
            attempt: event.attempt,
            status_code: event.status_code,
            error_class: event.error_class,
            detail: event.detail.clone(),
            response: event.response.clone(),
            finished_at: event.finished_at,
        }
    }
}

/// The feed of final outcomes.
///
/// Contract:
/// - Entries are appended by `RecordStore::apply_outcomes` when it moves a record into a
///   final state (`succeeded`, `failed`, `dead_lettered`), atomically with that move, one
///   entry per move: re-applying the event appends nothing; a replayed record that ends
///   again appends a second entry. `seq` strictly increases in append order.
/// - `take` returns up to `limit` entries after `app`'s position, in `seq` order, and
///   moves the position past them in the same atomic step: each application sees each
///   entry once, even when it calls `take` concurrently. An application's first `take`
///   starts at the beginning of the feed. Positions of different applications are
///   independent. When `app` is up to date, `take` returns an empty list.
#[async_trait]
pub trait OutcomeFeed: Send + Sync {
    /// The next entries for `app`, consumed.
    async fn take(&self, app: &AppName, limit: usize) -> Result<Vec<FinalOutcome>, PortError>;
}
