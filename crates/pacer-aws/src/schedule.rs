//! The dispatcher's side of the record store: scheduling pending records from a window
//! plan, finding due records in the sharded `due` index, and marking released ones
//! queued. Every write is one conditional `UpdateItem` on the record's state, so a
//! repeated tick or a concurrent worker can only make a write a no-op, never undo one.

use crate::backend::Aws;
use crate::dynamo::{bounded, conditional};
use crate::error::sdk;
use crate::item::{n, names, req_s, s, values, Item};
use crate::record_item::{
    due_partition, from_item, shard, stale_partition, DUE_AT, DUE_KEY, DUE_SHARD, ID, INDEX_DUE,
    INDEX_PENDING, NOTE, PENDING_KEY, PENDING_PROVIDER, REV, STATE, UPDATED_AT,
};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use pacer_core::planner::{ProviderPlan, WindowPlan};
use pacer_core::ports::ScheduleReport;
use pacer_core::{PortError, Record, RecordId, RecordState, Timestamp};

/// What one conditional update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moved {
    Scheduled,
    CarriedOver,
    /// The record was no longer pending (another tick or an operator got there first).
    Untouched,
}

/// An `UpdateItem` on one record with the attribute names every update here uses.
fn update(aws: &Aws, id: &str) -> UpdateItemFluentBuilder {
    let inner = &aws.inner;
    inner
        .dynamo
        .update_item()
        .table_name(&inner.resources.records_table)
        .key(ID, s(id))
        .set_expression_attribute_names(Some(names([
            ("#state", STATE),
            ("#rev", REV),
            ("#updated", UPDATED_AT),
        ])))
}

/// Gives one pending record its due time, or a carried-over note.
async fn schedule_one(
    aws: &Aws,
    id: String,
    due_at: Option<Timestamp>,
    note: &str,
    now: Timestamp,
) -> Result<Moved, PortError> {
    let base = update(aws, &id)
        .condition_expression("#state = :pending")
        .expression_attribute_values(":pending", s(RecordState::Pending.as_str()))
        .expression_attribute_values(":now", n(now.as_millis()))
        .expression_attribute_values(":one", n(1));
    let (builder, moved) = match due_at {
        Some(due) => {
            let shard = shard(&id, aws.inner.options.due_shards);
            let b = base
                .update_expression(
                    "SET #state = :scheduled, #due = :due, #updated = :now, #shard = :shard, #key = :due, #rev = #rev + :one \
                     REMOVE #note, #pp, #pk",
                )
                .expression_attribute_names("#due", DUE_AT)
                .expression_attribute_names("#shard", DUE_SHARD)
                .expression_attribute_names("#key", DUE_KEY)
                .expression_attribute_names("#note", NOTE)
                .expression_attribute_names("#pp", PENDING_PROVIDER)
                .expression_attribute_names("#pk", PENDING_KEY)
                .expression_attribute_values(":scheduled", s(RecordState::Scheduled.as_str()))
                .expression_attribute_values(":due", n(due.as_millis()))
                .expression_attribute_values(":shard", s(due_partition(shard)));
            (b, Moved::Scheduled)
        }
        None => {
            let b = base
                .update_expression("SET #note = :note, #updated = :now, #rev = #rev + :one")
                .expression_attribute_names("#note", NOTE)
                .expression_attribute_values(":note", s(note));
            (b, Moved::CarriedOver)
        }
    };
    match conditional(builder, "schedule").await? {
        None => Ok(moved),
        Some(_) => Ok(Moved::Untouched),
    }
}

/// The ids of one provider's pending records, oldest first, then by id.
async fn pending_ids(aws: &Aws, plan: &ProviderPlan) -> Result<Vec<String>, PortError> {
    let inner = &aws.inner;
    let op = "schedule";
    let items: Vec<Item> = inner
        .dynamo
        .query()
        .table_name(&inner.resources.records_table)
        .index_name(INDEX_PENDING)
        .key_condition_expression("#pp = :p")
        .expression_attribute_names("#pp", PENDING_PROVIDER)
        .expression_attribute_values(":p", s(plan.provider.as_str()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk(op, e))?;
    items
        .iter()
        .map(|i| req_s(i, ID, op).map(str::to_owned))
        .collect()
}

/// Applies a window plan to pending records (see the port contract).
pub(crate) async fn schedule(
    aws: &Aws,
    plan: &WindowPlan,
    now: Timestamp,
) -> Result<ScheduleReport, PortError> {
    let mut report = ScheduleReport::default();
    for p in &plan.providers {
        let note = format!(
            "carried over: the {} window holds {} of {} records (limited by {:?})",
            plan.start, p.fits, p.records, p.limited_by
        );
        let ids = pending_ids(aws, p).await?;
        let updates = ids
            .into_iter()
            .enumerate()
            .map(|(rank, id)| {
                let rank = rank as u64;
                let due = (rank < p.fits).then(|| p.due_at(plan.start, rank));
                schedule_one(aws, id, due, &note, now)
            })
            .collect();
        let moves: Vec<Moved> = bounded(updates, aws.inner.options.concurrency).await?;
        for m in moves {
            match m {
                Moved::Scheduled => report.scheduled += 1,
                Moved::CarriedOver => report.carried_over += 1,
                Moved::Untouched => {}
            }
        }
    }
    Ok(report)
}

/// Up to `limit` records of one `due` index partition with `due_key` up to `until`.
async fn due_partition_records(
    aws: &Aws,
    partition: String,
    until: i64,
    limit: usize,
) -> Result<Vec<Record>, PortError> {
    let inner = &aws.inner;
    let op = "due records";
    let mut pages = inner
        .dynamo
        .query()
        .table_name(&inner.resources.records_table)
        .index_name(INDEX_DUE)
        .key_condition_expression("#shard = :shard AND #key <= :until")
        .set_expression_attribute_names(Some(names([("#shard", DUE_SHARD), ("#key", DUE_KEY)])))
        .set_expression_attribute_values(Some(values([
            (":shard", s(partition)),
            (":until", n(until)),
        ])))
        .limit(limit.min(1000) as i32)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        for item in page.map_err(|e| sdk(op, e))?.items() {
            out.push(from_item(item)?.0);
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Due records: every shard of both halves of the `due` index, merged by due time.
pub(crate) async fn due(
    aws: &Aws,
    now: Timestamp,
    stale_before: Timestamp,
    limit: usize,
) -> Result<Vec<Record>, PortError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let shards = aws.inner.options.due_shards.max(1);
    // `due_key <= until`: due at or before now; updated strictly before stale_before.
    let queries = (0..shards).flat_map(|shard| {
        [
            (due_partition(shard), now.as_millis()),
            (stale_partition(shard), stale_before.as_millis() - 1),
        ]
    });
    let reads = queries
        .map(|(partition, until)| due_partition_records(aws, partition, until, limit))
        .collect();
    let found: Vec<Vec<Record>> = bounded(reads, aws.inner.options.concurrency).await?;
    // The index is eventually consistent: keep only what is schedulable as read.
    let mut records: Vec<Record> = found
        .into_iter()
        .flatten()
        .filter(|r| match r.state {
            RecordState::Scheduled | RecordState::RetryWait => r.due_at.is_none_or(|d| d <= now),
            RecordState::Queued | RecordState::InFlight => r.updated_at < stale_before,
            _ => false,
        })
        .collect();
    records.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
    records.truncate(limit);
    Ok(records)
}

/// Marks one released record queued (refreshing an in-flight one's staleness clock).
async fn mark_one(aws: &Aws, id: &RecordId, now: Timestamp) -> Result<(), PortError> {
    let op = "mark queued";
    let shard = stale_partition(shard(id.as_str(), aws.inner.options.due_shards));
    let touch = |condition: &str, expression: &str| {
        update(aws, id.as_str())
            .condition_expression(condition)
            .update_expression(expression)
            .expression_attribute_names("#shard", DUE_SHARD)
            .expression_attribute_names("#key", DUE_KEY)
            .expression_attribute_values(":now", n(now.as_millis()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":shard", s(shard.clone()))
    };
    let to_queued = touch(
        "#state IN (:scheduled, :retry_wait, :queued)",
        "SET #state = :queued, #updated = :now, #shard = :shard, #key = :now, #rev = #rev + :one",
    )
    .expression_attribute_values(":scheduled", s(RecordState::Scheduled.as_str()))
    .expression_attribute_values(":retry_wait", s(RecordState::RetryWait.as_str()))
    .expression_attribute_values(":queued", s(RecordState::Queued.as_str()));
    let Some(current) = conditional(to_queued, op).await? else {
        return Ok(());
    };
    let in_flight = current
        .as_ref()
        .and_then(|i| i.get(STATE))
        .and_then(|v| v.as_s().ok())
        .is_some_and(|st| st == RecordState::InFlight.as_str());
    if in_flight {
        // A worker already has it: keep it in flight, only restart its staleness clock.
        let refresh = touch(
            "#state = :in_flight",
            "SET #updated = :now, #shard = :shard, #key = :now, #rev = #rev + :one",
        )
        .expression_attribute_values(":in_flight", s(RecordState::InFlight.as_str()));
        conditional(refresh, op).await?;
    }
    Ok(())
}

/// Marks released records queued (see the port contract); unknown and final records
/// are left alone.
pub(crate) async fn mark_queued(
    aws: &Aws,
    ids: &[RecordId],
    now: Timestamp,
) -> Result<(), PortError> {
    let marks = ids.iter().map(|id| mark_one(aws, id, now)).collect();
    bounded(marks, aws.inner.options.concurrency).await?;
    Ok(())
}
