//! The work queue on SQS FIFO: `MessageGroupId` = provider, `MessageDeduplicationId` =
//! `record_id#attempt`, batches of ten, redrive to the FIFO dead-letter queue by the
//! queue's own redrive policy (`maxReceiveCount`).
//!
//! SQS deduplicates, but does not say so: a duplicate send is answered like a new one.
//! The `deduplicated` count of a [`SendReport`] therefore comes from this process's
//! memory of the dedup ids it sent within the five-minute window; a repeat sent by
//! another process (another Lambda container) is still dropped by SQS, but counted as
//! sent. The count feeds reports only; delivery is SQS's and exact.

use crate::backend::Inner;
use crate::sqs::{self, Outgoing};
use pacer_core::ports::{Delivery, QueueDepth, SendReport, WorkQueue};
use pacer_core::schema::WorkMessage;
use pacer_core::{PortError, Timestamp};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// SQS FIFO's deduplication interval.
const DEDUP_WINDOW: Duration = Duration::from_secs(300);
/// Dedup ids remembered at most (oldest forgotten first).
const DEDUP_MEMORY: usize = 50_000;

/// Dedup ids this process sent, with when.
#[derive(Default)]
struct SentIds {
    at: HashMap<String, Timestamp>,
    order: VecDeque<(String, Timestamp)>,
}

impl SentIds {
    /// Whether `id` was sent within the window before `now`; remembers it if not.
    fn repeat(&mut self, id: &str, now: Timestamp) -> bool {
        if self.at.get(id).is_some_and(|t| now < t.plus(DEDUP_WINDOW)) {
            return true;
        }
        self.at.insert(id.to_owned(), now);
        self.order.push_back((id.to_owned(), now));
        while self.order.len() > DEDUP_MEMORY
            || self
                .order
                .front()
                .is_some_and(|(_, t)| now >= t.plus(DEDUP_WINDOW))
        {
            let Some((old, t)) = self.order.pop_front() else {
                break;
            };
            if self.at.get(&old) == Some(&t) {
                self.at.remove(&old);
            }
        }
        false
    }

    fn forget(&mut self, id: &str) {
        self.at.remove(id);
    }
}

/// The FIFO work queue (SQS FIFO "work").
pub struct SqsWorkQueue {
    inner: Arc<Inner>,
    sent: Mutex<SentIds>,
}

impl SqsWorkQueue {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self {
            inner,
            sent: Mutex::new(SentIds::default()),
        }
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, SentIds> {
        // A poisoned lock only means another task panicked mid-update of a report cache.
        self.sent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl WorkQueue for SqsWorkQueue {
    async fn send(&self, messages: &[WorkMessage]) -> Result<SendReport, PortError> {
        let now = self.inner.clock.now();
        let mut report = SendReport::default();
        let mut fresh = Vec::new();
        {
            let mut sent = self.sent();
            for m in messages {
                let id = m.dedup_id();
                if sent.repeat(&id, now) {
                    report.deduplicated += 1;
                } else {
                    report.sent += 1;
                    fresh.push(id);
                }
            }
        }
        // Every message goes to SQS, repeats included: SQS decides what is a duplicate.
        let outgoing = messages
            .iter()
            .map(|m| Outgoing {
                group: Some(m.provider.to_string()),
                dedup_id: Some(m.dedup_id()),
                body: m.encode(),
            })
            .collect();
        let url = &self.inner.resources.work_queue_url;
        if let Err(e) = sqs::send(&self.inner.sqs, url, outgoing, "work send").await {
            // Not sent after all: the caller's re-send must count them as new.
            let mut sent = self.sent();
            fresh.iter().for_each(|id| sent.forget(id));
            return Err(e);
        }
        Ok(report)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, PortError> {
        let url = &self.inner.resources.work_queue_url;
        sqs::receive(&self.inner.sqs, url, max, visibility, wait, "work receive").await
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), PortError> {
        let url = &self.inner.resources.work_queue_url;
        sqs::delete(&self.inner.sqs, url, receipts, "work delete").await
    }

    async fn release(&self, receipts: &[String], delay: Duration) -> Result<(), PortError> {
        let url = &self.inner.resources.work_queue_url;
        sqs::change_visibility(&self.inner.sqs, url, receipts, delay, "work release").await
    }

    async fn depth(&self) -> Result<QueueDepth, PortError> {
        sqs::depth(
            &self.inner.sqs,
            &self.inner.resources.work_queue_url,
            "work depth",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dedup_id_is_a_repeat_within_five_minutes_only() {
        let mut sent = SentIds::default();
        let t0 = Timestamp::from_millis(1_000_000);
        assert!(!sent.repeat("r#1", t0));
        assert!(sent.repeat("r#1", t0.plus(Duration::from_secs(299))));
        assert!(!sent.repeat("r#2", t0));
        assert!(
            !sent.repeat("r#1", t0.plus(DEDUP_WINDOW)),
            "the window has passed"
        );
        sent.forget("r#2");
        assert!(!sent.repeat("r#2", t0), "a forgotten id is new again");
    }
}
