//! Plan a window: give today's pending records their `due_at`.

use crate::error::PortError;
use crate::planner::{self, PlanInput, ProviderLoad, WindowPlan};
use crate::ports::Ports;
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// What to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRequest {
    /// Window start.
    pub start: Timestamp,
    /// Window length.
    pub window: Duration,
    /// Global calls-per-second cap.
    pub global_rate: Option<f64>,
}

/// The plan and what applying it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    /// The per-provider forecast.
    pub plan: WindowPlan,
    /// Records given a `due_at`.
    pub scheduled: u64,
    /// Records carried over.
    pub carried_over: u64,
}

/// Computes the plan for the pending records without changing anything: the forecast
/// operators read before a run. Providers without settings plan with no minimum interval.
pub async fn forecast(ports: &Ports, request: &PlanRequest) -> Result<WindowPlan, PortError> {
    let load = ports.records.pending_load().await?;
    let settings: HashMap<_, _> = ports
        .providers
        .list_providers()
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let providers = load
        .into_iter()
        .map(|(provider, records)| ProviderLoad {
            min_interval: settings
                .get(&provider)
                .map_or(Duration::ZERO, |s| s.min_interval),
            expected_latency: settings.get(&provider).and_then(|s| s.expected_latency),
            provider,
            records,
        })
        .collect();
    Ok(planner::plan_window(&PlanInput {
        start: request.start,
        window: request.window,
        global_rate: request.global_rate,
        providers,
    }))
}

/// Plans the window and schedules the pending records. Running it twice is harmless:
/// the second run finds only the carried-over records pending.
pub async fn plan_window(ports: &Ports, request: &PlanRequest) -> Result<PlanReport, PortError> {
    let plan = forecast(ports, request).await?;
    let report = ports.records.schedule(&plan, ports.clock.now()).await?;
    for p in plan.providers.iter().filter(|p| p.carried_over > 0) {
        tracing::warn!(
            provider = %p.provider,
            carried_over = p.carried_over,
            limited_by = ?p.limited_by,
            "records do not fit the window and are carried over"
        );
    }
    tracing::info!(
        scheduled = report.scheduled,
        carried_over = report.carried_over,
        "window planned"
    );
    Ok(PlanReport {
        plan,
        scheduled: report.scheduled,
        carried_over: report.carried_over,
    })
}
