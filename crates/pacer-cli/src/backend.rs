//! Opening a backend with the real HTTP caller: the embedded database, or a deployed
//! AWS stack (one `SdkConfig`, honouring `AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`).

use anyhow::Context as _;
use pacer_core::ports::{ApiPorts, Ports, RateGate, Unlimited};
use pacer_core::SystemClock;
use pacer_embedded::{Embedded, EmbeddedOptions};
use pacer_http::HttpCaller;
use pacer_local::GovernorGate;
use std::path::Path;
use std::sync::Arc;

/// Messages of one provider the local runtime takes per receive: more than an SQS FIFO
/// batch (10), so the lease, delete and receive between batches come less often, while
/// 25 calls at a provider's default timeout still fit the runtime's visibility timeout.
const LOCAL_GROUP_BATCH: usize = 25;

/// Opens `db` (creating it) and wires every port; `global_rate` caps calls per second.
pub fn open(db: &Path, global_rate: Option<f64>) -> anyhow::Result<(Embedded, ApiPorts)> {
    open_with_options(db, global_rate, local_options(LOCAL_GROUP_BATCH))
}

/// The embedded backend's options for a local runtime taking `group_batch` messages of one
/// provider per receive.
pub fn local_options(group_batch: usize) -> EmbeddedOptions {
    EmbeddedOptions {
        max_group_batch: group_batch,
        ..EmbeddedOptions::default()
    }
}

/// Opens (or creates) the embedded database at `db` with `options`.
pub fn open_with_options(
    db: &Path,
    global_rate: Option<f64>,
    options: EmbeddedOptions,
) -> anyhow::Result<(Embedded, ApiPorts)> {
    let embedded = Embedded::open(db, Arc::new(SystemClock), options)
        .with_context(|| format!("opening database {}", db.display()))?;
    let (caller, gate) = caller_and_gate(global_rate)?;
    let ports = embedded.api_ports(caller, gate);
    Ok((embedded, ports))
}

/// Wires every port to the deployed resources of `target`, with clients built from `sdk`;
/// the HTTP API's ports too when `target` names the API's tables and queues.
pub fn open_aws(
    sdk: &aws_config::SdkConfig,
    target: &crate::aws::AwsTarget,
    global_rate: Option<f64>,
) -> anyhow::Result<(Ports, Option<ApiPorts>)> {
    let aws = pacer_aws::Aws::new(
        sdk,
        target.resources.clone(),
        pacer_aws::AwsOptions {
            due_shards: target.due_shards,
            ..pacer_aws::AwsOptions::default()
        },
        Arc::new(SystemClock),
    );
    let (caller, gate) = caller_and_gate(global_rate)?;
    let defaults = target.provider_defaults.clone();
    let api = aws
        .api_ports(Arc::clone(&caller) as _, Arc::clone(&gate))
        .map(|ports| ports.with_provider_defaults(defaults.clone()));
    Ok((
        aws.ports(caller, gate).with_provider_defaults(defaults),
        api,
    ))
}

fn caller_and_gate(
    global_rate: Option<f64>,
) -> anyhow::Result<(Arc<HttpCaller>, Arc<dyn RateGate>)> {
    // Idle connections kept per host: providers often share one host, and a call that
    // must open a new connection pays for it in the gap before the next call.
    let caller = HttpCaller::new(1024).context("building the HTTP client")?;
    let gate: Arc<dyn RateGate> = match global_rate {
        Some(rate) => {
            Arc::new(GovernorGate::new(rate).context("global_rate must be a positive number")?)
        }
        None => Arc::new(Unlimited),
    };
    Ok((Arc::new(caller), gate))
}
