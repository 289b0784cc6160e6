//! `GET /feed`: the calling application's changes feed. Each application sees each
//! final outcome once; when it is up to date, the list is empty.

use crate::auth::Caller;
use crate::problem::{Problem, PROBLEM_JSON};
use crate::request_id::RequestId;
use crate::views::{FeedPage, OutcomeView};
use crate::ApiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use pacer_core::services::{self, feed::MAX_FEED_LIMIT, FieldError};
use std::collections::HashMap;

/// Query parameters of `GET /feed`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct FeedParams {
    /// Outcomes per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The next final outcomes this application has not seen, oldest first. Reading
/// consumes them: the next call starts after them.
#[utoipa::path(
    get, path = "/feed", tag = "feed",
    params(FeedParams),
    responses(
        (status = 200, description = "Unseen outcomes (empty when up to date)", body = FeedPage),
        (status = 400, description = "A bad parameter, named", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, body = Problem, content_type = PROBLEM_JSON),
        (status = 403, body = Problem, content_type = PROBLEM_JSON),
        (status = 503, body = Problem, content_type = PROBLEM_JSON),
    ),
    security(("bearer" = [], "app_name" = []))
)]
pub(crate) async fn read_feed(
    State(state): State<ApiState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Caller(client): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<FeedPage>, Problem> {
    let problem = |p: Problem| p.with_request_id(&request_id);
    let Query(params) = query.map_err(|e| problem(Problem::bad_request(e.body_text())))?;
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => None,
        Some(Ok(n)) if (1..=MAX_FEED_LIMIT).contains(&n) => Some(n),
        Some(_) => {
            return Err(problem(Problem {
                status: 400,
                ..Problem::invalid_fields(vec![FieldError {
                    field: "limit".into(),
                    pointer: String::new(),
                    problem: format!("must be a whole number from 1 to {MAX_FEED_LIMIT}"),
                }])
            }))
        }
    };
    let asked = limit.unwrap_or(services::feed::DEFAULT_FEED_LIMIT);
    let items = services::read_feed(&state.ports, &client.app, limit)
        .await
        .map_err(|e| problem(Problem::from_port(&e)))?;
    Ok(Json(FeedPage {
        up_to_date: items.len() < asked,
        items: items.into_iter().map(OutcomeView::from).collect(),
    }))
}
