//! Callback URLs may not aim inside: loopback, private, link-local and metadata
//! addresses are refused at submit time (literally or through DNS) and again at
//! delivery time, when a name may have changed its answer.

mod common;

use axum::http::{Method, StatusCode};
use common::receiver::Receiver;
use common::{record_with_callback, rid, Api};
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::schema::NextState;
use pacer_core::services::{deliver_due, CallbackSettings};
use pacer_core::webhook::WebhookSecret;
use pacer_local::ReqwestWebhookSender;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

async fn refused(api: &Api, token: &str, url: &str) {
    let body = record_with_callback("s-1", url);
    let a = api
        .call(
            Method::POST,
            "/records",
            Some(("billing", token)),
            Some(&body),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{url}: {:?}",
        a.json
    );
    assert_eq!(a.bad_fields(), ["callback_url"], "{url}");
    let stored = api.ports.records.get(&rid("s-1")).await.expect("get");
    assert_eq!(stored, None, "{url}: nothing stored");
}

#[tokio::test]
async fn callback_urls_aimed_inside_are_refused_at_submit() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    let token = api.client("billing").await;
    api.resolver.set("loop.evil.test", &["127.0.0.1"]);
    api.resolver.set("private.evil.test", &["10.0.0.1"]);
    api.resolver.set("meta.evil.test", &["169.254.169.254"]);
    api.resolver
        .set("mixed.evil.test", &["93.184.216.34", "10.0.0.1"]);
    api.resolver.set("v6.evil.test", &["::ffff:127.0.0.1"]);
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://0x7f000001/hook",
        "https://loop.evil.test/hook",
        "https://private.evil.test/hook",
        "https://meta.evil.test/hook",
        "https://mixed.evil.test/hook",
        "https://v6.evil.test/hook",
        "https://nowhere.evil.test/hook",
    ] {
        refused(&api, &token, url).await;
    }
}

#[tokio::test]
async fn plain_http_is_refused_unless_local_testing_is_on() {
    let strict = Api::new(CallbackPolicy::STRICT).await;
    let token = strict.client("billing").await;
    refused(&strict, &token, "http://hooks.example.com/hook").await;
    let local = Api::new(CallbackPolicy::LOCAL_TESTING).await;
    let token = local.client("billing").await;
    let body = record_with_callback("s-1", "http://hooks.example.com/hook");
    let a = local
        .call(
            Method::POST,
            "/records",
            Some(("billing", &token)),
            Some(&body),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn local_testing_still_refuses_private_link_local_and_metadata_addresses() {
    let api = Api::new(CallbackPolicy::LOCAL_TESTING).await;
    let token = api.client("billing").await;
    api.resolver.set("meta.evil.test", &["169.254.169.254"]);
    for url in [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://meta.evil.test/hook",
    ] {
        refused(&api, &token, url).await;
    }
}

#[tokio::test]
async fn a_name_that_turns_inner_after_submit_is_refused_at_delivery_and_nothing_is_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let accept = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let api = Api::new(CallbackPolicy::STRICT).await;
    let token = api.client("billing").await;
    api.resolver.set("rebind.evil.test", &["93.184.216.34"]);
    let body = record_with_callback("s-1", &format!("https://rebind.evil.test:{port}/hook"));
    let a = api
        .call(
            Method::POST,
            "/records",
            Some(("billing", &token)),
            Some(&body),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "public at submit time");
    api.finish("s-1", NextState::Succeeded).await;
    api.resolver.set("rebind.evil.test", &["127.0.0.1"]);
    let sender = ReqwestWebhookSender::new(Arc::clone(&api.resolver) as _, CallbackPolicy::STRICT)
        .expect("client");
    let secret = WebhookSecret::new(b"test-secret-0123456789abcdef").expect("secret");
    let report = deliver_due(&api.ports, &sender, &secret, &CallbackSettings::default())
        .await
        .expect("deliver");
    assert_eq!(
        report.dead_lettered, 1,
        "refused at once, not retried: {report:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made");
    let dead = api.ports.callbacks.dead_letters(10).await.expect("dlq");
    assert!(dead[0].reason.contains("loopback"), "{}", dead[0].reason);
    let history = api
        .ports
        .records
        .history(&rid("s-1"))
        .await
        .expect("history");
    let last = history.last().expect("history");
    assert_eq!(last.kind, "callback_dead_lettered");
    assert!(last.detail.contains("not sent"), "{}", last.detail);
    accept.abort();
}

#[tokio::test]
async fn the_delivery_client_connects_through_the_checked_resolver() {
    // `receiver.test` exists only in the fake resolver: reaching the receiver proves
    // the client connects to the addresses it checked, not to a second lookup.
    let secret = WebhookSecret::new(b"test-secret-0123456789abcdef").expect("secret");
    let receiver = Receiver::start(secret.clone(), 0).await;
    let api = Api::new(CallbackPolicy::LOCAL_TESTING).await;
    let token = api.client("billing").await;
    api.resolver.set("receiver.test", &["127.0.0.1"]);
    let url = format!("http://receiver.test:{}/hook", receiver.addr.port());
    let body = record_with_callback("s-1", &url);
    let a = api
        .call(
            Method::POST,
            "/records",
            Some(("billing", &token)),
            Some(&body),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    api.finish("s-1", NextState::Succeeded).await;
    let sender = ReqwestWebhookSender::new(
        Arc::clone(&api.resolver) as _,
        CallbackPolicy::LOCAL_TESTING,
    )
    .expect("client");
    let report = deliver_due(&api.ports, &sender, &secret, &CallbackSettings::default())
        .await
        .expect("deliver");
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(receiver.seen().len(), 1);
}
