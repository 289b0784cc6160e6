//! JSON logs for CloudWatch: one object per line, with the fields of the event and of
//! every span it happened in (the invocation's `request_id`, the core's `record_id`,
//! `provider`, `attempt`, …), so Logs Insights can filter on them. X-Ray tracing is
//! switched on in the template, not here.

use tracing_subscriber::EnvFilter;

/// The subscriber could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter does not parse (checked by `Config` already; kept for direct callers).
    #[error("log filter {filter:?} does not parse")]
    Filter {
        /// The filter.
        filter: String,
        /// Why.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber was installed before.
    #[error("a tracing subscriber is already installed")]
    AlreadySet(#[source] tracing_subscriber::util::TryInitError),
}

/// Installs the JSON subscriber with `filter` (e.g. `info`). Call once, from `main`.
pub fn init(filter: &str) -> Result<(), TelemetryError> {
    use tracing_subscriber::util::SubscriberInitExt;
    let env_filter = EnvFilter::try_new(filter).map_err(|source| TelemetryError::Filter {
        filter: filter.to_owned(),
        source,
    })?;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(env_filter)
        // Every enclosing span's fields, so a core event inside a worker invocation
        // carries the request id next to its own record_id and provider.
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(true)
        .with_ansi(false)
        .finish()
        .try_init()
        .map_err(TelemetryError::AlreadySet)
}
