//! The outcome feed: appended inside the results transaction when a record reaches a
//! final state (with its webhook delivery, if it has a callback URL), and taken by
//! consumer applications from their own positions.

use crate::db::{corrupt, sql_error, Embedded};
use pacer_core::ports::{AppName, FinalOutcome, OutcomeFeed};
use pacer_core::schema::OutcomeEvent;
use pacer_core::{PortError, RecordState};
use rusqlite::{params, OptionalExtension, Transaction};

/// Appends the outcome of `event`, which just moved its record into the final `state`,
/// and enqueues its webhook when the record has a callback URL. Runs inside the
/// transaction that made the move, so the feed and the callbacks never miss one.
pub(crate) fn on_final(
    tx: &Transaction<'_>,
    event: &OutcomeEvent,
    state: RecordState,
    callback_url: Option<&str>,
    now: i64,
) -> Result<(), PortError> {
    const OP: &str = "append to the feed";
    let e = |err| sql_error(OP, err);
    let placeholder = FinalOutcome::from_event(0, event, state);
    let json = serde_json::to_string(&placeholder).map_err(|err| corrupt(OP, "outcome", err))?;
    let appended = tx
        .prepare_cached("INSERT INTO feed (record_id, attempt, outcome) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![event.record_id.as_str(), event.attempt, json]))
        .map_err(e)?;
    if appended == 0 {
        return Ok(());
    }
    let outcome = FinalOutcome {
        seq: tx.last_insert_rowid() as u64,
        ..placeholder
    };
    if let Some(url) = callback_url {
        crate::callbacks::enqueue(tx, &outcome, url, now)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl OutcomeFeed for Embedded {
    async fn take(&self, app: &AppName, limit: usize) -> Result<Vec<FinalOutcome>, PortError> {
        const OP: &str = "take from the feed";
        self.shared.write(OP, |tx| {
            let e = |err| sql_error(OP, err);
            let position: i64 = tx
                .query_row(
                    "SELECT seq FROM feed_positions WHERE app = ?1",
                    [app.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(e)?
                .unwrap_or(0);
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, outcome FROM feed WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(e)?;
            let rows = stmt
                .query_map(params![position, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(e)?;
            let mut entries = Vec::new();
            for row in rows {
                let (seq, json) = row.map_err(e)?;
                let outcome: FinalOutcome = serde_json::from_str(&json)
                    .map_err(|err| corrupt(OP, &format!("feed entry {seq}"), err))?;
                entries.push(FinalOutcome {
                    seq: seq as u64,
                    ..outcome
                });
            }
            if let Some(last) = entries.last() {
                tx.execute(
                    "INSERT INTO feed_positions (app, seq) VALUES (?1, ?2)
                     ON CONFLICT (app) DO UPDATE SET seq = excluded.seq",
                    params![app.as_str(), last.seq as i64],
                )
                .map_err(e)?;
            }
            Ok(entries)
        })
    }
}
