//! The parts AWS plays around the functions, with the requests they would bill: an SQS
//! event source mapping (receive a batch, build the `SqsEvent` Lambda hands the function,
//! delete what the function did not report) and the Scheduler invocations.
//!
//! Its own SQS client is not metered: the scenario counts the mapping's requests from
//! the batches it hands over (one `ReceiveMessage` per ten messages received, one
//! `DeleteMessageBatch` per ten deleted), as Lambda's pollers would make them. Empty
//! long polls of an idle queue are not counted per record; docs/benchmarks.md prices
//! them as a fixed cost.

use super::meter::Meter;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};

/// SQS returns at most ten messages per receive and deletes at most ten per call.
const SQS_BATCH: usize = 10;

/// One event source mapping: a queue, its batch size and the meter its requests go to.
pub(super) struct Mapping {
    pub(super) sqs: aws_sdk_sqs::Client,
    pub(super) queue_url: String,
    /// Messages per invocation (template.yaml: 10 for work, 100 for results).
    pub(super) batch_size: usize,
    pub(super) meter: Meter,
}

impl Mapping {
    fn kind(&self) -> &'static str {
        if self.queue_url.ends_with(".fifo") {
            "fifo"
        } else {
            "standard"
        }
    }

    /// Receives up to `batch_size` messages, ten per request, until a receive comes back
    /// short (the batching window closing). Counts one `ReceiveMessage` per non-empty
    /// receive.
    pub(super) async fn poll(&self) -> anyhow::Result<Vec<Message>> {
        let mut out = Vec::new();
        while out.len() < self.batch_size {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(SQS_BATCH.min(self.batch_size - out.len()) as i32)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await?
                .messages
                .unwrap_or_default();
            if got.is_empty() {
                break;
            }
            let label = format!("sqs:ReceiveMessage ({}, event source mapping)", self.kind());
            self.meter.add(&label, 1.0);
            let short = got.len() < SQS_BATCH;
            out.extend(got);
            if short {
                break;
            }
        }
        Ok(out)
    }

    /// The event Lambda would hand the function for `messages`.
    pub(super) fn event(&self, messages: &[Message]) -> SqsEvent {
        sqs_event(&self.queue_url, messages)
    }

    /// Deletes what the response did not report, ten per request, as Lambda does.
    pub(super) async fn settle(
        &self,
        event: &SqsEvent,
        response: &SqsBatchResponse,
    ) -> anyhow::Result<()> {
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = event
            .records
            .iter()
            .filter(|r| !failed.contains(&r.message_id.as_deref().unwrap_or_default()))
            .enumerate()
            .filter_map(|(i, r)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r.receipt_handle.clone()?)
                    .build()
                    .ok()
            })
            .collect();
        for chunk in done.chunks(SQS_BATCH) {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await?;
            let label = format!(
                "sqs:DeleteMessageBatch ({}, event source mapping)",
                self.kind()
            );
            self.meter.add(&label, 1.0);
        }
        Ok(())
    }
}

/// The SQS event Lambda's event source mapping would hand a function for `messages`
/// received from `queue_url` (also what pacer-lambda's emulator tests invoke with).
pub fn sqs_event(queue_url: &str, messages: &[Message]) -> SqsEvent {
    let arn = format!(
        "arn:aws:sqs:us-east-1:123456789012:{}",
        queue_url.rsplit('/').next().unwrap_or_default()
    );
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut r = SqsMessage::default();
            r.message_id = m.message_id.clone();
            r.receipt_handle = m.receipt_handle.clone();
            r.body = m.body.clone();
            r.md5_of_body = m.md5_of_body.clone();
            r.attributes = m
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect();
            r.event_source = Some("aws:sqs".into());
            r.event_source_arn = Some(arn.clone());
            r.aws_region = Some("us-east-1".into());
            r
        })
        .collect();
    event
}
