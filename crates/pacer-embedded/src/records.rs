//! The record store: records, attempts, results.

use crate::db::{corrupt, sql_error, Embedded};
use pacer_core::callback_url::CallbackUrl;
use pacer_core::lifecycle::{self, Event};
use pacer_core::planner::WindowPlan;
use pacer_core::ports::{
    ApplyReport, HistoryEntry, InsertReport, RecordFilter, RecordStore, Replay, ScheduleReport,
    StateCount, StoredResult,
};
use pacer_core::schema::{NextState, OutcomeEvent};
use pacer_core::{NewRecord, PortError, ProviderId, Record, RecordId, RecordState, Timestamp};
use rusqlite::{params, OptionalExtension, Row, Transaction};

const COLUMNS: &str =
    "id, provider, request, state, due_at, attempt, calls, note, created_at, updated_at, callback_url";

fn read_record(row: &Row<'_>) -> rusqlite::Result<Result<Record, PortError>> {
    let id: String = row.get(0)?;
    let provider: String = row.get(1)?;
    let request: String = row.get(2)?;
    let state: String = row.get(3)?;
    let callback_url: Option<String> = row.get(10)?;
    Ok((|| {
        let op = "read record";
        Ok(Record {
            id: RecordId::new(id.clone())
                .map_err(|e| corrupt(op, &format!("record id {id:?}"), e))?,
            provider: ProviderId::new(provider.clone())
                .map_err(|e| corrupt(op, &format!("provider of {id}"), e))?,
            request: serde_json::from_str(&request)
                .map_err(|e| corrupt(op, &format!("request of {id}"), e))?,
            state: RecordState::parse(&state)
                .ok_or_else(|| corrupt(op, &format!("state of {id}"), &state))?,
            due_at: row
                .get::<_, Option<i64>>(4)
                .map_err(|e| corrupt(op, "due_at", e))?
                .map(Timestamp::from_millis),
            attempt: row.get(5).map_err(|e| corrupt(op, "attempt", e))?,
            calls: row.get(6).map_err(|e| corrupt(op, "calls", e))?,
            note: row.get(7).map_err(|e| corrupt(op, "note", e))?,
            created_at: Timestamp::from_millis(
                row.get(8).map_err(|e| corrupt(op, "created_at", e))?,
            ),
            updated_at: Timestamp::from_millis(
                row.get(9).map_err(|e| corrupt(op, "updated_at", e))?,
            ),
            callback_url: callback_url
                .map(|u| CallbackUrl::parse(&u))
                .transpose()
                .map_err(|e| corrupt(op, &format!("callback_url of {id}"), e))?,
        })
    })())
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<Result<Record, PortError>>>,
    op: &'static str,
) -> Result<Vec<Record>, PortError> {
    rows.map(|r| r.map_err(|e| sql_error(op, e))?).collect()
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

/// Applies one outcome inside `tx`. Returns (newly stored, stale move).
fn apply_one(tx: &Transaction<'_>, ev: &OutcomeEvent, now: i64) -> Result<(bool, bool), PortError> {
    let e = |err| sql_error("apply outcome", err);
    let inserted = tx
        .prepare_cached("INSERT OR IGNORE INTO attempts (record_id, attempt, started_at, event) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut s| s.execute(params![ev.record_id.as_str(), ev.attempt, ev.started_at.as_millis(), ev.encode()]))
        .map_err(e)?;
    if inserted == 0 {
        return Ok((false, false));
    }
    // The webhook URL is read with the state: a final move owes its callback.
    let current: Option<(String, u32, Option<String>)> = tx
        .prepare_cached("SELECT state, attempt, callback_url FROM records WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([ev.record_id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(e)?;
    let Some((state, attempt, callback_url)) = current else {
        tracing::warn!(record_id = %ev.record_id, "outcome for an unknown record; attempt kept");
        return Ok((true, true));
    };
    let state = RecordState::parse(&state)
        .ok_or_else(|| corrupt("apply outcome", "record state", &state))?;
    // The attempt is counted in the same row write that makes the move, if any.
    let count = |tx: &Transaction<'_>| {
        tx.prepare_cached("UPDATE records SET calls = calls + ?2, attempt = MAX(attempt, ?3), updated_at = ?4 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![ev.record_id.as_str(), u32::from(ev.called), ev.attempt, now]))
            .map_err(e)
    };
    let Some(event) = event_for(ev.next) else {
        count(tx)?;
        return Ok((true, false));
    };
    let to = match lifecycle::transition(state, event) {
        Ok(to) if ev.attempt >= attempt => to,
        _ => {
            count(tx)?;
            return Ok((true, true));
        }
    };
    let due_at = match ev.next {
        NextState::RetryWait { due_at } => Some(due_at.as_millis()),
        _ => None,
    };
    let note = ev
        .detail
        .clone()
        .map(|d| format!("attempt {}: {d}", ev.attempt));
    // A success's result is appended first, so the row write below can name it.
    let result_id = if to == RecordState::Succeeded {
        tx.prepare_cached(
            "INSERT INTO results (record_id, attempt, status, body, stored_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                ev.record_id.as_str(),
                ev.attempt,
                ev.status_code.unwrap_or(0),
                ev.response.clone().unwrap_or_default(),
                now
            ])
        })
        .map_err(e)?;
        Some(tx.last_insert_rowid())
    } else {
        None
    };
    tx.prepare_cached(
        "UPDATE records SET calls = calls + ?2, attempt = MAX(attempt, ?3), updated_at = ?4, state = ?5, due_at = ?6, note = ?7,
                result_id = COALESCE(?8, result_id)
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![ev.record_id.as_str(), u32::from(ev.called), ev.attempt, now, to.as_str(), due_at, note, result_id])
    })
    .map_err(e)?;
    if to.is_final() {
        crate::feed::on_final(tx, ev, to, callback_url.as_deref(), now)?;
    }
    Ok((true, false))
}

/// Outcomes applied per write transaction.
const APPLY_CHUNK: usize = 64;

#[async_trait::async_trait]
impl RecordStore for Embedded {
    async fn insert(
        &self,
        records: &[NewRecord],
        now: Timestamp,
    ) -> Result<InsertReport, PortError> {
        self.shared.write("insert records", |tx| {
            let e = |err| sql_error("insert records", err);
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO records (id, provider, request, state, created_at, updated_at, callback_url)
                     VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?5) ON CONFLICT (id) DO NOTHING",
                )
                .map_err(e)?;
            let mut report = InsertReport::default();
            for r in records {
                let request = serde_json::to_string(&r.request)
                    .map_err(|err| corrupt("insert records", "request", err))?;
                match stmt
                    .execute(params![
                        r.id.as_str(),
                        r.provider.as_str(),
                        request,
                        now.as_millis(),
                        r.callback_url.as_ref().map(CallbackUrl::as_str)
                    ])
                    .map_err(e)?
                {
                    0 => report.duplicates += 1,
                    _ => report.inserted += 1,
                }
            }
            Ok(report)
        })
    }

    async fn get(&self, id: &RecordId) -> Result<Option<Record>, PortError> {
        let conn = self.shared.conn();
        let sql = format!("SELECT {COLUMNS} FROM records WHERE id = ?1");
        conn.query_row(&sql, [id.as_str()], read_record)
            .optional()
            .map_err(|e| sql_error("get record", e))?
            .transpose()
    }

    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, PortError> {
        let conn = self.shared.conn();
        let sql = format!(
            "SELECT {COLUMNS} FROM records WHERE (?1 IS NULL OR provider = ?1) AND (?2 IS NULL OR state = ?2)
             AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
        );
        let mut stmt = conn
            .prepare_cached(&sql)
            .map_err(|e| sql_error("list records", e))?;
        let rows = stmt
            .query_map(
                params![
                    filter.provider.as_ref().map(ProviderId::as_str),
                    filter.state.map(RecordState::as_str),
                    filter.after.as_ref().map(RecordId::as_str),
                    filter.limit as i64
                ],
                read_record,
            )
            .map_err(|e| sql_error("list records", e))?;
        collect(rows, "list records")
    }

    async fn pending_load(&self) -> Result<Vec<(ProviderId, u64)>, PortError> {
        let conn = self.shared.conn();
        let mut stmt = conn
            .prepare_cached("SELECT provider, COUNT(*) FROM records WHERE state = 'pending' GROUP BY provider ORDER BY provider")
            .map_err(|e| sql_error("pending load", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| sql_error("pending load", e))?;
        rows.map(|row| {
            let (p, n) = row.map_err(|e| sql_error("pending load", e))?;
            let id = ProviderId::new(p.clone())
                .map_err(|e| corrupt("pending load", &format!("provider {p:?}"), e))?;
            Ok((id, n as u64))
        })
        .collect()
    }

    async fn schedule(
        &self,
        plan: &WindowPlan,
        now: Timestamp,
    ) -> Result<ScheduleReport, PortError> {
        self.shared.write("schedule", |tx| {
            let e = |err| sql_error("schedule", err);
            tx.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS plan (provider TEXT PRIMARY KEY, offset_us INTEGER, spacing_us INTEGER, fits INTEGER, note TEXT);
                 DELETE FROM temp.plan;",
            )
            .map_err(e)?;
            let mut ins = tx.prepare_cached("INSERT INTO temp.plan VALUES (?1, ?2, ?3, ?4, ?5)").map_err(e)?;
            for p in &plan.providers {
                let note = format!(
                    "carried over: the {} window holds {} of {} records (limited by {:?})",
                    plan.start, p.fits, p.records, p.limited_by
                );
                ins.execute(params![p.provider.as_str(), p.offset_us as i64, p.spacing_us as i64, p.fits as i64, note]).map_err(e)?;
            }
            // Rank each provider's pending records oldest first, then by id (the port
            // contract); the rank picks the slot. The report counts what the update
            // did, not what the plan expected: records may have arrived since it was made.
            let mut update = tx
                .prepare(
                    "WITH ranked AS (
                        SELECT r.rowid AS rid, p.offset_us, p.spacing_us, p.fits, p.note,
                               ROW_NUMBER() OVER (PARTITION BY r.provider ORDER BY r.created_at, r.id) - 1 AS rank
                        FROM records r JOIN temp.plan p ON p.provider = r.provider
                        WHERE r.state = 'pending')
                     UPDATE records SET
                        state = CASE WHEN ranked.rank < ranked.fits THEN 'scheduled' ELSE 'pending' END,
                        due_at = CASE WHEN ranked.rank < ranked.fits
                                 THEN ?1 + (ranked.offset_us + ranked.rank * ranked.spacing_us) / 1000 END,
                        note = CASE WHEN ranked.rank < ranked.fits THEN NULL ELSE ranked.note END,
                        updated_at = ?2
                     FROM ranked WHERE records.rowid = ranked.rid
                     RETURNING records.state = 'scheduled'",
                )
                .map_err(e)?;
            let moved = update
                .query_map(params![plan.start.as_millis(), now.as_millis()], |r| r.get::<_, bool>(0))
                .map_err(e)?;
            let mut report = ScheduleReport::default();
            for was_scheduled in moved {
                match was_scheduled.map_err(e)? {
                    true => report.scheduled += 1,
                    false => report.carried_over += 1,
                }
            }
            Ok(report)
        })
    }

    async fn due(
        &self,
        now: Timestamp,
        stale_before: Timestamp,
        limit: usize,
    ) -> Result<Vec<Record>, PortError> {
        let conn = self.shared.conn();
        let sql = format!(
            "SELECT {COLUMNS} FROM (
                SELECT * FROM (SELECT {COLUMNS} FROM records WHERE state IN ('scheduled', 'retry_wait') AND due_at <= ?1 ORDER BY due_at LIMIT ?3)
                UNION ALL
                SELECT * FROM (SELECT {COLUMNS} FROM records WHERE state IN ('queued', 'in_flight') AND updated_at < ?2 LIMIT ?3)
             ) ORDER BY due_at LIMIT ?3"
        );
        let mut stmt = conn
            .prepare_cached(&sql)
            .map_err(|e| sql_error("due records", e))?;
        let rows = stmt
            .query_map(
                params![now.as_millis(), stale_before.as_millis(), limit as i64],
                read_record,
            )
            .map_err(|e| sql_error("due records", e))?;
        collect(rows, "due records")
    }

    async fn mark_queued(&self, ids: &[RecordId], now: Timestamp) -> Result<(), PortError> {
        // One statement for the whole batch (the ids as a JSON array), not one per record.
        let ids = serde_json::to_string(&ids.iter().map(RecordId::as_str).collect::<Vec<_>>())
            .map_err(|e| corrupt("mark queued", "record ids", e))?;
        self.shared.write_async("mark queued", move |tx| {
            tx.prepare_cached(
                "UPDATE records SET state = CASE state WHEN 'in_flight' THEN 'in_flight' ELSE 'queued' END, updated_at = ?2
                 WHERE id IN (SELECT value FROM json_each(?1)) AND state IN ('scheduled', 'retry_wait', 'queued', 'in_flight')",
            )
            .and_then(|mut stmt| stmt.execute(params![ids, now.as_millis()]))
            .map_err(|e| sql_error("mark queued", e))?;
            Ok(())
        })
        .await
    }

    async fn apply_outcomes(
        &self,
        events: &[OutcomeEvent],
        now: Timestamp,
    ) -> Result<ApplyReport, PortError> {
        // In chunks, each its own write: a large batch never holds the writer thread
        // long enough to delay the workers' publishes behind it.
        let mut report = ApplyReport::default();
        for chunk in events.chunks(APPLY_CHUNK) {
            let chunk = chunk.to_vec();
            let part = self
                .shared
                .write_async("apply outcomes", move |tx| {
                    let mut report = ApplyReport::default();
                    for ev in &chunk {
                        match apply_one(tx, ev, now.as_millis())? {
                            (false, _) => report.duplicates += 1,
                            (true, stale) => {
                                report.attempts_stored += 1;
                                report.stale_moves += u64::from(stale);
                            }
                        }
                    }
                    Ok(report)
                })
                .await?;
            report.attempts_stored += part.attempts_stored;
            report.duplicates += part.duplicates;
            report.stale_moves += part.stale_moves;
        }
        Ok(report)
    }

    async fn attempts(&self, id: &RecordId) -> Result<Vec<OutcomeEvent>, PortError> {
        let conn = self.shared.conn();
        let mut stmt = conn
            .prepare_cached("SELECT event FROM attempts WHERE record_id = ?1 ORDER BY attempt")
            .map_err(|e| sql_error("attempts", e))?;
        let rows = stmt
            .query_map([id.as_str()], |r| r.get::<_, String>(0))
            .map_err(|e| sql_error("attempts", e))?;
        rows.map(|r| {
            let body = r.map_err(|e| sql_error("attempts", e))?;
            OutcomeEvent::decode(&body)
                .map_err(|e| corrupt("attempts", &format!("attempt of {id}"), e))
        })
        .collect()
    }

    async fn result(&self, id: &RecordId) -> Result<Option<StoredResult>, PortError> {
        let conn = self.shared.conn();
        conn.query_row(
            "SELECT r.attempt, r.status, r.body, r.stored_at FROM records AS c JOIN results AS r ON r.id = c.result_id
             WHERE c.id = ?1",
            [id.as_str()],
            |r| {
                Ok(StoredResult {
                    record_id: id.clone(),
                    attempt: r.get(0)?,
                    status_code: r.get(1)?,
                    body: r.get(2)?,
                    stored_at: Timestamp::from_millis(r.get(3)?),
                })
            },
        )
        .optional()
        .map_err(|e| sql_error("result", e))
    }

    async fn counts(&self) -> Result<Vec<StateCount>, PortError> {
        let conn = self.shared.conn();
        let mut stmt = conn
            .prepare_cached("SELECT provider, state, COUNT(*) FROM records GROUP BY provider, state ORDER BY provider, state")
            .map_err(|e| sql_error("counts", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(|e| sql_error("counts", e))?;
        rows.map(|row| {
            let (p, s, n) = row.map_err(|e| sql_error("counts", e))?;
            Ok(StateCount {
                provider: ProviderId::new(p.clone())
                    .map_err(|e| corrupt("counts", &format!("provider {p:?}"), e))?,
                state: RecordState::parse(&s).ok_or_else(|| corrupt("counts", "state", &s))?,
                count: n as u64,
            })
        })
        .collect()
    }

    async fn replay(&self, replays: &[Replay], now: Timestamp) -> Result<u64, PortError> {
        self.shared.write("replay", |tx| {
            let e = |err| sql_error("replay", err);
            let mut moved = 0;
            for r in replays {
                // dead_lettered → pending (replay) → scheduled (plan), in one conditional write.
                let to = lifecycle::transition(RecordState::DeadLettered, Event::Replay)
                    .and_then(|s| lifecycle::transition(s, Event::Plan))
                    .map_err(|err| corrupt("replay", "lifecycle", err))?;
                let changed = tx
                    .prepare_cached(
                        "UPDATE records SET state = ?2, due_at = ?3, calls = 0, note = ?4, updated_at = ?5
                         WHERE id = ?1 AND state = 'dead_lettered'",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            r.record_id.as_str(),
                            to.as_str(),
                            r.due_at.as_millis(),
                            format!("replayed by an operator; due {}", r.due_at),
                            now.as_millis()
                        ])
                    })
                    .map_err(e)?;
                if changed == 1 {
                    moved += 1;
                    tx.prepare_cached("INSERT INTO history (record_id, at, kind, detail) VALUES (?1, ?2, 'replayed', ?3)")
                        .and_then(|mut s| {
                            s.execute(params![
                                r.record_id.as_str(),
                                now.as_millis(),
                                format!("replayed from the dead-letter queue; due {} with a fresh call budget", r.due_at)
                            ])
                        })
                        .map_err(e)?;
                }
            }
            Ok(moved)
        })
    }

    async fn note(&self, id: &RecordId, entry: &HistoryEntry) -> Result<(), PortError> {
        self.shared.write("note", |tx| {
            tx.execute(
                "INSERT INTO history (record_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
                params![id.as_str(), entry.at.as_millis(), entry.kind, entry.detail],
            )
            .map_err(|e| sql_error("note", e))?;
            Ok(())
        })
    }

    async fn history(&self, id: &RecordId) -> Result<Vec<HistoryEntry>, PortError> {
        let conn = self.shared.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT at, kind, detail FROM history WHERE record_id = ?1 ORDER BY at, rowid",
            )
            .map_err(|e| sql_error("history", e))?;
        let rows = stmt
            .query_map([id.as_str()], |r| {
                Ok(HistoryEntry {
                    at: Timestamp::from_millis(r.get(0)?),
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                })
            })
            .map_err(|e| sql_error("history", e))?;
        rows.map(|r| r.map_err(|e| sql_error("history", e)))
            .collect()
    }
}
