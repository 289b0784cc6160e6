//! Records: one pending call to the internal API, its request, and its state.
//!
//! A record is validated once when it enters pacer ([`NewRecord::parse_json_line`] or
//! [`NewRecord::validate`]); afterwards every component trusts its shape.

use crate::callback_url::CallbackUrl;
use crate::ids::{IdError, ProviderId, RecordId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Largest request body accepted, serialised. SQS messages are limited to 256 KiB and the
/// body travels inside the work message, so records stay well below that.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Headers pacer sets itself; a record may not override them.
pub const RESERVED_HEADERS: &[&str] = &[
    "idempotency-key",
    "pacer-fencing-token",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// HTTP methods a record may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET
    #[default]
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl HttpMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// What to send to the internal API. The path is appended to the provider's `base_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ApiRequest {
    /// HTTP method; GET when absent.
    #[serde(default)]
    pub method: HttpMethod,
    /// Path below the provider's base URL; starts with `/`.
    pub path: String,
    /// Query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Extra headers (not the reserved ones).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// JSON body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// A record as submitted, before pacer has stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    /// Caller-chosen id; importing the same id twice keeps the first.
    pub id: RecordId,
    /// Provider the call is made on behalf of.
    pub provider: ProviderId,
    /// The call to make.
    pub request: ApiRequest,
    /// Where to POST the final outcome, if anywhere (submitted over the HTTP API only;
    /// checked against [`crate::callback_url::CallbackPolicy`] before it is accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<CallbackUrl>,
}

/// A record that failed validation, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidRecord {
    /// Dotted path of the offending field, e.g. `request.path`.
    pub field: String,
    /// What is wrong with it, phrased for the person who wrote it.
    pub problem: String,
}

impl InvalidRecord {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn from_id(field: &str, err: IdError) -> Self {
        Self::new(field, err.to_string())
    }
}

impl NewRecord {
    /// Parses and validates one JSON line of an import file.
    pub fn parse_json_line(line: &str) -> Result<Self, InvalidRecord> {
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| InvalidRecord::new("(line)", format!("not valid JSON: {e}")))?;
        Self::from_value(value)
    }

    /// Validates a JSON value with the import-line shape, naming the first bad field.
    pub fn from_value(value: serde_json::Value) -> Result<Self, InvalidRecord> {
        let obj = value
            .as_object()
            .ok_or_else(|| InvalidRecord::new("(line)", "expected a JSON object"))?;
        for key in obj.keys() {
            if !matches!(key.as_str(), "id" | "provider" | "request") {
                return Err(InvalidRecord::new(
                    key,
                    "unknown field; expected id, provider, request",
                ));
            }
        }
        let id = required_str(obj, "id")?;
        let id = RecordId::new(id).map_err(|e| InvalidRecord::from_id("id", e))?;
        let provider = required_str(obj, "provider")?;
        let provider =
            ProviderId::new(provider).map_err(|e| InvalidRecord::from_id("provider", e))?;
        let request = obj
            .get("request")
            .ok_or_else(|| InvalidRecord::new("request", "missing"))?;
        let request: ApiRequest = serde_json::from_value(request.clone())
            .map_err(|e| InvalidRecord::new("request", e.to_string()))?;
        let record = Self {
            id,
            provider,
            request,
            callback_url: None,
        };
        record.validate()?;
        Ok(record)
    }

    /// Checks the request: path shape, header names, body size.
    pub fn validate(&self) -> Result<(), InvalidRecord> {
        let path = &self.request.path;
        if !path.starts_with('/') {
            return Err(InvalidRecord::new(
                "request.path",
                format!("{path:?} must start with '/'"),
            ));
        }
        if path.split('/').any(|seg| seg == "..") {
            return Err(InvalidRecord::new(
                "request.path",
                "must not contain '..' segments",
            ));
        }
        if path.contains(['?', '#']) || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidRecord::new(
                "request.path",
                "must not contain '?', '#', spaces or control characters; put parameters in request.query",
            ));
        }
        for name in self.request.headers.keys() {
            let field = format!("request.headers.{name}");
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(InvalidRecord::new(field, "not a valid header name"));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(InvalidRecord::new(
                    field,
                    "is set by pacer and may not be overridden",
                ));
            }
        }
        for (name, value) in &self.request.headers {
            if value.chars().any(|c| c.is_control()) {
                return Err(InvalidRecord::new(
                    format!("request.headers.{name}"),
                    "value has control characters",
                ));
            }
        }
        if let Some(body) = &self.request.body {
            let size = serde_json::to_vec(body)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if size > MAX_BODY_BYTES {
                return Err(InvalidRecord::new(
                    "request.body",
                    format!("is {size} bytes; at most {MAX_BODY_BYTES} are allowed"),
                ));
            }
        }
        Ok(())
    }
}

fn required_str<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<&'a str, InvalidRecord> {
    match obj.get(field) {
        None => Err(InvalidRecord::new(field, "missing")),
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(InvalidRecord::new(field, "must be a string")),
    }
}

/// Where a record is in its life. See [`crate::lifecycle`] for the allowed moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Stored, not yet given a time (or carried over to the next window).
    Pending,
    /// Given a `due_at` by the planner.
    Scheduled,
    /// Sent to the work queue.
    Queued,
    /// Taken by a worker holding its provider's lease.
    InFlight,
    /// A transient failure; due again at `due_at`.
    RetryWait,
    /// The API answered 2xx. Final.
    Succeeded,
    /// A permanent error. Final.
    Failed,
    /// Transient errors exhausted the attempts, or the message was poison. Final until an
    /// operator replays it.
    DeadLettered,
}

impl RecordState {
    /// Every state, in lifecycle order.
    pub const ALL: [RecordState; 8] = [
        Self::Pending,
        Self::Scheduled,
        Self::Queued,
        Self::InFlight,
        Self::RetryWait,
        Self::Succeeded,
        Self::Failed,
        Self::DeadLettered,
    ];

    /// The state's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::InFlight => "in_flight",
            Self::RetryWait => "retry_wait",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::DeadLettered => "dead_lettered",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// No automatic move leaves this state.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::DeadLettered)
    }
}

impl fmt::Display for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Its id.
    pub id: RecordId,
    /// Its provider.
    pub provider: ProviderId,
    /// The call to make.
    pub request: ApiRequest,
    /// Where it is in its life.
    pub state: RecordState,
    /// When it is next due (scheduled, retry_wait).
    pub due_at: Option<Timestamp>,
    /// Number of the latest attempt begun (0 before the first).
    pub attempt: u32,
    /// HTTP calls made so far; this is what `max_attempts` limits.
    pub calls: u32,
    /// Why the record is where it is (carried over, last error), for people.
    pub note: Option<String>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Where its final outcome is POSTed, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<CallbackUrl>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> InvalidRecord {
        NewRecord::parse_json_line(line).unwrap_err()
    }

    #[test]
    fn parses_the_documented_import_line() {
        let r = NewRecord::parse_json_line(
            r#"{"id":"r1","provider":"acme","request":{"method":"POST","path":"/v1/x","query":{"a":"1"},"headers":{"X-Trace":"t"},"body":{"k":2}}}"#,
        )
        .unwrap();
        assert_eq!(r.request.method, HttpMethod::Post);
        assert_eq!(r.request.query["a"], "1");
    }

    #[test]
    fn names_the_bad_field() {
        assert_eq!(err("nope").field, "(line)");
        assert_eq!(
            err(r#"{"provider":"a","request":{"path":"/"}}"#).field,
            "id"
        );
        assert_eq!(
            err(r#"{"id":"a b","provider":"a","request":{"path":"/"}}"#).field,
            "id"
        );
        assert_eq!(
            err(r#"{"id":"a","provider":7,"request":{"path":"/"}}"#).field,
            "provider"
        );
        assert_eq!(
            err(r#"{"id":"a","provider":"p","request":{"path":"x"}}"#).field,
            "request.path"
        );
        assert_eq!(
            err(r#"{"id":"a","provider":"p","request":{"path":"/../etc"}}"#).field,
            "request.path"
        );
        assert_eq!(
            err(r#"{"id":"a","provider":"p","request":{"path":"/","method":"TRACE"}}"#).field,
            "request"
        );
        assert_eq!(
            err(r#"{"id":"a","provider":"p","extra":1,"request":{"path":"/"}}"#).field,
            "extra"
        );
        assert_eq!(
            err(r#"{"id":"a","provider":"p","request":{"path":"/","headers":{"Idempotency-Key":"x"}}}"#).field,
            "request.headers.Idempotency-Key"
        );
    }

    #[test]
    fn rejects_an_oversize_body_with_its_size() {
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        let line =
            format!(r#"{{"id":"a","provider":"p","request":{{"path":"/","body":"{big}"}}}}"#);
        let e = err(&line);
        assert_eq!(e.field, "request.body");
        assert!(e.problem.contains("65539 bytes"), "{}", e.problem);
    }

    #[test]
    fn state_names_round_trip() {
        for s in RecordState::ALL {
            assert_eq!(RecordState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
