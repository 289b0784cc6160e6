//! `pacer demo`: the whole pipeline on one machine against a local mock API.
//!
//! Seeds records across providers of skewed sizes (a few big, many small, as real
//! tables are), some of them defective, plans them over the window, runs the local
//! runtime against the mock API with the chosen faults, then summarises what happened.

use crate::args::{DemoArgs, Faults};
use crate::drive::{run_window, Ended, StopWhen};
use crate::summary::{summarise, Summary};
use anyhow::Context as _;
use pacer_core::provider::ProviderSettings;
use pacer_core::record::{ApiRequest, HttpMethod, NewRecord};
use pacer_core::services::PlanRequest;
use pacer_core::{ProviderId, RecordId};
use pacer_local::RuntimeConfig;
use pacer_testkit::mock_api::{MockApi, MockConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One record in this many is marked defective (the mock API answers 422 to it).
const DEFECTIVE_EVERY: u64 = 250;

/// Splits `records` over `providers` with Zipf-like weights (exponent 0.8); no provider is
/// left empty while there are at least as many records as providers.
pub fn skewed_sizes(records: u64, providers: u32) -> Vec<u64> {
    let weights: Vec<f64> = (1..=providers)
        .map(|i| 1.0 / f64::from(i).powf(0.8))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut sizes: Vec<u64> = weights
        .iter()
        .map(|w| ((w / total) * records as f64).floor() as u64)
        .collect();
    // Hand out what flooring left over, one each from the largest down, then make sure
    // no provider is empty (taking from the largest).
    let left = records.saturating_sub(sizes.iter().sum());
    let len = sizes.len();
    for i in 0..left as usize {
        sizes[i % len] += 1;
    }
    for i in 0..len {
        if sizes[i] == 0 && sizes[0] > 1 {
            sizes[i] = 1;
            sizes[0] -= 1;
        }
    }
    sizes
}

/// The demo's records for one provider.
fn records_for(provider: &ProviderId, n: u64, first: u64) -> anyhow::Result<Vec<NewRecord>> {
    (0..n)
        .map(|i| {
            let serial = first + i;
            let defective = serial % DEFECTIVE_EVERY == DEFECTIVE_EVERY - 1;
            let id = format!(
                "{provider}-{serial:07}{}",
                if defective { "-defective" } else { "" }
            );
            Ok(NewRecord {
                id: RecordId::new(id)?,
                provider: provider.clone(),
                request: ApiRequest {
                    method: HttpMethod::Post,
                    path: "/collect".into(),
                    body: Some(serde_json::json!({ "serial": serial })),
                    ..Default::default()
                },
                callback_url: None,
            })
        })
        .collect()
}

/// Runs the demo and returns its summary (also printed, and written where asked).
pub async fn run(db: PathBuf, args: &DemoArgs) -> anyhow::Result<Summary> {
    if args.records == 0 {
        anyhow::bail!("--records must be at least 1");
    }
    let mock_config = match args.faults {
        Faults::None => MockConfig::none(),
        Faults::Realistic => MockConfig::realistic(),
        Faults::Harsh => MockConfig::harsh(),
    }
    .with_seed(args.seed);
    let api = MockApi::start(mock_config)
        .await
        .context("starting the mock API")?;
    let (_embedded, ports) = crate::backend::open(&db, None)?;
    let sizes = skewed_sizes(args.records, args.providers);
    let mut serial = 0;
    for (i, n) in sizes.iter().enumerate() {
        let id = ProviderId::new(format!("provider-{:02}", i + 1))?;
        let mut p = ProviderSettings::with_defaults(id.clone(), api.base_url_for(id.as_str()));
        // Short timeouts and backoffs so a one-minute demo also shows retries finishing.
        p.timeout = Duration::from_millis(300);
        p.min_interval = Duration::from_millis(10);
        p.max_attempts = 5;
        p.backoff_base = Duration::from_millis(250);
        p.backoff_max = Duration::from_secs(3);
        p.breaker_cooldown = Duration::from_secs(2);
        ports.providers.put_provider(&p).await?;
        for chunk in records_for(&id, *n, serial)?.chunks(5000) {
            ports.records.insert(chunk, ports.clock.now()).await?;
        }
        serial += n;
    }
    eprintln!(
        "pacer demo: {} records over {} providers (largest {}, smallest {}), window {}, faults {:?}, database {}",
        args.records,
        args.providers,
        sizes.first().copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0),
        humantime::format_duration(args.window),
        args.faults,
        db.display()
    );
    let started = Instant::now();
    let now = ports.clock.now();
    let plan = PlanRequest {
        start: now,
        window: args.window,
        global_rate: None,
    };
    let runtime = RuntimeConfig {
        workers: args.workers,
        visibility: Duration::from_secs(60),
        release_every: Duration::from_millis(50),
        ..RuntimeConfig::default()
    };
    // Wait for retries that fall after the window, but not forever.
    let cap = now.plus(args.window + Duration::from_secs(30).max(args.window / 2));
    let (_, ended) = run_window(&ports, runtime, plan, StopWhen::AllSettled { cap }, true).await?;
    let observed = api.observations();
    let summary = summarise(
        &ports,
        args.records,
        Some(&observed),
        started.elapsed().as_secs_f64(),
    )
    .await?;
    std::fs::write(
        &args.timeline,
        crate::timeline::render_html("pacer demo: calls per provider", &observed.calls),
    )
    .with_context(|| format!("writing {}", args.timeline.display()))?;
    println!("{}", crate::summary::render(&summary));
    println!("timeline: {}", args.timeline.display());
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if ended != Ended::Idle {
        eprintln!("note: the demo stopped ({ended:?}) before every record settled");
    }
    api.shutdown().await.context("stopping the mock API")?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_skewed_sum_to_the_total_and_never_zero() {
        let sizes = skewed_sizes(10_000, 25);
        assert_eq!(sizes.iter().sum::<u64>(), 10_000);
        assert!(sizes.iter().all(|s| *s > 0));
        assert!(sizes[0] > 4 * sizes[24], "{sizes:?}");
        assert_eq!(skewed_sizes(3, 5).iter().sum::<u64>(), 3);
    }
}
