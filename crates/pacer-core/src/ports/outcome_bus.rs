//! The outcome bus: workers publish attempt outcomes, the results service consumes them.

use crate::error::PortError;
use crate::ports::{Delivery, QueueDepth};
use crate::schema::OutcomeEvent;
use async_trait::async_trait;
use std::time::Duration;

/// Carries [`OutcomeEvent`]s from workers to the results service (SNS → SQS on AWS).
///
/// Contract: at-least-once. `publish` either stores every event or fails (then the
/// caller publishes them all again; duplicates are harmless because applying is
/// idempotent). No ordering is promised. `receive` hides what it returns for
/// `visibility`; un-acked deliveries come back; after the backend's receive limit a
/// delivery moves to the results dead-letter queue.
#[async_trait]
pub trait OutcomeBus: Send + Sync {
    /// Publishes events.
    async fn publish(&self, events: &[OutcomeEvent]) -> Result<(), PortError>;
    /// Takes up to `max` deliveries, hidden for `visibility`, waiting up to `wait` for some.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, PortError>;
    /// Acknowledges processed deliveries by receipt.
    async fn ack(&self, receipts: &[String]) -> Result<(), PortError>;
    /// Deliveries waiting and in flight.
    async fn depth(&self) -> Result<QueueDepth, PortError>;
}
