//! The same router behind API Gateway: real API Gateway HTTP API (v2) event JSON is
//! turned into a request by `lambda_http`, exactly as the `api` Lambda function gets
//! it, and the router answers it.

mod common;

use axum::http::StatusCode;
use common::Api;
use http_body_util::BodyExt;
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::RecordState;
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "pacer_fixture_token_0123456789abcdef";

/// Decodes an API Gateway v2 event and sends it through the router.
async fn invoke(api: &Api, event: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    let request = lambda_http::request::from_str(event).expect("a valid API Gateway v2 event");
    let response = api
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("the router answers");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn an_api_gateway_v2_post_submits_a_record_and_a_get_reads_it_back() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    api.client_with_token("billing", TOKEN).await;
    let (status, headers, json) =
        invoke(&api, include_str!("fixtures/apigw-v2-post-records.json")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["records"][0]["id"], "lambda-1");
    let request_id = headers["x-request-id"].to_str().expect("a request id");
    assert_eq!(json["request_id"], request_id);
    let stored = api
        .ports
        .records
        .get(&common::rid("lambda-1"))
        .await
        .expect("get");
    assert_eq!(stored.map(|r| r.state), Some(RecordState::Scheduled));
    let (status, _, json) = invoke(&api, include_str!("fixtures/apigw-v2-get-record.json")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["record"]["request"]["method"], "POST");
    assert_eq!(json["record"]["request"]["body"]["n"], 1);
}

#[tokio::test]
async fn an_api_gateway_v2_request_without_credentials_is_refused() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    api.client_with_token("billing", TOKEN).await;
    let (status, headers, json) = invoke(
        &api,
        include_str!("fixtures/apigw-v2-get-feed-no-auth.json"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(json["type"], "urn:pacer:problem:unauthorized");
}
