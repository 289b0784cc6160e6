//! The api and callbacks functions on moto, through their real entry points:
//!
//! - API Gateway HTTP API (v2) event JSON, decoded by `lambda_http` exactly as the api
//!   function gets it, answered by the function's router over the AWS backend's ports;
//! - a record with a callback URL ended by the results path publishes its webhook to the
//!   outcomes topic, the filtered subscription puts it on the callbacks queue, and the
//!   callbacks handler POSTs it, signed, to a receiver on 127.0.0.1 that verifies the
//!   signature — or keeps the message for a retry when the receiver fails.
//!
//! Every AWS operation each function's handler made is checked against that function's
//! IAM policy in `template.yaml` (least privilege, from what the code did).
//!
//! Skipped (with a printed reason) unless `PACER_TEST_AWS_ENDPOINT` is set; run with
//! `scripts/test-aws.sh`.

mod iam;
// The same signature-checking receiver the HTTP API's own webhook tests use.
#[path = "../../pacer-api/tests/common/receiver.rs"]
mod receiver;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use pacer_aws::provision::{provision, unique_prefix, ProvisionOptions};
use pacer_aws::recorder::{Recorder, Resource};
use pacer_aws::{Aws, AwsOptions, AwsResources};
use pacer_core::breaker::BreakerState;
use pacer_core::callback_url::{CallbackPolicy, CallbackUrl};
use pacer_core::ports::{ApiPorts, TokenHash, Unlimited};
use pacer_core::provider::ProviderSettings;
use pacer_core::schema::{NextState, OutcomeEvent, OUTCOME_EVENT_VERSION};
use pacer_core::services::CallbackSettings;
use pacer_core::webhook::WebhookSecret;
use pacer_core::{NewRecord, ProviderId, RecordId, RecordState, SystemClock};
use pacer_lambda::callbacks::{self, Callbacks};
use pacer_local::{ReqwestWebhookSender, SystemResolver};
use pacer_testkit::contract::UnusedCaller;
use pacer_testkit::leases::claim_first_attempt;
use receiver::Receiver;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const ENDPOINT_VAR: &str = "PACER_TEST_AWS_ENDPOINT";
const TOKEN: &str = "pacer_fixture_token_0123456789abcdef";

struct Moto {
    sdk: aws_config::SdkConfig,
    resources: AwsResources,
    /// The backend the function under test uses, recording its AWS operations.
    aws: Aws,
    ports: ApiPorts,
    recorder: Recorder,
    /// The same backend unrecorded, for the test's own set-up (the worker's and results
    /// functions' part).
    admin: ApiPorts,
}

async fn moto(test: &str) -> Option<Moto> {
    let Ok(endpoint) = std::env::var(ENDPOINT_VAR) else {
        eprintln!("skipped {test}: {ENDPOINT_VAR} is not set; run scripts/test-aws.sh");
        return None;
    };
    let sdk = pacer_cli::bench_aws::sdk_config(&endpoint).await;
    let options = ProvisionOptions {
        prefix: unique_prefix("a"),
        work_max_receive_count: None,
    };
    let resources = provision(&sdk, &options).await.expect("provision on moto");
    let recorder = Recorder::new();
    let aws = Aws::new_with_interceptor(
        &sdk,
        resources.clone(),
        AwsOptions::default(),
        Arc::new(SystemClock),
        SharedInterceptor::new(recorder.clone()),
    );
    let ports = aws
        .api_ports(Arc::new(UnusedCaller), Arc::new(Unlimited))
        .expect("provisioned with the API's resources");
    let admin = Aws::new(
        &sdk,
        resources.clone(),
        AwsOptions::default(),
        Arc::new(SystemClock),
    )
    .api_ports(Arc::new(UnusedCaller), Arc::new(Unlimited))
    .expect("provisioned with the API's resources");
    let acme = ProviderSettings::with_defaults(
        ProviderId::new("acme").expect("valid"),
        "https://api.internal.example/acme",
    );
    admin.providers.put_provider(&acme).await.expect("provider");
    Some(Moto {
        sdk,
        resources,
        aws,
        ports,
        recorder,
        admin,
    })
}

/// The template resource behind a recorded one.
fn logical(r: &AwsResources, resource: &Resource) -> iam::Needed {
    let api = r.api.as_ref().expect("API resources");
    let tables = [
        (&r.records_table, "RecordsTable"),
        (&r.attempts_table, "AttemptsTable"),
        (&r.results_table, "ResultsTable"),
        (&r.control_table, "ControlTable"),
        (&r.dead_letters_table, "DeadLettersTable"),
        (&api.feed_table, "FeedTable"),
        (&api.clients_table, "ClientsTable"),
    ];
    let queues = [
        (&api.callbacks_queue_url, "CallbacksQueue"),
        (&api.callbacks_dlq_url, "CallbacksDeadLetterQueue"),
    ];
    let find = |list: &[(&String, &str)], name: &str| {
        list.iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, id)| (*id).to_owned())
            .unwrap_or_else(|| {
                panic!("an operation on {name}, which this function should not touch")
            })
    };
    match resource {
        Resource::Table(t) => iam::Needed::Table(find(&tables, t)),
        Resource::Index { table, index } => iam::Needed::Index(find(&tables, table), index.clone()),
        Resource::Queue(q) => iam::Needed::Queue(find(&queues, q)),
        other => panic!("an operation on {other:?}, which this function should not touch"),
    }
}

/// Every operation the recorder saw is granted to `function` in the template.
fn assert_granted(m: &Moto, function: &str) {
    let template = iam::load_template();
    let grants = iam::function_grants(&template, function);
    let missing: Vec<String> = m
        .recorder
        .permissions()
        .into_iter()
        .map(|p| (p.action.clone(), logical(&m.resources, &p.resource)))
        .filter(|(action, needed)| !iam::granted(&grants, action, needed))
        .map(|(action, needed)| format!("{action} on {needed:?}"))
        .collect();
    assert!(
        missing.is_empty(),
        "template.yaml does not grant {function} what it calls:\n{}\n(calls: {:?})",
        missing.join("\n"),
        m.recorder.operations()
    );
    assert!(
        !m.recorder.permissions().is_empty(),
        "the recorder saw the calls"
    );
}

/// Sends an API Gateway v2 event through the api function's router.
async fn invoke(router: &axum::Router, event: &str) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(event).expect("a valid API Gateway v2 event");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_api_function_serves_api_gateway_v2_events_on_the_aws_ports() {
    let Some(m) = moto("the_api_function_serves_api_gateway_v2_events_on_the_aws_ports").await
    else {
        return;
    };
    let app = pacer_core::ports::AppName::new("billing").expect("valid");
    m.admin
        .clients
        .register(&app, &TokenHash::of(TOKEN), m.admin.clock.now())
        .await
        .expect("register");
    let router = pacer_lambda::api::router(m.ports.clone());
    let (status, json) = invoke(&router, include_str!("fixtures/apigw-v2-post-records.json")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["records"][0]["id"], "lambda-1");
    let stored = m.admin.records.get(&rid("lambda-1")).await.expect("get");
    assert_eq!(stored.map(|r| r.state), Some(RecordState::Scheduled));
    let (status, json) = invoke(&router, include_str!("fixtures/apigw-v2-get-record.json")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["record"]["request"]["body"]["n"], 1);
    let (status, json) = invoke(
        &router,
        include_str!("fixtures/apigw-v2-get-feed-no-auth.json"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    assert_granted(&m, "ApiFunction");
}

fn rid(id: &str) -> RecordId {
    RecordId::new(id).expect("valid")
}

fn secret() -> WebhookSecret {
    WebhookSecret::new(b"test-secret-0123456789abcdef").expect("secret")
}

/// Submits record `id` with a callback to `url` and ends it succeeded, as the worker and
/// results functions would (the results path publishes the webhook).
async fn ended_with_callback(m: &Moto, id: &str, url: &str) {
    let provider = ProviderId::new("acme").expect("valid");
    let record = NewRecord {
        callback_url: Some(CallbackUrl::parse(url).expect("a valid URL")),
        ..NewRecord::from_value(serde_json::json!({
            "id": id, "provider": "acme", "request": {"method": "GET", "path": "/v1/x"}
        }))
        .expect("a valid record")
    };
    let now = m.admin.clock.now();
    m.admin
        .intake
        .submit(&[record], "test", now)
        .await
        .expect("submit");
    let lease =
        claim_first_attempt(m.admin.leases.as_ref(), &provider, "test", &rid(id), now).await;
    m.admin
        .leases
        .release(&lease, BreakerState::default(), now)
        .await
        .expect("release");
    let event = OutcomeEvent {
        v: OUTCOME_EVENT_VERSION,
        record_id: rid(id),
        provider,
        attempt: 1,
        called: true,
        request_summary: "GET /v1/x".into(),
        started_at: now,
        finished_at: now,
        latency_ms: 3,
        status_code: Some(200),
        error_class: None,
        detail: None,
        response: Some("{\"ok\":true}".into()),
        fencing_token: lease.token,
        invocation_id: "test".into(),
        next: NextState::Succeeded,
    };
    m.admin
        .records
        .apply_outcomes(&[event], now)
        .await
        .expect("apply");
}

/// The callbacks queue's messages as the SQS event source would hand them over.
async fn callbacks_event(m: &Moto) -> SqsEvent {
    let api = m.resources.api.as_ref().expect("API resources");
    let sqs = aws_sdk_sqs::Client::new(&m.sdk);
    let answer = sqs
        .receive_message()
        .queue_url(&api.callbacks_queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(30)
        .send()
        .await
        .expect("receive");
    let mut event = SqsEvent::default();
    event.records = answer
        .messages()
        .iter()
        .map(|msg| {
            let mut record = SqsMessage::default();
            record.message_id = msg.message_id().map(str::to_owned);
            record.receipt_handle = msg.receipt_handle().map(str::to_owned);
            record.body = msg.body().map(str::to_owned);
            record
        })
        .collect();
    event
}

fn callbacks_app(m: &Moto) -> Callbacks {
    // The receiver is plain http on 127.0.0.1: local-testing policy (production is strict).
    let sender = ReqwestWebhookSender::new(Arc::new(SystemResolver), CallbackPolicy::LOCAL_TESTING)
        .expect("client");
    Callbacks {
        ports: m.ports.clone(),
        queue: m.aws.callback_queue(),
        sender: Arc::new(sender),
        secret: secret(),
        settings: CallbackSettings {
            timeout: Duration::from_secs(5),
            ..CallbackSettings::default()
        },
    }
}

async fn history_kinds(m: &Moto, id: &str) -> Vec<String> {
    let history = m.admin.records.history(&rid(id)).await.expect("history");
    history.into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn the_callbacks_function_posts_a_signed_outcome_the_receiver_verifies() {
    let Some(m) = moto("the_callbacks_function_posts_a_signed_outcome_the_receiver_verifies").await
    else {
        return;
    };
    let receiver = Receiver::start(secret(), 0).await;
    ended_with_callback(&m, "cb-1", &receiver.url()).await;
    let event = callbacks_event(&m).await;
    assert_eq!(
        event.records.len(),
        1,
        "the filtered subscription delivers one webhook"
    );
    let response = callbacks::handle(&callbacks_app(&m), &event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "delivered: nothing kept"
    );
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].verified,
        Ok(()),
        "the HMAC over timestamp.body verifies"
    );
    assert_eq!(
        (seen[0].delivery.as_str(), seen[0].attempt.as_str()),
        ("cb-1#1", "1")
    );
    assert_eq!(seen[0].body["state"], "succeeded");
    assert_eq!(
        history_kinds(&m, "cb-1").await,
        ["submitted", "callback_delivered"]
    );
    // The results queue got the outcome event only, never the webhook: the filter works.
    let depth = m.admin.outcomes.depth().await.expect("depth");
    assert_eq!(depth.visible + depth.in_flight, 0, "{depth:?}");
    // A copy of the settled delivery (SNS is at least once) is dropped, not re-sent.
    let again = callbacks::handle(&callbacks_app(&m), &event).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(
        receiver.seen().len(),
        1,
        "a settled delivery is not POSTed again"
    );
}

#[tokio::test]
async fn a_failing_receiver_keeps_the_message_for_a_retry_noted_in_the_history() {
    let Some(m) =
        moto("a_failing_receiver_keeps_the_message_for_a_retry_noted_in_the_history").await
    else {
        return;
    };
    let receiver = Receiver::start(secret(), 1).await;
    ended_with_callback(&m, "cb-2", &receiver.url()).await;
    let event = callbacks_event(&m).await;
    let response = callbacks::handle(&callbacks_app(&m), &event).await;
    let kept: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        kept,
        [event.records[0].message_id.as_deref().unwrap_or_default()],
        "the message stays in the queue, hidden until its retry"
    );
    assert_eq!(receiver.seen()[0].answered, 503);
    assert_eq!(
        history_kinds(&m, "cb-2").await,
        ["submitted", "callback_retry"]
    );
    // Redelivered before the retry is due (a Lambda retry): kept again, nothing POSTed.
    let early = callbacks::handle(&callbacks_app(&m), &event).await;
    assert_eq!(early.batch_item_failures.len(), 1, "not due yet: kept");
    assert_eq!(receiver.seen().len(), 1);
    assert_granted(&m, "CallbacksFunction");
}

#[tokio::test]
async fn the_webhook_secret_is_read_from_secrets_manager_and_checked() {
    let Some(m) = moto("the_webhook_secret_is_read_from_secrets_manager_and_checked").await else {
        return;
    };
    let client = aws_sdk_secretsmanager::Client::new(&m.sdk);
    let good = format!("{}/webhook-secret", unique_prefix("s"));
    let short = format!("{}/short", unique_prefix("s"));
    for (name, value) in [
        (&good, "test-secret-0123456789abcdef"),
        (&short, "too-short"),
    ] {
        client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("create the secret on moto");
    }
    let secret = pacer_lambda::secret::webhook_secret(&m.sdk, &good)
        .await
        .expect("a long enough secret");
    assert_eq!(secret, self::secret(), "the value as stored");
    let weak = pacer_lambda::secret::webhook_secret(&m.sdk, &short).await;
    assert!(
        matches!(weak, Err(pacer_lambda::secret::SecretError::Weak { .. })),
        "{weak:?}"
    );
    let missing = pacer_lambda::secret::webhook_secret(&m.sdk, "no/such/secret").await;
    let err = missing.expect_err("an unknown secret");
    assert!(err.to_string().contains("GetSecretValue"), "{err}");
}

#[tokio::test]
async fn an_unreadable_webhook_message_goes_to_the_dead_letter_queue_without_failing_the_batch() {
    let Some(m) = moto(
        "an_unreadable_webhook_message_goes_to_the_dead_letter_queue_without_failing_the_batch",
    )
    .await
    else {
        return;
    };
    let api = m.resources.api.as_ref().expect("API resources");
    let sqs = aws_sdk_sqs::Client::new(&m.sdk);
    sqs.send_message()
        .queue_url(&api.callbacks_queue_url)
        .message_body("{not a webhook")
        .send()
        .await
        .expect("send");
    let event = callbacks_event(&m).await;
    assert_eq!(event.records.len(), 1);
    let response = callbacks::handle(&callbacks_app(&m), &event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a poison message never blocks the batch"
    );
    let dead = sqs
        .receive_message()
        .queue_url(&api.callbacks_dlq_url)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receive the dead letter");
    let dead = dead.messages();
    assert_eq!(dead.len(), 1, "moved to the callbacks dead-letter queue");
    assert_eq!(dead[0].body(), Some("{not a webhook"));
    let reason = dead[0]
        .message_attributes()
        .and_then(|a| a.get("reason"))
        .and_then(|v| v.string_value())
        .unwrap_or_default();
    assert!(reason.starts_with("unreadable"), "{reason}");
    assert_granted(&m, "CallbacksFunction");
}
