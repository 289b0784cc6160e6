//! Makes moto's DynamoDB linearizable for the test: an HTTP client that sends one
//! DynamoDB request at a time.
//!
//! moto's server handles requests on many threads without a lock around DynamoDB, so two
//! concurrent conditional writes to one item can both pass their conditions (measured
//! here: two workers both "won" one provider's lease, and an outcome's record update was
//! lost to a concurrent one). DynamoDB itself evaluates a condition and writes atomically,
//! which is what pacer's leases and state moves rely on. Serializing the test process's
//! DynamoDB requests restores that; SQS and SNS requests still run concurrently.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Wraps plain-HTTP connections; DynamoDB requests take turns.
#[derive(Debug, Clone)]
pub(crate) struct SerialDynamo {
    inner: SharedHttpClient,
    turn: Arc<Mutex<()>>,
}

impl SerialDynamo {
    /// A client for `http://` endpoints (moto).
    pub(crate) fn new() -> Self {
        Self {
            inner: aws_smithy_http_client::Builder::new().build_http(),
            turn: Arc::new(Mutex::new(())),
        }
    }
}

impl HttpClient for SerialDynamo {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SerialConnector {
            inner: self.inner.http_connector(settings, components),
            turn: Arc::clone(&self.turn),
        })
    }
}

#[derive(Debug)]
struct SerialConnector {
    inner: SharedHttpConnector,
    turn: Arc<Mutex<()>>,
}

impl HttpConnector for SerialConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let dynamo = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.starts_with("DynamoDB"));
        let (inner, turn) = (self.inner.clone(), Arc::clone(&self.turn));
        HttpConnectorFuture::new(async move {
            // moto answers only once the operation is done, so holding the turn until
            // the response head arrives covers the whole operation.
            let _turn = if dynamo {
                Some(turn.lock().await)
            } else {
                None
            };
            inner.call(request).await
        })
    }
}
