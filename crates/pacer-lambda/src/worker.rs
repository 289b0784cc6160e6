//! The worker function: an SQS FIFO batch of work messages (grouped by provider) →
//! [`process_batch`](pacer_core::services::process_batch) → the partial batch response.
//!
//! The core processes each provider's messages in order under its lease, providers
//! concurrently, and starts no call that could outlast the deadline (the invocation's
//! deadline less [`Settings::worker_margin`](crate::app::Settings::worker_margin)). The
//! response reports a failed message and every later message of its provider
//! ([`fifo_failures`]).
//!
//! Lambda leaves reported messages in flight until the queue's visibility timeout ends
//! (six minutes and more for the work queue), so the worker also gives them back itself
//! with the delay the core chose — a busy lease then costs seconds, not minutes. If that
//! call fails nothing is lost: the visibility timeout brings them back anyway.

use crate::app::{App, Invocation};
use crate::events::{batch_response, deliveries, fifo_failures};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use pacer_core::ports::Delivery;
use pacer_core::schema::WorkMessage;
use pacer_core::services::{self, BatchReport, Deadline, Disposition, WorkerSettings};
use std::collections::BTreeMap;
use std::time::Duration;

/// Handles one batch. Never fails as a whole: every message is either finished or
/// reported for redelivery.
pub async fn handle(app: &App, event: &SqsEvent, invocation: &Invocation) -> SqsBatchResponse {
    let batch = deliveries(event);
    let settings = WorkerSettings {
        invocation_id: invocation.request_id.clone(),
        ..app.settings().worker.clone()
    };
    let deadline = Deadline::at(invocation.deadline.minus(app.settings().worker_margin));
    let report = services::process_batch(app.ports(), &settings, &batch, &deadline).await;
    let failed = fifo_failures(&batch, &report.failed_ids());
    log_messages(&batch, &report, &failed);
    give_back(app, &batch, &report, &failed).await;
    tracing::info!(
        messages = batch.len(),
        calls = report.calls,
        failed = failed.len(),
        "work batch done"
    );
    batch_response(failed)
}

/// One line per message with the fields operators search by.
fn log_messages(batch: &[Delivery], report: &BatchReport, failed: &[String]) {
    let done: BTreeMap<&str, &Disposition> = report
        .dispositions
        .iter()
        .map(|(id, d)| (id.as_str(), d))
        .collect();
    for d in batch {
        let decoded = WorkMessage::decode(&d.body).ok();
        let outcome = match done.get(d.message_id.as_str()) {
            _ if failed.contains(&d.message_id) => "given_back",
            Some(Disposition::Done) => "done",
            _ => "unreported",
        };
        tracing::info!(
            message_id = %d.message_id,
            provider = %d.group,
            record_id = decoded.as_ref().map(|m| m.record_id.as_str()),
            attempt = decoded.as_ref().map(|m| m.attempt),
            receive_count = d.receive_count,
            outcome,
            "work message"
        );
    }
}

/// Makes the reported messages visible again after the core's delay (the worker's retry
/// delay for messages failed only to keep their group's order).
async fn give_back(app: &App, batch: &[Delivery], report: &BatchReport, failed: &[String]) {
    let delays: BTreeMap<&str, Duration> = report
        .dispositions
        .iter()
        .filter_map(|(id, d)| match d {
            Disposition::Retry { delay } => Some((id.as_str(), *delay)),
            Disposition::Done => None,
        })
        .collect();
    let mut by_delay: BTreeMap<Duration, Vec<String>> = BTreeMap::new();
    for d in batch.iter().filter(|d| failed.contains(&d.message_id)) {
        let delay = delays
            .get(d.message_id.as_str())
            .copied()
            .unwrap_or(app.settings().worker.retry_delay);
        by_delay.entry(delay).or_default().push(d.receipt.clone());
    }
    for (delay, receipts) in by_delay {
        if let Err(err) = app.ports().work.release(&receipts, delay).await {
            tracing::warn!(error = %err, messages = receipts.len(), "could not give messages back; they return after the visibility timeout");
        }
    }
}
