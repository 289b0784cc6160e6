//! On-demand intake on DynamoDB: submitted records are stored `scheduled`, due now, each
//! with its `submitted` history entry, in transactions of up to [`CHUNK`] records.
//!
//! A transaction holds at most 100 items and each record takes two (the record and its
//! history entry), so a submission of more than [`CHUNK`] records is stored chunk by
//! chunk: all or nothing within a chunk, in order across chunks. If a later chunk fails
//! the earlier ones stay stored, and calling again reports them `duplicate` — the
//! port's "calling again is safe", though not its "all or none" beyond 50 records.

use crate::backend::Aws;
use crate::dynamo::{cancellation_codes, condition_failed, pause, transact};
use crate::error::{build, corrupt, AdapterError};
use crate::history::entry_put;
use crate::item::names;
use crate::record_item::{to_item, ID};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use pacer_core::lifecycle::{self, Event};
use pacer_core::ports::{Admission, HistoryEntry, RecordIntake};
use pacer_core::{NewRecord, PortError, Record, RecordState, Timestamp};
use std::collections::HashSet;

/// Records per transaction (two items each, of DynamoDB's 100).
const CHUNK: usize = 50;
/// Transactions tried per chunk when they conflict with other writers.
const MAX_ROUNDS: u32 = 8;
const OP: &str = "submit records";

/// The stored form of a submitted record: scheduled, due now.
fn scheduled(r: &NewRecord, state: RecordState, now: Timestamp) -> Record {
    Record {
        id: r.id.clone(),
        provider: r.provider.clone(),
        request: r.request.clone(),
        state,
        due_at: Some(now),
        attempt: 0,
        calls: 0,
        note: None,
        callback_url: r.callback_url.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// The two items of one record: its conditional put and its history entry.
fn items_of(
    aws: &Aws,
    record: &Record,
    origin: &str,
    now: Timestamp,
) -> Result<[TransactWriteItem; 2], PortError> {
    let put = Put::builder()
        .table_name(&aws.inner.resources.records_table)
        .set_item(Some(to_item(record, 0, aws.inner.options.due_shards)?))
        .condition_expression("attribute_not_exists(#id)")
        .set_expression_attribute_names(Some(names([("#id", ID)])))
        .build()
        .map_err(|e| build(OP, e))?;
    let entry = HistoryEntry {
        at: now,
        kind: "submitted".into(),
        detail: origin.to_owned(),
    };
    Ok([
        TransactWriteItem::builder().put(put).build(),
        entry_put(aws, &record.id, &entry, OP)?,
    ])
}

/// Stores one chunk; returns which of its records were new (in chunk order).
async fn store_chunk(
    aws: &Aws,
    chunk: &[Record],
    origin: &str,
    now: Timestamp,
) -> Result<Vec<bool>, PortError> {
    let mut new = vec![true; chunk.len()];
    for round in 0..MAX_ROUNDS {
        let live: Vec<usize> = (0..chunk.len()).filter(|&i| new[i]).collect();
        if live.is_empty() {
            return Ok(new);
        }
        let mut items = Vec::with_capacity(live.len() * 2);
        for &i in &live {
            items.extend(items_of(aws, &chunk[i], origin, now)?);
        }
        let codes = match transact(&aws.inner.dynamo, items).await {
            Ok(()) => return Ok(new),
            Err(e) => cancellation_codes(e, OP)?,
        };
        let mut any_duplicate = false;
        for (k, &i) in live.iter().enumerate() {
            if condition_failed(&codes, 2 * k) {
                new[i] = false;
                any_duplicate = true;
            }
        }
        // Duplicates are dropped and the rest tried again at once; a conflict with
        // another transaction waits a little first.
        if !any_duplicate {
            pause(round).await;
        }
    }
    Err(AdapterError::Contention {
        item: format!("{} submitted records", chunk.len()),
        attempts: MAX_ROUNDS,
    }
    .into_port(OP))
}

#[async_trait::async_trait]
impl RecordIntake for Aws {
    async fn submit(
        &self,
        records: &[NewRecord],
        origin: &str,
        now: Timestamp,
    ) -> Result<Vec<Admission>, PortError> {
        // pending → scheduled in one step: the record is planned for now.
        let state = lifecycle::transition(RecordState::Pending, Event::Plan)
            .map_err(|e| corrupt(OP, format!("lifecycle: {e}")))?;
        // One transaction cannot write an item twice: a repeated id is a duplicate of
        // its first occurrence.
        let mut seen = HashSet::new();
        let mut admissions = vec![Admission::Duplicate; records.len()];
        let fresh: Vec<(usize, Record)> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| seen.insert(r.id.clone()))
            .map(|(i, r)| (i, scheduled(r, state, now)))
            .collect();
        for chunk in fresh.chunks(CHUNK) {
            let stored: Vec<Record> = chunk.iter().map(|(_, r)| r.clone()).collect();
            let new = store_chunk(self, &stored, origin, now).await?;
            for ((i, _), is_new) in chunk.iter().zip(new) {
                if is_new {
                    admissions[*i] = Admission::Accepted;
                }
            }
        }
        Ok(admissions)
    }
}
