//! The API caller: pacer's calls to the internal HTTP API, through `reqwest` (rustls).
//!
//! One `send` per attempt — no redirects followed, no retries inside — so every call
//! pacer counts is exactly one request the API saw. Bodies are read up to the excerpt
//! bound and cut there, so a huge answer cannot exhaust a worker's memory.

use pacer_core::classify::{ApiResponse, TransportFailure};
use pacer_core::ports::{ApiCall, ApiCaller};
use pacer_core::schema::MAX_RESPONSE_EXCERPT;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use std::error::Error as _;
use std::time::Duration;

/// Header carrying the record id, so the API can deduplicate repeated attempts.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Header carrying the provider lease's fencing token.
pub const FENCING_TOKEN: &str = "Pacer-Fencing-Token";

/// The HTTP client could not be built (TLS backend unavailable).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client")]
pub struct BuildError(#[source] reqwest::Error);

/// Calls the internal API over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpCaller {
    client: reqwest::Client,
}

impl HttpCaller {
    /// A caller with a connection pool sized for `max_idle_per_host` concurrent providers.
    pub fn new(max_idle_per_host: usize) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(max_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("pacer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(BuildError)?;
        Ok(Self { client })
    }
}

/// Maps a reqwest error to what pacer needs to know: retry class, nothing else.
fn failure(e: &reqwest::Error) -> TransportFailure {
    if e.is_timeout() {
        return TransportFailure::Timeout;
    }
    if e.is_connect() {
        return TransportFailure::Connect;
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ) {
                return TransportFailure::Reset;
            }
        }
        if s.to_string()
            .contains("connection closed before message completed")
        {
            return TransportFailure::Reset;
        }
        source = s.source();
    }
    if e.is_body() || e.is_decode() || e.is_request() {
        return TransportFailure::Reset;
    }
    TransportFailure::Other
}

fn method(m: pacer_core::HttpMethod) -> reqwest::Method {
    match m {
        pacer_core::HttpMethod::Get => reqwest::Method::GET,
        pacer_core::HttpMethod::Post => reqwest::Method::POST,
        pacer_core::HttpMethod::Put => reqwest::Method::PUT,
        pacer_core::HttpMethod::Patch => reqwest::Method::PATCH,
        pacer_core::HttpMethod::Delete => reqwest::Method::DELETE,
    }
}

#[async_trait::async_trait]
impl ApiCaller for HttpCaller {
    async fn call(&self, call: &ApiCall<'_>) -> Result<ApiResponse, TransportFailure> {
        let mut request = self
            .client
            .request(method(call.method), &call.url)
            .timeout(call.timeout)
            .header(IDEMPOTENCY_KEY, call.idempotency_key)
            .header(FENCING_TOKEN, call.fencing_token.to_string());
        if !call.query.is_empty() {
            request = request.query(call.query);
        }
        for (name, value) in call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = call.body {
            request = request.json(body);
        }
        let mut response = request.send().await.map_err(|e| failure(&e))?;
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(RETRY_AFTER);
        let json = header(CONTENT_TYPE).is_some_and(|t| t.contains("json"));
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(|e| failure(&e))? {
            let room = MAX_RESPONSE_EXCERPT - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(ApiResponse {
            status,
            retry_after,
            json,
            body: String::from_utf8_lossy(&body).into_owned(),
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_testkit::mock_api::{FaultRates, MockApi, MockConfig};
    use std::collections::BTreeMap;

    fn call<'a>(
        url: String,
        key: &'a str,
        empty: &'a BTreeMap<String, String>,
        timeout: Duration,
    ) -> ApiCall<'a> {
        ApiCall {
            url,
            method: pacer_core::HttpMethod::Post,
            query: empty,
            headers: empty,
            body: None,
            idempotency_key: key,
            fencing_token: 7,
            timeout,
        }
    }

    #[tokio::test]
    async fn sends_idempotency_key_and_fencing_token_and_reads_the_answer() {
        let api = MockApi::start(MockConfig::none()).await.unwrap();
        let empty = BTreeMap::new();
        let caller = HttpCaller::new(4).unwrap();
        let r = caller
            .call(&call(
                api.base_url_for("acme") + "/x",
                "rec-1",
                &empty,
                Duration::from_secs(5),
            ))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert!(r.json && r.body.contains("rec-1"), "{r:?}");
        let seen = api.observations();
        assert_eq!(seen.calls[0].record_id.as_deref(), Some("rec-1"));
        assert_eq!(seen.calls[0].fencing_token, Some(7));
    }

    #[tokio::test]
    async fn maps_resets_timeouts_and_refused_connections_to_transport_failures() {
        let reset = FaultRates {
            reset: 1.0,
            ..FaultRates::NONE
        };
        let hang = FaultRates {
            timeout: 1.0,
            ..FaultRates::NONE
        };
        let api = MockApi::start(
            MockConfig::none()
                .with_provider_faults("r", reset)
                .with_provider_faults("t", hang),
        )
        .await
        .unwrap();
        let empty = BTreeMap::new();
        let caller = HttpCaller::new(4).unwrap();
        let short = Duration::from_millis(300);
        let r = caller
            .call(&call(api.base_url_for("r"), "a", &empty, short))
            .await;
        assert_eq!(r, Err(TransportFailure::Reset));
        let t = caller
            .call(&call(api.base_url_for("t"), "b", &empty, short))
            .await;
        assert_eq!(t, Err(TransportFailure::Timeout));
        let addr = api.addr();
        api.shutdown().await.unwrap();
        let c = caller
            .call(&call(format!("http://{addr}/p/x"), "c", &empty, short))
            .await;
        assert_eq!(c, Err(TransportFailure::Connect));
    }

    #[tokio::test]
    async fn carries_retry_after_from_a_429() {
        let limited = FaultRates {
            rate_limited: 1.0,
            ..FaultRates::NONE
        };
        let api = MockApi::start(
            MockConfig::none()
                .with_provider_faults("p", limited)
                .with_retry_after_secs(3),
        )
        .await
        .unwrap();
        let empty = BTreeMap::new();
        let r = HttpCaller::new(1)
            .unwrap()
            .call(&call(
                api.base_url_for("p"),
                "a",
                &empty,
                Duration::from_secs(5),
            ))
            .await
            .unwrap();
        assert_eq!((r.status, r.retry_after.as_deref()), (429, Some("3")));
    }
}
