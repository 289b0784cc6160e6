//! The callbacks loop: delivers due webhooks the way the `callbacks` queue's event
//! source mapping drives the callbacks function on AWS. Every decision (signature,
//! backoff, dead-lettering) is the core's [`services::deliver_due`].

use pacer_core::ports::{ApiPorts, WebhookSender};
use pacer_core::services::{self, CallbackSettings};
use pacer_core::webhook::WebhookSecret;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the callbacks loop needs.
#[derive(Clone)]
pub struct CallbackWorker {
    /// The HTTP client (it enforces the callback URL policy as it connects).
    pub sender: Arc<dyn WebhookSender>,
    /// The secret webhooks are signed with.
    pub secret: WebhookSecret,
    /// Attempts, backoff, timeouts.
    pub settings: CallbackSettings,
    /// Pause between rounds when the last one was not full.
    pub every: Duration,
}

/// Delivers until `stop` turns true. A round that took a full batch is followed at
/// once by the next; otherwise the loop waits `every`.
pub(crate) async fn callbacks_loop(
    ports: ApiPorts,
    worker: CallbackWorker,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let full = match services::deliver_due(
            &ports,
            worker.sender.as_ref(),
            &worker.secret,
            &worker.settings,
        )
        .await
        {
            Ok(r) => {
                let taken = r.delivered + r.retried + r.dead_lettered + r.stale;
                taken >= worker.settings.batch as u64
            }
            Err(err) => {
                tracing::warn!(error = %err, "webhook round failed; next round retries");
                false
            }
        };
        if !full {
            tokio::select! {
                _ = tokio::time::sleep(worker.every) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
