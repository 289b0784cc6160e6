//! `pacer plan`: the forecast, and (without --dry-run) the scheduling.

use super::{cell, emit, table, WINDOW_KEY};
use crate::args::PlanArgs;
use crate::config::Config;
use pacer_core::ports::Ports;
use pacer_core::services::{self, PlanRequest};
use serde_json::json;
use std::time::Duration;

/// Runs the command.
pub async fn run(ports: &Ports, config: Option<&Config>, args: &PlanArgs) -> anyhow::Result<()> {
    let window = args
        .window
        .or(config.and_then(|c| c.window))
        .unwrap_or(Duration::from_secs(24 * 3600));
    let request = PlanRequest {
        start: ports.clock.now(),
        window,
        global_rate: config.and_then(|c| c.global_rate),
    };
    let (plan, scheduled) = if args.dry_run {
        (services::forecast(ports, &request).await?, None)
    } else {
        let report = services::plan_window(ports, &request).await?;
        record_window(ports, &report).await?;
        (report.plan, Some(report.scheduled))
    };
    let doc = json!({
        "dry_run": args.dry_run,
        "start": plan.start,
        "end": plan.end,
        "records": plan.total_fits() + plan.total_carried_over(),
        "fits": plan.total_fits(),
        "carried_over": plan.total_carried_over(),
        "scheduled": scheduled,
        "global_stretch": plan.global_stretch,
        "providers": plan.providers.iter().map(|p| json!({
            "provider": p.provider,
            "records": p.records,
            "spacing_ms": p.spacing_us as f64 / 1000.0,
            "fits": p.fits,
            "carried_over": p.carried_over,
            "limited_by": p.limited_by,
            "expected_finish": p.last_due,
        })).collect::<Vec<_>>(),
    });
    emit(args.output, &doc, |d| {
        let mut t = table([
            "provider",
            "records",
            "spacing",
            "fits",
            "carried over",
            "limited by",
            "expected finish",
        ]);
        for p in d["providers"].as_array().into_iter().flatten() {
            t.add_row([
                cell(&p["provider"]),
                cell(&p["records"]),
                format!("{:.1} ms", p["spacing_ms"].as_f64().unwrap_or(0.0)),
                cell(&p["fits"]),
                cell(&p["carried_over"]),
                cell(&p["limited_by"]),
                cell(&p["expected_finish"]),
            ]);
        }
        format!(
            "{t}\nwindow {} → {}: {} fit, {} carried over{}",
            cell(&d["start"]),
            cell(&d["end"]),
            d["fits"],
            d["carried_over"],
            if args.dry_run {
                " (dry run: nothing scheduled)"
            } else {
                ""
            }
        )
    })
}

/// Saves the window's plan so `status` can show progress against it.
pub async fn record_window(ports: &Ports, report: &services::PlanReport) -> anyhow::Result<()> {
    let doc = json!({
        "start": report.plan.start,
        "end": report.plan.end,
        "scheduled": report.scheduled,
        "carried_over": report.carried_over,
    });
    ports.providers.put_control(WINDOW_KEY, &doc).await?;
    Ok(())
}
