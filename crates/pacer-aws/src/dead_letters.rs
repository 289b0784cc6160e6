//! The dead-letter queue operators list, replay and purge: a DynamoDB table, fed two ways.
//!
//! * The services `put` what they dead-letter themselves (exhausted records, poison they
//!   could read): conditional puts, so the first copy of an id wins.
//! * SQS redrives what nobody could process (a message received more than the queue's
//!   `maxReceiveCount`) to the FIFO work dead-letter queue or the results dead-letter
//!   queue. [`drain`] moves those into the table as `msg:<message id>` entries and then
//!   deletes them from SQS; a crash in between only repeats a put that is a no-op.
//!
//! `list` drains first (unless [`crate::AwsOptions::drain_on_list`] is off), so the
//! table is the one place to look. It reads the `by_time` index (pk `dlq` = `all`, sk
//! `at_id` = `<dead_lettered_at>#<id>`): oldest first without a scan. Dead letters are
//! few and written rarely, so one index partition is enough. See
//! `docs/decisions/0004-aws-dead-letters.md`.

use crate::backend::Inner;
use crate::dynamo::bounded;
use crate::error::{corrupt, sdk};
use crate::item::{cut, n, opt_s, req_n, req_s, s, values, Item};
use crate::sqs;
use pacer_core::classify::ErrorClass;
use pacer_core::ports::{DeadLetter, DeadLetterFilter, DeadLetterQueue, Delivery};
use pacer_core::schema::{OutcomeEvent, WorkMessage};
use pacer_core::{PortError, RecordId, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// The `by_time` index.
const INDEX_BY_TIME: &str = "by_time";
/// Its partition value: every dead letter.
const ALL: &str = "all";
/// Largest body kept (DynamoDB items stop at 400 KB; SQS bodies at 256 KB).
const MAX_BODY: usize = 300 * 1024;
/// Receives of ten per queue and drain, so one drain call stays short.
const DRAIN_ROUNDS: usize = 50;

/// The dead-letter queue (a DynamoDB table; SQS dead-letter queues drained into it).
pub struct DynamoDeadLetters {
    inner: Arc<Inner>,
}

impl DynamoDeadLetters {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    /// Moves what SQS redrove to the work and results dead-letter queues into the
    /// table. Returns how many messages it moved.
    pub async fn drain(&self) -> Result<u64, PortError> {
        drain(&self.inner).await
    }
}

fn to_item(d: &DeadLetter) -> Item {
    let at = d.dead_lettered_at.as_millis();
    let mut item: Item = [
        ("id", s(&d.id)),
        ("dlq", s(ALL)),
        ("at_id", s(format!("{:015}#{}", at.max(0), d.id))),
        ("error_class", s(d.error_class.as_str())),
        ("attempts", n(d.attempts)),
        ("reason", s(cut(&d.reason, 8 * 1024))),
        ("dead_lettered_at", n(at)),
        ("body", s(cut(&d.body, MAX_BODY))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(r) = &d.record_id {
        item.insert("record_id".into(), s(r.as_str()));
    }
    if let Some(p) = &d.provider {
        item.insert("provider".into(), s(p));
    }
    item
}

fn from_item(item: &Item) -> Result<DeadLetter, PortError> {
    let op = "dead-letter list";
    let id = req_s(item, "id", op)?.to_owned();
    let class = req_s(item, "error_class", op)?;
    Ok(DeadLetter {
        record_id: opt_s(item, "record_id", op)?
            .map(RecordId::new)
            .transpose()
            .map_err(|e| corrupt(op, format!("record id of {id}: {e}")))?,
        provider: opt_s(item, "provider", op)?.map(str::to_owned),
        error_class: ErrorClass::parse(class)
            .ok_or_else(|| corrupt(op, format!("error class {class:?} of {id}")))?,
        attempts: req_n(item, "attempts", op)?,
        reason: req_s(item, "reason", op)?.to_owned(),
        dead_lettered_at: Timestamp::from_millis(req_n(item, "dead_lettered_at", op)?),
        body: req_s(item, "body", op)?.to_owned(),
        id,
    })
}

async fn put_one(inner: &Inner, d: &DeadLetter) -> Result<(), PortError> {
    let put = inner
        .dynamo
        .put_item()
        .table_name(&inner.resources.dead_letters_table)
        .set_item(Some(to_item(d)))
        .condition_expression("attribute_not_exists(#id)")
        .expression_attribute_names("#id", "id")
        .send()
        .await;
    match put {
        // The first copy wins: an id already stored is left as it is.
        Err(e)
            if !e
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Err(sdk("dead-letter put", e))
        }
        _ => Ok(()),
    }
}

async fn put(inner: &Inner, entries: &[DeadLetter]) -> Result<(), PortError> {
    let puts = entries.iter().map(|d| put_one(inner, d)).collect();
    bounded(puts, inner.options.concurrency).await?;
    Ok(())
}

/// Deletes one entry; `true` if it existed.
async fn remove_one(inner: &Inner, id: &str) -> Result<bool, PortError> {
    let answer = inner
        .dynamo
        .delete_item()
        .table_name(&inner.resources.dead_letters_table)
        .key("id", s(id))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
        .send()
        .await
        .map_err(|e| sdk("dead-letter remove", e))?;
    Ok(answer.attributes.is_some_and(|a| !a.is_empty()))
}

/// A redriven message as a dead letter: what it was about, if it can be read.
fn redriven(reason: &str, d: &Delivery, now: Timestamp) -> DeadLetter {
    let (record_id, provider) = match WorkMessage::decode(&d.body) {
        Ok(m) => (Some(m.record_id), Some(m.provider.to_string())),
        Err(_) => match OutcomeEvent::decode(&d.body) {
            Ok(ev) => (Some(ev.record_id), Some(ev.provider.to_string())),
            Err(_) => (None, (!d.group.is_empty()).then(|| d.group.clone())),
        },
    };
    DeadLetter {
        id: format!("msg:{}", d.message_id),
        record_id,
        provider,
        error_class: ErrorClass::BadMessage,
        attempts: 0,
        reason: reason.to_owned(),
        dead_lettered_at: now,
        body: d.body.clone(),
    }
}

/// Drains both SQS dead-letter queues into the table.
pub(crate) async fn drain(inner: &Inner) -> Result<u64, PortError> {
    let op = "drain dead letters";
    let work_reason = format!(
        "work message received more than {} times without being processed; SQS moved it to the dead-letter queue",
        inner.options.work_receive_limit
    );
    let results_reason = "outcome event received more than the results queue's receive limit \
                          without being applied; SQS moved it to the dead-letter queue";
    let queues = [
        ("work", work_reason.as_str(), &inner.resources.work_dlq_url),
        ("results", results_reason, &inner.resources.results_dlq_url),
    ];
    let mut moved = 0;
    for (queue, reason, url) in queues {
        for _ in 0..DRAIN_ROUNDS {
            let got = sqs::receive(
                &inner.sqs,
                url,
                10,
                Duration::from_secs(60),
                Duration::ZERO,
                op,
            )
            .await?;
            if got.is_empty() {
                break;
            }
            let now = inner.clock.now();
            let entries: Vec<DeadLetter> = got.iter().map(|d| redriven(reason, d, now)).collect();
            put(inner, &entries).await?;
            let receipts: Vec<String> = got.iter().map(|d| d.receipt.clone()).collect();
            sqs::delete(&inner.sqs, url, &receipts, op).await?;
            tracing::warn!(
                queue,
                count = got.len(),
                "moved redriven messages into the dead-letter table"
            );
            moved += got.len() as u64;
        }
    }
    Ok(moved)
}

#[async_trait::async_trait]
impl DeadLetterQueue for DynamoDeadLetters {
    async fn put(&self, entries: &[DeadLetter]) -> Result<(), PortError> {
        put(&self.inner, entries).await
    }

    async fn list(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, PortError> {
        let op = "dead-letter list";
        let inner = &self.inner;
        if inner.options.drain_on_list {
            drain(inner).await?;
        }
        let since = filter.since.map_or(0, |t| t.as_millis().max(0));
        let mut query = inner
            .dynamo
            .query()
            .table_name(&inner.resources.dead_letters_table)
            .index_name(INDEX_BY_TIME)
            .key_condition_expression("#dlq = :all AND #at >= :since")
            .expression_attribute_names("#dlq", "dlq")
            .expression_attribute_names("#at", "at_id")
            .set_expression_attribute_values(Some(values([
                (":all", s(ALL)),
                (":since", s(format!("{since:015}"))),
            ])));
        let mut filters = Vec::new();
        if let Some(p) = &filter.provider {
            filters.push("#provider = :provider");
            query = query
                .expression_attribute_names("#provider", "provider")
                .expression_attribute_values(":provider", s(p));
        }
        if let Some(c) = filter.error_class {
            filters.push("#class = :class");
            query = query
                .expression_attribute_names("#class", "error_class")
                .expression_attribute_values(":class", s(c.as_str()));
        }
        if !filters.is_empty() {
            query = query.filter_expression(filters.join(" AND "));
        }
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut pages = query.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(|e| sdk(op, e))?.items() {
                out.push(from_item(item)?);
            }
            if out.len() >= limit {
                break;
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn remove(&self, ids: &[String]) -> Result<u64, PortError> {
        let inner = &self.inner;
        let deletes = ids.iter().map(|id| remove_one(inner, id)).collect();
        let removed: Vec<bool> = bounded(deletes, inner.options.concurrency).await?;
        Ok(removed.into_iter().filter(|r| *r).count() as u64)
    }
}
