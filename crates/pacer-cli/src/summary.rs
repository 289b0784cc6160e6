//! The end-of-run summary: records by state, attempts, retries, overlaps, lost records,
//! and per-provider pacing as the API saw it.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use pacer_core::ports::{Ports, RecordFilter};
use pacer_core::{PortError, RecordState};
use pacer_testkit::mock_api::Observations;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One provider's line in the summary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProviderSummary {
    /// The provider.
    pub provider: String,
    /// Its records.
    pub records: u64,
    /// HTTP calls the API saw.
    pub calls: u64,
    /// Configured minimum interval, in milliseconds.
    pub min_interval_ms: u64,
    /// Smallest start-to-start gap between two of its calls, in milliseconds.
    pub min_gap_ms: Option<f64>,
    /// Median start-to-start gap, in milliseconds.
    pub median_gap_ms: Option<f64>,
    /// Calls that overlapped another call to it (must be 0).
    pub overlaps: u64,
}

/// The summary `pacer demo` prints and writes with `--report`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Records seeded or imported.
    pub records: u64,
    /// Final: succeeded.
    pub succeeded: u64,
    /// Final: failed permanently.
    pub failed: u64,
    /// Final: dead-lettered.
    pub dead_lettered: u64,
    /// Not yet planned or carried over to the next window.
    pub pending: u64,
    /// Planned, not yet due.
    pub scheduled: u64,
    /// Waiting for a durable retry.
    pub retry_wait: u64,
    /// HTTP calls made (every call is an attempt).
    pub attempts: u64,
    /// Calls beyond each record's first.
    pub retries: u64,
    /// Overlapping calls to one provider seen by the API (must be 0).
    pub overlaps: u64,
    /// Records missing from the store, or queued / in flight with no work message left
    /// to bring them back (must be 0).
    pub lost: u64,
    /// Wall time of the run in seconds.
    pub seconds: f64,
    /// Per provider.
    pub providers: Vec<ProviderSummary>,
}

fn median(sorted: &[f64]) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[sorted.len() / 2])
}

/// Builds the summary from the store and, when the mock API was used, what it observed.
pub async fn summarise(
    ports: &Ports,
    expected_records: u64,
    observed: Option<&Observations>,
    seconds: f64,
) -> Result<Summary, PortError> {
    let mut by_state: BTreeMap<RecordState, u64> = BTreeMap::new();
    let mut per_provider: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut attempts, mut retries, mut stored) = (0, 0, 0);
    let mut filter = RecordFilter {
        limit: 5000,
        ..Default::default()
    };
    loop {
        let page = ports.records.list(&filter).await?;
        for r in &page {
            stored += 1;
            *by_state.entry(r.state).or_default() += 1;
            attempts += u64::from(r.calls);
            retries += u64::from(r.calls.saturating_sub(1));
            let e = per_provider.entry(r.provider.to_string()).or_default();
            e.0 += 1;
            e.1 += u64::from(r.calls);
        }
        match page.last() {
            Some(last) if page.len() == filter.limit => filter.after = Some(last.id.clone()),
            _ => break,
        }
    }
    let of = |s| by_state.get(&s).copied().unwrap_or(0);
    let settings: BTreeMap<String, Duration> = ports
        .providers
        .list_providers()
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), p.min_interval))
        .collect();
    let mut starts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    if let Some(o) = observed {
        for c in &o.calls {
            starts
                .entry(c.provider.as_str())
                .or_default()
                .push(c.started_at);
        }
    }
    let providers = per_provider
        .into_iter()
        .map(|(provider, (records, calls))| {
            let mut gaps: Vec<f64> = match starts.get_mut(provider.as_str()) {
                Some(s) => {
                    s.sort_unstable();
                    s.windows(2)
                        .map(|w| (w[1] - w[0]) as f64 / 1000.0)
                        .collect()
                }
                None => Vec::new(),
            };
            gaps.sort_by(f64::total_cmp);
            ProviderSummary {
                calls: observed
                    .and_then(|o| o.calls_by_provider.get(&provider).copied())
                    .unwrap_or(calls),
                overlaps: observed
                    .and_then(|o| o.overlaps_by_provider.get(&provider).copied())
                    .unwrap_or(0),
                min_interval_ms: settings.get(&provider).map_or(0, |d| d.as_millis() as u64),
                min_gap_ms: gaps.first().copied(),
                median_gap_ms: median(&gaps),
                provider,
                records,
            }
        })
        .collect();
    // A queued or in-flight record is only safe while a work message still carries it.
    let depth = ports.work.depth().await?;
    let carried = (of(RecordState::Queued) + of(RecordState::InFlight))
        .saturating_sub(depth.visible + depth.in_flight);
    let missing = expected_records.saturating_sub(stored);
    Ok(Summary {
        records: expected_records.max(stored),
        succeeded: of(RecordState::Succeeded),
        failed: of(RecordState::Failed),
        dead_lettered: of(RecordState::DeadLettered),
        pending: of(RecordState::Pending),
        scheduled: of(RecordState::Scheduled),
        retry_wait: of(RecordState::RetryWait),
        attempts,
        retries,
        overlaps: observed.map_or(0, Observations::overlaps),
        lost: missing + carried,
        seconds,
        providers,
    })
}

/// The summary as readable tables.
pub fn render(s: &Summary) -> String {
    let mut totals = Table::new();
    totals.load_preset(UTF8_FULL_CONDENSED).set_header([
        "records",
        "succeeded",
        "failed",
        "dead-lettered",
        "pending",
        "retry wait",
        "attempts",
        "retries",
        "overlaps",
        "lost",
    ]);
    totals.add_row(
        [
            s.records,
            s.succeeded,
            s.failed,
            s.dead_lettered,
            s.pending + s.scheduled,
            s.retry_wait,
            s.attempts,
            s.retries,
            s.overlaps,
            s.lost,
        ]
        .map(|n| n.to_string()),
    );
    let mut per = Table::new();
    per.load_preset(UTF8_FULL_CONDENSED).set_header([
        "provider",
        "records",
        "calls",
        "min interval",
        "min gap seen by API",
        "median gap",
        "overlaps",
    ]);
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
    for p in &s.providers {
        per.add_row([
            p.provider.clone(),
            p.records.to_string(),
            p.calls.to_string(),
            format!("{} ms", p.min_interval_ms),
            ms(p.min_gap_ms),
            ms(p.median_gap_ms),
            p.overlaps.to_string(),
        ]);
    }
    format!(
        "{totals}\n{per}\ngaps are between call starts as the API saw them: pacer spaces the starts it makes by the\nminimum interval, and the API sees them give or take transport jitter.\nfinished in {:.1} s",
        s.seconds
    )
}
