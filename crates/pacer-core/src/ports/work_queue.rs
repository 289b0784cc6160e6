//! The FIFO work queue between the dispatcher and the workers.

use crate::error::PortError;
use crate::schema::WorkMessage;
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;

/// A message handed to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue's id for the message.
    pub message_id: String,
    /// Handle for `delete`/`release`; valid until the message is received again.
    pub receipt: String,
    /// The message group (the provider) as the queue saw it.
    pub group: String,
    /// The raw body; decoding is the consumer's job so poison can be dead-lettered.
    pub body: String,
    /// How many times this message has been received, this time included.
    pub receive_count: u32,
}

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SendReport {
    /// Newly enqueued.
    pub sent: usize,
    /// Dropped as duplicates of a message sent within the deduplication window.
    pub deduplicated: usize,
}

/// Queue depth for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct QueueDepth {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted.
    pub in_flight: u64,
}

/// A FIFO queue with SQS FIFO semantics, grouped by provider.
///
/// Contract:
/// - `send` enqueues in the given order, `MessageGroupId` = `provider`; a message
///   whose [`WorkMessage::dedup_id`] was sent within the deduplication window (at least
///   5 minutes) is dropped and counted as deduplicated. It is all-or-error: on `Err`
///   the caller sends the whole slice again (dedup makes that safe).
/// - `receive` never returns a message of a group while an earlier message of that group
///   is in flight (received, not deleted, visibility not expired), and returns a
///   group's messages in send order, at most 10 of one group per receive (an SQS FIFO
///   batch); `max` may exceed 10 to take several groups at once. Received messages are hidden for `visibility`.
///   A message received more than the queue's receive limit is moved to the
///   dead-letter queue instead of being returned. With nothing to return, it waits up
///   to `wait` for messages (long polling) before returning an empty list.
/// - `delete` of an unknown or already deleted receipt is not an error.
/// - `release` makes messages visible again after `delay` (a change of visibility).
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Enqueues messages.
    async fn send(&self, messages: &[WorkMessage]) -> Result<SendReport, PortError>;
    /// Takes up to `max` messages, waiting up to `wait` for some.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, PortError>;
    /// Deletes processed messages.
    async fn delete(&self, receipts: &[String]) -> Result<(), PortError>;
    /// Returns messages to the queue, visible after `delay`.
    async fn release(&self, receipts: &[String], delay: Duration) -> Result<(), PortError>;
    /// Current depth.
    async fn depth(&self) -> Result<QueueDepth, PortError>;
}
