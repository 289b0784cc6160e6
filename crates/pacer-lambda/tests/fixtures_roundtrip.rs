//! The event fixtures (written from the shapes AWS documents and sends) survive a round
//! trip through `aws_lambda_events`, and convert to the core's deliveries with the FIFO
//! attributes intact; the Scheduler payloads decode to the dispatcher's two modes.

mod common;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use common::{sqs_event, RESULTS_BATCH, SCHEDULER_PLAN, SCHEDULER_RELEASE, WORK_BATCH, WORK_IDS};
use pacer_core::schema::{OutcomeEvent, WorkMessage};
use pacer_lambda::dispatcher::DispatchRequest;
use pacer_lambda::events::{batch_response, deliveries};

fn round_trip(bytes: &[u8]) -> (SqsEvent, serde_json::Value) {
    let parsed = sqs_event(bytes);
    let encoded = serde_json::to_value(&parsed).expect("an SQS event encodes");
    let again: SqsEvent = serde_json::from_value(encoded.clone()).expect("and decodes again");
    assert_eq!(parsed, again);
    (parsed, encoded)
}

#[test]
fn the_fifo_work_batch_round_trips_with_its_fifo_attributes() {
    let (event, encoded) = round_trip(WORK_BATCH);
    assert_eq!(event.records.len(), 4);
    let first = &encoded["Records"][0];
    for key in [
        "messageId",
        "receiptHandle",
        "body",
        "md5OfBody",
        "eventSourceARN",
    ] {
        assert!(first.get(key).is_some(), "{key} lost in the round trip");
    }
    for attribute in [
        "MessageGroupId",
        "SequenceNumber",
        "MessageDeduplicationId",
        "ApproximateReceiveCount",
    ] {
        assert!(
            first["attributes"].get(attribute).is_some(),
            "{attribute} lost in the round trip"
        );
    }
}

#[test]
fn fifo_records_become_deliveries_grouped_by_provider_in_event_order() {
    let event = sqs_event(WORK_BATCH);
    let batch = deliveries(&event);
    let groups: Vec<&str> = batch.iter().map(|d| d.group.as_str()).collect();
    assert_eq!(groups, ["acme", "acme", "globex", "acme"]);
    for (d, id) in batch.iter().zip(WORK_IDS) {
        let message = WorkMessage::decode(&d.body).expect("a work message body");
        assert_eq!(message.record_id.as_str(), id);
        assert_eq!(message.provider.as_str(), d.group, "group = provider");
        assert_eq!(d.receive_count, 1);
        assert!(d.receipt.starts_with("AQEB") && !d.message_id.is_empty());
        let record = event
            .records
            .iter()
            .find(|r| r.message_id.as_deref() == Some(d.message_id.as_str()))
            .expect("same message");
        assert_eq!(
            record.attributes["MessageDeduplicationId"],
            message.dedup_id(),
            "the dedup id is record_id#attempt"
        );
    }
}

#[test]
fn the_raw_delivered_results_batch_round_trips_and_carries_outcome_events() {
    let (event, _) = round_trip(RESULTS_BATCH);
    let batch = deliveries(&event);
    assert_eq!(batch.len(), 3);
    for d in &batch {
        assert_eq!(d.group, "", "a standard queue has no message group");
        OutcomeEvent::decode(&d.body).expect("raw delivery: the body is the event itself");
    }
}

#[test]
fn the_batch_response_names_failures_as_lambda_expects() {
    let response = batch_response(vec!["m-2".into(), "m-3".into()]);
    let json = serde_json::to_value(&response).expect("encodes");
    assert_eq!(
        json,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]})
    );
    let back: SqsBatchResponse = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, response);
}

#[test]
fn scheduler_payloads_decode_to_the_two_modes() {
    let payload = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).expect("JSON");
    assert_eq!(
        DispatchRequest::from_payload(&payload(SCHEDULER_PLAN)).expect("plan"),
        DispatchRequest::Plan
    );
    assert_eq!(
        DispatchRequest::from_payload(&payload(SCHEDULER_RELEASE)).expect("release"),
        DispatchRequest::Release
    );
}

#[test]
fn any_other_scheduler_payload_is_refused_with_what_was_expected() {
    for bad in [
        serde_json::json!({"mode": "drain"}),
        serde_json::json!({}),
        serde_json::json!("plan"),
        serde_json::json!({"mode": "plan", "window": "1h"}),
        serde_json::json!(null),
    ] {
        let err = DispatchRequest::from_payload(&bad).expect_err("must be refused");
        let text = err.to_string();
        assert!(
            text.contains(r#"{"mode":"plan"}"#) && text.contains(&bad.to_string()),
            "{text}"
        );
    }
}
