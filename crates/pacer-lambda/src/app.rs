//! What a function builds once at cold start and every invocation borrows: the ports over
//! the AWS backend and the services' settings; plus [`Invocation`], the little the
//! handlers need from the Lambda context.

use crate::callbacks::Callbacks;
use crate::config::Config;
use aws_config::SdkConfig;
use pacer_aws::{Aws, AwsOptions};
use pacer_core::callback_url::CallbackPolicy;
use pacer_core::ports::{ApiPorts, Ports, Unlimited};
use pacer_core::services::CallbackSettings;
use pacer_core::services::{ReleaseSettings, WorkerSettings};
use pacer_core::webhook::WebhookSecret;
use pacer_core::{SystemClock, Timestamp};
use pacer_http::HttpCaller;
use pacer_local::{ReqwestWebhookSender, SystemResolver};
use std::sync::Arc;
use std::time::Duration;

/// Idle HTTP connections kept per API host: a worker batch holds at most 10 messages,
/// so at most 10 providers call at once from one invocation.
const HTTP_POOL: usize = 10;

/// How the handlers drive the services.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The planning window `plan` covers from "now".
    pub window: Duration,
    /// Global calls-per-second cap the planner spaces calls under.
    pub global_rate: Option<f64>,
    /// Release tick settings; the deadline is set per invocation.
    pub release: ReleaseSettings,
    /// Worker settings; the invocation id is set per invocation (the request id).
    pub worker: WorkerSettings,
    /// The dispatcher stops starting release rounds this long before its deadline: one
    /// round (a due query, a batch send, the marks) must still fit.
    pub dispatcher_margin: Duration,
    /// The worker starts no call that could end later than this long before its
    /// deadline: publishing the outcomes and returning must still fit.
    pub worker_margin: Duration,
}

impl Settings {
    /// The production settings for `config`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            window: config.window,
            global_rate: config.global_rate,
            release: ReleaseSettings::default(),
            worker: WorkerSettings::default(),
            dispatcher_margin: Duration::from_secs(10),
            worker_margin: Duration::from_secs(3),
        }
    }
}

/// An HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The internal API's client.
    #[error("cannot build the API caller")]
    Caller(#[source] pacer_http::BuildError),
    /// The webhook client.
    #[error("cannot build the webhook client")]
    Webhooks(#[source] pacer_local::ClientError),
    /// The configuration names no API tables and queues.
    #[error("the configuration names no HTTP API resources (PACER_FEED_TABLE, …)")]
    NoApi,
}

/// Ports and settings, built once per execution environment.
#[derive(Clone)]
pub struct App {
    ports: Ports,
    settings: Settings,
}

impl App {
    /// An app over ready-made ports (tests, other backends).
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self { ports, settings }
    }

    /// The production app: the AWS backend from `sdk` and `config`, the HTTP caller, no
    /// in-process rate gate (a gate inside one invocation cannot cap the rate across
    /// concurrent invocations; the plan spaces calls under the global cap instead).
    pub fn build(config: &Config, sdk: &SdkConfig) -> Result<Self, BuildError> {
        let aws = aws(config, sdk);
        let caller = HttpCaller::new(HTTP_POOL).map_err(BuildError::Caller)?;
        let ports = aws
            .ports(Arc::new(caller), Arc::new(Unlimited))
            .with_provider_defaults(config.provider_defaults.clone());
        Ok(Self::new(ports, Settings::from_config(config)))
    }

    /// The ports.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// The AWS backend the functions run on.
fn aws(config: &Config, sdk: &SdkConfig) -> Aws {
    Aws::new(
        sdk,
        config.resources.clone(),
        aws_options(config.due_shards),
        Arc::new(SystemClock),
    )
}

/// The HTTP API's ports over the AWS backend (the api function). The API never calls
/// the internal API, so its caller refuses every call.
pub fn api_ports(config: &Config, sdk: &SdkConfig) -> Result<ApiPorts, BuildError> {
    aws(config, sdk)
        .api_ports(Arc::new(NoCalls), Arc::new(Unlimited))
        .map(|ports| ports.with_provider_defaults(config.provider_defaults.clone()))
        .ok_or(BuildError::NoApi)
}

/// The callbacks function's app: the API ports, the callbacks queue, the webhook client
/// (strict callback URL policy, system resolver) and the default delivery settings.
pub fn callbacks(
    config: &Config,
    sdk: &SdkConfig,
    secret: WebhookSecret,
) -> Result<Callbacks, BuildError> {
    let aws = aws(config, sdk);
    let sender = ReqwestWebhookSender::new(Arc::new(SystemResolver), CallbackPolicy::STRICT)
        .map_err(BuildError::Webhooks)?;
    Ok(Callbacks {
        ports: aws
            .api_ports(Arc::new(NoCalls), Arc::new(Unlimited))
            .ok_or(BuildError::NoApi)?,
        queue: aws.callback_queue(),
        sender: Arc::new(sender),
        secret,
        settings: CallbackSettings::default(),
    })
}

/// The caller of functions that never call the internal API (api, callbacks).
struct NoCalls;

#[async_trait::async_trait]
impl pacer_core::ports::ApiCaller for NoCalls {
    async fn call(
        &self,
        _call: &pacer_core::ports::ApiCall<'_>,
    ) -> Result<pacer_core::classify::ApiResponse, pacer_core::classify::TransportFailure> {
        // Never reached: these functions run no worker.
        Err(pacer_core::classify::TransportFailure::Other)
    }
}

/// The AWS adapter options the functions run with, for a `due` index of `due_shards`
/// shards. The functions never list dead letters, so they need no right to drain the SQS
/// dead-letter queues.
pub fn aws_options(due_shards: u16) -> AwsOptions {
    AwsOptions {
        due_shards,
        drain_on_list: false,
        ..AwsOptions::default()
    }
}

/// One invocation, as the handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The Lambda request id; names the worker's leases and attempts.
    pub request_id: String,
    /// When Lambda stops the invocation.
    pub deadline: Timestamp,
}

impl Invocation {
    /// From the Lambda context.
    pub fn from_context(context: &lambda_runtime::Context) -> Self {
        Self {
            request_id: context.request_id.clone(),
            deadline: Timestamp::from_millis(i64::try_from(context.deadline).unwrap_or(i64::MAX)),
        }
    }

    /// The span every log line of the invocation is recorded in.
    pub fn span(&self, function: &'static str) -> tracing::Span {
        tracing::info_span!("invocation", function, request_id = %self.request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invocation_deadline_is_the_context_deadline() {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "req-1".into();
        context.deadline = 1_790_000_000_123;
        let invocation = Invocation::from_context(&context);
        assert_eq!(invocation.request_id, "req-1");
        assert_eq!(
            invocation.deadline,
            Timestamp::from_millis(1_790_000_000_123)
        );
    }
}
