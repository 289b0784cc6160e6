//! `pacer schedule status|pause|resume|run-now` on the embedded backend: the local
//! runtime's release tick reads the switch before every tick.

use super::{emit, SCHEDULE_KEY};
use crate::args::{ScheduleAction, ScheduleArgs};
use pacer_core::ports::Ports;
use pacer_core::services::{self, ReleaseSettings};
use serde_json::json;

/// Whether releases are paused.
pub async fn paused(ports: &Ports) -> anyhow::Result<bool> {
    Ok(ports
        .providers
        .get_control(SCHEDULE_KEY)
        .await?
        .is_some_and(|d| d["paused"] == json!(true)))
}

/// Runs the command.
pub async fn run(ports: &Ports, args: &ScheduleArgs) -> anyhow::Result<()> {
    let now = ports.clock.now();
    let set = |paused: bool| json!({ "paused": paused, "changed_at": now });
    let mut released = None;
    match args.action {
        ScheduleAction::Status => {}
        ScheduleAction::Pause => {
            ports
                .providers
                .put_control(SCHEDULE_KEY, &set(true))
                .await?
        }
        ScheduleAction::Resume => {
            ports
                .providers
                .put_control(SCHEDULE_KEY, &set(false))
                .await?
        }
        ScheduleAction::RunNow => {
            released = Some(services::release_due(ports, &ReleaseSettings::default()).await?)
        }
    }
    let doc = json!({
        "paused": paused(ports).await?,
        "released_now": released.map(|r| r.released),
        "work_queue": ports.work.depth().await?,
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
        out
    })
}
