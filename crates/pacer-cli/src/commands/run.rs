//! `pacer run`: the local runtime against the configured providers.

use crate::args::RunArgs;
use crate::config::Config;
use crate::drive::{run_window, Ended, StopWhen};
use anyhow::Context as _;
use pacer_core::ports::Ports;
use pacer_core::services::PlanRequest;
use pacer_local::RuntimeConfig;

/// Runs the command. `config` must be given: it names the providers to call.
pub async fn run(ports: &Ports, config: Option<&Config>, args: &RunArgs) -> anyhow::Result<()> {
    let config = config.context("`pacer run` needs --config FILE naming the providers to call")?;
    let window = args
        .window
        .or(config.window)
        .context("no window: pass --window DUR or set [window] length in the config file")?;
    let plan = PlanRequest {
        start: ports.clock.now(),
        window,
        global_rate: config.global_rate,
    };
    let runtime = RuntimeConfig {
        workers: args.workers,
        ..RuntimeConfig::default()
    };
    let stop = if args.until_idle {
        StopWhen::IdleInWindow
    } else {
        StopWhen::Never
    };
    let (report, ended) = run_window(ports, runtime, plan, stop, true).await?;
    eprintln!(
        "window of {}: {} records scheduled, {} carried over to the next window",
        humantime::format_duration(window),
        report.scheduled,
        report.carried_over
    );
    for p in report.plan.providers.iter().filter(|p| p.carried_over > 0) {
        eprintln!(
            "  {}: {} carried over (limited by {:?})",
            p.provider, p.carried_over, p.limited_by
        );
    }
    match ended {
        Ended::Idle => eprintln!("idle: every record is final or carried over"),
        Ended::Interrupted => {
            eprintln!("stopped by Ctrl-C; run again to resume where this left off")
        }
        Ended::Capped => eprintln!("stopped at the time cap with work left; run again to resume"),
    }
    Ok(())
}
