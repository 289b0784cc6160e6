//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// pacer: paced, exclusive, retried calls to an internal API — never two calls to one
/// provider at a time.
#[derive(Debug, Parser)]
#[command(name = "pacer", version, about, long_about = None)]
pub struct Cli {
    /// Where the records live: the embedded database (`--db`) or a deployed AWS stack
    /// (`--stack`, or the resource names one by one; credentials and region from
    /// AWS_PROFILE / AWS_REGION, AWS_ENDPOINT_URL for an emulator).
    #[arg(
        long,
        global = true,
        env = "PACER_BACKEND",
        value_enum,
        default_value_t
    )]
    pub backend: Backend,
    /// The AWS resources (with `--backend aws`).
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
    /// The embedded database file (embedded backend only).
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

/// Which backend the commands work on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Backend {
    /// The embedded SQLite database (`--db`).
    #[default]
    Embedded,
    /// A deployed AWS stack (DynamoDB, SQS, SNS, EventBridge Scheduler).
    Aws,
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
    /// Seed records, run a whole window against a local mock API, and summarise. The
    /// database is a temporary file removed at the end, unless `--db FILE` names one (which
    /// must not exist yet) to keep and inspect with `status` and `trace`.
    ///
    /// Example: `pacer demo --records 2000 --providers 10 --window 20s --faults harsh --report out.json`
    Demo(DemoArgs),
    /// Run the local runtime: plan the window, release due records, call the API, store
    /// outcomes. Embedded backend only: on AWS the deployed functions do this (use `plan`,
    /// `schedule run-now|pause|resume` and `status` there).
    ///
    /// Example: `pacer --db prod.db --config pacer.toml run --window 24h --until-idle`
    Run(RunArgs),
    /// Records: import, get, list.
    #[command(subcommand)]
    Records(RecordsCommand),
    /// A record's full story: state, every attempt (time, latency, status, class, fencing
    /// token, response excerpt), every state move, the stored result.
    ///
    /// Example: `pacer --db pacer.db trace rec-0001 --output json`
    Trace(TraceArgs),
    /// Counts by state × provider, queue depths, breakers, and the window's progress.
    ///
    /// Example: `pacer --db pacer.db status --output json`
    Status(StatusArgs),
    /// The forecast for the pending records: per provider, spacing, expected finish, and
    /// what does not fit the window and why. Without --dry-run it also schedules them.
    ///
    /// Example: `pacer --db pacer.db plan --window 24h --dry-run`
    Plan(PlanArgs),
    /// The dead-letter queue: list, show, replay, purge.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// The release schedule: status, pause, resume, run-now.
    ///
    /// Example: `pacer --db pacer.db schedule pause`
    Schedule(ScheduleArgs),
    /// Provider settings: list, show, set (takes effect at the next batch, no restart).
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Serve the HTTP API (records, feed, OpenAPI at /openapi.json) on the embedded
    /// backend, with the local runtime beside it: submitted records are called as soon as
    /// their provider's pacing allows, and webhooks are delivered, signed.
    ///
    /// Example: `PACER_WEBHOOK_SECRET=$(openssl rand -hex 32) pacer --db pacer.db --config pacer.toml serve --listen 127.0.0.1:8080`
    Serve(crate::commands::serve::ServeArgs),
    /// Consumer applications of the HTTP API: add (prints the token once), list, revoke.
    #[command(subcommand)]
    Clients(crate::commands::clients::ClientsCommand),
    /// Measure: `plan` (1 M records planned and released), `drain` (back-to-back calls
    /// against the mock API) or `aws-requests` (billable AWS requests per record on the
    /// moto emulator). Prints figures; build with `--release`.
    ///
    /// Example: `pacer bench --scenario drain --records 100000 --providers 100 --latency 20ms --output json`
    ///
    /// Example: `AWS_ENDPOINT_URL=$(scripts/moto.sh) pacer bench --scenario aws-requests --records 500 --output json`
    Bench(BenchArgs),
}

/// `pacer records …`.
#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Import records from JSON Lines or CSV. A JSONL line is
    /// `{"id": "...", "provider": "...", "request": {"method": "POST", "path": "/...", "query": {...}, "headers": {...}, "body": ...}}`;
    /// a CSV file has the header `id,provider,method,path,query,headers,body` (query, headers
    /// and body as JSON text; empty for none). Invalid lines are reported with their line
    /// number and reason; valid lines are imported in batches. Exit code 3 when any line
    /// was rejected.
    ///
    /// Example: `pacer --db pacer.db --config pacer.toml records import records.jsonl`
    Import(ImportArgs),
    /// One record.
    ///
    /// Example: `pacer --db pacer.db records get rec-0001 --output json`
    Get(GetArgs),
    /// Records, filtered, ordered by id.
    ///
    /// Example: `pacer --db pacer.db records list --provider acme --state failed --limit 20`
    List(ListArgs),
}

/// Import file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON Lines.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

/// `pacer records import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file (`-` for stdin).
    pub file: PathBuf,
    /// File format; by default from the extension (`.csv` is CSV, anything else JSONL).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `pacer records get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Record id.
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `pacer records list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this state (pending, scheduled, queued, in_flight, retry_wait, succeeded, failed, dead_lettered).
    #[arg(long, value_parser = parse_state)]
    pub state: Option<pacer_core::RecordState>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Start after this id (pagination).
    #[arg(long)]
    pub after: Option<String>,
    /// Output format.
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

/// `pacer plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Window length from now (default: the config's `[window] length`, else 24h).
    #[arg(long, value_parser = parse_duration)]
    pub window: Option<Duration>,
    /// Only show the forecast; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// Dead-letter filters shared by list, replay and purge.
#[derive(Debug, Args, Clone, Default)]
pub struct DlqFilter {
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this error class (timeout, connect, reset, transport, rate_limited,
    /// server_error, client_error, invalid_response, breaker_open, bad_message).
    #[arg(long, value_parser = parse_error_class)]
    pub error_class: Option<pacer_core::classify::ErrorClass>,
    /// Only dead-lettered since: an RFC 3339 time or a duration ago (`2h`).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<pacer_core::Timestamp>,
    /// At most this many (oldest first).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `pacer dlq …`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead letters, oldest first.
    ///
    /// Example: `pacer --db pacer.db dlq list --provider acme --error-class server_error --output json`
    List {
        /// Filters.
        #[command(flatten)]
        filter: DlqFilter,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// One dead letter in full, with its original message.
    ///
    /// Example: `pacer --db pacer.db dlq show 'rec-0001#8'`
    Show {
        /// Dead-letter id (`record#attempt` or `msg:<id>`), or a record id.
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Replay dead-lettered records: rescheduled at their provider's pace over --window
    /// (never as a burst), with a fresh call budget; earlier attempts stay in their
    /// history. Replaying again does nothing.
    ///
    /// Example: `pacer --db pacer.db dlq replay --provider acme --window 1h --dry-run`
    Replay {
        /// Filters.
        #[command(flatten)]
        filter: DlqFilter,
        /// Only these records (repeatable).
        #[arg(long = "record")]
        records: Vec<String>,
        /// Spread the replayed records over this long from now.
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        window: Duration,
        /// Show what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Remove dead letters for good (noted in each record's history). Needs --yes.
    ///
    /// Example: `pacer --db pacer.db dlq purge --error-class bad_message --yes`
    Purge {
        /// Filters.
        #[command(flatten)]
        filter: DlqFilter,
        /// Only these records (repeatable).
        #[arg(long = "record")]
        records: Vec<String>,
        /// Confirm the removal.
        #[arg(long)]
        yes: bool,
    },
}

/// Schedule actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleAction {
    /// Whether releases are paused.
    Status,
    /// Stop releasing due records (calls under way finish; nothing is lost).
    Pause,
    /// Release again.
    Resume,
    /// Release everything due now, once, even while paused.
    RunNow,
}

/// `pacer schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// What to do.
    #[arg(value_enum)]
    pub action: ScheduleAction,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `pacer providers …`.
#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Every provider's settings.
    ///
    /// Example: `pacer --db pacer.db providers list`
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// One provider's settings, lease and breaker.
    ///
    /// Example: `pacer --db pacer.db providers show acme --output json`
    Show {
        /// Provider id.
        provider: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Change a provider's settings (creating it needs --base-url).
    ///
    /// Example: `pacer --db pacer.db providers set acme --min-interval 500ms --max-attempts 5`
    Set(ProviderSetArgs),
}

/// `pacer providers set`.
#[derive(Debug, Args)]
pub struct ProviderSetArgs {
    /// Provider id.
    pub provider: String,
    /// Base URL (http:// or https://).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Least time between two call starts.
    #[arg(long, value_parser = parse_duration_or_zero)]
    pub min_interval: Option<Duration>,
    /// Per-call timeout.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// HTTP calls per record before dead-lettering.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: Option<u32>,
    /// Typical call duration, for forecasts.
    #[arg(long, value_parser = parse_duration)]
    pub expected_latency: Option<Duration>,
}

/// Benchmark scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Plan and release a window of records on the embedded backend.
    Plan,
    /// Drain records through the whole pipeline against the mock API.
    Drain,
    /// Count the billable AWS requests per record of the happy path on an emulator
    /// (moto), priced next to the naive design.
    AwsRequests,
}

/// `pacer bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which scenario.
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Records (plan: 1 000 000; drain: 100 000; aws-requests: 500).
    #[arg(long)]
    pub records: Option<u64>,
    /// Providers (plan: 1 000; drain: 100; aws-requests: 10).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub providers: Option<u32>,
    /// Fixed mock API latency per call (drain).
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    pub latency: Duration,
    /// Drain: the window the records are planned over. The default, 1 ms, makes every
    /// record due in the same millisecond; a longer one (still far too short for the
    /// load) spreads each provider's due times, so providers interleave in the queue.
    #[arg(long, default_value = "1ms", value_parser = parse_duration)]
    pub window: Duration,
    /// Messages of one provider per receive (drain; `pacer run` takes 25).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub group_batch: u16,
    /// Drain: keep every page the run writes for `scripts/wal-pages.py DIR`. Background
    /// checkpoints are off for the run (so it is slower, and its WAL grows to gigabytes
    /// at 100 000 records); the database, its WAL and `run.json` (the WAL's size when the
    /// drain started, and the calls made) are copied into DIR.
    #[arg(long, value_name = "DIR")]
    pub keep_wal: Option<std::path::PathBuf>,
    /// The AWS emulator to run aws-requests on (never real AWS), e.g. the URL
    /// `scripts/moto.sh` prints.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
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

/// Parses a duration that may be zero (`0s` for "no minimum interval").
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| {
        format!("{text:?} is not a duration ({e}); write it like 0s, 500ms, 60s, 5m or 24h")
    })
}

/// Parses a record state by its stored name.
pub fn parse_state(text: &str) -> Result<pacer_core::RecordState, String> {
    pacer_core::RecordState::parse(text).ok_or_else(|| {
        let names: Vec<_> = pacer_core::RecordState::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        format!("{text:?} is not a state; use one of {}", names.join(", "))
    })
}

/// Parses an error class by its stored name.
pub fn parse_error_class(text: &str) -> Result<pacer_core::classify::ErrorClass, String> {
    use pacer_core::classify::ErrorClass;
    ErrorClass::parse(text).ok_or_else(|| {
        let names: Vec<_> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        format!(
            "{text:?} is not an error class; use one of {}",
            names.join(", ")
        )
    })
}

/// Parses `--since`: an RFC 3339 time, or a duration meaning that long ago.
pub fn parse_since(text: &str) -> Result<pacer_core::Timestamp, String> {
    if let Ok(t) = pacer_core::Timestamp::parse_rfc3339(text) {
        return Ok(t);
    }
    let ago = humantime::parse_duration(text).map_err(|_| {
        format!(
            "{text:?} is neither an RFC 3339 time (2026-11-22T10:00:00Z) nor a duration ago (2h)"
        )
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(pacer_core::Timestamp::from_millis(
        now.saturating_sub(ago).as_millis() as i64,
    ))
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
