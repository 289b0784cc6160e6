//! Authentication: 401 without a token, with an unknown or revoked one, or without an
//! app name; 403 with another application's token; `/health` and `/openapi.json` open.

mod common;

use axum::http::{Method, StatusCode};
use common::Api;
use pacer_core::callback_url::CallbackPolicy;

const ROUTES: [(&str, &str); 4] = [
    ("GET", "/feed"),
    ("GET", "/records"),
    ("GET", "/records/r1"),
    ("POST", "/records"),
];

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).expect("method")
}

#[tokio::test]
async fn no_token_is_401_with_a_bearer_challenge_on_every_protected_route() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    for (m, path) in ROUTES {
        let a = api
            .call(method(m), path, None, Some(&common::record("r1")))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{m} {path}");
        assert_eq!(a.headers["www-authenticate"], "Bearer realm=\"pacer\"");
        assert_eq!(a.content_type(), "application/problem+json");
    }
}

#[tokio::test]
async fn a_wrong_or_revoked_token_or_a_missing_app_name_is_401() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    let token = api.client("billing").await;
    let wrong = api
        .call(
            Method::GET,
            "/feed",
            Some(("billing", "pacer_not-a-token")),
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let request = axum::http::Request::get("/feed")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .expect("request");
    assert_eq!(
        api.send(request).await.status,
        StatusCode::UNAUTHORIZED,
        "no X-App-Name"
    );
    let ok = api
        .call(Method::GET, "/feed", Some(("billing", &token)), None)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let app = pacer_core::ports::AppName::new("billing").expect("app");
    let now = api.ports.clock.now();
    assert!(api.ports.clients.revoke(&app, now).await.expect("revoke"));
    let revoked = api
        .call(Method::GET, "/feed", Some(("billing", &token)), None)
        .await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_applications_token_is_403_on_every_protected_route() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    api.client("billing").await;
    let shipping = api.client("shipping").await;
    for (m, path) in ROUTES {
        let a = api
            .call(
                method(m),
                path,
                Some(("billing", &shipping)),
                Some(&common::record("r1")),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{m} {path}");
        assert_eq!(a.json["type"], "urn:pacer:problem:forbidden");
    }
}

#[tokio::test]
async fn health_and_the_openapi_document_need_no_token() {
    let api = Api::new(CallbackPolicy::STRICT).await;
    let health = api.call(Method::GET, "/health", None, None).await;
    assert_eq!(
        (health.status, health.json["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let doc = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    let paths = doc.json["paths"].as_object().expect("paths");
    for path in [
        "/records",
        "/records/{id}",
        "/feed",
        "/health",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert!(doc.json["paths"]["/records"]["post"]["requestBody"].is_object());
    let schemes = &doc.json["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["app_name"]["name"], "X-App-Name");
}
