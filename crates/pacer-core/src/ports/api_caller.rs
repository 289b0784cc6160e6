//! The internal API, as the worker sees it.

use crate::classify::{ApiResponse, TransportFailure};
use crate::record::HttpMethod;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;

/// One HTTP call to make.
#[derive(Debug, Clone)]
pub struct ApiCall<'a> {
    /// Full URL (provider base URL + record path), without the query.
    pub url: String,
    /// Method.
    pub method: HttpMethod,
    /// Query parameters.
    pub query: &'a BTreeMap<String, String>,
    /// Record headers (validated: none of pacer's own).
    pub headers: &'a BTreeMap<String, String>,
    /// JSON body.
    pub body: Option<&'a serde_json::Value>,
    /// Sent as `Idempotency-Key`: the record id.
    pub idempotency_key: &'a str,
    /// Sent as `Pacer-Fencing-Token`: the lease token, so the API can refuse stale holders.
    pub fencing_token: u64,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Makes HTTP calls.
///
/// Contract: exactly one request per `call` (no retries inside — every call is an
/// attempt pacer counts and stores); the whole call, body included, ends within
/// `timeout`; the response body is cut to [`crate::schema::MAX_RESPONSE_EXCERPT`] and
/// marked truncated; transport failures are reported as [`TransportFailure`], never
/// as panics.
#[async_trait]
pub trait ApiCaller: Send + Sync {
    /// Makes the call.
    async fn call(&self, call: &ApiCall<'_>) -> Result<ApiResponse, TransportFailure>;
}
