//! Plan a window: give today's pending records their `due_at`.

use crate::error::PortError;
use crate::ids::ProviderId;
use crate::planner::{self, PlanInput, ProviderLoad, ProviderPlan, WindowPlan};
use crate::ports::{Ports, ScheduleReport};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// The control document of a plan not yet applied to every provider: what the next
/// [`continue_plan`] needs to apply the rest exactly as the first run would have.
pub const UNFINISHED_PLAN_KEY: &str = "unfinished_plan";

/// Records a plan with a deadline applies between two looks at it: at a few thousand
/// conditional writes a second on DynamoDB, a few seconds, well inside the dispatcher's
/// margin.
const RECORDS_PER_STEP: u64 = 10_000;

/// How long past its deadline a run applying a plan may still be at work (its function's
/// margin before the hard timeout, with room to spare).
const CLAIM_GRACE: Duration = Duration::from_secs(30);

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
    /// The deadline came before every provider was applied: the rest is saved under
    /// [`UNFINISHED_PLAN_KEY`] for [`continue_plan`].
    pub more: bool,
}

/// Where an interrupted plan stands: its window, the stretch its first run computed for
/// the global cap, and the first provider (in id order) not yet applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UnfinishedPlan {
    start: Timestamp,
    window_ms: u64,
    global_rate: Option<f64>,
    global_stretch: f64,
    /// `None` once every provider is applied.
    next_provider: Option<ProviderId>,
    /// Until when the run applying it may still be at work: no other run takes it over
    /// before then (two runs would rank the same provider's records twice).
    #[serde(default)]
    claimed_until: Option<Timestamp>,
}

/// Computes the plan for the pending records without changing anything: the forecast
/// operators read before a run. Providers without settings plan with no minimum interval.
pub async fn forecast(ports: &Ports, request: &PlanRequest) -> Result<WindowPlan, PortError> {
    planned(ports, request, None).await
}

/// The forecast, with the global stretch given instead of computed when `stretch` is set.
async fn planned(
    ports: &Ports,
    request: &PlanRequest,
    stretch: Option<f64>,
) -> Result<WindowPlan, PortError> {
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
        global_stretch: stretch,
        providers,
    }))
}

/// Plans the window and schedules the pending records, all in one step. Running it
/// twice is harmless: the second run finds only the carried-over records pending.
pub async fn plan_window(ports: &Ports, request: &PlanRequest) -> Result<PlanReport, PortError> {
    plan_window_until(ports, request, None).await
}

/// Plans the window and applies it provider by provider until `deadline`, then saves
/// where it stopped so the next [`continue_plan`] applies the rest with the same window
/// and spacing. At least one step is applied whatever the deadline, so every run makes
/// progress, and a step is not started when the steps so far say it would not end in
/// time. A run killed half way is continued once its claim lapses: the marker is saved
/// before each step. The providers of a step cut short are planned again from what is
/// still pending, so records of theirs that did not fit are planned into the window
/// after all (the call-time minimum interval still holds); steps are kept small for this.
///
/// Without a deadline the whole plan is one call and no one continues it: a run killed
/// half way is run again.
pub async fn plan_window_until(
    ports: &Ports,
    request: &PlanRequest,
    deadline: Option<Timestamp>,
) -> Result<PlanReport, PortError> {
    let plan = forecast(ports, request).await?;
    for p in plan.providers.iter().filter(|p| p.carried_over > 0) {
        tracing::warn!(
            provider = %p.provider,
            carried_over = p.carried_over,
            limited_by = ?p.limited_by,
            "records do not fit the window and are carried over"
        );
    }
    let marker = UnfinishedPlan {
        start: plan.start,
        window_ms: request.window.as_millis() as u64,
        global_rate: request.global_rate,
        global_stretch: plan.global_stretch,
        next_provider: plan.providers.first().map(|p| p.provider.clone()),
        claimed_until: deadline.map(|d| d.plus(CLAIM_GRACE)),
    };
    apply_until(ports, plan, marker, deadline).await
}

/// Applies the rest of a plan an earlier run could not finish (see
/// [`plan_window_until`]); `None` when there is none, when a run still holds it, or when
/// its window is over (its providers' records stay pending for the next plan). The
/// dispatcher's release tick calls it first.
pub async fn continue_plan(
    ports: &Ports,
    deadline: Option<Timestamp>,
) -> Result<Option<PlanReport>, PortError> {
    let Some(doc) = ports.providers.get_control(UNFINISHED_PLAN_KEY).await? else {
        return Ok(None);
    };
    let mut marker: UnfinishedPlan = match serde_json::from_value(doc) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable unfinished-plan marker ignored");
            return Ok(None);
        }
    };
    let Some(next) = marker.next_provider.clone() else {
        return Ok(None);
    };
    let now = ports.clock.now();
    if marker.claimed_until.is_some_and(|until| until > now) {
        return Ok(None);
    }
    let window = Duration::from_millis(marker.window_ms);
    if marker.start.plus(window) <= now {
        tracing::warn!(from = %next, "the unfinished plan's window is over; its providers wait for the next plan");
        marker.next_provider = None;
        save(ports, &marker).await?;
        return Ok(None);
    }
    marker.claimed_until = deadline.map(|d| d.plus(CLAIM_GRACE));
    save(ports, &marker).await?;
    // The providers not yet applied are still wholly pending, so the same window and
    // stretch give them the same spacing and offsets as the first run did.
    let mut plan = planned(
        ports,
        &PlanRequest {
            start: marker.start,
            window,
            global_rate: marker.global_rate,
        },
        Some(marker.global_stretch),
    )
    .await?;
    plan.providers.retain(|p| p.provider >= next);
    tracing::info!(from = %next, providers = plan.providers.len(), "continuing the window's plan");
    apply_until(ports, plan, marker, deadline).await.map(Some)
}

async fn apply_until(
    ports: &Ports,
    plan: WindowPlan,
    mut marker: UnfinishedPlan,
    deadline: Option<Timestamp>,
) -> Result<PlanReport, PortError> {
    let clock = &ports.clock;
    let mut done = ScheduleReport::default();
    let mut rest: &[ProviderPlan] = &plan.providers;
    let mut more = false;
    // Time per record of the steps so far, to judge whether the next one still fits.
    let (mut spent, mut applied) = (Duration::ZERO, 0u64);
    while !rest.is_empty() {
        // Without a deadline there is nothing to stop for: one call, which lets a backend
        // apply the whole plan in one statement (SQLite ranks every pending record once).
        let step = match deadline {
            Some(_) => step_len(rest),
            None => rest.len(),
        };
        let records: u64 = rest[..step].iter().map(|p| p.records).sum();
        if let Some(d) = deadline {
            let expected = match applied {
                0 => Duration::ZERO,
                n => spent.mul_f64(records as f64 / n as f64),
            };
            if applied > 0 && clock.now().plus(expected) > d {
                more = true;
                break;
            }
            marker.next_provider = Some(rest[0].provider.clone());
            save(ports, &marker).await?;
        }
        let started = clock.now();
        let part = WindowPlan {
            providers: rest[..step].to_vec(),
            ..plan.clone()
        };
        let report = ports.records.schedule(&part, started).await?;
        done.scheduled += report.scheduled;
        done.carried_over += report.carried_over;
        spent += clock.now().since(started);
        applied += records;
        rest = &rest[step..];
    }
    marker.next_provider = rest.first().map(|p| p.provider.clone());
    marker.claimed_until = None;
    save(ports, &marker).await?;
    if more {
        tracing::warn!(
            scheduled = done.scheduled,
            next_provider = ?marker.next_provider,
            "deadline reached with providers left to plan; the next tick continues"
        );
    } else {
        tracing::info!(
            scheduled = done.scheduled,
            carried_over = done.carried_over,
            "window planned"
        );
    }
    Ok(PlanReport {
        plan,
        scheduled: done.scheduled,
        carried_over: done.carried_over,
        more,
    })
}

/// How many of `providers` one step applies: whole providers up to about
/// [`RECORDS_PER_STEP`] records, at least one.
fn step_len(providers: &[ProviderPlan]) -> usize {
    let mut records = 0;
    let mut n = 0;
    for p in providers {
        if n > 0 && records + p.records > RECORDS_PER_STEP {
            break;
        }
        records += p.records;
        n += 1;
    }
    n
}

async fn save(ports: &Ports, marker: &UnfinishedPlan) -> Result<(), PortError> {
    let doc = serde_json::to_value(marker).map_err(|e| PortError::Backend {
        operation: "save the unfinished-plan marker",
        source: Box::new(e),
    })?;
    ports.providers.put_control(UNFINISHED_PLAN_KEY, &doc).await
}
