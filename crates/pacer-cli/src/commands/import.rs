//! `pacer records import`: validate every line, import the valid ones in batches.

use crate::args::{ImportArgs, Output};
use pacer_core::ports::Ports;
use pacer_core::record::NewRecord;
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::BufRead;

/// Records written per transaction.
const BATCH: usize = 2000;

/// One rejected line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line number.
    pub line: usize,
    /// The field at fault.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportSummary {
    /// Non-empty lines read.
    pub lines: usize,
    /// New records stored.
    pub imported: u64,
    /// Ids already stored (left untouched).
    pub duplicates: u64,
    /// Invalid lines.
    pub rejected: Vec<Rejected>,
}

/// Imports from any reader. Unknown providers are rejected when `known` is given.
pub async fn import_from(
    ports: &Ports,
    reader: impl BufRead,
    known: &BTreeSet<String>,
) -> anyhow::Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    let mut batch = Vec::with_capacity(BATCH);
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        match NewRecord::parse_json_line(&line) {
            Ok(r) if !known.contains(r.provider.as_str()) => summary.rejected.push(Rejected {
                line: i + 1,
                field: "provider".into(),
                reason: format!(
                    "{:?} is not a configured provider (known: {}); add it to the config file",
                    r.provider.as_str(),
                    if known.is_empty() {
                        "none — pass --config".to_owned()
                    } else {
                        known.iter().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            }),
            Ok(r) => batch.push(r),
            Err(e) => summary.rejected.push(Rejected {
                line: i + 1,
                field: e.field,
                reason: e.problem,
            }),
        }
        if batch.len() >= BATCH {
            flush(ports, &mut batch, &mut summary).await?;
        }
    }
    flush(ports, &mut batch, &mut summary).await?;
    Ok(summary)
}

async fn flush(
    ports: &Ports,
    batch: &mut Vec<NewRecord>,
    summary: &mut ImportSummary,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let report = ports.records.insert(batch, ports.clock.now()).await?;
    summary.imported += report.inserted;
    summary.duplicates += report.duplicates;
    batch.clear();
    Ok(())
}

/// Runs the command; returns whether every line was valid.
pub async fn run(ports: &Ports, args: &ImportArgs) -> anyhow::Result<bool> {
    let known: BTreeSet<String> = ports
        .providers
        .list_providers()
        .await?
        .into_iter()
        .map(|p| p.id.to_string())
        .collect();
    let summary = if args.file.as_os_str() == "-" {
        import_from(ports, std::io::stdin().lock(), &known).await?
    } else {
        let file = std::fs::File::open(&args.file)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.file.display()))?;
        import_from(ports, std::io::BufReader::new(file), &known).await?
    };
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Output::Table => {
            for r in &summary.rejected {
                eprintln!("line {}: {}: {}", r.line, r.field, r.reason);
            }
            println!(
                "{} lines: {} imported, {} already present, {} rejected",
                summary.lines,
                summary.imported,
                summary.duplicates,
                summary.rejected.len()
            );
        }
    }
    Ok(summary.rejected.is_empty())
}
