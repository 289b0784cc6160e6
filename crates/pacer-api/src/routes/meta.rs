//! `GET /health`, `GET /openapi.json` (no authentication) and the fallback for
//! unknown routes.

use crate::problem::Problem;
use crate::request_id::RequestId;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

/// The health answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok` when the process answers.
    status: &'static str,
}

/// Liveness: answers while the process runs. No authentication.
#[utoipa::path(get, path = "/health", tag = "meta", security(()),
    responses((status = 200, description = "Up", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Unknown routes: a 404 problem.
pub(crate) async fn not_found(Extension(RequestId(id)): Extension<RequestId>) -> Problem {
    Problem::not_found("no such route; GET /openapi.json lists them").with_request_id(&id)
}
