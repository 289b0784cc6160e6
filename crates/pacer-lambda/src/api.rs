//! The api function: API Gateway HTTP API (payload v2) events → the `pacer-api` axum
//! router over the AWS backend's [`ApiPorts`] → HTTP responses, through `lambda_http`.
//!
//! The router is the one `pacer serve` runs locally: authentication (bearer token and
//! `X-App-Name`, checked against the clients table), validation, submission, status and
//! the feed all behave the same. Callback URLs are held to the strict policy (https to
//! public addresses only); there is no local-testing switch in Lambda.

use pacer_api::ApiState;
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::ports::ApiPorts;
use pacer_local::SystemResolver;
use std::sync::Arc;

/// The router the function serves, over `ports`.
pub fn router(ports: ApiPorts) -> axum::Router {
    pacer_api::router(ApiState {
        ports,
        resolver: Arc::new(SystemResolver),
        policy: CallbackPolicy::STRICT,
    })
}
