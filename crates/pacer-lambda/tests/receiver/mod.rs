//! A webhook receiver on 127.0.0.1:0, as a customer would write one: it checks the
//! `Pacer-Signature` with the shared secret and answers 401 when it does not verify,
//! 503 for its first `fail_first` deliveries, 204 after that.

#![allow(dead_code, unreachable_pub)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use pacer_core::webhook::{SignatureError, WebhookSecret, DEFAULT_TOLERANCE, SIGNATURE_HEADER};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub verified: Result<(), SignatureError>,
    pub delivery: String,
    pub attempt: String,
    pub body: Value,
    pub answered: u16,
}

#[derive(Clone)]
struct Shared {
    secret: WebhookSecret,
    fail_first: usize,
    seen: Arc<Mutex<Vec<Seen>>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(secret: WebhookSecret, fail_first: usize) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            secret,
            fail_first,
            seen: Arc::clone(&seen),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, seen, task }
    }

    /// The callback URL pointing here.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hook(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let verified = s
        .secret
        .verify(&header(SIGNATURE_HEADER), &body, now, DEFAULT_TOLERANCE);
    let mut seen = s.seen.lock().expect("lock");
    let status = if verified.is_err() {
        StatusCode::UNAUTHORIZED
    } else if seen.len() < s.fail_first {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    };
    seen.push(Seen {
        at: Instant::now(),
        verified,
        delivery: header("pacer-delivery"),
        attempt: header("pacer-attempt"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        answered: status.as_u16(),
    });
    status
}
