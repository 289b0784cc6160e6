//! Webhooks end to end on the embedded backend: a record submitted with a callback URL
//! ends, its outcome is POSTed signed, a test receiver verifies the HMAC, failures are
//! retried with growing delays, and the last failure dead-letters. Every attempt is in
//! the record's history.

mod common;

use axum::http::{Method, StatusCode};
use common::receiver::Receiver;
use common::{record_with_callback, rid, Api};
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::ports::WebhookSender;
use pacer_core::schema::NextState;
use pacer_core::services::{deliver_due, CallbackSettings, DeliveryReport};
use pacer_core::webhook::{SignatureError, WebhookSecret};
use pacer_local::ReqwestWebhookSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn secret() -> WebhookSecret {
    WebhookSecret::new(b"test-secret-0123456789abcdef").expect("secret")
}

fn settings(max_attempts: u32, base_ms: u64) -> CallbackSettings {
    CallbackSettings {
        max_attempts,
        backoff_base: Duration::from_millis(base_ms),
        backoff_max: Duration::from_secs(2),
        timeout: Duration::from_secs(2),
        lease: Duration::from_secs(10),
        batch: 10,
        concurrency: 4,
    }
}

/// A local-testing API (the receiver is plain http on 127.0.0.1) with record `id`
/// submitted to call back `url`, then ended as succeeded.
async fn ended_with_callback(id: &str, url: &str) -> Api {
    let api = Api::new(CallbackPolicy::LOCAL_TESTING).await;
    let token = api.client("billing").await;
    let body = record_with_callback(id, url);
    let a = api
        .call(
            Method::POST,
            "/records",
            Some(("billing", &token)),
            Some(&body),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.json);
    api.finish(id, NextState::Succeeded).await;
    api
}

fn sender(api: &Api) -> ReqwestWebhookSender {
    ReqwestWebhookSender::new(
        Arc::clone(&api.resolver) as _,
        CallbackPolicy::LOCAL_TESTING,
    )
    .expect("client")
}

/// Delivers rounds until `done` or 10 s pass; returns the sum of the reports.
async fn deliver_until(
    api: &Api,
    sender: &dyn WebhookSender,
    settings: &CallbackSettings,
    done: impl Fn(&DeliveryReport) -> bool,
) -> DeliveryReport {
    let start = Instant::now();
    let mut total = DeliveryReport::default();
    while !done(&total) && start.elapsed() < Duration::from_secs(10) {
        let r = deliver_due(&api.ports, sender, &secret(), settings)
            .await
            .expect("deliver");
        total.delivered += r.delivered;
        total.retried += r.retried;
        total.dead_lettered += r.dead_lettered;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    total
}

async fn history_kinds(api: &Api, id: &str) -> Vec<String> {
    let history = api.ports.records.history(&rid(id)).await.expect("history");
    history.into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn a_test_receiver_verifies_the_signature_of_the_outcome_it_is_sent() {
    let receiver = Receiver::start(secret(), 0).await;
    let api = ended_with_callback("w-1", &receiver.url()).await;
    let s = settings(3, 50);
    let report = deliver_until(&api, &sender(&api), &s, |r| r.delivered == 1).await;
    assert_eq!(report.delivered, 1);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].verified,
        Ok(()),
        "the HMAC over timestamp.body verifies"
    );
    assert_eq!(
        (seen[0].delivery.as_str(), seen[0].attempt.as_str()),
        ("w-1#1", "1")
    );
    assert_eq!(seen[0].body["record_id"], "w-1");
    assert_eq!(seen[0].body["state"], "succeeded");
    assert!(seen[0].body["seq"].as_u64().is_some_and(|s| s > 0));
    assert_eq!(
        history_kinds(&api, "w-1").await,
        ["submitted", "callback_delivered"]
    );
}

#[tokio::test]
async fn a_receiver_holding_another_secret_refuses_the_signature() {
    let other = WebhookSecret::new(b"a different secret, also long").expect("secret");
    let receiver = Receiver::start(other, 0).await;
    let api = ended_with_callback("w-1", &receiver.url()).await;
    let s = settings(3, 50);
    deliver_until(&api, &sender(&api), &s, |r| r.retried == 1).await;
    let seen = receiver.seen();
    assert_eq!(seen[0].verified, Err(SignatureError::Mismatch));
    assert_eq!(seen[0].answered, 401);
    assert_eq!(
        history_kinds(&api, "w-1").await,
        ["submitted", "callback_retry"]
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_growing_delays_until_it_answers() {
    let receiver = Receiver::start(secret(), 2).await;
    let api = ended_with_callback("w-1", &receiver.url()).await;
    let s = settings(5, 200);
    let report = deliver_until(&api, &sender(&api), &s, |r| r.delivered == 1).await;
    assert_eq!((report.retried, report.delivered), (2, 1));
    let seen = receiver.seen();
    let answers: Vec<u16> = seen.iter().map(|s| s.answered).collect();
    assert_eq!(answers, [503, 503, 204]);
    let attempts: Vec<&str> = seen.iter().map(|s| s.attempt.as_str()).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert!(
        seen.iter().all(|s| s.delivery == "w-1#1"),
        "one delivery id for all attempts"
    );
    // Delays are jittered into the upper half of 200 ms, then 400 ms.
    let gap1 = seen[1].at - seen[0].at;
    let gap2 = seen[2].at - seen[1].at;
    assert!(gap1 >= Duration::from_millis(100), "{gap1:?}");
    assert!(gap2 >= Duration::from_millis(200), "{gap2:?}");
    assert_eq!(
        history_kinds(&api, "w-1").await,
        [
            "submitted",
            "callback_retry",
            "callback_retry",
            "callback_delivered"
        ]
    );
    assert!(api
        .ports
        .callbacks
        .dead_letters(10)
        .await
        .expect("dlq")
        .is_empty());
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_is_dead_lettered_after_the_last_attempt() {
    let receiver = Receiver::start(secret(), usize::MAX).await;
    let api = ended_with_callback("w-1", &receiver.url()).await;
    let s = settings(3, 20);
    let report = deliver_until(&api, &sender(&api), &s, |r| r.dead_lettered == 1).await;
    assert_eq!((report.retried, report.dead_lettered), (2, 1));
    let dead = api.ports.callbacks.dead_letters(10).await.expect("dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id.as_str(), dead[0].attempts), ("w-1#1", 3));
    assert!(dead[0].reason.contains("HTTP 503"), "{}", dead[0].reason);
    assert_eq!(
        history_kinds(&api, "w-1").await,
        [
            "submitted",
            "callback_retry",
            "callback_retry",
            "callback_dead_lettered"
        ]
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = deliver_due(&api.ports, &sender(&api), &secret(), &s)
        .await
        .expect("deliver");
    assert_eq!(
        after,
        DeliveryReport::default(),
        "nothing is sent after the dead letter"
    );
    assert_eq!(receiver.seen().len(), 3);
}
