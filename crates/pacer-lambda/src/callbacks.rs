//! The callbacks function: an SQS batch of webhook deliveries (published to the outcomes
//! topic by the results function, filtered to the callbacks queue) → signed POSTs through
//! [`deliver`](pacer_core::services::deliver) → the partial batch response.
//!
//! Each message is first *admitted* ([`SqsCallbackQueue::admit`]): its lease is
//! recorded in its delivery-state item, a copy of a delivery already settled is deleted,
//! and one whose retry is not due yet is hidden again until it is. The due ones are
//! delivered (at most `concurrency` at once), each attempt noted in the record's history
//! and settled: delivered and dead-lettered messages are deleted by the settlement, and
//! a retried one is hidden until its retry time.
//!
//! The response keeps (reports as failed) every message that must stay in the queue:
//! one hidden until its retry, one not yet due, and one whose admission or settlement
//! failed (it comes back after the queue's visibility timeout; after `maxReceiveCount`
//! receives SQS moves it to the callbacks dead-letter queue).

use crate::events::batch_response;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use pacer_aws::{Admitted, SqsCallbackQueue};
use pacer_core::ports::{ApiPorts, CallbackDelivery, Settlement, WebhookSender};
use pacer_core::services::{self, CallbackSettings};
use pacer_core::webhook::WebhookSecret;
use std::sync::Arc;

/// What the callbacks function builds once per execution environment.
#[derive(Clone)]
pub struct Callbacks {
    /// The ports (records' history, the callbacks queue).
    pub ports: ApiPorts,
    /// The callbacks queue adapter, for admitting event records.
    pub queue: SqsCallbackQueue,
    /// POSTs webhooks, checking every address it connects to.
    pub sender: Arc<dyn WebhookSender>,
    /// Signs them.
    pub secret: WebhookSecret,
    /// Backoff, attempts, timeout.
    pub settings: CallbackSettings,
}

/// Handles one batch. Never fails as a whole.
pub async fn handle(app: &Callbacks, event: &SqsEvent) -> SqsBatchResponse {
    let now = app.ports.clock.now();
    let mut keep = Vec::new();
    let mut due: Vec<(String, CallbackDelivery)> = Vec::new();
    for m in &event.records {
        let id = m.message_id.clone().unwrap_or_default();
        let body = m.body.as_deref().unwrap_or_default();
        let handle = m.receipt_handle.as_deref().unwrap_or_default();
        match app.queue.admit(body, handle, now).await {
            Ok(Admitted::Deliver(d)) => due.push((id, *d)),
            Ok(Admitted::NotDue) => keep.push(id),
            Ok(Admitted::Done) => {}
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "could not admit a webhook; it comes back");
                keep.push(id);
            }
        }
    }
    let (ids, deliveries): (Vec<String>, Vec<CallbackDelivery>) = due.into_iter().unzip();
    let results = services::deliver(
        &app.ports,
        app.sender.as_ref(),
        &app.secret,
        &app.settings,
        deliveries,
    )
    .await;
    let (mut delivered, mut retried, mut dead) = (0u32, 0u32, 0u32);
    for (id, result) in ids.into_iter().zip(results) {
        match result {
            Ok(Some(Settlement::Delivered)) => delivered += 1,
            Ok(Some(Settlement::DeadLetter { .. })) => dead += 1,
            Ok(Some(Settlement::Retry { .. })) => {
                retried += 1;
                keep.push(id);
            }
            // Stale: another receive holds it now; leave the message to that one.
            Ok(None) => keep.push(id),
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "could not settle a webhook; it comes back");
                keep.push(id);
            }
        }
    }
    tracing::info!(
        messages = event.records.len(),
        delivered,
        retried,
        dead_lettered = dead,
        kept = keep.len(),
        "webhook batch done"
    );
    batch_response(keep)
}
