//! `POST /records`, `GET /records/{id}`, `GET /records`: valid input is stored due at
//! once; invalid input gets an RFC 7807 problem naming each bad field.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{record, record_with_callback, Api};
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::RecordState;
use serde_json::json;

async fn api_and_token() -> (Api, String) {
    let api = Api::new(CallbackPolicy::STRICT).await;
    let token = api.client("billing").await;
    (api, token)
}

#[tokio::test]
async fn a_valid_record_is_accepted_due_at_once_and_readable_with_its_history() {
    let (api, token) = api_and_token().await;
    let auth = Some(("billing", token.as_str()));
    let body = record_with_callback("inv-1", "https://hooks.example.com/pacer");
    let before = api.ports.clock.now();
    let a = api.call(Method::POST, "/records", auth, Some(&body)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.json);
    let request_id = a.headers["x-request-id"].to_str().expect("header");
    assert_eq!(a.json["request_id"], request_id);
    assert_eq!(
        a.json["records"],
        json!([{"id": "inv-1", "status": "accepted"}])
    );
    let stored = api
        .ports
        .records
        .get(&common::rid("inv-1"))
        .await
        .expect("get");
    let stored = stored.expect("stored");
    assert_eq!(stored.state, RecordState::Scheduled);
    let due = stored.due_at.expect("due");
    assert!(
        due >= before && due <= api.ports.clock.now(),
        "due now, not at the next plan"
    );
    let got = api.call(Method::GET, "/records/inv-1", auth, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json["record"]["state"], "scheduled");
    assert_eq!(
        got.json["record"]["callback_url"],
        "https://hooks.example.com/pacer"
    );
    let history = &got.json["history"][0];
    assert_eq!(history["kind"], "submitted");
    assert!(
        history["detail"]
            .as_str()
            .is_some_and(|d| d.contains("billing") && d.contains(request_id)),
        "{history}"
    );
}

#[tokio::test]
async fn each_bad_field_is_named_in_a_problem_body_and_nothing_is_stored() {
    let (api, token) = api_and_token().await;
    let auth = Some(("billing", token.as_str()));
    let body = json!({"id": "a b", "provider": 7, "request": {"path": "no-slash"},
                      "callback_url": "ftp://x", "colour": "red"});
    let a = api.call(Method::POST, "/records", auth, Some(&body)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.content_type(), "application/problem+json");
    assert_eq!(a.json["type"], "urn:pacer:problem:invalid-fields");
    assert_eq!(a.json["status"], 422);
    assert!(a.json["request_id"].is_string());
    let mut fields = a.bad_fields();
    fields.sort();
    assert_eq!(fields, ["callback_url", "colour", "id", "provider"]);
    let batch = json!([record("ok-1"), {"id": "ok-2", "provider": "acme",
                       "request": {"path": "/x", "headers": {"Idempotency-Key": "k"}}}]);
    let a = api.call(Method::POST, "/records", auth, Some(&batch)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.bad_fields(), ["[1].request.headers.Idempotency-Key"]);
    assert_eq!(
        a.json["errors"][0]["pointer"],
        "/1/request/headers/Idempotency-Key"
    );
    let stored = api
        .ports
        .records
        .get(&common::rid("ok-1"))
        .await
        .expect("get");
    assert_eq!(
        stored, None,
        "all or nothing: the valid record was not stored"
    );
}

#[tokio::test]
async fn an_unknown_provider_is_refused_naming_the_field() {
    let (api, token) = api_and_token().await;
    let body = json!({"id": "r1", "provider": "nobody", "request": {"path": "/"}});
    let a = api
        .call(
            Method::POST,
            "/records",
            Some(("billing", &token)),
            Some(&body),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.bad_fields(), ["provider"]);
}

#[tokio::test]
async fn unreadable_bodies_are_400_and_other_media_types_415() {
    let (api, token) = api_and_token().await;
    let auth = Some(("billing", token.as_str()));
    for body in [json!([]), json!("text"), json!(42)] {
        let a = api.call(Method::POST, "/records", auth, Some(&body)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.content_type(), "application/problem+json");
    }
    let request = |content_type: &str, body: &str| {
        Request::post("/records")
            .header("authorization", format!("Bearer {token}"))
            .header("x-app-name", "billing")
            .header("content-type", content_type)
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    let a = api.send(request("application/json", "{not json")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.json["detail"]
        .as_str()
        .is_some_and(|d| d.contains("not valid JSON")));
    let a = api.send(request("text/plain", "{}")).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_resubmitted_id_is_reported_as_a_duplicate_and_left_untouched() {
    let (api, token) = api_and_token().await;
    let auth = Some(("billing", token.as_str()));
    api.call(Method::POST, "/records", auth, Some(&record("r1")))
        .await;
    let again = json!([
        record("r2"),
        record_with_callback("r1", "https://hooks.example.com/x")
    ]);
    let a = api.call(Method::POST, "/records", auth, Some(&again)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(
        (a.json["accepted"].as_u64(), a.json["duplicates"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        a.json["records"][1],
        json!({"id": "r1", "status": "duplicate"})
    );
    let r1 = api
        .ports
        .records
        .get(&common::rid("r1"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(r1.callback_url, None, "the first copy is kept");
}

#[tokio::test]
async fn record_reads_name_bad_parameters_and_page_by_cursor() {
    let (api, token) = api_and_token().await;
    let auth = Some(("billing", token.as_str()));
    let batch = json!([record("p-1"), record("p-2"), record("p-3")]);
    api.call(Method::POST, "/records", auth, Some(&batch)).await;
    let page = api
        .call(Method::GET, "/records?provider=acme&limit=2", auth, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let ids: Vec<&str> = page.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["p-1", "p-2"]);
    assert_eq!(page.json["next_cursor"], "p-2");
    let next = api
        .call(
            Method::GET,
            "/records?limit=2&cursor=p-2&state=scheduled",
            auth,
            None,
        )
        .await;
    assert_eq!(next.json["items"][0]["id"], "p-3");
    assert_eq!(next.json["next_cursor"], serde_json::Value::Null);
    let bad = api
        .call(Method::GET, "/records?state=done&limit=0", auth, None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let mut fields = bad.bad_fields();
    fields.sort();
    assert_eq!(fields, ["limit", "state"]);
    let missing = api.call(Method::GET, "/records/nope", auth, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let invalid = api.call(Method::GET, "/records/a%20b", auth, None).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.bad_fields(), ["id"]);
}
