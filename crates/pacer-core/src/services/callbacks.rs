//! Deliver webhooks (the callbacks function on AWS, a loop locally): take due
//! deliveries, sign each outcome, POST it once, then decide — delivered, retry later
//! with exponential backoff, or dead-letter after the last attempt. Every attempt is
//! noted in the record's history.
//!
//! The callback URL is checked again here, at delivery time: the policy on the URL,
//! then the sender checks every address the host resolves to as it connects.

use crate::error::PortError;
use crate::ports::{
    ApiPorts, CallbackDelivery, HistoryEntry, Settlement, WebhookFailure, WebhookPost,
    WebhookSender,
};
use crate::time::Timestamp;
use crate::webhook::{WebhookSecret, DELIVERY_HEADER, SIGNATURE_HEADER};
use futures::StreamExt;
use serde::Serialize;
use std::time::Duration;

/// How webhooks are delivered and retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackSettings {
    /// Delivery attempts before a webhook is dead-lettered.
    pub max_attempts: u32,
    /// Delay after the first failure (before jitter); it doubles after each.
    pub backoff_base: Duration,
    /// Cap on the delay.
    pub backoff_max: Duration,
    /// Per-POST timeout.
    pub timeout: Duration,
    /// How long a taken delivery stays hidden; keep it above `timeout`.
    pub lease: Duration,
    /// Deliveries taken per round.
    pub batch: usize,
    /// POSTs in flight at once.
    pub concurrency: usize,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            batch: 50,
            concurrency: 8,
        }
    }
}

/// The delay after failed attempt number `attempt` (1-based): the capped exponential
/// `backoff_base * 2^(attempt-1)`, jittered into its upper half (`jitter` in `[0, 1)`),
/// so retries spread out but never come sooner than half the schedule.
pub fn retry_delay(settings: &CallbackSettings, attempt: u32, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
    let ceiling = settings
        .backoff_base
        .saturating_mul(factor)
        .min(settings.backoff_max);
    let half = ceiling / 2;
    Duration::from_millis((half + half.mul_f64(jitter.clamp(0.0, 1.0))).as_millis() as u64)
}

/// What follows delivery attempt number `attempt` that ended with `result` at `now`.
pub fn decide(
    settings: &CallbackSettings,
    attempt: u32,
    result: &Result<u16, WebhookFailure>,
    now: Timestamp,
    jitter: f64,
) -> Settlement {
    let reason = match result {
        Ok(status) if (200..300).contains(status) => return Settlement::Delivered,
        Ok(status) => format!("HTTP {status}"),
        Err(WebhookFailure::Refused(e)) if !e.is_retryable() => {
            return Settlement::DeadLetter {
                reason: format!("not sent: callback_url {e}"),
            }
        }
        Err(e) => error_chain(e),
    };
    if attempt >= settings.max_attempts {
        Settlement::DeadLetter {
            reason: format!(
                "{reason} (attempt {attempt} of {}, the last)",
                settings.max_attempts
            ),
        }
    } else {
        Settlement::Retry {
            due_at: now.plus(retry_delay(settings, attempt, jitter)),
            reason,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What one round of deliveries did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Answered 2xx.
    pub delivered: u64,
    /// Failed, to be tried again.
    pub retried: u64,
    /// Failed for the last time, or refused: dead-lettered.
    pub dead_lettered: u64,
    /// Settled by someone else meanwhile (the lease ran out).
    pub stale: u64,
}

/// Takes up to `settings.batch` due deliveries and makes them, at most
/// `settings.concurrency` at once. Returns what happened; a port failure on one
/// delivery leaves it to come back after its lease.
pub async fn deliver_due(
    ports: &ApiPorts,
    sender: &dyn WebhookSender,
    secret: &WebhookSecret,
    settings: &CallbackSettings,
) -> Result<DeliveryReport, PortError> {
    let due = ports
        .callbacks
        .receive(ports.clock.now(), settings.batch, settings.lease)
        .await?;
    let results = deliver(ports, sender, secret, settings, due).await;
    let mut report = DeliveryReport::default();
    for r in results {
        match r {
            Ok(None) => report.stale += 1,
            Ok(Some(Settlement::Delivered)) => report.delivered += 1,
            Ok(Some(Settlement::Retry { .. })) => report.retried += 1,
            Ok(Some(Settlement::DeadLetter { .. })) => report.dead_lettered += 1,
            Err(err) => {
                tracing::warn!(error = %err, "could not settle a webhook delivery; it comes back after its lease")
            }
        }
    }
    Ok(report)
}

/// Makes deliveries the caller has already taken (the callbacks Lambda function gets
/// them in its SQS event), at most `settings.concurrency` at once, each noted in its
/// record's history and settled. One result per delivery, in input order: the
/// settlement applied, `None` when the receipt had gone stale, or the port error that
/// leaves the delivery to come back after its lease.
pub async fn deliver(
    ports: &ApiPorts,
    sender: &dyn WebhookSender,
    secret: &WebhookSecret,
    settings: &CallbackSettings,
    deliveries: Vec<CallbackDelivery>,
) -> Vec<Result<Option<Settlement>, PortError>> {
    futures::stream::iter(deliveries)
        .map(|d| deliver_one(ports, sender, secret, settings, d))
        .buffered(settings.concurrency.max(1))
        .collect()
        .await
}

async fn deliver_one(
    ports: &ApiPorts,
    sender: &dyn WebhookSender,
    secret: &WebhookSecret,
    settings: &CallbackSettings,
    d: CallbackDelivery,
) -> Result<Option<Settlement>, PortError> {
    let attempt = d.attempts + 1;
    let body = serde_json::to_vec(&d.outcome).unwrap_or_default();
    let sent_at = ports.clock.now();
    let headers = [
        ("content-type", "application/json".to_owned()),
        (
            SIGNATURE_HEADER,
            secret.sign(sent_at.as_millis().div_euclid(1000), &body),
        ),
        (DELIVERY_HEADER, d.id.clone()),
        ("pacer-attempt", attempt.to_string()),
    ];
    let result = match sender.policy().check_url(&d.url) {
        Err(e) => Err(WebhookFailure::Refused(e)),
        Ok(()) => {
            sender
                .post(&WebhookPost {
                    url: &d.url,
                    headers: &headers,
                    body: &body,
                    timeout: settings.timeout,
                })
                .await
        }
    };
    let now = ports.clock.now();
    let settlement = decide(settings, attempt, &result, now, rand::random::<f64>());
    let (kind, detail) = match &settlement {
        Settlement::Delivered => (
            "callback_delivered",
            format!("HTTP {}", result.as_ref().copied().unwrap_or(200)),
        ),
        Settlement::Retry { due_at, reason } => (
            "callback_retry",
            format!("{reason}; next attempt at {due_at}"),
        ),
        Settlement::DeadLetter { reason } => ("callback_dead_lettered", reason.clone()),
    };
    tracing::info!(record_id = %d.record_id, delivery = %d.id, attempt, kind, "webhook attempt");
    let entry = HistoryEntry {
        at: now,
        kind: kind.to_owned(),
        detail: format!(
            "attempt {attempt} of {}: POST {}: {detail}",
            settings.max_attempts, d.url
        ),
    };
    ports.records.note(&d.record_id, &entry).await?;
    let settled = ports.callbacks.settle(&d.receipt, &settlement, now).await?;
    Ok(settled.then_some(settlement))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback_url::CallbackUrlError;

    fn settings() -> CallbackSettings {
        CallbackSettings {
            max_attempts: 3,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(25),
            ..CallbackSettings::default()
        }
    }

    #[test]
    fn delays_double_from_the_base_up_to_the_cap_with_jitter_in_the_upper_half() {
        let s = settings();
        assert_eq!(retry_delay(&s, 1, 0.0), Duration::from_secs(5));
        assert_eq!(retry_delay(&s, 1, 0.999_9), Duration::from_millis(9_999));
        assert_eq!(retry_delay(&s, 2, 0.0), Duration::from_secs(10));
        assert_eq!(retry_delay(&s, 3, 0.0), Duration::from_millis(12_500));
        assert_eq!(retry_delay(&s, 40, 0.0), Duration::from_millis(12_500));
    }

    #[test]
    fn two_hundreds_deliver_failures_retry_and_the_last_failure_dead_letters() {
        let s = settings();
        let now = Timestamp::from_millis(1_000_000);
        assert_eq!(decide(&s, 1, &Ok(204), now, 0.0), Settlement::Delivered);
        assert_eq!(
            decide(&s, 1, &Ok(503), now, 0.0),
            Settlement::Retry {
                due_at: now.plus(Duration::from_secs(5)),
                reason: "HTTP 503".into()
            }
        );
        assert!(matches!(
            decide(&s, 3, &Ok(500), now, 0.0),
            Settlement::DeadLetter { reason } if reason.contains("attempt 3 of 3")
        ));
    }

    #[test]
    fn a_refused_url_is_dead_lettered_at_once() {
        let refused = Err(WebhookFailure::Refused(CallbackUrlError::PlainHttp));
        let now = Timestamp::from_millis(0);
        assert!(matches!(
            decide(&settings(), 1, &refused, now, 0.5),
            Settlement::DeadLetter { reason } if reason.starts_with("not sent")
        ));
    }
}
