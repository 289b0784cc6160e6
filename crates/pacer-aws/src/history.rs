//! Operator-side record writes: `replay` of dead-lettered records, and the `note` /
//! `history` log of what attempts do not tell.
//!
//! History entries live in the control table, one item each: pk `history#<record id>`,
//! sk `<at>#<sequence>`, so one record's entries come back oldest first from one query
//! and entries of the same instant keep the order they were written in.

use crate::backend::Aws;
use crate::dynamo::{bounded, cancellation_codes, condition_failed, transact};
use crate::error::{build, corrupt, sdk};
use crate::item::{n, names, req_n, req_s, s, values, Item};
use crate::record_item::{
    due_partition, shard, CALLS, DUE_AT, DUE_KEY, DUE_SHARD, ID, NOTE, REV, STATE, UPDATED_AT,
};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use pacer_core::lifecycle::{self, Event};
use pacer_core::ports::{HistoryEntry, Replay};
use pacer_core::{PortError, RecordId, RecordState, Timestamp};
use std::sync::atomic::{AtomicU64, Ordering};

/// Orders entries written at the same instant by one process.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn history_pk(id: &RecordId) -> String {
    format!("history#{id}")
}

/// A history entry's item: the sort key orders by time, then by when it was written.
fn entry_item(id: &RecordId, entry: &HistoryEntry) -> Item {
    let written = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) % 1_000_000;
    let sk = format!("{:015}#{written:017}{seq:06}", entry.at.as_millis().max(0));
    [
        ("pk", s(history_pk(id))),
        ("sk", s(sk)),
        ("record_id", s(id.as_str())),
        ("at", n(entry.at.as_millis())),
        ("kind", s(&entry.kind)),
        ("detail", s(&entry.detail)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub(crate) fn entry_put(
    aws: &Aws,
    id: &RecordId,
    entry: &HistoryEntry,
    op: &'static str,
) -> Result<TransactWriteItem, PortError> {
    let put = Put::builder()
        .table_name(&aws.inner.resources.control_table)
        .set_item(Some(entry_item(id, entry)))
        .build()
        .map_err(|e| build(op, e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Replays one record; `true` if it was dead-lettered and moved.
async fn replay_one(aws: &Aws, r: &Replay, now: Timestamp) -> Result<bool, PortError> {
    let op = "replay";
    let inner = &aws.inner;
    // dead_lettered → pending (replay) → scheduled (plan), in one conditional write.
    let to = lifecycle::transition(RecordState::DeadLettered, Event::Replay)
        .and_then(|st| lifecycle::transition(st, Event::Plan))
        .map_err(|e| corrupt(op, format!("lifecycle: {e}")))?;
    let due = r.due_at.as_millis();
    let shard = due_partition(shard(r.record_id.as_str(), inner.options.due_shards));
    let update = Update::builder()
        .table_name(&inner.resources.records_table)
        .key(ID, s(r.record_id.as_str()))
        .condition_expression("#state = :dead")
        .update_expression(
            "SET #state = :to, #due = :due, #calls = :zero, #note = :note, #updated = :now, \
             #shard = :shard, #key = :due, #rev = #rev + :one",
        )
        .set_expression_attribute_names(Some(names([
            ("#state", STATE),
            ("#due", DUE_AT),
            ("#shard", DUE_SHARD),
            ("#key", DUE_KEY),
            ("#rev", REV),
            ("#calls", CALLS),
            ("#note", NOTE),
            ("#updated", UPDATED_AT),
        ])))
        .set_expression_attribute_values(Some(values([
            (":dead", s(RecordState::DeadLettered.as_str())),
            (":to", s(to.as_str())),
            (":due", n(due)),
            (":zero", n(0)),
            (
                ":note",
                s(format!("replayed by an operator; due {}", r.due_at)),
            ),
            (":now", n(now.as_millis())),
            (":shard", s(shard)),
            (":one", n(1)),
        ])))
        .build()
        .map_err(|e| build(op, e))?;
    let entry = HistoryEntry {
        at: now,
        kind: "replayed".into(),
        detail: format!(
            "replayed from the dead-letter queue; due {} with a fresh call budget",
            r.due_at
        ),
    };
    let items = vec![
        TransactWriteItem::builder().update(update).build(),
        entry_put(aws, &r.record_id, &entry, op)?,
    ];
    match transact(&inner.dynamo, items).await {
        Ok(()) => Ok(true),
        Err(e) => {
            let codes = cancellation_codes(e, op)?;
            if condition_failed(&codes, 0) {
                return Ok(false);
            }
            Err(crate::error::AdapterError::Contention {
                item: format!("record {}", r.record_id),
                attempts: 1,
            }
            .into_port(op))
        }
    }
}

/// Brings dead-lettered records back; returns how many moved.
pub(crate) async fn replay(
    aws: &Aws,
    replays: &[Replay],
    now: Timestamp,
) -> Result<u64, PortError> {
    let moves = replays.iter().map(|r| replay_one(aws, r, now)).collect();
    let moved: Vec<bool> = bounded(moves, aws.inner.options.concurrency).await?;
    Ok(moved.into_iter().filter(|m| *m).count() as u64)
}

/// Appends a history entry.
pub(crate) async fn note(aws: &Aws, id: &RecordId, entry: &HistoryEntry) -> Result<(), PortError> {
    let inner = &aws.inner;
    inner
        .dynamo
        .put_item()
        .table_name(&inner.resources.control_table)
        .set_item(Some(entry_item(id, entry)))
        .send()
        .await
        .map_err(|e| sdk("note", e))?;
    Ok(())
}

/// A record's history, oldest first.
pub(crate) async fn history(aws: &Aws, id: &RecordId) -> Result<Vec<HistoryEntry>, PortError> {
    let op = "history";
    let inner = &aws.inner;
    let items: Vec<Item> = inner
        .dynamo
        .query()
        .table_name(&inner.resources.control_table)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", "pk")
        .expression_attribute_values(":pk", s(history_pk(id)))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk(op, e))?;
    items
        .iter()
        .map(|i| {
            Ok(HistoryEntry {
                at: Timestamp::from_millis(req_n(i, "at", op)?),
                kind: req_s(i, "kind", op)?.to_owned(),
                detail: req_s(i, "detail", op)?.to_owned(),
            })
        })
        .collect()
}
