//! pacer's Lambda functions: the dispatcher, worker and results handlers over the AWS
//! backend, as plain async functions the binaries (`src/bin/`) and the tests call alike.
//!
//! | function | trigger | handler | service |
//! |---|---|---|---|
//! | `dispatcher` | EventBridge Scheduler, `{"mode":"plan"}` daily, `{"mode":"release"}` every minute | [`dispatcher::handle`] | `plan_window` / `release_due` |
//! | `worker` | SQS FIFO work queue, `ReportBatchItemFailures` | [`worker::handle`] | `process_batch` |
//! | `results` | SQS results queue (SNS raw delivery), `ReportBatchItemFailures` | [`results::handle`] | `apply_outcomes` |
//! | `api` | API Gateway HTTP API (payload v2), through `lambda_http` | [`api::router`] | the `pacer-api` router |
//! | `callbacks` | SQS callbacks queue (SNS raw delivery, filtered), `ReportBatchItemFailures` | [`callbacks::handle`] | `deliver` |
//!
//! A binary is thin: [`boot`] reads [`Config::from_env`] (the only place the environment
//! is read), installs JSON logging and builds the [`App`] — SDK clients and HTTP client
//! once per execution environment — then each invocation decodes its event, runs in a
//! span named for the function with the request id, calls one handler and encodes the
//! answer. Business decisions stay in `pacer-core`.
//!
//! What it is not: the HTTP API's routes (`pacer-api`) or the SAM template.

pub mod api;
pub mod app;
pub mod callbacks;
pub mod config;
pub mod dispatcher;
pub mod events;
pub mod results;
pub mod secret;
pub mod telemetry;
pub mod worker;

pub use app::{App, Invocation, Settings};
pub use config::{Config, ConfigError, ENV_VARS};

/// A function could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The environment is incomplete or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Logging could not be set up.
    #[error(transparent)]
    Telemetry(#[from] telemetry::TelemetryError),
    /// A client could not be built.
    #[error(transparent)]
    Build(#[from] app::BuildError),
    /// The webhook signing secret could not be read.
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    /// The environment names no webhook secret (the callbacks function needs one).
    #[error(
        "environment variable {0} is not set; the SAM template sets it on the callbacks function"
    )]
    NoSecret(&'static str),
}

/// Cold start of `function`: configuration, JSON logs, SDK configuration (region and
/// credentials from the Lambda environment), the app. A failure is also written to
/// stderr in words (the init error Lambda reports shows only the error's debug form).
pub async fn boot(function: &'static str) -> Result<App, BootError> {
    started(function, async {
        let (config, sdk) = configure().await?;
        let app = App::build(&config, &sdk)?;
        tracing::info!(function, window = ?config.window, due_shards = config.due_shards, "function ready");
        Ok(app)
    })
    .await
}

/// Cold start of the api function: configuration, JSON logs, the router over the AWS
/// backend's API ports.
pub async fn boot_api() -> Result<axum::Router, BootError> {
    started("api", async {
        let (config, sdk) = configure().await?;
        let ports = app::api_ports(&config, &sdk)?;
        tracing::info!(function = "api", "function ready");
        Ok(api::router(ports))
    })
    .await
}

/// Cold start of the callbacks function: configuration, JSON logs, the webhook secret
/// from Secrets Manager (read once here), the HTTP client.
pub async fn boot_callbacks() -> Result<callbacks::Callbacks, BootError> {
    started("callbacks", async {
        let (config, sdk) = configure().await?;
        let id = config
            .webhook_secret_id
            .clone()
            .ok_or(BootError::NoSecret(config::WEBHOOK_SECRET_ID))?;
        let secret = secret::webhook_secret(&sdk, &id).await?;
        let app = app::callbacks(&config, &sdk, secret)?;
        tracing::info!(function = "callbacks", "function ready");
        Ok(app)
    })
    .await
}

/// The configuration, JSON logging and the SDK configuration.
async fn configure() -> Result<(Config, aws_config::SdkConfig), BootError> {
    let config = Config::from_env()?;
    telemetry::init(&config.log)?;
    Ok((config, pacer_aws::load_sdk_config().await))
}

/// Runs a cold start; a failure is also written to stderr in words.
async fn started<T>(
    function: &'static str,
    boot: impl std::future::Future<Output = Result<T, BootError>>,
) -> Result<T, BootError> {
    let booted = boot.await;
    if let Err(err) = &booted {
        eprintln!("pacer {function} cannot start: {err}");
    }
    booted
}
