//! pacer's Lambda functions: the dispatcher, worker and results handlers over the AWS
//! backend, as plain async functions the binaries (`src/bin/`) and the tests call alike.
//!
//! | function | trigger | handler | service |
//! |---|---|---|---|
//! | `dispatcher` | EventBridge Scheduler, `{"mode":"plan"}` daily, `{"mode":"release"}` every minute | [`dispatcher::handle`] | `plan_window` / `release_due` |
//! | `worker` | SQS FIFO work queue, `ReportBatchItemFailures` | [`worker::handle`] | `process_batch` |
//! | `results` | SQS results queue (SNS raw delivery), `ReportBatchItemFailures` | [`results::handle`] | `apply_outcomes` |
//!
//! A binary is thin: [`boot`] reads [`Config::from_env`] (the only place the environment
//! is read), installs JSON logging and builds the [`App`] — SDK clients and HTTP client
//! once per execution environment — then each invocation decodes its event, runs in a
//! span named for the function with the request id, calls one handler and encodes the
//! answer. Business decisions stay in `pacer-core`.
//!
//! What it is not: the HTTP API function (`pacer-api`) or the SAM template.

pub mod app;
pub mod config;
pub mod dispatcher;
pub mod events;
pub mod results;
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
}

/// Cold start of `function`: configuration, JSON logs, SDK configuration (region and
/// credentials from the Lambda environment), the app. A failure is also written to
/// stderr in words (the init error Lambda reports shows only the error's debug form).
pub async fn boot(function: &'static str) -> Result<App, BootError> {
    let booted = async {
        let config = Config::from_env()?;
        telemetry::init(&config.log)?;
        let sdk = pacer_aws::load_sdk_config().await;
        let app = App::build(&config, &sdk)?;
        tracing::info!(function, window = ?config.window, due_shards = config.due_shards, "function ready");
        Ok(app)
    }
    .await;
    if let Err(err) = &booted {
        eprintln!("pacer {function} cannot start: {err}");
    }
    booted
}
