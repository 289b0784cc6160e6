//! JSON logs for CloudWatch: one object per line, with the event's own fields at the top
//! level (the core's and the handlers' `record_id`, `provider`, `attempt`, …) and the
//! spans it happened in under `spans` (the invocation's `function` and `request_id`), so
//! Logs Insights can filter on them. X-Ray tracing is switched on in the template, not
//! here.

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
    subscriber(env_filter, std::io::stdout)
        .try_init()
        .map_err(TelemetryError::AlreadySet)
}

/// The JSON subscriber, writing to `writer`.
fn subscriber<W>(env_filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
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
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_carries_the_record_provider_and_attempt_and_the_invocations_request_id() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = subscriber(EnvFilter::new("info"), move || sink.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invocation", function = "worker", request_id = "req-7");
            let _entered = span.enter();
            tracing::info!(
                record_id = "rec-1",
                provider = "acme",
                attempt = 2,
                "call made"
            );
        });
        let bytes = captured.0.lock().expect("lock").clone();
        let line: serde_json::Value =
            serde_json::from_slice(bytes.trim_ascii_end()).expect("one JSON object");
        assert_eq!(line["record_id"], "rec-1", "{line}");
        assert_eq!(line["provider"], "acme", "{line}");
        assert_eq!(line["attempt"], 2, "{line}");
        assert_eq!(line["message"], "call made", "{line}");
        assert_eq!(line["spans"][0]["request_id"], "req-7", "{line}");
        assert_eq!(line["spans"][0]["function"], "worker", "{line}");
    }
}
