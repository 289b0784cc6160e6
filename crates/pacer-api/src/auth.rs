//! Authentication: `Authorization: Bearer <token>` plus `X-App-Name: <app>` on every
//! route but `/health` and `/openapi.json`. A missing or unknown token is 401; the
//! token of another application is 403. The decision is the core's
//! [`services::authenticate`]; this only reads the headers.

use crate::problem::Problem;
use crate::request_id::RequestId;
use crate::ApiState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use pacer_core::ports::Client;
use pacer_core::services::{self, AuthError};

/// The application-name header.
pub const APP_NAME: &str = "x-app-name";

/// The authenticated consumer application.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Client);

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Problem> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let app = parts.headers.get(APP_NAME).and_then(|v| v.to_str().ok());
        match services::authenticate(&state.ports, app, bearer(parts)).await {
            Ok(client) => {
                tracing::Span::current().record("app", client.app.as_str());
                Ok(Caller(client))
            }
            Err(AuthError::Port(e)) => Err(Problem::from_port(&e).with_request_id(&request_id)),
            Err(e) => {
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
                let (kind, title) = if status == StatusCode::FORBIDDEN {
                    ("forbidden", "Forbidden")
                } else {
                    ("unauthorized", "Unauthorized")
                };
                Err(Problem::new(status, kind, title, e.to_string()).with_request_id(&request_id))
            }
        }
    }
}
