//! SDK errors, as the clients really produce them (mocked HTTP answers parsed by the SDK),
//! mapped to port errors; and the typed results that are not errors at all.

use super::*;
use crate::backend::{Aws, AwsResources};
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use pacer_core::ports::{RecordStore, WorkQueue};
use pacer_core::{ApiRequest, NewRecord, ProviderId, RecordId, SystemClock, Timestamp};
use std::sync::Arc;

/// An HTTP answer in the AWS JSON protocol with the error type `code`.
fn answer(status: u16, code: &str) -> HttpResponse {
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"from the mock"}}"#
    );
    HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body),
    )
}

fn dynamo(rules: &[&Rule]) -> aws_sdk_dynamodb::Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, rules, |c| c
        .retry_config(
            aws_sdk_dynamodb::config::retry::RetryConfig::disabled()
        ))
}

fn sqs(rules: &[&Rule]) -> aws_sdk_sqs::Client {
    mock_client!(aws_sdk_sqs, RuleMode::Sequential, rules, |c| c
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()))
}

fn backend(dynamo: aws_sdk_dynamodb::Client, sqs: aws_sdk_sqs::Client) -> Aws {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let resources = AwsResources {
        records_table: "records".into(),
        attempts_table: "attempts".into(),
        results_table: "results".into(),
        control_table: "control".into(),
        dead_letters_table: "dead-letters".into(),
        work_queue_url: "https://sqs.invalid/work.fifo".into(),
        work_dlq_url: "https://sqs.invalid/work-dlq.fifo".into(),
        results_queue_url: "https://sqs.invalid/results".into(),
        results_dlq_url: "https://sqs.invalid/results-dlq".into(),
        outcomes_topic_arn: "arn:aws:sns:us-east-1:000000000000:outcomes".into(),
        api: None,
    };
    let sns = aws_sdk_sns::Client::new(&sdk);
    Aws::from_clients(dynamo, sqs, sns, resources, Arc::new(SystemClock))
}

fn record(id: &str) -> NewRecord {
    NewRecord {
        id: RecordId::new(id).expect("valid id"),
        provider: ProviderId::new("acme").expect("valid provider"),
        request: ApiRequest {
            path: "/x".into(),
            ..Default::default()
        },
        callback_url: None,
    }
}

/// Inserts one record through a DynamoDB client whose `PutItem` answers `status`/`code`.
async fn insert_answered(status: u16, code: &str) -> Result<u64, PortError> {
    let code = code.to_owned();
    let rule =
        mock!(aws_sdk_dynamodb::Client::put_item).then_http_response(move || answer(status, &code));
    let aws = backend(dynamo(&[&rule]), sqs(&[]));
    let report = aws
        .insert(&[record("r-1")], Timestamp::from_millis(0))
        .await?;
    Ok(report.inserted)
}

#[tokio::test]
async fn throttling_and_server_errors_are_unavailable_and_keep_the_sdk_error() {
    for (status, code) in [
        (400, "ThrottlingException"),
        (400, "ProvisionedThroughputExceededException"),
        (400, "RequestLimitExceeded"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
    ] {
        let err = insert_answered(status, code).await.expect_err(code);
        assert!(err.is_retryable(), "{code}: {err}");
        let source = std::error::Error::source(&err).expect("the SDK error is the source");
        let chain = format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(source)
        );
        assert!(
            chain.contains(code),
            "{code} is kept in the source chain: {chain}"
        );
    }
}

#[tokio::test]
async fn validation_not_found_and_access_denied_are_backend_failures() {
    for code in [
        "ValidationException",
        "ResourceNotFoundException",
        "AccessDeniedException",
    ] {
        let err = insert_answered(400, code).await.expect_err(code);
        assert!(matches!(err, PortError::Backend { .. }), "{code}: {err:?}");
    }
}

#[tokio::test]
async fn a_failed_condition_is_a_typed_result_not_an_error() {
    let taken = insert_answered(400, "ConditionalCheckFailedException").await;
    assert_eq!(taken.expect("a duplicate is not an error"), 0);
    let fresh =
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build());
    let aws = backend(dynamo(&[&fresh]), sqs(&[]));
    let report = aws
        .insert(&[record("r-1")], Timestamp::from_millis(0))
        .await;
    assert_eq!(report.expect("insert").inserted, 1);
}

#[test]
fn timeouts_and_connection_failures_are_transient_but_user_errors_are_not() {
    type E = SdkError<aws_sdk_sqs::operation::receive_message::ReceiveMessageError, HttpResponse>;
    let timeout: E = SdkError::timeout_error("took too long");
    assert!(is_transient(&timeout));
    let io: E = SdkError::dispatch_failure(ConnectorError::io("connection reset".into()));
    assert!(is_transient(&io));
    let user: E = SdkError::dispatch_failure(ConnectorError::user("bad endpoint".into()));
    assert!(!is_transient(&user));
    let construction: E = SdkError::construction_failure("missing field");
    assert!(!is_transient(&construction));
    assert!(sdk("receive", timeout).is_retryable());
}

fn sent(id: &str) -> SendMessageBatchResultEntry {
    SendMessageBatchResultEntry::builder()
        .id(id)
        .message_id(format!("m-{id}"))
        .md5_of_message_body("x")
        .build()
        .expect("a valid entry")
}

fn failed(id: &str, code: &str, sender_fault: bool) -> BatchResultErrorEntry {
    BatchResultErrorEntry::builder()
        .id(id)
        .code(code)
        .sender_fault(sender_fault)
        .build()
        .expect("a valid entry")
}

fn work(n: u32) -> Vec<pacer_core::schema::WorkMessage> {
    (0..n)
        .map(|i| pacer_core::schema::WorkMessage {
            v: pacer_core::schema::WORK_MESSAGE_VERSION,
            record_id: RecordId::new(format!("r-{i}")).expect("valid id"),
            provider: ProviderId::new("acme").expect("valid provider"),
            attempt: 1,
            calls: 0,
            request: ApiRequest::default(),
            released_at: Timestamp::from_millis(0),
        })
        .collect()
}

#[tokio::test]
async fn entries_a_successful_batch_reports_failed_are_sent_again() {
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch)
        .sequence()
        .output(|| {
            SendMessageBatchOutput::builder()
                .successful(sent("0"))
                .failed(failed("1", "InternalError", false))
                .build()
                .expect("a valid output")
        })
        .output(|| {
            SendMessageBatchOutput::builder()
                .successful(sent("0"))
                .set_failed(Some(Vec::new()))
                .build()
                .expect("a valid output")
        })
        .build();
    let aws = backend(dynamo(&[]), sqs(&[&rule]));
    let report = aws
        .work_queue()
        .send(&work(2))
        .await
        .expect("sent after one retry");
    assert_eq!(report.sent, 2);
    assert_eq!(rule.num_calls(), 2, "only the failed entry was sent again");
}

#[tokio::test]
async fn an_entry_the_service_blames_on_the_request_fails_the_send_at_once() {
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch)
        .sequence()
        .output(|| {
            SendMessageBatchOutput::builder()
                .set_successful(Some(Vec::new()))
                .failed(failed("0", "InvalidMessageContents", true))
                .build()
                .expect("a valid output")
        })
        .output(|| {
            SendMessageBatchOutput::builder()
                .successful(sent("0"))
                .set_failed(Some(Vec::new()))
                .build()
                .expect("a valid output")
        })
        .build();
    let aws = backend(dynamo(&[]), sqs(&[&rule]));
    let queue = aws.work_queue();
    let err = queue.send(&work(1)).await.expect_err("refused");
    assert!(matches!(err, PortError::Backend { .. }), "{err:?}");
    assert_eq!(
        rule.num_calls(),
        1,
        "no retry of an entry the service refused"
    );
    // It was not sent, so it is not remembered: the caller's re-send counts it as new.
    let again = queue.send(&work(1)).await.expect("sent");
    assert_eq!((again.sent, again.deduplicated), (1, 0));
}

#[tokio::test]
async fn deleting_an_invalid_receipt_is_not_an_error() {
    let rule = mock!(aws_sdk_sqs::Client::delete_message_batch).then_output(|| {
        DeleteMessageBatchOutput::builder()
            .set_successful(Some(Vec::new()))
            .failed(failed("0", "ReceiptHandleIsInvalid", true))
            .build()
            .expect("a valid output")
    });
    let aws = backend(dynamo(&[]), sqs(&[&rule]));
    aws.work_queue()
        .delete(&["not-a-receipt".to_owned()])
        .await
        .expect("an invalid receipt is ignored");
}

/// A key item of the records table, as `batch_get` asks for it.
fn keyed(id: &str) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    std::collections::HashMap::from([(
        "id".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::S(id.to_owned()),
    )])
}

#[tokio::test]
async fn keys_a_successful_batch_get_leaves_unprocessed_are_asked_again() {
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    // The first answer holds "a" and leaves "b" unprocessed (throttled partition); the
    // second answers "b". Both must come back, "b" fetched once more, no error.
    let first = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_output(|| {
        BatchGetItemOutput::builder()
            .responses("records", vec![keyed("a")])
            .unprocessed_keys(
                "records",
                KeysAndAttributes::builder()
                    .keys(keyed("b"))
                    .build()
                    .expect("keys"),
            )
            .build()
    });
    let second = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .match_requests(|r| {
            r.request_items()
                .and_then(|items| items.get("records"))
                .is_some_and(|k| k.keys() == [keyed("b")])
        })
        .then_output(|| {
            BatchGetItemOutput::builder()
                .responses("records", vec![keyed("b")])
                .build()
        });
    let client = dynamo(&[&first, &second]);
    let items = crate::dynamo::batch_get(
        &client,
        "records",
        "id",
        &["a".to_owned(), "b".to_owned()],
        "get records",
    )
    .await
    .expect("both keys answered");
    let mut ids: Vec<_> = items
        .iter()
        .filter_map(|i| i.get("id").and_then(|v| v.as_s().ok()).cloned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}
