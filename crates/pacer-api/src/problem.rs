//! RFC 7807 problem details: every error the API answers, as
//! `application/problem+json`, with the request id and, for invalid input, each bad
//! field by name and JSON Pointer.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pacer_core::services::FieldError;
use pacer_core::PortError;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One bad field, as listed in a problem body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BadField {
    /// Dotted name, prefixed by the record's index in a batch: `[2].request.path`.
    pub field: String,
    /// The same place as a JSON Pointer (RFC 6901): `/2/request/path`.
    pub pointer: String,
    /// What is wrong with it.
    pub problem: String,
}

impl From<FieldError> for BadField {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            pointer: e.pointer,
            problem: e.problem,
        }
    }
}

/// An RFC 7807 problem body.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:pacer:problem:<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, and what to do.
    pub detail: String,
    /// The request's id (also in the `X-Request-Id` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Each bad field, for invalid input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<BadField>,
    /// Seconds to wait before retrying (503), sent as `Retry-After` too.
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Problem {
    /// A problem of `kind` with `status`, `title` and `detail`.
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:pacer:problem:{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            request_id: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 400: the request cannot be read.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// 422: fields are invalid; `errors` names each.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = format!(
            "{} field(s) are invalid; nothing was stored: {}",
            errors.len(),
            errors
                .iter()
                .map(|e| e.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Self {
            errors: errors.into_iter().map(BadField::from).collect(),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-fields",
                "Invalid fields",
                detail,
            )
        }
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            retry_after: Some(5),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
                detail,
            )
        }
    }

    /// A store failure: 503 when retrying may help, else 500 (logged, not detailed).
    pub fn from_port(err: &PortError) -> Self {
        if err.is_retryable() {
            tracing::warn!(error = %err, "store unavailable");
            Self::unavailable("the store is busy or unavailable; retry shortly")
        } else {
            tracing::error!(error = %err, "store failure");
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "pacer could not complete the request; an operator has been told in the logs",
            )
        }
    }

    /// The same problem, naming the request.
    pub fn with_request_id(mut self, id: &str) -> Self {
        self.request_id = Some(id.to_owned());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pacer\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
