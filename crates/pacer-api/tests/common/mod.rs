//! Shared test support: a router on a fresh embedded backend, a fake resolver, request
//! helpers, a way to end a record as the results function would, and a webhook receiver.

#![allow(dead_code, unreachable_pub)]

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use pacer_api::ApiState;
use pacer_core::breaker::BreakerState;
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::ports::{ApiPorts, HostResolver, ResolveError, TokenHash, Unlimited};
use pacer_core::provider::ProviderSettings;
use pacer_core::schema::{NextState, OutcomeEvent, OUTCOME_EVENT_VERSION};
use pacer_core::{ProviderId, RecordId, SystemClock};
use pacer_embedded::{Embedded, EmbeddedOptions};
use pacer_testkit::contract::UnusedCaller;
use pacer_testkit::leases::claim_first_attempt;
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// Answers from a table tests may change; unknown names do not resolve.
#[derive(Default)]
pub struct FakeResolver(Mutex<HashMap<String, Vec<IpAddr>>>);

impl FakeResolver {
    pub fn set(&self, host: &str, ips: &[&str]) {
        let ips = ips
            .iter()
            .map(|s| s.parse().expect("test address"))
            .collect();
        self.0.lock().expect("lock").insert(host.to_owned(), ips);
    }
}

#[async_trait]
impl HostResolver for FakeResolver {
    async fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        let table = self.0.lock().expect("lock");
        table
            .get(host)
            .cloned()
            .ok_or_else(|| ResolveError::NotFound {
                host: host.to_owned(),
            })
    }
}

/// An answer, with the body as JSON (Null when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Answer {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The `field` of each entry of a problem's `errors`.
    pub fn bad_fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// One API on its own database file.
pub struct Api {
    pub dir: tempfile::TempDir,
    pub embedded: Embedded,
    pub ports: ApiPorts,
    pub resolver: Arc<FakeResolver>,
    pub router: axum::Router,
}

/// The provider every test record uses.
pub const PROVIDER: &str = "acme";

impl Api {
    /// A fresh API with provider `acme` configured, under `policy`.
    pub async fn new(policy: CallbackPolicy) -> Self {
        Self::with_caller(policy, Arc::new(UnusedCaller), "http://127.0.0.1:9").await
    }

    /// A fresh API whose ports call the API through `caller`; `acme` lives at `base_url`.
    pub async fn with_caller(
        policy: CallbackPolicy,
        caller: Arc<dyn pacer_core::ports::ApiCaller>,
        base_url: &str,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let embedded = Embedded::open(
            &dir.path().join("pacer.db"),
            Arc::new(SystemClock),
            EmbeddedOptions::default(),
        )
        .expect("open the database");
        let ports = embedded.api_ports(caller, Arc::new(Unlimited));
        let mut acme = ProviderSettings::with_defaults(pid(PROVIDER), base_url);
        acme.timeout = Duration::from_millis(500);
        acme.max_attempts = 3;
        acme.backoff_base = Duration::from_millis(20);
        acme.backoff_max = Duration::from_millis(50);
        ports.providers.put_provider(&acme).await.expect("provider");
        let resolver = Arc::new(FakeResolver::default());
        resolver.set("hooks.example.com", &["93.184.216.34"]);
        let router = pacer_api::router(ApiState {
            ports: ports.clone(),
            resolver: Arc::clone(&resolver) as _,
            policy,
        });
        Self {
            dir,
            embedded,
            ports,
            resolver,
            router,
        }
    }

    /// Registers `app` and returns its token.
    pub async fn client(&self, app: &str) -> String {
        let app = pacer_core::ports::AppName::new(app).expect("app name");
        pacer_core::services::register(&self.ports, &app)
            .await
            .expect("register")
    }

    /// Registers `app` with a known token (for fixtures).
    pub async fn client_with_token(&self, app: &str, token: &str) {
        let app = pacer_core::ports::AppName::new(app).expect("app name");
        let now = self.ports.clock.now();
        self.ports
            .clients
            .register(&app, &TokenHash::of(token), now)
            .await
            .expect("register");
    }

    /// Sends a request through the router.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
        }
    }

    /// `method uri` as `app` with `token`, with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        auth: Option<(&str, &str)>,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some((app, token)) = auth {
            request = request
                .header("authorization", format!("Bearer {token}"))
                .header("x-app-name", app);
        }
        let body = match body {
            Some(b) => {
                request = request.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    /// Ends a submitted record as the worker and results functions would: attempt 1,
    /// moving it to `next`.
    pub async fn finish(&self, id: &str, next: NextState) {
        let now = self.ports.clock.now();
        let lease = claim_first_attempt(
            self.ports.leases.as_ref(),
            &pid(PROVIDER),
            "test",
            &rid(id),
            now,
        )
        .await;
        self.ports
            .leases
            .release(&lease, BreakerState::default(), now)
            .await
            .expect("release");
        let ok = next == NextState::Succeeded;
        let event = OutcomeEvent {
            v: OUTCOME_EVENT_VERSION,
            record_id: rid(id),
            provider: pid(PROVIDER),
            attempt: 1,
            called: true,
            request_summary: format!("GET /v1/{id}"),
            started_at: now,
            finished_at: now,
            latency_ms: 3,
            status_code: Some(if ok { 200 } else { 422 }),
            error_class: None,
            detail: (!ok).then(|| "422 Unprocessable".to_owned()),
            response: Some(format!("{{\"done\":\"{id}\"}}")),
            fencing_token: lease.token,
            invocation_id: "test".into(),
            next,
        };
        self.ports
            .records
            .apply_outcomes(&[event], now)
            .await
            .expect("apply");
    }
}

pub fn pid(s: &str) -> ProviderId {
    ProviderId::new(s).expect("provider id")
}

pub fn rid(s: &str) -> RecordId {
    RecordId::new(s).expect("record id")
}

/// A record body for `POST /records`.
pub fn record(id: &str) -> Value {
    serde_json::json!({"id": id, "provider": PROVIDER, "request": {"path": format!("/v1/{id}")}})
}

/// A record body with a callback URL.
pub fn record_with_callback(id: &str, url: &str) -> Value {
    let mut r = record(id);
    r["callback_url"] = Value::String(url.to_owned());
    r
}

pub mod receiver;
