//! `pacer dlq list|show|replay|purge`.

use super::{cell, emit, record_id, table};
use crate::args::{DlqCommand, DlqFilter, Output};
use anyhow::bail;
use pacer_core::ports::{DeadLetterFilter, Ports};
use pacer_core::services::{self, Selection};
use serde_json::json;

fn filter(f: &DlqFilter) -> DeadLetterFilter {
    DeadLetterFilter {
        provider: f.provider.clone(),
        error_class: f.error_class,
        since: f.since,
        limit: f.limit,
    }
}

fn selection(f: &DlqFilter, records: &[String]) -> anyhow::Result<Selection> {
    Ok(Selection {
        filter: filter(f),
        record_ids: records
            .iter()
            .map(|r| record_id(r))
            .collect::<Result<_, _>>()?,
    })
}

/// Runs a `dlq` subcommand; returns the exit code.
pub async fn run(ports: &Ports, command: &DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List { filter: f, output } => list(ports, f, *output).await,
        DlqCommand::Show { id, output } => show(ports, id, *output).await,
        DlqCommand::Replay {
            filter: f,
            records,
            window,
            dry_run,
            output,
        } => {
            let report =
                services::replay_dead_letters(ports, &selection(f, records)?, *window, *dry_run)
                    .await?;
            let doc = serde_json::to_value(&report)?;
            emit(*output, &doc, |d| {
                let mut t = table(["provider", "replayed", "spacing", "first due", "last due"]);
                for p in d["plan"]["providers"].as_array().into_iter().flatten() {
                    t.add_row([
                        cell(&p["provider"]),
                        cell(&p["fits"]),
                        format!("{:.1} s", p["spacing_us"].as_f64().unwrap_or(0.0) / 1e6),
                        cell(&d["plan"]["start"]),
                        cell(&p["last_due"]),
                    ]);
                }
                let mut out = format!(
                    "{t}\n{} record(s) {}replayed, {} skipped",
                    d["replayed"].as_array().map_or(0, Vec::len),
                    if report.dry_run { "would be " } else { "" },
                    d["skipped"].as_array().map_or(0, Vec::len)
                );
                for s in d["skipped"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "\n  skipped {}: {}",
                        cell(&s["id"]),
                        cell(&s["reason"])
                    ));
                }
                out
            })
        }
        DlqCommand::Purge {
            filter: f,
            records,
            yes,
        } => {
            if !yes {
                bail!("purging removes dead letters for good; add --yes to confirm (see them first with `pacer dlq list`)");
            }
            let removed = services::purge_dead_letters(ports, &selection(f, records)?).await?;
            println!(
                "purged {} dead letter(s); each record's history notes it",
                removed.len()
            );
            Ok(())
        }
    }
}

async fn list(ports: &Ports, f: &DlqFilter, output: Output) -> anyhow::Result<()> {
    let entries = ports.dead_letters.list(&filter(f)).await?;
    let doc = json!(entries
        .iter()
        .map(|e| json!({
            "id": e.id,
            "record_id": e.record_id,
            "provider": e.provider,
            "error_class": e.error_class,
            "attempts": e.attempts,
            "reason": e.reason,
            "dead_lettered_at": e.dead_lettered_at,
        }))
        .collect::<Vec<_>>());
    emit(output, &doc, |d| {
        let mut t = table([
            "id",
            "provider",
            "error_class",
            "attempts",
            "dead_lettered_at",
            "reason",
        ]);
        for e in d.as_array().into_iter().flatten() {
            t.add_row(
                [
                    "id",
                    "provider",
                    "error_class",
                    "attempts",
                    "dead_lettered_at",
                    "reason",
                ]
                .map(|k| cell(&e[k])),
            );
        }
        format!("{t}\n{} dead letter(s)", d.as_array().map_or(0, Vec::len))
    })
}

async fn show(ports: &Ports, id: &str, output: Output) -> anyhow::Result<()> {
    let all = ports
        .dead_letters
        .list(&DeadLetterFilter::default())
        .await?;
    let found: Vec<_> = all
        .into_iter()
        .filter(|e| e.id == id || e.record_id.as_ref().is_some_and(|r| r.as_str() == id))
        .collect();
    if found.is_empty() {
        bail!("no dead letter {id:?} (ids look like `record#attempt` or `msg:…`; see `pacer dlq list`)");
    }
    let doc = serde_json::to_value(&found)?;
    emit(output, &doc, |d| {
        let mut out = String::new();
        for e in d.as_array().into_iter().flatten() {
            let mut t = table(["field", "value"]);
            for (k, v) in e.as_object().into_iter().flatten() {
                t.add_row([k.clone(), cell(v)]);
            }
            out.push_str(&t.to_string());
            out.push('\n');
        }
        out
    })
}
