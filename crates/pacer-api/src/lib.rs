//! pacer's HTTP API: an axum router that takes records on demand, reports their state
//! and history, serves each consumer application a feed of final outcomes, and
//! publishes its own OpenAPI document.
//!
//! The same [`router`] runs behind `pacer serve` on the embedded backend and, in Lambda,
//! behind API Gateway through `lambda_http` (an API Gateway HTTP API event becomes an
//! `http::Request` the router answers). It owns no business rules: authentication,
//! validation, submission and the feed are `pacer-core` services; webhooks are
//! delivered by the runtime (`pacer-local` locally, the callbacks function on AWS), not
//! here.
//!
//! Routes: `POST /records`, `GET /records`, `GET /records/{id}`, `GET /feed` (all with
//! `Authorization: Bearer <token>` and `X-App-Name: <app>`), `GET /health`,
//! `GET /openapi.json`. Errors are RFC 7807 problem bodies naming each bad field.

mod auth;
mod problem;
mod request_id;
mod routes;
pub mod views;

pub use auth::APP_NAME;
pub use problem::{BadField, Problem, PROBLEM_JSON};
pub use request_id::{RequestId, REQUEST_ID};

use axum::extract::DefaultBodyLimit;
use axum::Json;
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::ports::{ApiPorts, HostResolver};
use std::sync::Arc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest request body accepted (a full batch of large records fits).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// Every port (records, intake, clients, feed, …).
    pub ports: ApiPorts,
    /// Resolves callback hosts at submit time.
    pub resolver: Arc<dyn HostResolver>,
    /// Which callback URLs are accepted.
    pub policy: CallbackPolicy,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pacer",
        description = "Paced, exclusive, retried calls to an internal API on behalf of providers. \
            Submit records, read their state and history, and follow final outcomes through a \
            per-application feed or signed webhooks (see docs/webhooks.md).",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "records", description = "Submit records and read their state"),
        (name = "feed", description = "Each application's feed of final outcomes"),
        (name = "meta", description = "Health and this document")
    )
)]
struct ApiDoc;

/// Declares the two credentials every protected route needs.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "app_name",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-App-Name",
                "The application the bearer token was issued to",
            ))),
        );
    }
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = api_router().split_for_parts();
    doc
}

fn api_router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(
            routes::records::submit_records,
            routes::records::list_records
        ))
        .routes(routes!(routes::records::get_record))
        .routes(routes!(routes::feed::read_feed))
        .routes(routes!(routes::meta::health))
}

/// The API: every route, `/openapi.json`, request ids, body limits, problem bodies.
pub fn router(state: ApiState) -> axum::Router {
    let (router, mut doc) = api_router().split_for_parts();
    doc.paths
        .paths
        .entry("/openapi.json".to_owned())
        .or_insert_with(openapi_path);
    let doc = Arc::new(doc);
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = Arc::clone(&doc);
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(routes::meta::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state)
}

/// The document's own entry.
fn openapi_path() -> utoipa::openapi::PathItem {
    use utoipa::openapi::path::{OperationBuilder, PathItemBuilder};
    use utoipa::openapi::{HttpMethod, ResponseBuilder};
    let op = OperationBuilder::new()
        .tag("meta")
        .summary(Some("This OpenAPI document. No authentication."))
        .security(utoipa::openapi::security::SecurityRequirement::default())
        .response(
            "200",
            ResponseBuilder::new().description("The document").build(),
        )
        .build();
    PathItemBuilder::new()
        .operation(HttpMethod::Get, op)
        .build()
}
