//! `pacer bench`: the scale and speed scenarios, printing figures (never asserting
//! timings: benchmarks are not tests).
//!
//! - `plan`: N records (default 1 000 000) across P providers (default 1 000, Zipf-skewed)
//!   from pending to scheduled, then every one released into the work queue.
//! - `drain`: N records (default 100 000) spread evenly over P providers (default 100)
//!   against the mock API with a fixed latency and a window far too short (`--window`,
//!   default 1 ms), so every provider runs back to back: how close pacer comes to the
//!   serial bound.

use crate::args::{BenchArgs, Output, Scenario};
use anyhow::Context as _;
use pacer_core::ports::Ports;
use pacer_core::provider::ProviderSettings;
use pacer_core::record::{ApiRequest, HttpMethod, NewRecord};
use pacer_core::services::{self, PlanRequest, ReleaseSettings};
use pacer_core::{ProviderId, RecordId};
use pacer_embedded::EmbeddedOptions;
use pacer_local::{is_idle, Runtime, RuntimeConfig};
use pacer_testkit::mock_api::{MockApi, MockConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Size of the database and its WAL in MiB.
fn db_mb(db: &Path) -> f64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = db.with_extension("db-wal");
    (size(db) + size(&wal)) as f64 / (1024.0 * 1024.0)
}

/// Zipf(1) sizes: provider `i` gets a share proportional to `1/i`; all sum to `records`.
fn zipf_sizes(records: u64, providers: u32) -> Vec<u64> {
    let weights: Vec<f64> = (1..=providers).map(|i| 1.0 / f64::from(i)).collect();
    let total: f64 = weights.iter().sum();
    let mut sizes: Vec<u64> = weights
        .iter()
        .map(|w| (w / total * records as f64) as u64)
        .collect();
    let short = records - sizes.iter().sum::<u64>();
    let len = sizes.len();
    for i in 0..short as usize {
        sizes[i % len] += 1;
    }
    sizes
}

async fn seed(
    ports: &Ports,
    sizes: &[u64],
    base_url: &dyn Fn(&str) -> String,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(10_000);
    for (i, n) in sizes.iter().enumerate() {
        let provider = ProviderId::new(format!("p{i:05}"))?;
        let mut settings =
            ProviderSettings::with_defaults(provider.clone(), base_url(provider.as_str()));
        settings.timeout = Duration::from_secs(5);
        ports.providers.put_provider(&settings).await?;
        for k in 0..*n {
            batch.push(NewRecord {
                id: RecordId::new(format!("{provider}-{k:08}"))?,
                provider: provider.clone(),
                request: ApiRequest {
                    method: HttpMethod::Get,
                    path: "/item".into(),
                    ..Default::default()
                },
                callback_url: None,
            });
            if batch.len() == batch.capacity() {
                ports.records.insert(&batch, ports.clock.now()).await?;
                batch.clear();
            }
        }
    }
    ports.records.insert(&batch, ports.clock.now()).await?;
    Ok(())
}

async fn plan_scenario(args: &BenchArgs, dir: &Path) -> anyhow::Result<Value> {
    let records = args.records.unwrap_or(1_000_000);
    let providers = args.providers.unwrap_or(1_000);
    let db = dir.join("bench-plan.db");
    let (embedded, ports) = crate::backend::open(&db, None)?;
    let t = Instant::now();
    seed(&ports, &zipf_sizes(records, providers), &|p| {
        format!("http://127.0.0.1:9/{p}")
    })
    .await?;
    let insert_seconds = t.elapsed().as_secs_f64();
    eprintln!("seeded {records} records in {insert_seconds:.1} s; planning…");
    // A window that has already passed: every planned record is due at once for release.
    let window = Duration::from_secs(24 * 3600);
    let plan = PlanRequest {
        start: ports.clock.now().minus(window),
        window,
        global_rate: None,
    };
    let t = Instant::now();
    let report = services::plan_window(&ports, &plan).await?;
    let plan_seconds = t.elapsed().as_secs_f64();
    eprintln!("planned in {plan_seconds:.2} s; releasing…");
    let t = Instant::now();
    let settings = ReleaseSettings {
        batch: 2000,
        ..ReleaseSettings::default()
    };
    let released = services::release_due(&ports, &settings).await?;
    let release_seconds = t.elapsed().as_secs_f64();
    embedded.checkpoint()?;
    Ok(json!({
        "scenario": "plan",
        "records": records,
        "providers": providers,
        "insert_seconds": insert_seconds,
        "plan_seconds": plan_seconds,
        "scheduled": report.scheduled,
        "release_seconds": release_seconds,
        "released": released.released,
        "rss_mb": peak_rss_mb(),
        "db_mb": db_mb(&db),
    }))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn drain_scenario(args: &BenchArgs, dir: &Path) -> anyhow::Result<Value> {
    let records = args.records.unwrap_or(100_000);
    let providers = args.providers.unwrap_or(100);
    let latency = args.latency;
    let api = MockApi::start(
        MockConfig::none()
            .without_defective_marker()
            .with_latency(latency),
    )
    .await?;
    let db = dir.join("bench-drain.db");
    let options = EmbeddedOptions {
        background_checkpoints: args.keep_wal.is_none(),
        ..crate::backend::local_options(usize::from(args.group_batch))
    };
    let (embedded, ports) = crate::backend::open_with_options(&db, None, options)?;
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    let per = records / u64::from(providers);
    let mut sizes = vec![per; providers as usize];
    sizes[0] += records - per * u64::from(providers);
    seed(&ports, &sizes, &|p| api.base_url_for(p)).await?;
    let plan = PlanRequest {
        start: ports.clock.now(),
        window: args.window,
        global_rate: None,
    };
    let planned = services::plan_window(&ports, &plan).await?;
    // The drain waits for every record's outcome: one carried over would never come.
    anyhow::ensure!(
        planned.carried_over == 0,
        "--window {}: {} of {records} records do not fit it and would be carried over; \
         give a longer window",
        humantime::format_duration(args.window),
        planned.carried_over
    );
    let runtime = RuntimeConfig {
        workers: providers as usize + 8,
        visibility: Duration::from_secs(600),
        poll_wait: Duration::from_millis(100),
        release_every: Duration::from_millis(20),
        release: ReleaseSettings {
            batch: 5000,
            ..ReleaseSettings::default()
        },
        ..RuntimeConfig::default()
    };
    eprintln!("draining {records} records over {providers} providers at {latency:?} per call…");
    embedded.profile_writes(true);
    let written_before = bytes_written();
    let wal_at_start = std::fs::metadata(&wal).map_or(0, |m| m.len());
    let started = std::time::Instant::now();
    let rt = Runtime::start(ports.core.clone(), runtime);
    let far = ports.clock.now().plus(Duration::from_secs(365 * 86400));
    let stats = rt.stats();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The runtime's own counter first: the store-wide idle check scans every record,
        // which would stall the runtime's threads mid-measurement if polled throughout.
        if stats.applied.load(Ordering::Relaxed) >= records && is_idle(&ports, far).await? {
            break;
        }
    }
    rt.shutdown().await;
    if let Some(keep) = &args.keep_wal {
        keep_wal(keep, &db, &wal, wal_at_start, records)?;
    }
    let writer = writer_figures(&embedded, written_before, records, started.elapsed());
    let seen = api.observations();
    let first = seen
        .calls
        .iter()
        .map(|c| c.started_at)
        .min()
        .context("no calls were made")?;
    let last = seen
        .calls
        .iter()
        .map(|c| c.finished_at)
        .max()
        .unwrap_or(first);
    let seconds = (last - first) as f64 / 1e6;
    let busy = seen.busy_micros_by_provider();
    let (busiest, bound_us) = busy
        .iter()
        .max_by_key(|(_, us)| **us)
        .map(|(p, us)| (p.clone(), *us))
        .unwrap_or_default();
    let busiest_records = seen.calls_by_provider.get(&busiest).copied().unwrap_or(0);
    let mut by_provider: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for c in &seen.calls {
        by_provider
            .entry(&c.provider)
            .or_default()
            .push((c.started_at, c.finished_at));
    }
    let mut gaps: Vec<f64> = Vec::with_capacity(seen.calls.len());
    for calls in by_provider.values_mut() {
        calls.sort_unstable();
        gaps.extend(
            calls
                .windows(2)
                .map(|w| w[1].0.saturating_sub(w[0].1) as f64 / 1000.0),
        );
    }
    gaps.sort_by(f64::total_cmp);
    let loss = last_provider_loss(&by_provider, first);
    api.shutdown().await?;
    Ok(json!({
        "scenario": "drain",
        "records": records,
        "providers": providers,
        "latency_ms": latency.as_secs_f64() * 1000.0,
        "window_ms": args.window.as_secs_f64() * 1000.0,
        "calls": seen.calls.len(),
        "seconds": seconds,
        "calls_per_second": seen.calls.len() as f64 / seconds,
        "serial_bound_seconds": bound_us as f64 / 1e6,
        "efficiency": bound_us as f64 / 1e6 / seconds,
        "nominal_efficiency": busiest_records as f64 * latency.as_secs_f64() / seconds,
        "gap_p50_ms": percentile(&gaps, 0.5),
        "gap_p99_ms": percentile(&gaps, 0.99),
        "overlaps": seen.overlaps(),
        "group_batch": args.group_batch,
        "last_provider": loss,
        "writer": writer,
        "rss_mb": peak_rss_mb(),
    }))
}

/// Copies the database and its WAL, still open (so never checkpointed), into `keep`, with
/// where the drain's frames start in the WAL.
fn keep_wal(
    keep: &Path,
    db: &Path,
    wal: &Path,
    wal_at_start: u64,
    calls: u64,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(keep).with_context(|| format!("creating {}", keep.display()))?;
    for (from, name) in [(db, "bench-drain.db"), (wal, "bench-drain.db-wal")] {
        std::fs::copy(from, keep.join(name))
            .with_context(|| format!("copying {} into {}", from.display(), keep.display()))?;
    }
    let run = json!({ "wal_offset_at_start": wal_at_start, "calls": calls });
    std::fs::write(keep.join("run.json"), run.to_string())
        .with_context(|| format!("writing {}", keep.join("run.json").display()))?;
    eprintln!(
        "WAL kept in {}: scripts/wal-pages.py {}",
        keep.display(),
        keep.display()
    );
    Ok(())
}

/// Bytes this process has handed to `write` so far (Linux `/proc/self/io`).
fn bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The writer thread's profile over the drain: its time by operation and on commits, and
/// the bytes written (write-ahead log and checkpoints) per call. With many providers
/// the single writer is the bound, so this says which writes cost the throughput.
/// `runtime_seconds` runs from the runtime's start (release included) until every
/// outcome was applied, which is the span the writer's time falls in.
fn writer_figures(
    embedded: &pacer_embedded::Embedded,
    written_before: Option<u64>,
    calls: u64,
    runtime: Duration,
) -> Value {
    let timings = embedded.write_profile();
    let busy: f64 = timings.iter().map(|t| t.seconds).sum();
    let by_operation: Vec<Value> = timings
        .iter()
        .map(|t| {
            json!({
                "operation": t.operation,
                "count": t.count,
                "seconds": t.seconds,
                "us_per_call": t.seconds * 1e6 / calls.max(1) as f64,
            })
        })
        .collect();
    let per_call = match (written_before, bytes_written()) {
        (Some(before), Some(after)) => json!((after.saturating_sub(before)) / calls.max(1)),
        _ => Value::Null,
    };
    json!({
        "runtime_seconds": runtime.as_secs_f64(),
        "busy_seconds": busy,
        "us_per_call": busy * 1e6 / calls.max(1) as f64,
        "bytes_written_per_call": per_call,
        "by_operation": by_operation,
    })
}

/// Where the wall time went for the provider whose last call ended last (the one that
/// sets `seconds`): its first call's delay after the very first call of the run, its own
/// call time, and its gaps — short ones (inside a batch: the HTTP round trip and the
/// bookkeeping between two calls) and long ones (between batches: lease, delete,
/// receive). The four add up to `seconds`.
fn last_provider_loss(by_provider: &BTreeMap<&str, Vec<(u64, u64)>>, first: u64) -> Value {
    /// Gaps above this are counted as between batches.
    const BETWEEN_BATCHES_US: u64 = 3_000;
    let Some((provider, calls)) = by_provider
        .iter()
        .max_by_key(|(_, calls)| calls.last().map_or(0, |c| c.1))
    else {
        return Value::Null;
    };
    let busy: u64 = calls.iter().map(|(s, e)| e.saturating_sub(*s)).sum();
    let gaps: Vec<u64> = calls
        .windows(2)
        .map(|w| w[1].0.saturating_sub(w[0].1))
        .collect();
    let short: u64 = gaps.iter().filter(|g| **g <= BETWEEN_BATCHES_US).sum();
    let long: Vec<u64> = gaps
        .iter()
        .copied()
        .filter(|g| *g > BETWEEN_BATCHES_US)
        .collect();
    let seconds = |us: u64| us as f64 / 1e6;
    json!({
        "provider": provider,
        "calls": calls.len(),
        "start_delay_seconds": seconds(calls[0].0.saturating_sub(first)),
        "call_seconds": seconds(busy),
        "short_gap_seconds": seconds(short),
        "long_gap_seconds": seconds(long.iter().sum()),
        "long_gaps": long.len(),
    })
}

/// Runs one scenario and prints its figures.
pub async fn run(args: &BenchArgs) -> anyhow::Result<Value> {
    let dir = tempfile_dir()?;
    let figures = match args.scenario {
        Scenario::Plan => plan_scenario(args, &dir).await,
        Scenario::Drain => drain_scenario(args, &dir).await,
        Scenario::AwsRequests => crate::bench_aws::scenario(args).await,
    };
    let _ = std::fs::remove_dir_all(&dir);
    let figures = figures?;
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&figures)?),
        Output::Table => {
            for (k, v) in figures.as_object().into_iter().flatten() {
                println!("{k:>22}  {v}");
            }
        }
    }
    Ok(figures)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("pacer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_sizes_sum_to_the_total_and_fall_off() {
        let s = zipf_sizes(1_000_000, 1000);
        assert_eq!(s.iter().sum::<u64>(), 1_000_000);
        assert!(s[0] > 100 * s[999]);
    }

    #[test]
    fn percentiles_pick_from_the_sorted_sample() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!((percentile(&v, 0.5), percentile(&v, 0.99)), (3.0, 5.0));
    }
}
