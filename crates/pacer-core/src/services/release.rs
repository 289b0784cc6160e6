//! Release due records into the work queue (the dispatcher's minute tick).

use crate::error::PortError;
use crate::ports::Ports;
use crate::schema::{WorkMessage, WORK_MESSAGE_VERSION};
use crate::time::Timestamp;
use serde::Serialize;
use std::time::Duration;

/// How a release tick behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseSettings {
    /// Records read and sent per round trip.
    pub batch: usize,
    /// A `queued` or `in_flight` record untouched for this long is re-sent: its message
    /// may have been lost or redriven. Keep it above visibility timeout × receive limit.
    pub stale_after: Duration,
    /// Stop starting new rounds after this time (the Lambda's remaining time).
    pub deadline: Option<Timestamp>,
}

impl Default for ReleaseSettings {
    fn default() -> Self {
        Self {
            batch: 500,
            stale_after: Duration::from_secs(15 * 60),
            deadline: None,
        }
    }
}

/// What a tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ReleaseReport {
    /// Messages newly enqueued.
    pub released: usize,
    /// Messages the queue dropped as duplicates (a repeat of a tick that crashed).
    pub deduplicated: usize,
    /// Whether due work was left for the next tick (deadline reached).
    pub more: bool,
}

/// Sends every due record to the work queue, then marks it queued. Sending first means a
/// crash between the two steps only causes a re-send, which the queue deduplicates by
/// `record_id#attempt`; the opposite order could leave a queued record with no message.
pub async fn release_due(
    ports: &Ports,
    settings: &ReleaseSettings,
) -> Result<ReleaseReport, PortError> {
    let mut report = ReleaseReport::default();
    loop {
        let now = ports.clock.now();
        if settings.deadline.is_some_and(|d| now >= d) {
            report.more = true;
            return Ok(report);
        }
        let due = ports
            .records
            .due(now, now.minus(settings.stale_after), settings.batch)
            .await?;
        if due.is_empty() {
            return Ok(report);
        }
        let messages: Vec<WorkMessage> = due
            .iter()
            .map(|r| WorkMessage {
                v: WORK_MESSAGE_VERSION,
                record_id: r.id.clone(),
                provider: r.provider.clone(),
                attempt: r.attempt + 1,
                calls: r.calls,
                request: r.request.clone(),
                released_at: now,
            })
            .collect();
        let sent = ports.work.send(&messages).await?;
        let ids: Vec<_> = due.iter().map(|r| r.id.clone()).collect();
        ports.records.mark_queued(&ids, now).await?;
        report.released += sent.sent;
        report.deduplicated += sent.deduplicated;
        if due.len() < settings.batch {
            return Ok(report);
        }
    }
}
