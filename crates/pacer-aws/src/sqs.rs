//! SQS plumbing the queue adapters share: batch calls that retry the entries a
//! successful call reports as failed, receives with the receive count and group, and
//! queue depth.

use crate::dynamo::pause;
use crate::error::{build, sdk, AdapterError};
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;
use pacer_core::ports::{Delivery, QueueDepth};
use pacer_core::PortError;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// Entries per batch call (SQS and SNS).
pub(crate) const BATCH_ENTRIES: usize = 10;
/// Bytes of bodies per batch call: SQS and SNS cap a whole batch at 256 KiB; the rest
/// of the budget is left for attributes and ids.
pub(crate) const BATCH_BYTES: usize = 240 * 1024;
/// Rounds of retrying failed entries before the whole call is reported failed.
const ENTRY_RETRIES: u32 = 4;
/// Per-entry codes that mean "nothing to do" for deletes and visibility changes: the
/// receipt is unknown, expired or its message already gone.
pub(crate) const GONE: &[&str] = &[
    "ReceiptHandleIsInvalid",
    "MessageNotInflight",
    "AWS.SimpleQueueService.MessageNotInflight",
];

/// One entry a batch call reported as failed.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) id: String,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) sender_fault: bool,
}

impl From<&BatchResultErrorEntry> for Failure {
    fn from(e: &BatchResultErrorEntry) -> Self {
        Self {
            id: e.id().to_owned(),
            code: e.code().to_owned(),
            message: e.message().unwrap_or_default().to_owned(),
            sender_fault: e.sender_fault(),
        }
    }
}

/// Splits entries of the given sizes into consecutive batches of at most
/// [`BATCH_ENTRIES`] entries and [`BATCH_BYTES`] bytes (an oversized entry goes alone).
pub(crate) fn batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        if i > start && (i - start == BATCH_ENTRIES || bytes + size > BATCH_BYTES) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Calls `call` with the entries (ids `"0"`, `"1"`, …), then again with those it reported
/// failed, a few times. Failures with a code in `ignore` count as done; a failure the
/// service blames on the request ends at once.
pub(crate) async fn with_entry_retries<T, F, Fut>(
    entries: Vec<T>,
    ignore: &[&str],
    operation: &'static str,
    mut call: F,
) -> Result<(), PortError>
where
    T: Clone,
    F: FnMut(Vec<(String, T)>) -> Fut,
    Fut: Future<Output = Result<Vec<Failure>, PortError>>,
{
    let mut pending: Vec<(String, T)> = entries
        .into_iter()
        .enumerate()
        .map(|(i, t)| (i.to_string(), t))
        .collect();
    let mut round = 0;
    while !pending.is_empty() {
        let failed: HashMap<String, Failure> = call(pending.clone())
            .await?
            .into_iter()
            .filter(|f| !ignore.contains(&f.code.as_str()))
            .map(|f| (f.id.clone(), f))
            .collect();
        let Some(first) = failed.values().next().cloned() else {
            return Ok(());
        };
        let blamed = failed.values().find(|f| f.sender_fault).cloned();
        if blamed.is_some() || round == ENTRY_RETRIES {
            let f = blamed.unwrap_or(first);
            tracing::warn!(operation, failed = failed.len(), code = %f.code, "batch entries failed");
            return Err(AdapterError::BatchEntries {
                failed: failed.len(),
                code: f.code,
                message: f.message,
                sender_fault: f.sender_fault,
            }
            .into_port(operation));
        }
        pending.retain(|(id, _)| failed.contains_key(id));
        round += 1;
        pause(round).await;
    }
    Ok(())
}

/// A message to send.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) group: Option<String>,
    pub(crate) dedup_id: Option<String>,
    pub(crate) body: String,
}

/// Sends messages in order: consecutive batches, each finished before the next starts.
pub(crate) async fn send(
    sqs: &Client,
    url: &str,
    messages: Vec<Outgoing>,
    operation: &'static str,
) -> Result<(), PortError> {
    let sizes: Vec<usize> = messages.iter().map(|m| m.body.len()).collect();
    for range in batches(&sizes) {
        let chunk = messages[range].to_vec();
        with_entry_retries(chunk, &[], operation, |entries| async move {
            let entries = entries
                .into_iter()
                .map(|(id, m)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(m.body)
                        .set_message_group_id(m.group)
                        .set_message_deduplication_id(m.dedup_id)
                        .build()
                        .map_err(|e| build(operation, e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let answer = sqs
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk(operation, e))?;
            Ok(answer.failed().iter().map(Failure::from).collect())
        })
        .await?;
    }
    Ok(())
}

/// Whole seconds for an SQS duration parameter, rounded up (hiding a message for less
/// than asked would break the visibility promise), capped at `max`.
pub(crate) fn seconds_up(d: Duration, max: u64) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.min(max) as i32
}

/// Receives up to `max` messages, hidden for `visibility`. SQS hands out at most ten per
/// call, so a larger `max` takes several calls, the later ones without waiting, until
/// `max` is reached or a call finds nothing (a FIFO queue gives one group's ten, then
/// other groups'). The first call long-polls up to `wait` in whole seconds, rounded down
/// (at most 20 s): never longer than asked, so a caller's deadline holds.
pub(crate) async fn receive(
    sqs: &Client,
    url: &str,
    max: usize,
    visibility: Duration,
    wait: Duration,
    operation: &'static str,
) -> Result<Vec<Delivery>, PortError> {
    let mut out = receive_once(sqs, url, max, visibility, wait, operation).await?;
    let mut last = out.len();
    while last > 0 && out.len() < max {
        let more = receive_once(
            sqs,
            url,
            max - out.len(),
            visibility,
            Duration::ZERO,
            operation,
        )
        .await?;
        last = more.len();
        out.extend(more);
    }
    Ok(out)
}

/// One `ReceiveMessage` call for up to `max` (at most 10) messages.
async fn receive_once(
    sqs: &Client,
    url: &str,
    max: usize,
    visibility: Duration,
    wait: Duration,
    operation: &'static str,
) -> Result<Vec<Delivery>, PortError> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let answer = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max.min(BATCH_ENTRIES) as i32)
        .visibility_timeout(seconds_up(visibility, 43_200))
        .wait_time_seconds(wait.as_secs().min(20) as i32)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
        .send()
        .await
        .map_err(|e| sdk(operation, e))?;
    Ok(answer
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let attrs = m.attributes.unwrap_or_default();
            let attr = |name| attrs.get(&name).cloned();
            Delivery {
                message_id: m.message_id.unwrap_or_default(),
                receipt: m.receipt_handle.unwrap_or_default(),
                group: attr(MessageSystemAttributeName::MessageGroupId).unwrap_or_default(),
                body: m.body.unwrap_or_default(),
                receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
            }
        })
        .collect())
}

/// Deletes messages by receipt; unknown and already deleted receipts are not errors.
pub(crate) async fn delete(
    sqs: &Client,
    url: &str,
    receipts: &[String],
    operation: &'static str,
) -> Result<(), PortError> {
    for chunk in receipts.chunks(BATCH_ENTRIES) {
        with_entry_retries(chunk.to_vec(), GONE, operation, |entries| async move {
            let entries = entries
                .into_iter()
                .map(|(id, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(receipt)
                        .build()
                        .map_err(|e| build(operation, e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let answer = sqs
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk(operation, e))?;
            Ok(answer.failed().iter().map(Failure::from).collect())
        })
        .await?;
    }
    Ok(())
}

/// Changes the visibility of received messages; unknown receipts are not errors.
pub(crate) async fn change_visibility(
    sqs: &Client,
    url: &str,
    receipts: &[String],
    visible_after: Duration,
    operation: &'static str,
) -> Result<(), PortError> {
    let secs = seconds_up(visible_after, 43_200);
    for chunk in receipts.chunks(BATCH_ENTRIES) {
        with_entry_retries(chunk.to_vec(), GONE, operation, |entries| async move {
            let entries = entries
                .into_iter()
                .map(|(id, receipt)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(receipt)
                        .visibility_timeout(secs)
                        .build()
                        .map_err(|e| build(operation, e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let answer = sqs
                .change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk(operation, e))?;
            Ok(answer.failed().iter().map(Failure::from).collect())
        })
        .await?;
    }
    Ok(())
}

/// Messages waiting and in flight.
pub(crate) async fn depth(
    sqs: &Client,
    url: &str,
    operation: &'static str,
) -> Result<QueueDepth, PortError> {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| sdk(operation, e))?;
    let attrs = answer.attributes.unwrap_or_default();
    let count = |name| {
        attrs
            .get(&name)
            .and_then(|v: &String| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(QueueDepth {
        visible: count(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_ten_entries_and_the_byte_budget_in_order() {
        assert_eq!(batches(&[1; 23]), vec![0..10, 10..20, 20..23]);
        let big = BATCH_BYTES / 2 + 1;
        assert_eq!(batches(&[big, big, 1]), vec![0..1, 1..3]);
        assert_eq!(
            batches(&[BATCH_BYTES * 2]),
            vec![0..1],
            "an oversized entry goes alone"
        );
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn durations_round_up_to_whole_seconds_within_the_cap() {
        assert_eq!(seconds_up(Duration::ZERO, 20), 0);
        assert_eq!(seconds_up(Duration::from_millis(1), 20), 1);
        assert_eq!(seconds_up(Duration::from_secs(2), 20), 2);
        assert_eq!(seconds_up(Duration::from_secs(60), 20), 20);
    }
}
