//! SQS event records to and from the core's [`Delivery`], and the partial batch response.
//!
//! Lambda hands an SQS batch as `Records[]` with the system attributes as strings
//! (`MessageGroupId`, `ApproximateReceiveCount`, …); the core wants message id, receipt,
//! group, body and receive count. The response names the messages to keep
//! (`batchItemFailures`); Lambda deletes the rest.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use pacer_core::ports::Delivery;

/// The system attribute holding a FIFO message's group (the provider).
pub const MESSAGE_GROUP_ID: &str = "MessageGroupId";
/// The system attribute counting receives, this one included.
pub const APPROXIMATE_RECEIVE_COUNT: &str = "ApproximateReceiveCount";

/// One event record as a delivery. A standard queue's record has no group (empty); a
/// record without a usable receive count counts as a first receive.
pub fn delivery(message: &SqsMessage) -> Delivery {
    Delivery {
        message_id: message.message_id.clone().unwrap_or_default(),
        receipt: message.receipt_handle.clone().unwrap_or_default(),
        group: message
            .attributes
            .get(MESSAGE_GROUP_ID)
            .cloned()
            .unwrap_or_default(),
        body: message.body.clone().unwrap_or_default(),
        receive_count: message
            .attributes
            .get(APPROXIMATE_RECEIVE_COUNT)
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
    }
}

/// Every record of the event, in event order.
pub fn deliveries(event: &SqsEvent) -> Vec<Delivery> {
    event.records.iter().map(delivery).collect()
}

/// The partial batch response failing exactly `failed` (message ids).
pub fn batch_response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// The failures to report for a FIFO batch: every failed message and every later
/// message of the same group, in event order. Lambda deletes what is not reported, so a
/// message after a failed one of its group must be kept too, or the group's order breaks
/// (AWS: "stop processing messages after the first failure and return all failed and
/// unprocessed messages"). Reporting a message the worker did finish is harmless: its
/// redelivery is recognised as a duplicate and makes no call.
pub fn fifo_failures(deliveries: &[Delivery], failed: &[String]) -> Vec<String> {
    let mut broken_groups: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for d in deliveries {
        let group_broken = broken_groups.contains(&d.group.as_str());
        if group_broken || failed.contains(&d.message_id) {
            if !group_broken {
                broken_groups.push(&d.group);
            }
            out.push(d.message_id.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: &str, group: &str) -> Delivery {
        Delivery {
            message_id: id.into(),
            receipt: format!("r-{id}"),
            group: group.into(),
            body: String::new(),
            receive_count: 1,
        }
    }

    #[test]
    fn a_failure_fails_every_later_message_of_its_group_only() {
        let batch = [
            d("a1", "a"),
            d("b1", "b"),
            d("a2", "a"),
            d("b2", "b"),
            d("a3", "a"),
            d("c1", "c"),
        ];
        assert_eq!(
            fifo_failures(&batch, &["a2".into()]),
            vec!["a2".to_owned(), "a3".to_owned()]
        );
        assert_eq!(
            fifo_failures(&batch, &["b1".into(), "c1".into()]),
            vec!["b1".to_owned(), "b2".to_owned(), "c1".to_owned()]
        );
        assert!(fifo_failures(&batch, &[]).is_empty());
    }

    #[test]
    fn a_missing_receive_count_is_a_first_receive() {
        let mut message = SqsMessage::default();
        message.message_id = Some("m".into());
        message
            .attributes
            .insert(APPROXIMATE_RECEIVE_COUNT.into(), "not a number".into());
        let delivery = delivery(&message);
        assert_eq!((delivery.receive_count, delivery.group.as_str()), (1, ""));
    }
}
