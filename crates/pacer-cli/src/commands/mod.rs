//! The operator commands. Each prints a readable table by default and JSON with
//! `--output json`; each returns an error that says what to do next.

pub mod clients;
pub mod dlq;
pub mod import;
pub mod plan;
pub mod providers;
pub mod records;
pub mod run;
pub mod schedule;
pub mod schedule_aws;
pub mod serve;
pub mod status;
pub mod trace;

use crate::args::Output;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

/// Control document key: whether releases are paused (read by the local runtime).
pub use pacer_local::SCHEDULE_KEY;
/// Control document key: the current window's plan.
pub const WINDOW_KEY: &str = "window";

/// Prints `doc` as JSON, or the table `render` builds from it.
pub fn emit(
    output: Output,
    doc: &serde_json::Value,
    render: impl FnOnce(&serde_json::Value) -> String,
) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(doc)?),
        Output::Table => println!("{}", render(doc)),
    }
    Ok(())
}

/// A table with pacer's look and the given header.
pub fn table<I: IntoIterator<Item = S>, S: Into<comfy_table::Cell>>(header: I) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    t
}

/// A JSON value as table text: strings bare, null as `-`.
pub fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses a record id given on the command line, naming it in the error.
pub fn record_id(text: &str) -> anyhow::Result<pacer_core::RecordId> {
    pacer_core::RecordId::new(text).map_err(|e| anyhow::anyhow!("record id {text:?} {e}"))
}
