//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// pacer: paced, exclusive, retried calls to an internal API — never two calls to one
/// provider at a time.
#[derive(Debug, Parser)]
#[command(name = "pacer", version, about, long_about = None)]
pub struct Cli {
    /// The embedded database file.
    #[arg(long, global = true, env = "PACER_DB", default_value = "pacer.db")]
    pub db: PathBuf,
    /// Config file (TOML): window, defaults and providers. Its providers are saved into
    /// the database, so later commands know them.
    #[arg(long, global = true, env = "PACER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `pacer_core=debug` (logs go to stderr).
    #[arg(long, global = true, env = "PACER_LOG", default_value = "warn")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// Readable tables.
    #[default]
    Table,
    /// JSON on stdout.
    Json,
}

/// Fault presets of the demo's mock API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Faults {
    /// Every call succeeds (except defective records).
    None,
    /// A few timeouts, resets, 429s and 5xx.
    #[default]
    Realistic,
    /// Many of them.
    Harsh,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seed records, run a whole window against a local mock API, and summarise.
    ///
    /// Example: `pacer demo --records 2000 --providers 10 --window 20s --faults harsh --report out.json`
    Demo(DemoArgs),
    /// Run the local runtime: plan the window, release due records, call the API, store outcomes.
    ///
    /// Example: `pacer --db prod.db --config pacer.toml run --window 24h --until-idle`
    Run(RunArgs),
    /// Records: import them.
    #[command(subcommand)]
    Records(RecordsCommand),
    /// A record's full story: state, every attempt, the stored result.
    ///
    /// Example: `pacer --db pacer.db trace rec-0001 --output json`
    Trace(TraceArgs),
    /// Counts by state and by provider, and queue depths.
    ///
    /// Example: `pacer --db pacer.db status --output json`
    Status(StatusArgs),
}

/// `pacer demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Records to seed.
    #[arg(long, default_value_t = 10_000)]
    pub records: u64,
    /// Providers to spread them over (skewed sizes).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub providers: u32,
    /// Window to spread the calls over, e.g. `60s`, `5m`.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub window: Duration,
    /// Faults the mock API injects.
    #[arg(long, value_enum, default_value_t = Faults::Realistic)]
    pub faults: Faults,
    /// Write the summary as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Where to write the HTML timeline of calls per provider.
    #[arg(long, default_value = "pacer-demo-timeline.html")]
    pub timeline: PathBuf,
    /// Provider batches processed at once (at least the number of busy providers).
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
    /// Seed for the mock API's faults.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Use the global `--db` file instead of a fresh temporary one (it must not exist yet).
    #[arg(long)]
    pub keep_db: bool,
}

/// `pacer run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Window length, e.g. `24h` (overrides the config's `[window] length`).
    #[arg(long, value_parser = parse_duration)]
    pub window: Option<Duration>,
    /// Exit once every record is final or carried over past the window.
    #[arg(long)]
    pub until_idle: bool,
    /// Provider batches processed at once (at least the number of busy providers).
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
}

/// `pacer records …`.
#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Import records from a JSON Lines file: one
    /// `{"id": "...", "provider": "...", "request": {"method": "POST", "path": "/...", "query": {...}, "headers": {...}, "body": ...}}` per line.
    /// Invalid lines are reported with their line number and reason; valid lines are imported.
    ///
    /// Example: `pacer --db pacer.db --config pacer.toml records import records.jsonl`
    Import(ImportArgs),
}

/// `pacer records import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSONL file (`-` for stdin).
    pub file: PathBuf,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `pacer trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Record id.
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `pacer status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// Parses a humantime duration (`500ms`, `60s`, `24h`), refusing zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| {
        format!("{text:?} is not a duration ({e}); write it like 500ms, 60s, 5m or 24h")
    })?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_humantime_and_never_zero() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("0s")
            .unwrap_err()
            .contains("longer than zero"));
        assert!(parse_duration("soon").unwrap_err().contains("500ms"));
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
