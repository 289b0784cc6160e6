//! Running a window on the local runtime: plan, run, show progress, stop when idle or
//! on Ctrl-C. Shared by `pacer run` and `pacer demo`.

use indicatif::{ProgressBar, ProgressStyle};
use pacer_core::ports::Ports;
use pacer_core::services::{self, PlanReport, PlanRequest};
use pacer_core::{RecordState, Timestamp};
use pacer_local::{is_idle, Runtime, RuntimeConfig};
use std::time::Duration;

/// When to stop driving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopWhen {
    /// Once nothing is due before the window ends (the rest is carried over).
    IdleInWindow,
    /// Once nothing is due at all (retries after the window are waited for), or at `cap`.
    AllSettled {
        /// Give up waiting at this time.
        cap: Timestamp,
    },
    /// Only on Ctrl-C.
    Never,
}

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Nothing left to do.
    Idle,
    /// The operator pressed Ctrl-C.
    Interrupted,
    /// The cap passed with work left.
    Capped,
}

/// Plans `[start, start + window)` and runs the runtime until `stop`. Progress goes to
/// stderr when `progress` is true.
pub async fn run_window(
    ports: &Ports,
    runtime: RuntimeConfig,
    plan: PlanRequest,
    stop: StopWhen,
    progress: bool,
) -> anyhow::Result<(PlanReport, Ended)> {
    let report = services::plan_window(ports, &plan).await?;
    crate::commands::plan::record_window(ports, &report).await?;
    let total: u64 = ports.records.counts().await?.iter().map(|c| c.count).sum();
    let window_end = plan.start.plus(plan.window);
    let bar = if progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} final  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let rt = Runtime::start(ports.clone(), runtime);
    let stats = rt.stats();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let ended = loop {
        tokio::select! {
            _ = &mut ctrl_c => break Ended::Interrupted,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        let counts = ports.records.counts().await?;
        let of = |s: RecordState| {
            counts
                .iter()
                .filter(|c| c.state == s)
                .map(|c| c.count)
                .sum::<u64>()
        };
        bar.set_position(
            of(RecordState::Succeeded) + of(RecordState::Failed) + of(RecordState::DeadLettered),
        );
        bar.set_message(format!(
            "ok {} failed {} dead {} retrying {} calls {}",
            of(RecordState::Succeeded),
            of(RecordState::Failed),
            of(RecordState::DeadLettered),
            of(RecordState::RetryWait),
            stats.calls.load(std::sync::atomic::Ordering::Relaxed)
        ));
        let now = ports.clock.now();
        let done = match stop {
            StopWhen::IdleInWindow => is_idle(ports, window_end).await?,
            StopWhen::AllSettled { cap } if now >= cap => break Ended::Capped,
            StopWhen::AllSettled { .. } => is_idle(ports, Timestamp::from_millis(i64::MAX)).await?,
            StopWhen::Never => false,
        };
        if done {
            break Ended::Idle;
        }
    };
    if ended == Ended::Interrupted {
        bar.println("interrupted: finishing calls under way and returning the rest to the queue…");
    }
    rt.shutdown().await;
    bar.finish_and_clear();
    Ok((report, ended))
}
