//! `pacer schedule status|pause|resume|run-now` on AWS: the stack's EventBridge Scheduler
//! schedules (plan and release) are switched ENABLED/DISABLED; `run-now` runs the release
//! service from the CLI, as the embedded backend does.
//!
//! What it is not: the embedded runtime's switch (`commands::schedule`).

use super::emit;
use crate::args::{ScheduleAction, ScheduleArgs};
use crate::aws::{AwsTarget, UsageError};
use anyhow::Context as _;
use aws_sdk_scheduler::types::ScheduleState;
use aws_sdk_scheduler::Client;
use pacer_core::ports::Ports;
use pacer_core::services::{self, ReleaseSettings};
use serde_json::json;

/// The schedule group the stack's schedules live in.
const GROUP: &str = "default";

/// The schedules to act on: the release schedule (required) and the plan schedule.
fn schedules(target: &AwsTarget) -> anyhow::Result<Vec<(&'static str, &str)>> {
    let release = target.release_schedule.as_deref().ok_or_else(|| {
        UsageError(
            "schedule on --backend aws needs the release schedule's name: pass \
             --release-schedule (or PACER_RELEASE_SCHEDULE), or --stack NAME"
                .into(),
        )
    })?;
    let mut out = vec![("release", release)];
    if let Some(plan) = target.plan_schedule.as_deref() {
        out.push(("plan", plan));
    }
    Ok(out)
}

/// Reads `name`'s state.
async fn state(client: &Client, name: &str) -> anyhow::Result<ScheduleState> {
    let got = client
        .get_schedule()
        .name(name)
        .group_name(GROUP)
        .send()
        .await
        .with_context(|| {
            format!("reading schedule {name}: check the name (needs scheduler:GetSchedule)")
        })?;
    Ok(got.state().cloned().unwrap_or(ScheduleState::Enabled))
}

/// Sets `name`'s state, copying the rest of its definition (UpdateSchedule replaces it all).
async fn set_state(client: &Client, name: &str, to: ScheduleState) -> anyhow::Result<()> {
    let got = client
        .get_schedule()
        .name(name)
        .group_name(GROUP)
        .send()
        .await
        .with_context(|| {
            format!("reading schedule {name}: check the name (needs scheduler:GetSchedule)")
        })?;
    client
        .update_schedule()
        .name(name)
        .group_name(got.group_name().unwrap_or(GROUP))
        .set_schedule_expression(got.schedule_expression().map(str::to_owned))
        .set_schedule_expression_timezone(got.schedule_expression_timezone().map(str::to_owned))
        .set_description(got.description().map(str::to_owned))
        .set_start_date(got.start_date().cloned())
        .set_end_date(got.end_date().cloned())
        .set_kms_key_arn(got.kms_key_arn().map(str::to_owned))
        .set_flexible_time_window(got.flexible_time_window().cloned())
        .set_target(got.target().cloned())
        .set_action_after_completion(got.action_after_completion().cloned())
        .state(to)
        .send()
        .await
        .with_context(|| {
            format!(
                "updating schedule {name}: needs scheduler:UpdateSchedule and iam:PassRole \
                 on its target role"
            )
        })?;
    Ok(())
}

/// Runs the command against the stack's schedules.
pub async fn run(
    ports: &Ports,
    sdk: &aws_config::SdkConfig,
    target: &AwsTarget,
    args: &ScheduleArgs,
) -> anyhow::Result<()> {
    let client = Client::new(sdk);
    let named = schedules(target)?;
    let mut released = None;
    match args.action {
        ScheduleAction::Status => {}
        ScheduleAction::Pause | ScheduleAction::Resume => {
            let to = if args.action == ScheduleAction::Pause {
                ScheduleState::Disabled
            } else {
                ScheduleState::Enabled
            };
            for (_, name) in &named {
                set_state(&client, name, to.clone()).await?;
            }
        }
        ScheduleAction::RunNow => {
            released = Some(services::release_due(ports, &ReleaseSettings::default()).await?)
        }
    }
    let mut states = serde_json::Map::new();
    for (role, name) in &named {
        let s = state(&client, name).await?;
        states.insert(
            (*role).to_owned(),
            json!({ "name": name, "state": s.as_str() }),
        );
    }
    let paused = states["release"]["state"] == json!(ScheduleState::Disabled.as_str());
    let doc = json!({
        "paused": paused,
        "released_now": released.map(|r| r.released),
        "work_queue": ports.work.depth().await?,
        "schedules": states,
    });
    emit(args.output, &doc, |d| {
        let mut out = format!(
            "releases are {}",
            if d["paused"] == json!(true) {
                "PAUSED"
            } else {
                "running"
            }
        );
        if let Some(n) = d["released_now"].as_u64() {
            out.push_str(&format!("; released {n} due record(s) now"));
        }
        out.push_str(&format!(
            "; work queue: {} waiting, {} in flight",
            d["work_queue"]["visible"], d["work_queue"]["in_flight"]
        ));
        for (role, s) in d["schedules"].as_object().into_iter().flatten() {
            out.push_str(&format!(
                "\n{role} schedule {}: {}",
                super::cell(&s["name"]),
                super::cell(&s["state"])
            ));
        }
        out
    })
}

/// Whether the release schedule is disabled, if its name is known (for `status`).
pub async fn paused(
    sdk: &aws_config::SdkConfig,
    target: &AwsTarget,
) -> anyhow::Result<Option<bool>> {
    let Some(name) = target.release_schedule.as_deref() else {
        return Ok(None);
    };
    let s = state(&Client::new(sdk), name).await?;
    Ok(Some(s == ScheduleState::Disabled))
}
