//! `pacer status`: counts by state and provider, queue depths.

use crate::args::{Output, StatusArgs};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use pacer_core::ports::Ports;
use pacer_core::RecordState;
use serde_json::json;
use std::collections::BTreeMap;

/// The status document: `by_state`, `by_provider` (state → count), queue depths.
pub async fn status_json(ports: &Ports) -> anyhow::Result<serde_json::Value> {
    let counts = ports.records.counts().await?;
    let mut by_state: BTreeMap<&str, u64> =
        RecordState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut by_provider: BTreeMap<String, BTreeMap<&str, u64>> = BTreeMap::new();
    for c in &counts {
        *by_state.entry(c.state.as_str()).or_default() += c.count;
        *by_provider
            .entry(c.provider.to_string())
            .or_default()
            .entry(c.state.as_str())
            .or_default() += c.count;
    }
    let total: u64 = by_state.values().sum();
    let mut breakers = BTreeMap::new();
    for p in ports.providers.list_providers().await? {
        if let Some(lease) = ports.leases.inspect(&p.id).await? {
            breakers.insert(p.id.to_string(), serde_json::to_value(lease.breaker)?);
        }
    }
    let finished = by_state["succeeded"] + by_state["failed"] + by_state["dead_lettered"];
    let window = ports
        .providers
        .get_control(super::WINDOW_KEY)
        .await?
        .map(|w| {
            let now = ports.clock.now().as_millis() as f64;
            let start = w["start"]
                .as_str()
                .and_then(|t| pacer_core::Timestamp::parse_rfc3339(t).ok());
            let end = w["end"]
                .as_str()
                .and_then(|t| pacer_core::Timestamp::parse_rfc3339(t).ok());
            let elapsed = match (start, end) {
                (Some(s), Some(e)) if e > s => ((now - s.as_millis() as f64)
                    / (e.as_millis() - s.as_millis()) as f64)
                    .clamp(0.0, 1.0),
                _ => 0.0,
            };
            json!({ "plan": w, "elapsed_fraction": elapsed, "finished_records": finished })
        });
    Ok(json!({
        "records": total,
        "by_state": by_state,
        "by_provider": by_provider,
        "queues": {
            "work": ports.work.depth().await?,
            "outcomes": ports.outcomes.depth().await?,
            "dead_letters": ports.dead_letters.list(&Default::default()).await?.len(),
        },
        "breakers": breakers,
        "schedule_paused": super::schedule::paused(ports).await?,
        "window": window,
    }))
}

/// Runs the command.
pub async fn run(ports: &Ports, args: &StatusArgs) -> anyhow::Result<()> {
    print(&status_json(ports).await?, args)
}

/// Prints a status document (from [`status_json`], possibly amended by the backend).
pub fn print(doc: &serde_json::Value, args: &StatusArgs) -> anyhow::Result<()> {
    if args.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(doc)?);
        return Ok(());
    }
    let mut table = Table::new();
    let mut header = vec!["provider".to_owned()];
    header.extend(RecordState::ALL.iter().map(|s| s.as_str().to_owned()));
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    let row = |name: &str, counts: &serde_json::Value| {
        let mut cells = vec![name.to_owned()];
        cells.extend(
            RecordState::ALL
                .iter()
                .map(|s| counts[s.as_str()].as_u64().unwrap_or(0).to_string()),
        );
        cells
    };
    for (provider, counts) in doc["by_provider"].as_object().into_iter().flatten() {
        table.add_row(row(provider, counts));
    }
    table.add_row(row("ALL", &doc["by_state"]));
    println!("{table}");
    println!(
        "work queue: {} waiting, {} in flight · outcomes: {} waiting · dead letters: {}",
        doc["queues"]["work"]["visible"],
        doc["queues"]["work"]["in_flight"],
        doc["queues"]["outcomes"]["visible"],
        doc["queues"]["dead_letters"]
    );
    Ok(())
}
