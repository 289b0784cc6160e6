//! The dead-letter queue operators inspect and replay.

use crate::classify::ErrorClass;
use crate::error::PortError;
use crate::ids::RecordId;
use crate::time::Timestamp;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One dead letter: a record whose attempts ran out, or a message nobody could process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Unique id: `record_id#attempt` for exhausted records, `msg:<message id>` for poison.
    pub id: String,
    /// The record, when known.
    pub record_id: Option<RecordId>,
    /// The provider (message group), when known; kept as text since poison may carry anything.
    pub provider: Option<String>,
    /// Why it died.
    pub error_class: ErrorClass,
    /// HTTP calls made for the record.
    pub attempts: u32,
    /// Human detail.
    pub reason: String,
    /// When it was dead-lettered.
    pub dead_lettered_at: Timestamp,
    /// The original message body, for forensics and replay.
    pub body: String,
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeadLetterFilter {
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this class.
    pub error_class: Option<ErrorClass>,
    /// Only dead-lettered at or after.
    pub since: Option<Timestamp>,
    /// At most this many (oldest first).
    pub limit: Option<usize>,
}

/// Holds dead letters until an operator replays or purges them.
///
/// Contract: `put` is idempotent by `id` (the first copy wins); `list` is oldest first;
/// `remove` of an unknown id is not an error and returns how many were removed.
#[async_trait]
pub trait DeadLetterQueue: Send + Sync {
    /// Stores entries.
    async fn put(&self, entries: &[DeadLetter]) -> Result<(), PortError>;
    /// Lists entries.
    async fn list(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, PortError>;
    /// Removes entries by id.
    async fn remove(&self, ids: &[String]) -> Result<u64, PortError>;
}
