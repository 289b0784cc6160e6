//! On-demand collection end to end: records posted over HTTP are called by the local
//! runtime without any plan, as soon as their provider's pacing allows (never closer
//! than its minimum interval, never two at once), their outcomes reach the feed, and
//! their webhooks arrive signed.

mod common;

use axum::http::{Method, StatusCode};
use common::receiver::Receiver;
use common::{pid, record, record_with_callback, Api, PROVIDER};
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::services::CallbackSettings;
use pacer_core::webhook::WebhookSecret;
use pacer_http::HttpCaller;
use pacer_local::{CallbackWorker, ReqwestWebhookSender, Runtime, RuntimeConfig};
use pacer_testkit::mock_api::{MockApi, MockConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fast_runtime() -> RuntimeConfig {
    let mut rt = RuntimeConfig {
        workers: 4,
        visibility: Duration::from_secs(5),
        poll_wait: Duration::from_millis(50),
        release_every: Duration::from_millis(20),
        ..RuntimeConfig::default()
    };
    rt.worker.lease_margin = Duration::from_millis(500);
    rt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posted_records_are_called_at_their_providers_pace_and_reported_by_feed_and_webhook() {
    let mock = MockApi::start(MockConfig::none()).await.expect("mock API");
    let caller = Arc::new(HttpCaller::new(8).expect("caller"));
    let api = Api::with_caller(
        CallbackPolicy::LOCAL_TESTING,
        caller,
        &mock.base_url_for(PROVIDER),
    )
    .await;
    let mut acme = api
        .ports
        .providers
        .get_provider(&pid(PROVIDER))
        .await
        .expect("get")
        .expect("acme");
    acme.min_interval = Duration::from_millis(150);
    api.ports.providers.put_provider(&acme).await.expect("put");
    let secret = WebhookSecret::new(b"e2e-secret-0123456789abcdef").expect("secret");
    let receiver = Receiver::start(secret.clone(), 0).await;
    let mut runtime = Runtime::start(api.ports.core.clone(), fast_runtime());
    let sender = ReqwestWebhookSender::new(
        Arc::clone(&api.resolver) as _,
        CallbackPolicy::LOCAL_TESTING,
    )
    .expect("client");
    runtime.deliver_callbacks(
        api.ports.clone(),
        CallbackWorker {
            sender: Arc::new(sender),
            secret,
            settings: CallbackSettings::default(),
            every: Duration::from_millis(20),
        },
    );
    let token = api.client("billing").await;
    let auth = Some(("billing", token.as_str()));
    let batch = json!([
        record_with_callback("od-1", &receiver.url()),
        record("od-2"),
        record("od-3")
    ]);
    let posted = api.call(Method::POST, "/records", auth, Some(&batch)).await;
    assert_eq!(posted.status, StatusCode::ACCEPTED);

    let mut outcomes: Vec<Value> = Vec::new();
    let start = Instant::now();
    while (outcomes.len() < 3 || receiver.seen().is_empty())
        && start.elapsed() < Duration::from_secs(10)
    {
        let page = api.call(Method::GET, "/feed", auth, None).await;
        outcomes.extend(page.json["items"].as_array().cloned().unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runtime.shutdown().await;

    let mut done: Vec<(&str, &str)> = outcomes
        .iter()
        .map(|o| {
            (
                o["record_id"].as_str().unwrap_or(""),
                o["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    done.sort();
    assert_eq!(
        done,
        [
            ("od-1", "succeeded"),
            ("od-2", "succeeded"),
            ("od-3", "succeeded")
        ]
    );
    let seen = receiver.seen();
    assert_eq!(
        seen.len(),
        1,
        "one webhook, for the record that asked for one"
    );
    assert_eq!(
        (seen[0].verified.clone(), seen[0].body["record_id"].as_str()),
        (Ok(()), Some("od-1"))
    );
    let observed = mock.observations();
    assert_eq!(
        observed.overlaps(),
        0,
        "never two calls to one provider at once"
    );
    // pacer's own stamps of when it sent each call: never closer than the interval.
    let mut sent: Vec<i64> = Vec::new();
    for id in ["od-1", "od-2", "od-3"] {
        let attempts = api
            .ports
            .records
            .attempts(&pacer_core::ids::RecordId::new(id).expect("id"))
            .await
            .expect("attempts");
        sent.extend(attempts.iter().map(|a| a.started_at.as_millis()));
    }
    sent.sort();
    assert_eq!(sent.len(), 3, "one attempt each: {sent:?}");
    for pair in sent.windows(2) {
        assert!(
            pair[1] - pair[0] >= 150,
            "calls sent at least the minimum interval apart: {sent:?}"
        );
    }
    // What the provider saw: arrival times include loopback delivery, and the first
    // call also pays for opening the connection, so allow a little transport jitter.
    let mut arrivals: Vec<u64> = observed.calls.iter().map(|c| c.started_at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 3);
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= 150_000 - TRANSPORT_JITTER_US,
            "calls arrived spaced by the minimum interval: {arrivals:?}"
        );
    }
}

/// How much earlier than pacer's spacing a call may arrive at the mock because the
/// previous request took longer to get there (connection setup, a loaded test machine).
const TRANSPORT_JITTER_US: u64 = 3_000;
