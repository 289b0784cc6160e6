//! `pacer records get|list`.

use super::{cell, emit, record_id, table};
use crate::args::{GetArgs, ListArgs};
use anyhow::bail;
use pacer_core::ports::{Ports, RecordFilter};
use pacer_core::ProviderId;

/// `records get`.
pub async fn get(ports: &Ports, args: &GetArgs) -> anyhow::Result<()> {
    let id = record_id(&args.id)?;
    let Some(record) = ports.records.get(&id).await? else {
        bail!(
            "no record {:?} in this database (list some with `pacer records list`)",
            args.id
        )
    };
    let doc = serde_json::to_value(&record)?;
    emit(args.output, &doc, |d| {
        let mut t = table(["field", "value"]);
        for (k, v) in d.as_object().into_iter().flatten() {
            t.add_row([k.clone(), cell(v)]);
        }
        t.to_string()
    })
}

/// `records list`.
pub async fn list(ports: &Ports, args: &ListArgs) -> anyhow::Result<()> {
    let provider = args
        .provider
        .as_deref()
        .map(ProviderId::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--provider {e}"))?;
    let after = args.after.as_deref().map(record_id).transpose()?;
    let filter = RecordFilter {
        provider,
        state: args.state,
        after,
        limit: args.limit,
    };
    let records = ports.records.list(&filter).await?;
    let doc = serde_json::to_value(&records)?;
    emit(args.output, &doc, |d| {
        let mut t = table(["id", "provider", "state", "due_at", "calls", "note"]);
        for r in d.as_array().into_iter().flatten() {
            t.add_row(["id", "provider", "state", "due_at", "calls", "note"].map(|k| cell(&r[k])));
        }
        t.to_string()
    })
}
