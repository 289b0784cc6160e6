//! Opening the embedded backend with the real HTTP caller.

use anyhow::Context as _;
use pacer_core::ports::{ApiPorts, RateGate, Unlimited};
use pacer_core::SystemClock;
use pacer_embedded::{Embedded, EmbeddedOptions};
use pacer_http::HttpCaller;
use pacer_local::GovernorGate;
use std::path::Path;
use std::sync::Arc;

/// Opens `db` (creating it) and wires every port; `global_rate` caps calls per second.
pub fn open(db: &Path, global_rate: Option<f64>) -> anyhow::Result<(Embedded, ApiPorts)> {
    let embedded = Embedded::open(db, Arc::new(SystemClock), EmbeddedOptions::default())
        .with_context(|| format!("opening database {}", db.display()))?;
    // Idle connections kept per host: providers often share one host, and a call that
    // must open a new connection pays for it in the gap before the next call.
    let caller = HttpCaller::new(1024).context("building the HTTP client")?;
    let gate: Arc<dyn RateGate> = match global_rate {
        Some(rate) => {
            Arc::new(GovernorGate::new(rate).context("global_rate must be a positive number")?)
        }
        None => Arc::new(Unlimited),
    };
    let ports = embedded.api_ports(Arc::new(caller), gate);
    Ok((embedded, ports))
}
