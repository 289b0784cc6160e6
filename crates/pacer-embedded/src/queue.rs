//! Queues in SQLite with SQS semantics: the FIFO work queue and the outcome bus.
//!
//! A FIFO queue keeps one `queue_groups` row per non-empty group. A group is blocked
//! while any of its messages is in flight (`inflight > 0` and `hidden_until > now`) or
//! was given back with a delay (`held_until > now`); once the visibility timeout passes,
//! its messages are visible again at the head, in order. A message received more than the receive limit is redriven to the dead-letter
//! queue instead of being returned. A standard queue (the outcome bus) has no groups.

use crate::db::{sql_error, Shared};
use pacer_core::classify::ErrorClass;
use pacer_core::ports::{Delivery, OutcomeBus, QueueDepth, SendReport, WorkQueue};
use pacer_core::schema::{OutcomeEvent, WorkMessage};
use pacer_core::PortError;
use rusqlite::{params, OptionalExtension, Transaction};
use std::sync::Arc;
use std::time::Duration;

const WORK: &str = "work";
const OUTCOMES: &str = "outcomes";

/// The FIFO work queue (SQS FIFO "work" on AWS).
pub struct SqliteWorkQueue {
    shared: Arc<Shared>,
}

/// The outcome bus (SNS "outcomes" → SQS "results" on AWS).
pub struct SqliteOutcomeBus {
    shared: Arc<Shared>,
}

impl SqliteWorkQueue {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl SqliteOutcomeBus {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// A message to enqueue.
struct Outgoing {
    group: Option<String>,
    dedup_id: Option<String>,
    body: String,
}

async fn send(
    shared: &Shared,
    queue: &'static str,
    messages: Vec<Outgoing>,
) -> Result<SendReport, PortError> {
    let now = shared.clock.now().as_millis();
    let dedup_until = now + shared.options.dedup_window.as_millis() as i64;
    let report = shared.write_async("queue send", move |tx| {
        let e = |err| sql_error("queue send", err);
        let mut report = SendReport::default();
        // One statement per dedup id: a row still inside its window is left alone
        // (no change: a duplicate); an expired one is renewed.
        let mut remember = tx
            .prepare_cached(
                "INSERT INTO queue_dedup (queue, dedup_id, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (queue, dedup_id) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE queue_dedup.expires_at <= ?4",
            )
            .map_err(e)?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO queue_messages (queue, grp, body, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .map_err(e)?;
        let mut group = tx
            .prepare_cached(
                "INSERT INTO queue_groups (queue, grp, head) VALUES (?1, ?2, ?3) ON CONFLICT (queue, grp) DO NOTHING",
            )
            .map_err(e)?;
        let mut groups_seen = std::collections::HashSet::new();
        for m in &messages {
            if let Some(dedup) = &m.dedup_id {
                if remember.execute(params![queue, dedup, dedup_until, now]).map_err(e)? == 0 {
                    report.deduplicated += 1;
                    continue;
                }
            }
            insert.execute(params![queue, m.group, m.body, now]).map_err(e)?;
            if let Some(g) = m.group.as_deref() {
                if groups_seen.insert(g) {
                    group.execute(params![queue, g, tx.last_insert_rowid()]).map_err(e)?;
                }
            }
            report.sent += 1;
        }
        // Forget expired dedup ids about once every 4096 messages, in the same transaction.
        let last = tx.last_insert_rowid();
        if report.sent > 0 && (last - report.sent as i64) / 4096 != last / 4096 {
            tx.execute("DELETE FROM queue_dedup WHERE expires_at <= ?1", [now]).map_err(e)?;
        }
        Ok(report)
    }).await?;
    if report.sent > 0 {
        shared.changed(queue).notify_waiters();
    }
    Ok(report)
}

/// The message a receipt was handed out for. A receipt is `<message id>.<ULID>`: the id
/// finds the row by its primary key (no index on receipts to write at every receive and
/// delete), the ULID makes it this receive's alone. Anything else names no message.
fn message_of(receipt: &str) -> Option<i64> {
    receipt.split_once('.')?.0.parse().ok()
}

/// One row taken by a receive.
struct Taken {
    id: i64,
    group: Option<String>,
    body: String,
    receive_count: u32,
}

async fn receive_once(
    shared: &Shared,
    queue: &'static str,
    fifo: bool,
    max: usize,
    visibility: Duration,
    max_receives: u32,
) -> Result<Vec<Delivery>, PortError> {
    let now = shared.clock.now().as_millis();
    let hidden_until = now + visibility.as_millis() as i64;
    let group_batch = shared.options.max_group_batch.max(1);
    shared.write_async("queue receive", move |tx| {
        let e = |err| sql_error("queue receive", err);
        let candidates = if fifo { fifo_candidates(tx, queue, now, max, group_batch)? } else { standard_candidates(tx, queue, now, max)? };
        let mut out = Vec::with_capacity(candidates.len());
        let mut per_group: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        for row in candidates {
            let count = row.receive_count + 1;
            if count > max_receives {
                redrive(tx, queue, &row, now)?;
                continue;
            }
            let receipt = format!("{}.{}", row.id, ulid::Ulid::new());
            tx.prepare_cached("UPDATE queue_messages SET receive_count = ?2, visible_at = ?3, receipt = ?4 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![row.id, count, hidden_until, receipt]))
                .map_err(e)?;
            if let Some(g) = &row.group {
                *per_group.entry(g.clone()).or_default() += 1;
            }
            out.push(Delivery {
                message_id: row.id.to_string(),
                receipt,
                group: row.group.unwrap_or_default(),
                body: row.body,
                receive_count: count,
            });
        }
        for (group, n) in per_group {
            tx.prepare_cached("UPDATE queue_groups SET inflight = ?3, hidden_until = ?4 WHERE queue = ?1 AND grp = ?2")
                .and_then(|mut s| s.execute(params![queue, group, n, hidden_until]))
                .map_err(e)?;
        }
        Ok(out)
    }).await
}

/// The first messages of unblocked groups, oldest group first, in group order, at most
/// `group_batch` per group.
fn fifo_candidates(
    tx: &Transaction<'_>,
    queue: &str,
    now: i64,
    max: usize,
    group_batch: usize,
) -> Result<Vec<Taken>, PortError> {
    let e = |err| sql_error("queue receive", err);
    let mut groups = tx
        .prepare_cached(
            "SELECT grp FROM queue_groups WHERE queue = ?1 AND (inflight = 0 OR hidden_until <= ?2) AND held_until <= ?2
             ORDER BY head LIMIT ?3",
        )
        .map_err(e)?;
    let names: Vec<String> = groups
        .query_map(params![queue, now, max as i64], |r| r.get(0))
        .map_err(e)?
        .collect::<Result<_, _>>()
        .map_err(e)?;
    let mut rows = tx
        .prepare_cached(
            "SELECT id, body, receive_count FROM queue_messages WHERE queue = ?1 AND grp = ?2 ORDER BY id LIMIT ?3",
        )
        .map_err(e)?;
    let mut out = Vec::new();
    for g in names {
        if out.len() >= max {
            break;
        }
        let left = (max - out.len()).min(group_batch) as i64;
        let taken = rows
            .query_map(params![queue, g, left], |r| {
                Ok(Taken {
                    id: r.get(0)?,
                    group: Some(g.clone()),
                    body: r.get(1)?,
                    receive_count: r.get(2)?,
                })
            })
            .map_err(e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(e)?;
        out.extend(taken);
    }
    Ok(out)
}

fn standard_candidates(
    tx: &Transaction<'_>,
    queue: &str,
    now: i64,
    max: usize,
) -> Result<Vec<Taken>, PortError> {
    let e = |err| sql_error("queue receive", err);
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, body, receive_count FROM queue_messages WHERE queue = ?1 AND grp IS NULL AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3",
        )
        .map_err(e)?;
    let rows = stmt
        .query_map(params![queue, now, max as i64], |r| {
            Ok(Taken {
                id: r.get(0)?,
                group: None,
                body: r.get(1)?,
                receive_count: r.get(2)?,
            })
        })
        .map_err(e)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(e)?;
    Ok(rows)
}

/// Moves a message that exceeded the receive limit to the dead-letter queue.
fn redrive(tx: &Transaction<'_>, queue: &str, row: &Taken, now: i64) -> Result<(), PortError> {
    let e = |err| sql_error("queue redrive", err);
    let (record_id, provider) = match WorkMessage::decode(&row.body) {
        Ok(m) => (Some(m.record_id.to_string()), Some(m.provider.to_string())),
        Err(_) => match OutcomeEvent::decode(&row.body) {
            Ok(ev) => (
                Some(ev.record_id.to_string()),
                Some(ev.provider.to_string()),
            ),
            Err(_) => (None, row.group.clone()),
        },
    };
    tracing::warn!(queue, message_id = row.id, record_id = ?record_id, "receive limit exceeded; redriving to the dead-letter queue");
    tx.execute(
        "INSERT OR IGNORE INTO dead_letters (id, record_id, provider, error_class, attempts, reason, dead_lettered_at, body)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)",
        params![
            // `msg:<message id>`, as the port documents and the services write for poison;
            // message ids are unique across queues (one AUTOINCREMENT table).
            format!("msg:{}", row.id),
            record_id,
            provider,
            ErrorClass::BadMessage.as_str(),
            format!("{queue} message received {} times without being processed (receive limit)", row.receive_count),
            now,
            row.body
        ],
    )
    .map_err(e)?;
    delete_rows(tx, queue, &[row.id])
}

/// Deletes messages by id and unblocks / advances their groups, each group once: a
/// provider's batch leaves flight together.
fn delete_rows(tx: &Transaction<'_>, queue: &str, ids: &[i64]) -> Result<(), PortError> {
    let e = |err| sql_error("queue delete", err);
    let mut left: Vec<(String, i64)> = Vec::new();
    for id in ids {
        let group: Option<Option<String>> = tx
            .prepare_cached("DELETE FROM queue_messages WHERE id = ?1 RETURNING grp")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(e)?;
        if let Some(Some(g)) = group {
            match left.iter_mut().find(|(seen, _)| *seen == g) {
                Some((_, n)) => *n += 1,
                None => left.push((g, 1)),
            }
        }
    }
    for (group, n) in left {
        settle_group(tx, queue, &group, n)?;
    }
    Ok(())
}

/// After `n` messages of `group` were deleted: lower the in-flight count, move the head,
/// drop the row of an empty group.
fn settle_group(tx: &Transaction<'_>, queue: &str, group: &str, n: i64) -> Result<(), PortError> {
    let e = |err| sql_error("queue settle", err);
    let head: Option<i64> = tx
        .prepare_cached("SELECT MIN(id) FROM queue_messages WHERE queue = ?1 AND grp = ?2")
        .and_then(|mut s| s.query_row(params![queue, group], |r| r.get(0)))
        .map_err(e)?;
    let Some(head) = head else {
        tx.prepare_cached("DELETE FROM queue_groups WHERE queue = ?1 AND grp = ?2")
            .and_then(|mut s| s.execute(params![queue, group]))
            .map_err(e)?;
        return Ok(());
    };
    tx.prepare_cached(
        "UPDATE queue_groups SET head = ?3, inflight = MAX(inflight - ?4, 0) WHERE queue = ?1 AND grp = ?2",
    )
    .and_then(|mut s| s.execute(params![queue, group, head, n]))
    .map_err(e)?;
    Ok(())
}

async fn delete(
    shared: &Shared,
    queue: &'static str,
    receipts: &[String],
) -> Result<(), PortError> {
    let receipts = receipts.to_vec();
    shared
        .write_async("queue delete", move |tx| {
            let e = |err| sql_error("queue delete", err);
            let mut find = tx
                .prepare_cached("SELECT id FROM queue_messages WHERE id = ?1 AND receipt = ?2")
                .map_err(e)?;
            let mut ids = Vec::with_capacity(receipts.len());
            for r in &receipts {
                let Some(id) = message_of(r) else { continue };
                if let Some(id) = find
                    .query_row(params![id, r], |row| row.get::<_, i64>(0))
                    .optional()
                    .map_err(e)?
                {
                    ids.push(id);
                }
            }
            delete_rows(tx, queue, &ids)
        })
        .await?;
    shared.changed(queue).notify_waiters();
    Ok(())
}

async fn release(
    shared: &Shared,
    queue: &'static str,
    receipts: &[String],
    delay: Duration,
) -> Result<(), PortError> {
    let visible_at = shared.clock.now().plus(delay).as_millis();
    let receipts = receipts.to_vec();
    shared.write_async("queue release", move |tx| {
        let e = |err| sql_error("queue release", err);
        for r in &receipts {
            let Some(id) = message_of(r) else { continue };
            let group: Option<Option<String>> = tx
                .prepare_cached("UPDATE queue_messages SET visible_at = ?3, receipt = NULL WHERE id = ?1 AND receipt = ?2 RETURNING grp")
                .and_then(|mut s| s.query_row(params![id, r, visible_at], |row| row.get(0)).optional())
                .map_err(e)?;
            if let Some(Some(g)) = group {
                // The group stays blocked until the returned message is visible again.
                tx.prepare_cached(
                    "UPDATE queue_groups SET inflight = MAX(inflight - 1, 0), held_until = MAX(held_until, ?3)
                     WHERE queue = ?1 AND grp = ?2",
                )
                .and_then(|mut s| s.execute(params![queue, g, visible_at]))
                .map_err(e)?;
            }
        }
        Ok(())
    }).await?;
    shared.changed(queue).notify_waiters();
    Ok(())
}

fn depth(shared: &Shared, queue: &'static str, fifo: bool) -> Result<QueueDepth, PortError> {
    let now = shared.clock.now().as_millis();
    let conn = shared.conn();
    // The group condition lets the count read the queue kind's own (partial) index.
    let sql = if fifo {
        "SELECT COALESCE(SUM(visible_at <= ?2), 0), COALESCE(SUM(visible_at > ?2), 0) FROM queue_messages WHERE queue = ?1 AND grp IS NOT NULL"
    } else {
        "SELECT COALESCE(SUM(visible_at <= ?2), 0), COALESCE(SUM(visible_at > ?2), 0) FROM queue_messages WHERE queue = ?1 AND grp IS NULL"
    };
    conn.query_row(sql, params![queue, now], |r| {
        Ok(QueueDepth {
            visible: r.get::<_, i64>(0)? as u64,
            in_flight: r.get::<_, i64>(1)? as u64,
        })
    })
    .map_err(|e| sql_error("queue depth", e))
}

/// Receives, waiting up to `wait` for messages (long polling).
async fn receive(
    shared: &Shared,
    queue: &'static str,
    fifo: bool,
    max: usize,
    visibility: Duration,
    max_receives: u32,
    wait: Duration,
) -> Result<Vec<Delivery>, PortError> {
    let give_up = tokio::time::Instant::now() + wait;
    loop {
        // Registered before looking, so a send, delete or release that lands while this
        // receive runs still wakes it (`notify_waiters` only wakes registered waiters).
        let changed = shared.changed(queue).notified();
        let mut changed = std::pin::pin!(changed);
        changed.as_mut().enable();
        let got = receive_once(shared, queue, fifo, max, visibility, max_receives).await?;
        if !got.is_empty() || tokio::time::Instant::now() >= give_up {
            return Ok(got);
        }
        // Re-check now and then anyway, for visibility expiry.
        let _ = tokio::time::timeout(Duration::from_millis(20).min(wait), changed).await;
    }
}

#[async_trait::async_trait]
impl WorkQueue for SqliteWorkQueue {
    async fn send(&self, messages: &[WorkMessage]) -> Result<SendReport, PortError> {
        let out = messages
            .iter()
            .map(|m| Outgoing {
                group: Some(m.provider.as_str().to_owned()),
                dedup_id: Some(m.dedup_id()),
                body: m.encode(),
            })
            .collect();
        send(&self.shared, WORK, out).await
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, PortError> {
        receive(
            &self.shared,
            WORK,
            true,
            max,
            visibility,
            self.shared.options.work_max_receives,
            wait,
        )
        .await
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), PortError> {
        delete(&self.shared, WORK, receipts).await
    }

    async fn release(&self, receipts: &[String], delay: Duration) -> Result<(), PortError> {
        release(&self.shared, WORK, receipts, delay).await
    }

    async fn depth(&self) -> Result<QueueDepth, PortError> {
        depth(&self.shared, WORK, true)
    }
}

#[async_trait::async_trait]
impl OutcomeBus for SqliteOutcomeBus {
    async fn publish(&self, events: &[OutcomeEvent]) -> Result<(), PortError> {
        let out = events
            .iter()
            .map(|ev| Outgoing {
                group: None,
                dedup_id: None,
                body: ev.encode(),
            })
            .collect();
        send(&self.shared, OUTCOMES, out).await.map(|_| ())
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, PortError> {
        receive(
            &self.shared,
            OUTCOMES,
            false,
            max,
            visibility,
            self.shared.options.outcome_max_receives,
            wait,
        )
        .await
    }

    async fn ack(&self, receipts: &[String]) -> Result<(), PortError> {
        delete(&self.shared, OUTCOMES, receipts).await
    }

    async fn depth(&self) -> Result<QueueDepth, PortError> {
        depth(&self.shared, OUTCOMES, false)
    }
}
