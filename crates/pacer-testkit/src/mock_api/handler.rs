//! The request handler of the mock API and the state it shares with the handle.
//!
//! One call: register in the overlap detector, wait the provider's latency,
//! decide a fault ([`fault::decide`]), answer. The observation is recorded by a
//! guard's `Drop`, so calls abandoned by the client or reset on purpose are
//! recorded too (with no status).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::config::{FaultRates, MockConfig};
use super::detector::{OverlapDetector, OverlapGuard, ProviderCounters};
use super::fault::{self, CallFacts, Outcome};
use super::observations::CallObservation;
use super::server::{stopped, ConnectionKill};

/// Header carrying the record id.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Header carrying the caller's lease fencing token.
const FENCING_TOKEN: &str = "pacer-fencing-token";
/// Request bodies larger than this are refused with 413.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// State shared by all calls and the [`MockApi`](super::MockApi) handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    pub(crate) started: Instant,
    pub(crate) detector: OverlapDetector,
    pub(crate) observations: Mutex<Vec<CallObservation>>,
    providers: RwLock<HashMap<String, Arc<ProviderRuntime>>>,
    shutdown: watch::Receiver<bool>,
}

/// A provider's resolved settings and live state.
#[derive(Debug)]
pub(crate) struct ProviderRuntime {
    name: String,
    counters: Arc<ProviderCounters>,
    latency: Duration,
    rates: FaultRates,
    fail_first: u32,
    pub(crate) down: AtomicBool,
    /// Calls so far per record id, keyed by the id's hash so a call allocates nothing.
    attempts: Mutex<HashMap<u64, u32>>,
}

impl Shared {
    pub(crate) fn new(config: MockConfig, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            config,
            started: Instant::now(),
            detector: OverlapDetector::new(),
            observations: Mutex::new(Vec::new()),
            providers: RwLock::new(HashMap::new()),
            shutdown,
        }
    }

    /// The runtime of `name`, created from the configuration on first sight.
    pub(crate) fn provider(&self, name: &str) -> Arc<ProviderRuntime> {
        let known = self
            .providers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(Arc::clone);
        if let Some(runtime) = known {
            return runtime;
        }
        let mut providers = self
            .providers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let runtime = providers.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(ProviderRuntime {
                name: name.to_owned(),
                counters: self.detector.counters(name),
                latency: self.config.latency_for(name),
                rates: self.config.faults_for(name),
                fail_first: self.config.fail_first_for(name),
                down: AtomicBool::new(self.config.down.contains(name)),
                attempts: Mutex::new(HashMap::new()),
            })
        });
        Arc::clone(runtime)
    }

    fn micros_since_start(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

impl ProviderRuntime {
    /// Counts one more call of `record_id` and returns its number (1 for the first).
    fn next_attempt(&self, record_id: Option<&str>) -> u32 {
        let key = fault::record_hash(record_id.unwrap_or(""));
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = attempts.entry(key).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }
}

/// An open call; records its observation when dropped, however the call ended.
struct CallRecord<'a> {
    shared: &'a Shared,
    runtime: &'a ProviderRuntime,
    guard: OverlapGuard,
    record_id: Option<String>,
    fencing_token: Option<u64>,
    started_at: u64,
    status: Option<u16>,
}

impl<'a> CallRecord<'a> {
    fn open(shared: &'a Shared, runtime: &'a ProviderRuntime, headers: &HeaderMap) -> Self {
        let guard = runtime.counters.enter();
        Self {
            shared,
            runtime,
            guard,
            record_id: header_str(headers, IDEMPOTENCY_KEY).map(str::to_owned),
            fencing_token: header_str(headers, FENCING_TOKEN).and_then(|v| v.trim().parse().ok()),
            started_at: shared.micros_since_start(),
            status: None,
        }
    }

    /// Answers `status` with a JSON body and remembers the status.
    fn answer(&mut self, status: StatusCode, body: Value) -> Response {
        self.status = Some(status.as_u16());
        (status, Json(body)).into_response()
    }
}

impl Drop for CallRecord<'_> {
    fn drop(&mut self) {
        let observation = CallObservation {
            provider: self.runtime.name.clone(),
            record_id: self.record_id.take(),
            fencing_token: self.fencing_token,
            started_at: self.started_at,
            finished_at: self.shared.micros_since_start(),
            status: self.status,
            overlapped: self.guard.overlapped(),
        };
        self.shared
            .observations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(observation);
        // `guard` drops after this, closing the call in the detector.
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Splits `/p/{provider}/{rest}` into the provider and `/{rest}` (`/` if empty).
fn split_path(path: &str) -> Option<(&str, &str)> {
    let tail = path.strip_prefix("/p/")?;
    let (provider, rest) = match tail.find('/') {
        Some(slash) => tail.split_at(slash),
        None => (tail, "/"),
    };
    (!provider.is_empty()).then_some((provider, rest))
}

/// Handles any call to `/p/{provider}` or `/p/{provider}/{*rest}`.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some((provider, rest)) = split_path(parts.uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let runtime = shared.provider(provider);
    let mut call = CallRecord::open(&shared, &runtime, &parts.headers);

    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return call.answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "body too large or unreadable"}),
            )
        }
    };
    if !runtime.latency.is_zero() {
        tokio::time::sleep(runtime.latency).await;
    }

    let record_id = call.record_id.as_deref();
    let outcome = fault::decide(&CallFacts {
        down: runtime.down.load(Ordering::Relaxed),
        record_id,
        defective_marker: shared.config.defective_marker.as_deref(),
        attempt: runtime.next_attempt(record_id),
        fail_first: runtime.fail_first,
        rates: runtime.rates,
        seed: shared.config.seed,
    });
    match outcome {
        Outcome::Success => {
            let query = Query::<Map<String, Value>>::try_from_uri(&parts.uri)
                .map(|Query(query)| query)
                .unwrap_or_default();
            let echo = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&body).unwrap_or(Value::Null)
            };
            let answer = json!({
                "provider": provider,
                "record": call.record_id,
                "path": rest,
                "method": parts.method.as_str(),
                "query": query,
                "echo": echo,
            });
            call.answer(StatusCode::OK, answer)
        }
        Outcome::Down => call.answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "provider down"}),
        ),
        Outcome::Defective => {
            let record = call.record_id.clone();
            call.answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": "invalid data", "record": record}),
            )
        }
        Outcome::FailFirst => call.answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "try again"}),
        ),
        Outcome::RateLimited => {
            let mut response = call.answer(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "rate limited"}),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, shared.config.retry_after_secs.into());
            response
        }
        Outcome::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            call.answer(status, json!({"error": "server error"}))
        }
        Outcome::Timeout => {
            let mut shutdown = shared.shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(shared.config.hang) => {
                    call.answer(StatusCode::GATEWAY_TIMEOUT, json!({"error": "upstream timed out"}))
                }
                // Never hold up shutdown for a hang: reset instead.
                () = stopped(&mut shutdown) => reset_connection(&parts.extensions).await,
            }
        }
        Outcome::Reset => reset_connection(&parts.extensions).await,
    }
}

/// Resets the connection and never returns; the connection task drops this
/// handler, which records the call with no status.
async fn reset_connection(extensions: &axum::http::Extensions) -> Response {
    match extensions.get::<ConnectionKill>() {
        Some(kill) => {
            kill.fire();
            std::future::pending().await
        }
        // Only when served by something other than our accept loop.
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Body::from("reset unavailable"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn paths_split_into_provider_and_rest() {
        assert_eq!(split_path("/p/acme/v1/items"), Some(("acme", "/v1/items")));
        assert_eq!(split_path("/p/acme"), Some(("acme", "/")));
        assert_eq!(split_path("/p/acme/"), Some(("acme", "/")));
        assert_eq!(split_path("/p/"), None);
        assert_eq!(split_path("/q/acme"), None);
    }
}
