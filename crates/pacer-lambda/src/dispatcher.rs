//! The dispatcher function: EventBridge Scheduler invokes it with `{"mode":"plan"}` (the
//! daily plan of the window) or `{"mode":"release"}` (the minute tick that sends due
//! records to the work queue). Decode, one service call, a small JSON summary.

use crate::app::{App, Invocation};
use pacer_core::services::{self, PlanRequest, ReleaseSettings};
use pacer_core::{PortError, Timestamp};
use serde::{Deserialize, Serialize};

/// The control document that pauses release ticks (`{"paused": true}`), the same switch
/// `pacer schedule pause` sets and the local runtime honours.
pub const SCHEDULE_KEY: &str = "schedule";

/// What the Scheduler asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DispatchRequest {
    /// Plan the window starting now.
    Plan,
    /// Release what is due.
    Release,
}

/// The payload: exactly `{"mode": …}`, nothing else (a typo'd extra field is refused
/// rather than silently ignored).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    mode: DispatchRequest,
}

impl DispatchRequest {
    /// Decodes the Scheduler payload, refusing anything else with a clear error.
    pub fn from_payload(payload: &serde_json::Value) -> Result<Self, DispatchError> {
        serde_json::from_value::<Payload>(payload.clone())
            .map(|p| p.mode)
            .map_err(|source| DispatchError::BadPayload {
                payload: payload.to_string(),
                source,
            })
    }
}

/// What an invocation did, returned to the Scheduler (and visible in the logs).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum DispatchSummary {
    /// The plan ran.
    Plan {
        /// Window start.
        window_start: Timestamp,
        /// Window end.
        window_end: Timestamp,
        /// Providers with pending records.
        providers: usize,
        /// Records given a due time.
        scheduled: u64,
        /// Records that do not fit the window, left pending.
        carried_over: u64,
        /// The deadline came first: the release ticks apply the rest of the plan.
        more: bool,
    },
    /// A release tick ran.
    Release {
        /// Records scheduled first by the rest of a plan an earlier run left unfinished.
        planned: u64,
        /// Messages newly enqueued.
        released: usize,
        /// Messages the queue dropped as duplicates.
        deduplicated: usize,
        /// Due work was left for the next tick (the deadline came first).
        more: bool,
        /// The schedule is paused: nothing was released.
        paused: bool,
    },
}

/// Why the dispatcher failed. The Scheduler's retry policy retries failed invocations,
/// which is safe: planning twice and releasing twice are both harmless.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The payload is not one of the two the Scheduler sends: fix the schedule's input.
    #[error(r#"the dispatcher expects {{"mode":"plan"}} or {{"mode":"release"}}, got {payload}"#)]
    BadPayload {
        /// The payload received.
        payload: String,
        /// Why it did not decode.
        #[source]
        source: serde_json::Error,
    },
    /// A store or queue call failed; the next tick (or the Scheduler's retry) tries again.
    #[error("the {mode} run failed")]
    Port {
        /// `plan` or `release`.
        mode: &'static str,
        /// The port's error.
        #[source]
        source: PortError,
    },
}

/// Handles one Scheduler invocation.
pub async fn handle(
    app: &App,
    payload: &serde_json::Value,
    invocation: &Invocation,
) -> Result<DispatchSummary, DispatchError> {
    let summary = match DispatchRequest::from_payload(payload)? {
        DispatchRequest::Plan => plan(app, invocation).await,
        DispatchRequest::Release => release(app, invocation).await,
    }?;
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "dispatcher done");
    Ok(summary)
}

async fn plan(app: &App, invocation: &Invocation) -> Result<DispatchSummary, DispatchError> {
    let ports = app.ports();
    let settings = app.settings();
    let request = PlanRequest {
        start: ports.clock.now(),
        window: settings.window,
        global_rate: settings.global_rate,
    };
    let deadline = invocation.deadline.minus(settings.dispatcher_margin);
    let report = services::plan_window_until(ports, &request, Some(deadline))
        .await
        .map_err(|source| DispatchError::Port {
            mode: "plan",
            source,
        })?;
    Ok(DispatchSummary::Plan {
        window_start: request.start,
        window_end: request.start.plus(request.window),
        providers: report.plan.providers.len(),
        scheduled: report.scheduled,
        carried_over: report.carried_over,
        more: report.more,
    })
}

async fn release(app: &App, invocation: &Invocation) -> Result<DispatchSummary, DispatchError> {
    let ports = app.ports();
    let port = |source| DispatchError::Port {
        mode: "release",
        source,
    };
    let paused = match ports.providers.get_control(SCHEDULE_KEY).await {
        Ok(doc) => doc.is_some_and(|d| d["paused"] == serde_json::Value::Bool(true)),
        Err(err) => {
            // Same choice as the local runtime: an unreadable switch does not stop work.
            tracing::warn!(error = %err, "cannot read the schedule switch; releasing anyway");
            false
        }
    };
    let deadline = invocation.deadline.minus(app.settings().dispatcher_margin);
    // A plan an earlier invocation could not finish goes first, paused or not (planning
    // calls nothing), with half the time: due work is still released on every tick.
    let now = ports.clock.now();
    let plan_until = now.plus(deadline.since(now) / 2);
    let planned = match services::continue_plan(ports, Some(plan_until)).await {
        Ok(report) => report.map_or(0, |r| r.scheduled),
        Err(err) => {
            tracing::warn!(error = %err, "could not continue the unfinished plan; the next tick tries again");
            0
        }
    };
    if paused {
        tracing::info!("schedule paused; nothing released");
        return Ok(DispatchSummary::Release {
            planned,
            released: 0,
            deduplicated: 0,
            more: false,
            paused: true,
        });
    }
    let settings = ReleaseSettings {
        deadline: Some(deadline),
        ..app.settings().release.clone()
    };
    let report = services::release_due(ports, &settings)
        .await
        .map_err(port)?;
    if report.more {
        tracing::warn!(
            released = report.released,
            "deadline reached with due work left; the next tick continues"
        );
    }
    Ok(DispatchSummary::Release {
        planned,
        released: report.released,
        deduplicated: report.deduplicated,
        more: report.more,
        paused: false,
    })
}
