//! Apply outcomes (the results function): store attempts, move states, store results.

use crate::classify::ErrorClass;
use crate::ports::{DeadLetter, Delivery, Ports};
use crate::schema::OutcomeEvent;
use crate::services::work::Disposition;
use serde::Serialize;

/// What one batch of outcome deliveries came to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ApplyBatchReport {
    /// Events applied (including duplicates, which are harmless).
    pub applied: usize,
    /// Undecodable deliveries sent to the dead-letter queue.
    pub poison: usize,
    /// Per delivery, by message id: delete it, or leave it for redelivery.
    #[serde(skip)]
    pub dispositions: Vec<(String, Disposition)>,
}

/// Applies a batch of outcome deliveries in one store call. Undecodable ones are
/// dead-lettered with the reason; if the store fails, every decodable delivery is left
/// for redelivery (applying is idempotent, so the retry is safe).
pub async fn apply_outcomes(ports: &Ports, deliveries: &[Delivery]) -> ApplyBatchReport {
    let mut report = ApplyBatchReport::default();
    let mut events = Vec::with_capacity(deliveries.len());
    let mut poison = Vec::new();
    for d in deliveries {
        match OutcomeEvent::decode(&d.body) {
            Ok(e) => events.push((d.message_id.clone(), e)),
            Err(err) => {
                tracing::warn!(message_id = %d.message_id, error = %err, "undecodable outcome event");
                poison.push(DeadLetter {
                    id: format!("msg:{}", d.message_id),
                    record_id: None,
                    provider: None,
                    error_class: ErrorClass::BadMessage,
                    attempts: 0,
                    reason: err.to_string(),
                    dead_lettered_at: ports.clock.now(),
                    body: d.body.clone(),
                });
                report
                    .dispositions
                    .push((d.message_id.clone(), Disposition::Done));
            }
        }
    }
    if !poison.is_empty() {
        if let Err(err) = ports.dead_letters.put(&poison).await {
            tracing::error!(error = %err, "could not dead-letter poison outcomes; leaving them");
            report.dispositions.retain(|(_, d)| *d != Disposition::Done);
            for p in &poison {
                let id = p.id.trim_start_matches("msg:").to_owned();
                report.dispositions.push((
                    id,
                    Disposition::Retry {
                        delay: std::time::Duration::ZERO,
                    },
                ));
            }
        } else {
            report.poison = poison.len();
        }
    }
    let batch: Vec<OutcomeEvent> = events.iter().map(|(_, e)| e.clone()).collect();
    let disposition = match ports
        .records
        .apply_outcomes(&batch, ports.clock.now())
        .await
    {
        Ok(applied) => {
            tracing::debug!(
                stored = applied.attempts_stored,
                duplicates = applied.duplicates,
                "outcomes applied"
            );
            report.applied = batch.len();
            Disposition::Done
        }
        Err(err) => {
            tracing::warn!(error = %err, events = batch.len(), "could not apply outcomes; will retry");
            Disposition::Retry {
                delay: std::time::Duration::from_secs(1),
            }
        }
    };
    report
        .dispositions
        .extend(events.into_iter().map(|(id, _)| (id, disposition)));
    report
}
