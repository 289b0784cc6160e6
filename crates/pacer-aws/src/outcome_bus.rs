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
use std::sync::Arc;
use std::time::Duration;

/// The outcome bus (SNS "outcomes" → SQS "results").
pub struct SnsOutcomeBus {
    inner: Arc<Inner>,
}

impl SnsOutcomeBus {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self { inner }
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
        let op = "publish outcomes";
        let sns = &self.inner.sns;
        let topic = &self.inner.resources.outcomes_topic_arn;
        // An event too big for one message is cut (with the marker), never rejected.
        let bodies: Vec<String> = events.iter().map(|e| fit(e).encode()).collect();
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
