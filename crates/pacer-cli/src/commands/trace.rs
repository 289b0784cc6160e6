//! `pacer trace ID`: a record's story.

use crate::args::{Output, TraceArgs};
use anyhow::bail;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use pacer_core::ports::Ports;
use pacer_core::RecordId;
use serde_json::json;

/// Builds the trace JSON: `id`, `provider`, `state`, `due_at`, `note`, `attempts[]`,
/// `result`, and `moves[]` (every state move with its time and reason).
pub async fn trace_json(ports: &Ports, id: &RecordId) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(record) = ports.records.get(id).await? else {
        return Ok(None);
    };
    let attempts = ports.records.attempts(id).await?;
    let result = ports.records.result(id).await?;
    let history = ports.records.history(id).await?;
    // The state moves: stored and planned, each attempt's start (in flight) and outcome,
    // and the operator / planner entries, in time order.
    let mut moves = vec![json!({ "at": record.created_at, "to": "pending", "why": "stored" })];
    for a in &attempts {
        if a.called {
            moves.push(json!({ "at": a.started_at, "to": "in_flight", "why": format!("attempt {}", a.attempt) }));
        }
        let (to, why) = match a.next {
            pacer_core::schema::NextState::Continue => {
                ("in_flight", "short retry follows".to_owned())
            }
            pacer_core::schema::NextState::Succeeded => {
                ("succeeded", format!("HTTP {}", a.status_code.unwrap_or(0)))
            }
            pacer_core::schema::NextState::Failed => {
                ("failed", a.detail.clone().unwrap_or_default())
            }
            pacer_core::schema::NextState::RetryWait { due_at } => (
                "retry_wait",
                format!("due {due_at}; {}", a.detail.clone().unwrap_or_default()),
            ),
            pacer_core::schema::NextState::DeadLettered => {
                ("dead_lettered", a.detail.clone().unwrap_or_default())
            }
        };
        moves.push(json!({ "at": a.finished_at, "to": to, "why": why }));
    }
    for h in &history {
        moves.push(json!({ "at": h.at, "to": h.kind, "why": h.detail }));
    }
    moves.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
    Ok(Some(json!({
        "id": record.id,
        "provider": record.provider,
        "state": record.state,
        "due_at": record.due_at,
        "calls": record.calls,
        "note": record.note,
        "request": record.request,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "attempts": attempts.iter().map(|a| json!({
            "number": a.attempt,
            "called": a.called,
            "started_at": a.started_at,
            "finished_at": a.finished_at,
            "latency_ms": a.latency_ms,
            "status_code": a.status_code,
            "error_class": a.error_class,
            "detail": a.detail,
            "next": a.next,
            "fencing_token": a.fencing_token,
            "invocation_id": a.invocation_id,
            "request": a.request_summary,
            "response": a.response,
        })).collect::<Vec<_>>(),
        "result": result,
        "moves": moves,
    })))
}

/// Runs the command.
pub async fn run(ports: &Ports, args: &TraceArgs) -> anyhow::Result<()> {
    let id = RecordId::new(args.id.clone())
        .map_err(|e| anyhow::anyhow!("record id {:?} {e}", args.id))?;
    let Some(trace) = trace_json(ports, &id).await? else {
        bail!("no record {:?} in this database", args.id)
    };
    if args.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&trace)?);
        return Ok(());
    }
    println!(
        "record {}  provider {}  state {}",
        trace["id"], trace["provider"], trace["state"]
    );
    if let Some(note) = trace["note"].as_str() {
        println!("note: {note}");
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "#", "started", "latency", "status", "class", "next", "token", "detail",
    ]);
    for a in trace["attempts"].as_array().into_iter().flatten() {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::Null => "-".to_owned(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        table.add_row([
            text(&a["number"]),
            text(&a["started_at"]),
            format!("{} ms", a["latency_ms"]),
            text(&a["status_code"]),
            text(&a["error_class"]),
            text(&a["next"]["state"]),
            text(&a["fencing_token"]),
            text(&a["detail"]),
        ]);
    }
    println!("{table}");
    let mut moves = Table::new();
    moves
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["at", "state", "why"]);
    for m in trace["moves"].as_array().into_iter().flatten() {
        moves.add_row([
            m["at"].as_str().unwrap_or("-"),
            m["to"].as_str().unwrap_or("-"),
            m["why"].as_str().unwrap_or(""),
        ]);
    }
    println!("{moves}");
    if let Some(body) = trace["result"]["body"].as_str() {
        println!("result: {}", body.chars().take(400).collect::<String>());
    }
    Ok(())
}
