//! `GET /feed`: each application sees each final outcome once, gets an empty list when
//! up to date, and reads independently of the others.

mod common;

use axum::http::{Method, StatusCode};
use common::{record, Api};
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::schema::NextState;
use serde_json::{json, Value};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["record_id"].as_str().unwrap_or(""),
                e["state"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn each_outcome_is_seen_once_then_the_feed_is_empty() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    let token = api.client("billing").await;
    let auth = Some(("billing", token.as_str()));
    let batch = json!([record("f-1"), record("f-2"), record("f-3")]);
    api.call(Method::POST, "/records", auth, Some(&batch)).await;
    let empty = api.call(Method::GET, "/feed", auth, None).await;
    assert_eq!(
        (empty.status, ids(&empty.json).len()),
        (StatusCode::OK, 0),
        "nothing final yet"
    );
    assert_eq!(empty.json["up_to_date"], true);
    api.finish("f-1", NextState::Succeeded).await;
    api.finish("f-2", NextState::Failed).await;
    let first = api.call(Method::GET, "/feed?limit=1", auth, None).await;
    assert_eq!(ids(&first.json), ["f-1:succeeded"]);
    assert_eq!(first.json["up_to_date"], false);
    assert_eq!(first.json["items"][0]["status_code"], 200);
    let second = api.call(Method::GET, "/feed", auth, None).await;
    assert_eq!(ids(&second.json), ["f-2:failed"]);
    let third = api.call(Method::GET, "/feed", auth, None).await;
    assert_eq!(ids(&third.json), Vec::<String>::new(), "up to date: empty");
    api.finish("f-3", NextState::Succeeded).await;
    let fourth = api.call(Method::GET, "/feed", auth, None).await;
    assert_eq!(ids(&fourth.json), ["f-3:succeeded"], "only what is new");
    let bad = api.call(Method::GET, "/feed?limit=zero", auth, None).await;
    assert_eq!(
        (bad.status, bad.bad_fields()),
        (StatusCode::BAD_REQUEST, vec!["limit".to_owned()])
    );
}

#[tokio::test]
async fn two_consumers_read_the_same_outcomes_independently() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    let billing = api.client("billing").await;
    let shipping = api.client("shipping").await;
    let batch = json!([record("f-1"), record("f-2")]);
    api.call(
        Method::POST,
        "/records",
        Some(("billing", &billing)),
        Some(&batch),
    )
    .await;
    api.finish("f-1", NextState::Succeeded).await;
    let b1 = api
        .call(Method::GET, "/feed", Some(("billing", &billing)), None)
        .await;
    assert_eq!(ids(&b1.json), ["f-1:succeeded"]);
    api.finish("f-2", NextState::Succeeded).await;
    let s = api
        .call(Method::GET, "/feed", Some(("shipping", &shipping)), None)
        .await;
    assert_eq!(
        ids(&s.json),
        ["f-1:succeeded", "f-2:succeeded"],
        "shipping starts at the beginning"
    );
    let b2 = api
        .call(Method::GET, "/feed", Some(("billing", &billing)), None)
        .await;
    assert_eq!(
        ids(&b2.json),
        ["f-2:succeeded"],
        "billing goes on where it was"
    );
    for (app, token) in [("billing", &billing), ("shipping", &shipping)] {
        let a = api
            .call(Method::GET, "/feed", Some((app, token)), None)
            .await;
        assert!(ids(&a.json).is_empty(), "{app} is up to date");
    }
}
