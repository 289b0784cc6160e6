//! The results function: an SQS batch of outcome events (published to SNS by the workers,
//! raw-delivered to the results queue) → [`apply_outcomes`](pacer_core::services::apply_outcomes)
//! → the partial batch response.
//!
//! Applying is idempotent (an attempt is stored once, state moves are monotonic), so
//! SNS/SQS duplicates and Lambda retries are harmless. Undecodable events are
//! dead-lettered by the core with the reason; events the store could not take are
//! reported and come back after the results queue's visibility timeout.

use crate::app::{App, Invocation};
use crate::events::{batch_response, deliveries};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use pacer_core::schema::OutcomeEvent;
use pacer_core::services::{self, Disposition};

/// Handles one batch. Never fails as a whole.
pub async fn handle(app: &App, event: &SqsEvent, invocation: &Invocation) -> SqsBatchResponse {
    let batch = deliveries(event);
    let report = services::apply_outcomes(app.ports(), &batch).await;
    let failed: Vec<String> = report
        .dispositions
        .iter()
        .filter(|(_, d)| matches!(d, Disposition::Retry { .. }))
        .map(|(id, _)| id.clone())
        .collect();
    for d in &batch {
        if let Ok(e) = OutcomeEvent::decode(&d.body) {
            tracing::info!(
                message_id = %d.message_id,
                record_id = %e.record_id,
                provider = %e.provider,
                attempt = e.attempt,
                next = ?e.next,
                kept = failed.contains(&d.message_id),
                "outcome event"
            );
        }
    }
    tracing::info!(
        request_id = %invocation.request_id,
        deliveries = batch.len(),
        applied = report.applied,
        poison = report.poison,
        failed = failed.len(),
        "outcome batch done"
    );
    batch_response(failed)
}
