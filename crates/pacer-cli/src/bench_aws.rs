//! `pacer bench --scenario aws-requests`: the happy path of N records on an AWS emulator
//! (moto), counting every billable AWS request per record, priced at us-east-1 list
//! prices next to the seed design's naive flow.
//!
//! It provisions fresh, uniquely prefixed resources, seeds N records over P providers,
//! then plays EventBridge Scheduler and the SQS event source mappings around the very
//! handlers the Lambda functions run (`pacer_lambda::{dispatcher, worker, results}`):
//! plan, release, work (against the local mock API), apply outcomes — one invocation at
//! a time, so moto's non-atomic DynamoDB is never raced. Each function's clients carry a
//! [`meter::Meter`]; the requests AWS makes for us (event source mapping receives and
//! deletes, Scheduler and Lambda invocations) are added from the batches handed over.
//!
//! It refuses to run without an emulator endpoint (`--endpoint` or `AWS_ENDPOINT_URL`)
//! and uses dummy credentials, so it can never touch a real account. What it is not: a
//! timing benchmark (moto's speed says nothing about AWS's).

pub mod esm;
mod meter;
mod pipeline;
mod pricing;
pub mod serial;

use crate::args::BenchArgs;
use crate::aws::UsageError;
use anyhow::Context as _;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use meter::{Counts, Meter};
use pacer_aws::provision::{provision, unique_prefix, ProvisionOptions};
use pacer_aws::{Aws, AwsResources};
use pacer_core::ports::{Ports, Unlimited};
use pacer_core::provider::ProviderSettings;
use pacer_core::record::{ApiRequest, HttpMethod, NewRecord};
use pacer_core::services::{ReleaseSettings, WorkerSettings};
use pacer_core::{ProviderId, RecordId, RecordState, SystemClock};
use pacer_http::HttpCaller;
use pacer_lambda::app::aws_options;
use pacer_lambda::config::DEFAULT_DUE_SHARDS;
use pacer_lambda::{App, Settings};
use pacer_testkit::mock_api::{MockApi, MockConfig};
use pipeline::Pipeline;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records when `--records` is not given.
const DEFAULT_RECORDS: u64 = 500;
/// Providers when `--providers` is not given.
const DEFAULT_PROVIDERS: u32 = 10;
/// The plan's window: short, so one release tick after it finds every record due.
const WINDOW: Duration = Duration::from_secs(1);
/// Give up when the pipeline has not settled by then.
const CAP: Duration = Duration::from_secs(900);

/// The endpoint to run against, refusing none and refusing real AWS.
fn emulator_endpoint(given: Option<&str>) -> Result<&str, UsageError> {
    let endpoint = given
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            UsageError(
                "aws-requests runs on an AWS emulator only: set AWS_ENDPOINT_URL or pass \
             --endpoint URL (e.g. the URL scripts/moto.sh prints)"
                    .into(),
            )
        })?;
    if endpoint.contains("amazonaws.com") {
        return Err(UsageError(format!(
            "{endpoint} is a real AWS endpoint; aws-requests runs on an emulator only \
             (start one with scripts/moto.sh)"
        )));
    }
    Ok(endpoint)
}

/// The SDK configuration for the emulator: its endpoint, dummy credentials so no real
/// ones are ever picked up, and an HTTP client that serialises DynamoDB requests (moto's
/// DynamoDB is not atomic under concurrency). The moto tests of `pacer-cli` and
/// `pacer-lambda` build their clients with it too.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(serial::SerialDynamo::new())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_scheduler::config::Credentials::new(
            "emulator",
            "emulator",
            None,
            None,
            "pacer-bench",
        ))
        .load()
        .await
}

/// The functions' settings (production defaults, the short bench window).
fn settings() -> Settings {
    Settings {
        window: WINDOW,
        global_rate: None,
        release: ReleaseSettings::default(),
        worker: WorkerSettings::default(),
        dispatcher_margin: Duration::from_secs(10),
        worker_margin: Duration::from_secs(3),
    }
}

/// One function as production wires it (`App`), its clients metered by `meter`.
fn function(
    sdk: &aws_config::SdkConfig,
    resources: &AwsResources,
    meter: &Meter,
) -> anyhow::Result<App> {
    let aws = Aws::new_with_interceptor(
        sdk,
        resources.clone(),
        aws_options(DEFAULT_DUE_SHARDS),
        Arc::new(SystemClock),
        SharedInterceptor::new(meter.clone()),
    );
    let caller = HttpCaller::new(10).context("building the HTTP client")?;
    Ok(App::new(
        aws.ports(Arc::new(caller), Arc::new(Unlimited)),
        settings(),
    ))
}

/// Providers (min interval 0, so nothing waits) and `records` records spread evenly.
async fn seed(ports: &Ports, api: &MockApi, records: u64, providers: u32) -> anyhow::Result<()> {
    let mut batch = Vec::new();
    for i in 0..records {
        let provider = ProviderId::new(format!("p{:03}", i % u64::from(providers)))?;
        if i < u64::from(providers) {
            let settings = ProviderSettings::with_defaults(
                provider.clone(),
                api.base_url_for(provider.as_str()),
            );
            ports.providers.put_provider(&settings).await?;
        }
        batch.push(NewRecord {
            id: RecordId::new(format!("{provider}-{i:07}"))?,
            provider,
            request: ApiRequest {
                method: HttpMethod::Post,
                path: "/collect".into(),
                ..Default::default()
            },
            callback_url: None,
        });
    }
    for chunk in batch.chunks(500) {
        ports.records.insert(chunk, ports.clock.now()).await?;
    }
    Ok(())
}

fn merged<'a>(meters: impl IntoIterator<Item = &'a Meter>) -> Counts {
    let mut all = Counts::new();
    for m in meters {
        for (label, units) in m.counts() {
            *all.entry(label).or_default() += units;
        }
    }
    all
}

/// Runs the scenario and returns its figures.
pub async fn scenario(args: &BenchArgs) -> anyhow::Result<Value> {
    let endpoint = emulator_endpoint(args.endpoint.as_deref())?;
    let records = args.records.unwrap_or(DEFAULT_RECORDS).max(1);
    let providers = args
        .providers
        .unwrap_or(DEFAULT_PROVIDERS)
        .min(u32::try_from(records).unwrap_or(u32::MAX));
    let sdk = sdk_config(endpoint).await;
    let prefix = unique_prefix("bench");
    eprintln!("provisioning {prefix} on {endpoint}…");
    let options = ProvisionOptions {
        prefix,
        work_max_receive_count: None,
    };
    let resources = provision(&sdk, &options)
        .await
        .context("provisioning on the emulator")?;
    let api = MockApi::start(
        MockConfig::none()
            .without_defective_marker()
            .with_latency(Duration::from_millis(2)),
    )
    .await?;
    let intake = Meter::new();
    let admin = function(&sdk, &resources, &intake)?;
    seed(admin.ports(), &api, records, providers).await?;
    eprintln!("seeded {records} records over {providers} providers; running the pipeline…");
    let pipeline = Pipeline::new(&sdk, &resources)?;
    // The bench's own progress checks are not part of any flow: a meter nobody reads.
    let checks = function(&sdk, &resources, &Meter::new())?;
    let started = Instant::now();
    pipeline.drive(checks.ports(), records).await?;
    let seconds = started.elapsed().as_secs_f64();
    pipeline.add_compute();
    let seen = api.observations();
    let succeeded: u64 = checks
        .ports()
        .records
        .counts()
        .await?
        .iter()
        .filter(|c| c.state == RecordState::Succeeded)
        .map(|c| c.count)
        .sum();
    api.shutdown().await?;
    let counts = merged(pipeline.meters.iter().map(|(_, m)| m));
    let (by_operation, requests_per_record, usd) = pricing::price(&counts, records);
    let by_function: serde_json::Map<String, Value> = pipeline
        .meters
        .iter()
        .map(|(name, m)| {
            let (_, per_record, usd) = pricing::price(&m.counts(), records);
            (
                (*name).to_owned(),
                json!({"requests_per_record": per_record, "usd_per_million_records": usd}),
            )
        })
        .collect();
    let (naive_by, naive_per_record, naive_usd) = pricing::price(&pricing::naive(records), records);
    let (intake_by, intake_per_record, intake_usd) = pricing::price(&intake.counts(), records);
    Ok(json!({
        "scenario": "aws-requests",
        "records": records,
        "providers": providers,
        "succeeded": succeeded,
        "calls": seen.calls.len(),
        "overlaps": seen.overlaps(),
        "requests_per_record": requests_per_record,
        "target_requests_per_record": 4,
        "usd_per_million_records": usd,
        "by_operation": by_operation,
        "by_function": by_function,
        "naive": {
            "requests_per_record": naive_per_record,
            "usd_per_million_records": naive_usd,
            "by_operation": naive_by,
        },
        "intake": {
            "note": "the providers and records written before the run (not in requests_per_record)",
            "requests_per_record": intake_per_record,
            "usd_per_million_records": intake_usd,
            "by_operation": intake_by,
        },
        "prices": pricing::table(),
        "assumptions": pricing::assumptions(),
        "seconds": seconds,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_refuses_to_run_without_an_emulator_or_against_real_aws() {
        let none = emulator_endpoint(None).unwrap_err().0;
        assert!(
            none.contains("AWS_ENDPOINT_URL") && none.contains("--endpoint"),
            "{none}"
        );
        assert!(emulator_endpoint(Some("  ")).is_err());
        let real = emulator_endpoint(Some("https://sqs.us-east-1.amazonaws.com"))
            .unwrap_err()
            .0;
        assert!(real.contains("real AWS"), "{real}");
        assert_eq!(
            emulator_endpoint(Some("http://127.0.0.1:5000")).ok(),
            Some("http://127.0.0.1:5000")
        );
    }
}
