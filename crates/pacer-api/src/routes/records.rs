//! `POST /records`, `GET /records/{id}`, `GET /records`.

use crate::auth::Caller;
use crate::problem::{Problem, PROBLEM_JSON};
use crate::request_id::RequestId;
use crate::views::{RecordDetail, RecordPage, RecordView, SubmitBody, Submitted};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::{Extension, Json};
use pacer_core::ports::RecordFilter;
use pacer_core::services::{self, FieldError, SubmitError};
use pacer_core::{ProviderId, RecordId, RecordState};
use std::collections::HashMap;

/// Records per page when the caller does not say.
const DEFAULT_PAGE: usize = 50;
/// Most records per page.
const MAX_PAGE: usize = 500;

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

/// Submits one record or a batch; they are due as soon as their provider's pacing allows.
#[utoipa::path(
    post, path = "/records", tag = "records",
    request_body(content = SubmitBody, content_type = "application/json",
        description = "One record, or an array of 1 to 500 (the import-line shape plus an optional callback_url)."),
    responses(
        (status = 202, description = "Stored, due now (duplicates left untouched)", body = Submitted),
        (status = 400, description = "Not JSON, empty or oversized batch", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "Missing or unknown token", body = Problem, content_type = PROBLEM_JSON),
        (status = 403, description = "Token of another application", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, description = "Body too large", body = Problem, content_type = PROBLEM_JSON),
        (status = 415, description = "Not application/json", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "Invalid fields, each named; nothing stored", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "Busy; retry after Retry-After seconds", body = Problem, content_type = PROBLEM_JSON),
    ),
    security(("bearer" = [], "app_name" = []))
)]
pub(crate) async fn submit_records(
    State(state): State<ApiState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Caller(client): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Submitted>), Problem> {
    let problem = |p: Problem| p.with_request_id(&request_id);
    if !is_json(&headers) {
        return Err(problem(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the records as JSON with Content-Type: application/json",
        )));
    }
    let body = body.map_err(|e| {
        problem(Problem::new(
            e.status(),
            "unreadable-body",
            "Unreadable body",
            e.body_text(),
        ))
    })?;
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        problem(Problem::bad_request(format!(
            "the body is not valid JSON: {e}"
        )))
    })?;
    let origin = format!(
        "app {} over the HTTP API (request {request_id})",
        client.app
    );
    match services::submit(
        &state.ports,
        state.resolver.as_ref(),
        state.policy,
        &value,
        &origin,
    )
    .await
    {
        Ok(records) => Ok((
            StatusCode::ACCEPTED,
            Json(Submitted::new(request_id.clone(), records)),
        )),
        Err(SubmitError::Malformed { problem: p }) => Err(problem(Problem::bad_request(p))),
        Err(SubmitError::Invalid(errors)) => Err(problem(Problem::invalid_fields(errors))),
        Err(SubmitError::ResolverUnavailable(e)) => {
            Err(problem(Problem::unavailable(format!("callback_url {e}"))))
        }
        Err(SubmitError::Port(e)) => Err(problem(Problem::from_port(&e))),
    }
}

fn invalid(field: &str, problem: impl Into<String>) -> Problem {
    Problem {
        status: 400,
        ..Problem::invalid_fields(vec![FieldError {
            field: field.to_owned(),
            pointer: String::new(),
            problem: problem.into(),
        }])
    }
}

/// One record with its attempts, history and stored result.
#[utoipa::path(
    get, path = "/records/{id}", tag = "records",
    params(("id" = String, Path, description = "Record id")),
    responses(
        (status = 200, description = "The record and its story", body = RecordDetail),
        (status = 400, description = "Not a valid record id", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, body = Problem, content_type = PROBLEM_JSON),
        (status = 403, body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such record", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, body = Problem, content_type = PROBLEM_JSON),
    ),
    security(("bearer" = [], "app_name" = []))
)]
pub(crate) async fn get_record(
    State(state): State<ApiState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<RecordDetail>, Problem> {
    let problem = |p: Problem| p.with_request_id(&request_id);
    let Path(id) = id.map_err(|e| problem(invalid("id", e.body_text())))?;
    let id = RecordId::new(id).map_err(|e| problem(invalid("id", e.to_string())))?;
    let records = &state.ports.records;
    let port = |e: pacer_core::PortError| problem(Problem::from_port(&e));
    let Some(record) = records.get(&id).await.map_err(port)? else {
        return Err(problem(Problem::not_found(format!("no record {id}"))));
    };
    let attempts = records.attempts(&id).await.map_err(port)?;
    let history = records.history(&id).await.map_err(port)?;
    let result = records.result(&id).await.map_err(port)?;
    Ok(Json(RecordDetail {
        record: record.into(),
        attempts: attempts
            .iter()
            .map(|a| serde_json::to_value(a).unwrap_or_default())
            .collect(),
        history: history.into_iter().map(Into::into).collect(),
        result: result.map(Into::into),
    }))
}

/// Query parameters of `GET /records`, all optional.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ListParams {
    /// Only this provider.
    provider: Option<String>,
    /// Only this state: pending, scheduled, queued, in_flight, retry_wait, succeeded,
    /// failed, dead_lettered.
    state: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Records per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Records, filtered, ordered by id, a page at a time.
#[utoipa::path(
    get, path = "/records", tag = "records",
    params(ListParams),
    responses(
        (status = 200, description = "A page of records", body = RecordPage),
        (status = 400, description = "A bad parameter, named", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, body = Problem, content_type = PROBLEM_JSON),
        (status = 403, body = Problem, content_type = PROBLEM_JSON),
        (status = 503, body = Problem, content_type = PROBLEM_JSON),
    ),
    security(("bearer" = [], "app_name" = []))
)]
pub(crate) async fn list_records(
    State(state): State<ApiState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    _caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<RecordPage>, Problem> {
    let problem = |p: Problem| p.with_request_id(&request_id);
    let Query(params) = query.map_err(|e| problem(Problem::bad_request(e.body_text())))?;
    let mut errors = Vec::new();
    let mut bad = |field: &str, p: String| {
        errors.push(FieldError {
            field: field.into(),
            pointer: String::new(),
            problem: p,
        })
    };
    let provider = params.get("provider").and_then(|p| {
        ProviderId::new(p.as_str())
            .map_err(|e| bad("provider", e.to_string()))
            .ok()
    });
    let state_filter = params.get("state").and_then(|s| {
        RecordState::parse(s).or_else(|| {
            bad("state", format!("{s:?} is not a state; use pending, scheduled, queued, in_flight, retry_wait, succeeded, failed or dead_lettered"));
            None
        })
    });
    let after = params.get("cursor").and_then(|c| {
        RecordId::new(c.as_str())
            .map_err(|_| bad("cursor", "not a cursor this API gave out".into()))
            .ok()
    });
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            bad(
                "limit",
                format!("must be a whole number from 1 to {MAX_PAGE}"),
            );
            DEFAULT_PAGE
        }
    };
    if !errors.is_empty() {
        return Err(problem(Problem {
            status: 400,
            ..Problem::invalid_fields(errors)
        }));
    }
    let filter = RecordFilter {
        provider,
        state: state_filter,
        after,
        limit,
    };
    let records = state
        .ports
        .records
        .list(&filter)
        .await
        .map_err(|e| problem(Problem::from_port(&e)))?;
    let next_cursor = (records.len() == limit)
        .then(|| records.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(RecordPage {
        items: records.into_iter().map(RecordView::from).collect(),
        next_cursor,
    }))
}
