//! `pacer records import`: validate every line, import the valid ones in batches.

use crate::args::{Format, ImportArgs, Output};
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

/// Imports JSON Lines from any reader. Unknown providers are rejected.
pub async fn import_from(
    ports: &Ports,
    reader: impl BufRead,
    known: &BTreeSet<String>,
) -> anyhow::Result<ImportSummary> {
    let mut lines = Vec::new();
    // Bytes, not `lines()`: one line that is not UTF-8 is rejected with its number
    // instead of failing the whole file.
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        let parsed = match std::str::from_utf8(&line) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => NewRecord::parse_json_line(text.trim_end_matches('\r')),
            Err(e) => Err(pacer_core::record::InvalidRecord {
                field: "(line)".into(),
                problem: format!("not valid UTF-8 (at byte {})", e.valid_up_to() + 1),
            }),
        };
        lines.push((i + 1, parsed));
    }
    import_parsed(ports, lines, known).await
}

/// Imports CSV with the header `id,provider,method,path,query,headers,body` (query,
/// headers and body as JSON text, empty for none). Line numbers count the header.
pub async fn import_csv(
    ports: &Ports,
    reader: impl std::io::Read,
    known: &BTreeSet<String>,
) -> anyhow::Result<ImportSummary> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    let header: Vec<String> = csv.headers()?.iter().map(str::to_owned).collect();
    for required in ["id", "provider", "path"] {
        if !header.iter().any(|h| h == required) {
            anyhow::bail!("the CSV header has no {required:?} column; expected id,provider,method,path,query,headers,body");
        }
    }
    let mut lines = Vec::new();
    for (i, row) in csv.records().enumerate() {
        let line = i + 2;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                lines.push((line, Err(invalid("(line)", format!("not valid CSV: {e}")))));
                continue;
            }
        };
        lines.push((line, csv_row(&header, &row)));
    }
    import_parsed(ports, lines, known).await
}

fn invalid(field: &str, problem: String) -> pacer_core::record::InvalidRecord {
    pacer_core::record::InvalidRecord {
        field: field.to_owned(),
        problem,
    }
}

fn csv_row(
    header: &[String],
    row: &csv::StringRecord,
) -> Result<NewRecord, pacer_core::record::InvalidRecord> {
    let mut request = serde_json::Map::new();
    let mut top = serde_json::Map::new();
    for (name, value) in header.iter().zip(row.iter()) {
        match name.as_str() {
            "id" | "provider" => {
                top.insert(name.clone(), value.into());
            }
            "method" | "path" if !value.is_empty() => {
                request.insert(name.clone(), value.into());
            }
            "query" | "headers" | "body" if !value.trim().is_empty() => {
                let parsed: serde_json::Value = serde_json::from_str(value).map_err(|e| {
                    invalid(&format!("request.{name}"), format!("not valid JSON: {e}"))
                })?;
                request.insert(name.clone(), parsed);
            }
            "method" | "path" | "query" | "headers" | "body" => {}
            other => {
                return Err(invalid(
                    other,
                    "unknown column; expected id,provider,method,path,query,headers,body".into(),
                ))
            }
        }
    }
    top.insert("request".into(), request.into());
    NewRecord::from_value(top.into())
}

/// Stores the valid records in batches and collects the rejections.
async fn import_parsed(
    ports: &Ports,
    lines: Vec<(usize, Result<NewRecord, pacer_core::record::InvalidRecord>)>,
    known: &BTreeSet<String>,
) -> anyhow::Result<ImportSummary> {
    let bar = indicatif::ProgressBar::new(lines.len() as u64);
    if lines.len() < 10_000 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    // A provider the list does not name may still be served (a stack's ApiBaseUrl
    // answers every provider without settings of its own): ask for each one once.
    let mut known = known.clone();
    let unlisted: BTreeSet<&str> = lines
        .iter()
        .filter_map(|(_, parsed)| parsed.as_ref().ok())
        .map(|r| r.provider.as_str())
        .filter(|p| !known.contains(*p))
        .collect();
    for provider in unlisted {
        let id = pacer_core::ProviderId::new(provider)?;
        if ports.providers.get_provider(&id).await?.is_some() {
            known.insert(provider.to_owned());
        }
    }
    let mut summary = ImportSummary::default();
    let mut batch = Vec::with_capacity(BATCH);
    for (line, parsed) in lines {
        summary.lines += 1;
        bar.inc(1);
        match parsed {
            Ok(r) if !known.contains(r.provider.as_str()) => summary.rejected.push(Rejected {
                line,
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
                line,
                field: e.field,
                reason: e.problem,
            }),
        }
        if batch.len() >= BATCH {
            flush(ports, &mut batch, &mut summary).await?;
        }
    }
    flush(ports, &mut batch, &mut summary).await?;
    bar.finish_and_clear();
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
    let csv = match args.format {
        Some(f) => f == Format::Csv,
        None => args
            .file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
    };
    let summary = if args.file.as_os_str() == "-" {
        if csv {
            import_csv(ports, std::io::stdin().lock(), &known).await?
        } else {
            import_from(ports, std::io::stdin().lock(), &known).await?
        }
    } else {
        let file = std::fs::File::open(&args.file)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.file.display()))?;
        if csv {
            import_csv(ports, file, &known).await?
        } else {
            import_from(ports, std::io::BufReader::new(file), &known).await?
        }
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
