//! Applying outcome events: the attempt, the record's move and the result of one event.
//!
//! The record is read first (consistently) and the lifecycle decides its next state.
//! Unless the move is into a final state in a deployment serving the HTTP API, nothing
//! else has to commit with the move, so the three items are
//! plain conditional writes in a crash-safe order ([`apply_plain`]): the attempt
//! (`attribute_not_exists`: the first copy wins), the result of a success, then the
//! record, only if its revision is still the one read.
//!
//! A final move in a deployment serving the HTTP API commits the record and its feed
//! entry in one DynamoDB transaction, with the attempt and the result in it too when the
//! record owes a webhook.
//! A cancelled transaction says which condition failed: the attempt's means a duplicate
//! event (nothing changed), the record's means a concurrent write (read again and retry).
//!
//! When the deployment serves the HTTP API, a move into a final state also appends the
//! feed entry in the same transaction ([`crate::feed`]), and for a record with a
//! callback URL the attempt item keeps the webhook to publish (`callback`) until it has
//! been published to the outcomes topic: a crash after the commit and before the
//! publish is repaired when the event is applied again (SQS redelivers it), because a
//! duplicate event still publishes a webhook its attempt item holds.

use crate::backend::Aws;
use crate::dynamo::{
    bounded, cancellation_codes, condition_failed, condition_held, pause, transact,
};
use crate::error::{build, corrupt, sdk, AdapterError};
use crate::feed::FeedAppend;
use crate::item::{cut, n, names, opt_n, req_n, req_s, s, values, Item};
use crate::record_item::{from_item, to_item, ID, REV};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use pacer_core::lifecycle::{self, Event};
use pacer_core::ports::{ApplyReport, FinalOutcome, StoredResult};
use pacer_core::schema::{NextState, OutcomeEvent, MAX_RESPONSE_EXCERPT};
use pacer_core::{PortError, Record, RecordId, RecordState, Timestamp};
use std::collections::BTreeMap;

/// Optimistic rounds before an event is given up as contended. Final moves of a
/// deployment serving the API all raise the feed counter, so they may lose a few rounds
/// to each other under load.
const MAX_ROUNDS: u32 = 32;
/// Largest event JSON stored in one attempt item; DynamoDB items stop at 400 KB.
pub(crate) const MAX_EVENT_BYTES: usize = 200 * 1024;

const RECORD_ID: &str = "record_id";
const ATTEMPT: &str = "attempt";
/// The attempt item's webhook still to publish.
const CALLBACK: &str = "callback";

mod ending;

use ending::{final_move, publish_callback, republish_pending, with_callback};

/// The event cut to fit one item (and one SNS message): the response excerpt is already
/// bounded by the core, but a detail or summary is not. Cut fields end with the marker.
pub(crate) fn fit(event: &OutcomeEvent) -> OutcomeEvent {
    if event.encode().len() <= MAX_EVENT_BYTES {
        return event.clone();
    }
    let mut fitted = event.clone();
    fitted.response = fitted.response.map(|r| cut(&r, MAX_RESPONSE_EXCERPT));
    fitted.detail = fitted.detail.map(|d| cut(&d, 4 * 1024));
    fitted.request_summary = cut(&fitted.request_summary, 2 * 1024);
    fitted.invocation_id = cut(&fitted.invocation_id, 512);
    fitted
}

/// Maps an outcome's next state to the lifecycle event it asks for.
fn event_for(next: NextState) -> Option<Event> {
    match next {
        NextState::Continue => None,
        NextState::Succeeded => Some(Event::Succeed),
        NextState::Failed => Some(Event::Fail),
        NextState::RetryWait { .. } => Some(Event::RetryLater),
        NextState::DeadLettered => Some(Event::DeadLetter),
    }
}

/// The record after `ev`, and whether the event's move was refused as stale.
fn next_record(mut r: Record, ev: &OutcomeEvent, now: Timestamp) -> (Record, bool) {
    let before = r.attempt;
    r.calls += u32::from(ev.called);
    r.attempt = r.attempt.max(ev.attempt);
    r.updated_at = now;
    let Some(event) = event_for(ev.next) else {
        return (r, false);
    };
    match lifecycle::transition(r.state, event) {
        Ok(to) if ev.attempt >= before => {
            r.state = to;
            r.due_at = match ev.next {
                NextState::RetryWait { due_at } => Some(due_at),
                _ => None,
            };
            r.note = ev
                .detail
                .as_ref()
                .map(|d| format!("attempt {}: {d}", ev.attempt));
            (r, false)
        }
        _ => (r, true),
    }
}

/// A transactional put of an item whose key attribute `key` must not exist yet.
fn put_new(
    table: &str,
    key: &str,
    item: Item,
    op: &'static str,
) -> Result<TransactWriteItem, PortError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#k)")
        .set_expression_attribute_names(Some(names([("#k", key)])))
        .build()
        .map_err(|e| build(op, e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn attempt_item(ev: &OutcomeEvent) -> Item {
    let mut item: Item = [
        (RECORD_ID, s(ev.record_id.as_str())),
        (ATTEMPT, n(ev.attempt)),
        ("provider", s(ev.provider.as_str())),
        ("started_at", n(ev.started_at.as_millis())),
        ("finished_at", n(ev.finished_at.as_millis())),
        ("latency_ms", n(ev.latency_ms)),
        ("fencing_token", n(ev.fencing_token)),
        ("invocation_id", s(&ev.invocation_id)),
        (
            "called",
            aws_sdk_dynamodb::types::AttributeValue::Bool(ev.called),
        ),
        ("event", s(ev.encode())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(code) = ev.status_code {
        item.insert("status_code".into(), n(code));
    }
    if let Some(class) = ev.error_class {
        item.insert("error_class".into(), s(class.as_str()));
    }
    item
}

fn result_item(ev: &OutcomeEvent, now: Timestamp) -> Item {
    [
        (RECORD_ID, s(ev.record_id.as_str())),
        (ATTEMPT, n(ev.attempt)),
        ("status_code", n(ev.status_code.unwrap_or(0))),
        (
            "body",
            s(cut(
                ev.response.as_deref().unwrap_or_default(),
                MAX_EVENT_BYTES,
            )),
        ),
        ("stored_at", n(now.as_millis())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Reads a record with its revision, consistently.
pub(crate) async fn read_record(
    aws: &Aws,
    id: &str,
    op: &'static str,
) -> Result<Option<(Record, u64)>, PortError> {
    let inner = &aws.inner;
    let answer = inner
        .dynamo
        .get_item()
        .table_name(&inner.resources.records_table)
        .key(ID, s(id))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk(op, e))?;
    answer.item.map(|i| from_item(&i)).transpose()
}

/// The record's conditional put: only if its revision is still `rev`.
pub(crate) fn record_put(
    aws: &Aws,
    record: &Record,
    rev: u64,
    op: &'static str,
) -> Result<TransactWriteItem, PortError> {
    let inner = &aws.inner;
    let put = Put::builder()
        .table_name(&inner.resources.records_table)
        .set_item(Some(to_item(record, rev + 1, inner.options.due_shards)?))
        .condition_expression("#rev = :rev")
        .set_expression_attribute_names(Some(names([("#rev", REV)])))
        .set_expression_attribute_values(Some(values([(":rev", n(rev))])))
        .build()
        .map_err(|e| build(op, e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A put of an item that must not exist yet: `true` when stored, `false` when an item
/// with its key was already there (the first copy wins).
async fn put_absent(
    aws: &Aws,
    table: &str,
    item: Item,
    op: &'static str,
) -> Result<bool, PortError> {
    let sent = aws
        .inner
        .dynamo
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#k)")
        .expression_attribute_names("#k", RECORD_ID)
        .send()
        .await;
    condition_held(sent, op)
}

/// The record's put, only if its revision is still `rev`; `false` when it changed.
async fn put_record(
    aws: &Aws,
    record: &Record,
    rev: u64,
    op: &'static str,
) -> Result<bool, PortError> {
    let inner = &aws.inner;
    let sent = inner
        .dynamo
        .put_item()
        .table_name(&inner.resources.records_table)
        .set_item(Some(to_item(record, rev + 1, inner.options.due_shards)?))
        .condition_expression("#rev = :rev")
        .expression_attribute_names("#rev", REV)
        .expression_attribute_values(":rev", n(rev))
        .send()
        .await;
    condition_held(sent, op)
}

/// Whether `record` already shows `ev`'s move: anything but "still in flight at this
/// attempt or an earlier one". An event without a move (a short retry inside the
/// worker) leaves no mark on the record, so a copy of it counts as applied.
fn shows_move(record: &Record, ev: &OutcomeEvent) -> bool {
    ev.next == NextState::Continue
        || !(record.state == RecordState::InFlight && record.attempt <= ev.attempt)
}

/// Applies one event whose attempt need not commit with the move (no webhook is owed):
/// the attempt item first (the first copy wins, so the trace is complete before anything
/// moves), then the result of a success (the first copy wins), then the commit: the
/// record, conditional on the revision read — in one transaction with the feed entry when
/// the move is final and the deployment serves the API. Three write units for a move
/// that appends nothing (a transaction of the three would bill six), eight for a final
/// move with its feed entry (against ten).
///
/// A crash between the attempt and the record leaves the attempt stored and the record
/// in flight; the redelivered event finds its attempt there, sees the record has not
/// moved ([`shows_move`]) and makes the move then. Returns (newly stored, stale move).
async fn apply_plain(
    aws: &Aws,
    ev: &OutcomeEvent,
    now: Timestamp,
    first_read: Option<Option<(Record, u64)>>,
) -> Result<(bool, bool), PortError> {
    let op = "apply outcomes";
    let inner = &aws.inner;
    let fresh = put_absent(aws, &inner.resources.attempts_table, attempt_item(ev), op).await?;
    settle(aws, ev, now, fresh, first_read, false).await
}

/// [`apply_plain`] after the attempt's write (`fresh`: it was new): the result and the
/// record's commit, read again and retried while the record changes under it.
async fn settle(
    aws: &Aws,
    ev: &OutcomeEvent,
    now: Timestamp,
    fresh: bool,
    mut first_read: Option<Option<(Record, u64)>>,
    mut result_stored: bool,
) -> Result<(bool, bool), PortError> {
    let op = "apply outcomes";
    let inner = &aws.inner;
    for round in 0..MAX_ROUNDS {
        let read = match first_read.take() {
            Some(read) => read,
            None => read_record(aws, ev.record_id.as_str(), op).await?,
        };
        let Some((record, rev)) = read else {
            tracing::warn!(record_id = %ev.record_id, "outcome for an unknown record; attempt kept");
            return Ok((fresh, true));
        };
        // A copy of an event whose attempt was already stored: nothing to do if the
        // record shows the move. The copy that stored the attempt (`fresh`) always
        // finishes its own application, re-reading after a conflict: it alone counts
        // the call, so a record changed under it (a claim, another outcome) must not
        // make it give up. (A copy delivered while the first is between its attempt and
        // its record write may apply the move too; the record's call count can then be
        // one too high. SQS rarely delivers a message twice at once.)
        if !fresh && shows_move(&record, ev) {
            return Ok((fresh, false));
        }
        let (next, stale) = next_record(record, ev, now);
        if !stale && ev.next == NextState::Succeeded && !result_stored {
            put_absent(
                aws,
                &inner.resources.results_table,
                result_item(ev, now),
                op,
            )
            .await?;
            result_stored = true;
        }
        // The commit: the record alone, or with the feed entry its final move appends.
        let committed = match final_move(aws, &next, stale, ev, op).await? {
            None => put_record(aws, &next, rev, op).await?,
            Some(end) => {
                let mut items = vec![record_put(aws, &next, rev, op)?];
                items.extend(end.feed.items(&end.outcome, op)?);
                match transact(&inner.dynamo, items).await {
                    Ok(()) => true,
                    // The record changed, or another final move took the feed number.
                    Err(e) => cancellation_codes(e, op).map(|_| false)?,
                }
            }
        };
        if committed {
            return Ok((fresh, stale));
        }
        pause(round).await;
    }
    Err(AdapterError::Contention {
        item: format!("record {}", ev.record_id),
        attempts: MAX_ROUNDS,
    }
    .into_port(op))
}

/// Whether `ev` asks for a move into a final state: only those append to the feed (and
/// may owe a webhook).
fn ends(ev: &OutcomeEvent) -> bool {
    matches!(
        ev.next,
        NextState::Succeeded | NextState::Failed | NextState::DeadLettered
    )
}

/// Applies one event. Returns (newly stored, stale move).
async fn apply_one(
    aws: &Aws,
    ev: &OutcomeEvent,
    now: Timestamp,
) -> Result<(bool, bool), PortError> {
    let op = "apply outcomes";
    let inner = &aws.inner;
    let ev = fit(ev);
    if inner.resources.api.is_none() || !ends(&ev) {
        return apply_plain(aws, &ev, now, None).await;
    }
    // A final move appends to the feed; only one that owes a webhook needs the attempt in
    // its transaction (the attempt item carries the webhook until it is published).
    let read = read_record(aws, ev.record_id.as_str(), op).await?;
    if read.as_ref().is_none_or(|(r, _)| r.callback_url.is_none()) {
        return apply_plain(aws, &ev, now, Some(read)).await;
    }
    let mut with_result = true;
    for round in 0..MAX_ROUNDS {
        let attempt = put_new(
            &inner.resources.attempts_table,
            RECORD_ID,
            attempt_item(&ev),
            op,
        )?;
        let Some((record, rev)) = read_record(aws, ev.record_id.as_str(), op).await? else {
            tracing::warn!(record_id = %ev.record_id, "outcome for an unknown record; attempt kept");
            let stored = transact(&inner.dynamo, vec![attempt]).await;
            return match stored {
                Ok(()) => Ok((true, true)),
                Err(e) => Ok((!condition_failed(&cancellation_codes(e, op)?, 0), true)),
            };
        };
        let (next, stale) = next_record(record, &ev, now);
        let succeeded = !stale && ev.next == NextState::Succeeded;
        let ending = final_move(aws, &next, stale, &ev, op).await?;
        let attempt = match &ending {
            Some(end) => with_callback(attempt, end, op)?,
            None => attempt,
        };
        let mut items = vec![attempt, record_put(aws, &next, rev, op)?];
        let result_at = (succeeded && with_result).then_some(items.len());
        if result_at.is_some() {
            items.push(put_new(
                &inner.resources.results_table,
                RECORD_ID,
                result_item(&ev, now),
                op,
            )?);
        }
        if let Some(end) = &ending {
            items.extend(end.feed.items(&end.outcome, op)?);
        }
        let codes = match transact(&inner.dynamo, items).await {
            Ok(()) => {
                if let Some(message) = ending.and_then(|e| e.callback) {
                    publish_callback(aws, &ev, &message).await?;
                }
                return Ok((true, stale));
            }
            Err(e) => cancellation_codes(e, op)?,
        };
        if condition_failed(&codes, 0) {
            if aws.inner.resources.api.is_some() {
                republish_pending(aws, &ev).await?;
            }
            return Ok((false, false));
        }
        // A result already stored keeps its first copy (the port's INSERT OR IGNORE).
        if result_at.is_some_and(|i| condition_failed(&codes, i)) {
            with_result = false;
        }
        // The record changed, or another final move took the feed number: read again.
        pause(round).await;
    }
    Err(AdapterError::Contention {
        item: format!("record {}", ev.record_id),
        attempts: MAX_ROUNDS,
    }
    .into_port(op))
}

/// A final move made ready for a shared commit: its attempt (and the result of a
/// success) stored, the record's next state computed from the revision read.
struct ReadyEnd {
    ev: OutcomeEvent,
    fresh: bool,
    next: Record,
    rev: u64,
}

/// Where preparing a final move got to.
enum Prepared {
    /// Applied on its own (an unknown record, a webhook owed, a copy, a stale move).
    Applied((bool, bool)),
    /// Waiting for the shared commit.
    Ready(Box<ReadyEnd>),
}

/// One record's events of a batch: those applied, and its final move if it waits for
/// the shared commit.
struct PreparedRecord {
    applied: Vec<(bool, bool)>,
    ready: Option<Box<ReadyEnd>>,
}

/// Final moves committed with their feed entries in one transaction, at most.
const ENDS_PER_COMMIT: usize = 24;
/// Rough bytes of the items of one commit, kept well under a transaction's 4 MB.
const COMMIT_BYTES: usize = 2 * 1024 * 1024;

/// Stores a final move's attempt and result and computes its record, for
/// [`commit_ends`]; moves it alone where it cannot share a commit.
async fn prepare_end(aws: &Aws, ev: OutcomeEvent, now: Timestamp) -> Result<Prepared, PortError> {
    let op = "apply outcomes";
    let inner = &aws.inner;
    let read = read_record(aws, ev.record_id.as_str(), op).await?;
    if read.as_ref().is_some_and(|(r, _)| r.callback_url.is_some()) {
        return Ok(Prepared::Applied(apply_one(aws, &ev, now).await?));
    }
    let fresh = put_absent(aws, &inner.resources.attempts_table, attempt_item(&ev), op).await?;
    let Some((record, rev)) = read else {
        tracing::warn!(record_id = %ev.record_id, "outcome for an unknown record; attempt kept");
        return Ok(Prepared::Applied((fresh, true)));
    };
    if !fresh && shows_move(&record, &ev) {
        return Ok(Prepared::Applied((false, false)));
    }
    let (next, stale) = next_record(record, &ev, now);
    if stale {
        return Ok(Prepared::Applied(
            settle(aws, &ev, now, fresh, None, false).await?,
        ));
    }
    if ev.next == NextState::Succeeded {
        put_absent(
            aws,
            &inner.resources.results_table,
            result_item(&ev, now),
            op,
        )
        .await?;
    }
    Ok(Prepared::Ready(Box::new(ReadyEnd {
        ev,
        fresh,
        next,
        rev,
    })))
}

/// Commits final moves together with their feed entries: one read and one conditional
/// raise of the feed counter for the lot, instead of one of each per move. A move whose
/// record changed meanwhile drops out and is settled on its own; the others are tried
/// again.
async fn commit_ends(
    aws: &Aws,
    mut batch: Vec<ReadyEnd>,
    now: Timestamp,
) -> Result<Vec<(bool, bool)>, PortError> {
    let op = "apply outcomes";
    let mut out = Vec::with_capacity(batch.len());
    for round in 0..MAX_ROUNDS {
        if batch.is_empty() {
            return Ok(out);
        }
        let feed = FeedAppend::read(aws, op).await?;
        let outcomes: Vec<FinalOutcome> = batch
            .iter()
            .enumerate()
            .map(|(i, r)| FinalOutcome::from_event(feed.seq_at(i), &r.ev, r.next.state))
            .collect();
        let mut items = feed.appends(&outcomes, op)?;
        for r in &batch {
            items.push(record_put(aws, &r.next, r.rev, op)?);
        }
        let codes = match transact(&aws.inner.dynamo, items).await {
            Ok(()) => {
                out.extend(batch.iter().map(|r| (r.fresh, false)));
                return Ok(out);
            }
            Err(e) => cancellation_codes(e, op)?,
        };
        // Items: the counter, one entry per move, then one record per move.
        let first_record = 1 + batch.len();
        let mut kept = Vec::with_capacity(batch.len());
        for (i, r) in batch.into_iter().enumerate() {
            if condition_failed(&codes, first_record + i) {
                out.push(settle(aws, &r.ev, now, r.fresh, None, true).await?);
            } else {
                kept.push(r);
            }
        }
        batch = kept;
        // Otherwise another final move took the feed number first: read it again.
        pause(round).await;
    }
    Err(AdapterError::Contention {
        item: "the feed counter".to_owned(),
        attempts: MAX_ROUNDS,
    }
    .into_port(op))
}

/// Applies the events of records that end in a deployment serving the API: each
/// record's earlier events in order, its final move prepared (concurrently across
/// records), then the final moves committed a few at a time with their feed entries.
async fn apply_ends(
    aws: &Aws,
    per_record: Vec<Vec<&OutcomeEvent>>,
    now: Timestamp,
) -> Result<Vec<(bool, bool)>, PortError> {
    let runs = per_record
        .into_iter()
        .map(|evs| async move {
            let mut applied = Vec::with_capacity(evs.len());
            let Some((last, before)) = evs.split_last() else {
                return Ok(PreparedRecord {
                    applied,
                    ready: None,
                });
            };
            for ev in before {
                applied.push(apply_one(aws, ev, now).await?);
            }
            if !ends(last) {
                applied.push(apply_one(aws, last, now).await?);
                return Ok(PreparedRecord {
                    applied,
                    ready: None,
                });
            }
            match prepare_end(aws, fit(last), now).await? {
                Prepared::Applied(done) => {
                    applied.push(done);
                    Ok(PreparedRecord {
                        applied,
                        ready: None,
                    })
                }
                Prepared::Ready(ready) => Ok(PreparedRecord {
                    applied,
                    ready: Some(ready),
                }),
            }
        })
        .collect();
    let prepared: Vec<PreparedRecord> = bounded(runs, aws.inner.options.concurrency).await?;
    let mut out = Vec::new();
    let mut commit: Vec<ReadyEnd> = Vec::new();
    let mut bytes = 0;
    for PreparedRecord { applied, ready } in prepared {
        out.extend(applied);
        let Some(ready) = ready else { continue };
        let request = serde_json::to_string(&ready.next.request).map_or(0, |r| r.len());
        let size = 2 * ready.ev.encode().len() + request + 1024;
        if commit.len() == ENDS_PER_COMMIT || (bytes + size > COMMIT_BYTES && !commit.is_empty()) {
            out.extend(commit_ends(aws, std::mem::take(&mut commit), now).await?);
            bytes = 0;
        }
        bytes += size;
        commit.push(*ready);
    }
    out.extend(commit_ends(aws, commit, now).await?);
    Ok(out)
}

/// Applies one record's events, in order.
async fn apply_in_order(
    aws: &Aws,
    events: Vec<&OutcomeEvent>,
    now: Timestamp,
) -> Result<Vec<(bool, bool)>, PortError> {
    let mut out = Vec::with_capacity(events.len());
    for ev in events {
        out.push(apply_one(aws, ev, now).await?);
    }
    Ok(out)
}

/// Applies events: one record's events in order, different records concurrently.
pub(crate) async fn apply_outcomes(
    aws: &Aws,
    events: &[OutcomeEvent],
    now: Timestamp,
) -> Result<ApplyReport, PortError> {
    let mut per_record: BTreeMap<&RecordId, Vec<&OutcomeEvent>> = BTreeMap::new();
    for ev in events {
        per_record.entry(&ev.record_id).or_default().push(ev);
    }
    // Final moves of a deployment serving the API all raise the one feed counter, so
    // concurrent ones would cancel each other's transactions (each cancelled one billed
    // in full): they are committed together, a few per transaction, after the rest.
    let (ending, plain): (Vec<_>, Vec<_>) = per_record
        .into_values()
        .partition(|evs| aws.inner.resources.api.is_some() && evs.iter().any(|ev| ends(ev)));
    let runs = plain
        .into_iter()
        .map(|evs| apply_in_order(aws, evs, now))
        .collect();
    let mut outcomes: Vec<Vec<(bool, bool)>> = bounded(runs, aws.inner.options.concurrency).await?;
    outcomes.push(apply_ends(aws, ending, now).await?);
    let mut report = ApplyReport::default();
    for (stored, stale) in outcomes.into_iter().flatten() {
        if stored {
            report.attempts_stored += 1;
            report.stale_moves += u64::from(stale);
        } else {
            report.duplicates += 1;
        }
    }
    Ok(report)
}

/// A record's attempts, oldest first.
pub(crate) async fn attempts(aws: &Aws, id: &RecordId) -> Result<Vec<OutcomeEvent>, PortError> {
    let inner = &aws.inner;
    let op = "attempts";
    let items: Vec<Item> = inner
        .dynamo
        .query()
        .table_name(&inner.resources.attempts_table)
        .key_condition_expression("#k = :id")
        .expression_attribute_names("#k", RECORD_ID)
        .expression_attribute_values(":id", s(id.as_str()))
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
            let body = req_s(i, "event", op)?;
            OutcomeEvent::decode(body).map_err(|e| corrupt(op, format!("attempt of {id}: {e}")))
        })
        .collect()
}

/// A record's stored result.
pub(crate) async fn result(aws: &Aws, id: &RecordId) -> Result<Option<StoredResult>, PortError> {
    let inner = &aws.inner;
    let op = "result";
    let answer = inner
        .dynamo
        .get_item()
        .table_name(&inner.resources.results_table)
        .key(RECORD_ID, s(id.as_str()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk(op, e))?;
    let Some(item) = answer.item else {
        return Ok(None);
    };
    Ok(Some(StoredResult {
        record_id: id.clone(),
        attempt: req_n(&item, ATTEMPT, op)?,
        status_code: req_n(&item, "status_code", op)?,
        body: req_s(&item, "body", op)?.to_owned(),
        stored_at: Timestamp::from_millis(opt_n(&item, "stored_at", op)?.unwrap_or(0)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_event_is_cut_with_the_marker_not_rejected() {
        let mut ev: OutcomeEvent = serde_json::from_value(serde_json::json!({
            "v": 1, "record_id": "r", "provider": "p", "attempt": 1, "called": true,
            "request_summary": "GET /x", "started_at": "2026-01-01T00:00:00.000Z",
            "finished_at": "2026-01-01T00:00:00.100Z", "latency_ms": 100,
            "status_code": 500, "error_class": "server_error", "detail": null,
            "response": null, "fencing_token": 1, "invocation_id": "i",
            "next": {"state": "failed"}
        }))
        .expect("test data is valid");
        ev.detail = Some("x".repeat(MAX_EVENT_BYTES * 2));
        let fitted = fit(&ev);
        assert!(fitted.encode().len() <= MAX_EVENT_BYTES);
        assert!(fitted
            .detail
            .expect("test data is valid")
            .ends_with(pacer_core::schema::TRUNCATION_MARKER));
        ev.detail = Some("small".into());
        assert_eq!(fit(&ev), ev, "small events are kept whole");
    }
}
