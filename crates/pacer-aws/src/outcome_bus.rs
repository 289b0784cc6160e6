//! The outcome bus: SNS standard topic "outcomes", subscribed with raw message delivery
//! by the SQS standard queue "results" (which has its own dead-letter queue).
//!
//! Publishing goes through the topic, so more consumers (metrics, webhooks) can
//! subscribe later without touching the worker; receiving and acking use the queue.
//! Every event carries the message attribute `pacer_kind = outcome`, which the results
//! subscription's filter policy requires: webhook deliveries published to the same
//! topic (`pacer_kind = callback`) go to the callbacks queue only.

use crate::apply::fit;
use crate::backend::Inner;
use crate::callbacks::{KIND_ATTRIBUTE, KIND_OUTCOME};
use crate::error::{build, sdk};
use crate::sqs::{self, batches, with_entry_retries, Failure};
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use pacer_core::ports::{Delivery, OutcomeBus, QueueDepth};
use pacer_core::schema::OutcomeEvent;
use pacer_core::PortError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// The outcome bus (SNS "outcomes" → SQS "results").
///
/// A worker publishes each message's outcomes as soon as its call ends, from every
/// provider batch of the invocation at once. Publishes that arrive within
/// [`AwsOptions::publish_linger`](crate::AwsOptions::publish_linger) of the first one
/// waiting share `PublishBatch` requests (SNS bills a batch of ten small messages as one
/// request) instead of paying one request each; every caller still returns only once its
/// own events are published, or with the error that stopped them.
pub struct SnsOutcomeBus {
    inner: Arc<Inner>,
    waiting: Mutex<Vec<Waiting>>,
}

/// One publish call waiting for the shared send.
struct Waiting {
    bodies: Vec<String>,
    done: oneshot::Sender<Result<(), PortError>>,
}

/// Bodies a waiting lot is sent at once when it holds this many (one full batch).
const FULL_LOT: usize = 10;

impl SnsOutcomeBus {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self {
            inner,
            waiting: Mutex::new(Vec::new()),
        }
    }

    /// Sends every waiting publish together and tells each caller how it went.
    async fn flush(&self) {
        let lot = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner));
        if lot.is_empty() {
            return;
        }
        let bodies: Vec<String> = lot.iter().flat_map(|w| w.bodies.iter().cloned()).collect();
        let sent = self.send(bodies).await;
        for w in lot {
            let answer = match &sent {
                Ok(()) => Ok(()),
                Err(e) => Err(shared(e)),
            };
            // A caller that gave up waiting needs no answer.
            let _ = w.done.send(answer);
        }
    }

    /// Publishes `bodies` in batches of ten (and at most 256 KB), retrying entries a
    /// successful batch reports failed.
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError> {
        let op = "publish outcomes";
        let sns = &self.inner.sns;
        let topic = &self.inner.resources.outcomes_topic_arn;
        let sizes: Vec<usize> = bodies.iter().map(String::len).collect();
        // The results queue's subscription takes only outcome events (webhook deliveries
        // go through the same topic to the callbacks queue).
        let kind = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(KIND_OUTCOME)
            .build()
            .map_err(|e| build(op, e))?;
        let kind = &kind;
        for range in batches(&sizes) {
            let chunk = bodies[range].to_vec();
            with_entry_retries(chunk, &[], op, |entries| async move {
                let entries = entries
                    .into_iter()
                    .map(|(id, body)| {
                        PublishBatchRequestEntry::builder()
                            .id(id)
                            .message(body)
                            .message_attributes(KIND_ATTRIBUTE, kind.clone())
                            .build()
                            .map_err(|e| build(op, e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let answer = sns
                    .publish_batch()
                    .topic_arn(topic)
                    .set_publish_batch_request_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| sdk(op, e))?;
                Ok(answer.failed().iter().map(Failure::from).collect())
            })
            .await?;
        }
        Ok(())
    }
}

/// The error of a shared send, for each caller in it: as retryable as the original.
fn shared(err: &PortError) -> PortError {
    let operation = "publish outcomes";
    let source = err.to_string().into();
    if err.is_retryable() {
        PortError::Unavailable { operation, source }
    } else {
        PortError::Backend { operation, source }
    }
}

impl From<&aws_sdk_sns::types::BatchResultErrorEntry> for Failure {
    fn from(e: &aws_sdk_sns::types::BatchResultErrorEntry) -> Self {
        Self {
            id: e.id().to_owned(),
            code: e.code().to_owned(),
            message: e.message().unwrap_or_default().to_owned(),
            sender_fault: e.sender_fault(),
        }
    }
}

#[async_trait::async_trait]
impl OutcomeBus for SnsOutcomeBus {
    async fn publish(&self, events: &[OutcomeEvent]) -> Result<(), PortError> {
        // An event too big for one message is cut (with the marker), never rejected.
        let bodies: Vec<String> = events.iter().map(|e| fit(e).encode()).collect();
        let linger = self.inner.options.publish_linger;
        if linger.is_zero() || bodies.len() >= FULL_LOT {
            return self.send(bodies).await;
        }
        let (done, answer) = oneshot::channel();
        let (first, full) = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            waiting.push(Waiting { bodies, done });
            let queued: usize = waiting.iter().map(|w| w.bodies.len()).sum();
            (waiting.len() == 1, queued >= FULL_LOT)
        };
        let mut answer = answer;
        let answered = if full {
            self.flush().await;
            answer.await
        } else if first {
            // The first caller of a lot waits for company, then sends for everyone.
            tokio::time::sleep(linger).await;
            self.flush().await;
            answer.await
        } else {
            match tokio::time::timeout(2 * linger, &mut answer).await {
                Ok(answered) => answered,
                // The first caller went away before sending (its future was dropped):
                // whoever is still waiting sends.
                Err(_) => {
                    self.flush().await;
                    answer.await
                }
            }
        };
        match answered {
            Ok(result) => result,
            // The lot's sender went away mid-send: the caller retries.
            Err(_) => Err(PortError::Unavailable {
                operation: "publish outcomes",
                source: "the shared publish was dropped before it finished".into(),
            }),
        }
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, PortError> {
        let url = &self.inner.resources.results_queue_url;
        sqs::receive(
            &self.inner.sqs,
            url,
            max,
            visibility,
            wait,
            "receive outcomes",
        )
        .await
    }

    async fn ack(&self, receipts: &[String]) -> Result<(), PortError> {
        let url = &self.inner.resources.results_queue_url;
        sqs::delete(&self.inner.sqs, url, receipts, "ack outcomes").await
    }

    async fn depth(&self) -> Result<QueueDepth, PortError> {
        let url = &self.inner.resources.results_queue_url;
        sqs::depth(&self.inner.sqs, url, "outcome depth").await
    }
}
