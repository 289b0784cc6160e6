//! An HTTP client that sends one DynamoDB request at a time, so moto behaves like
//! DynamoDB under the bench's concurrency (the worker runs a batch's providers at once,
//! the results function applies different records at once).
//!
//! moto's server handles requests on many threads with no lock around DynamoDB: two
//! concurrent transactions can fail or both pass their conditions, where DynamoDB
//! evaluates each condition and write atomically. Serializing DynamoDB requests restores
//! that (pacer-lambda's moto tests use this client too); SQS and SNS still run concurrently.
//! It changes no request count.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Wraps plain-HTTP connections (the emulator); DynamoDB requests take turns.
#[derive(Debug, Clone)]
pub struct SerialDynamo {
    inner: SharedHttpClient,
    turn: Arc<Mutex<()>>,
}

impl Default for SerialDynamo {
    fn default() -> Self {
        Self::new()
    }
}

impl SerialDynamo {
    /// A client for `http://` endpoints.
    pub fn new() -> Self {
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
            // moto answers once the operation is done, so holding the turn until the
            // response head arrives covers the whole operation.
            let _turn = if dynamo {
                Some(turn.lock().await)
            } else {
                None
            };
            inner.call(request).await
        })
    }
}
