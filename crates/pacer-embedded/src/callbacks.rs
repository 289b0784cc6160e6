//! Webhook deliveries: a table of pending deliveries with due times, leases by
//! receipt, and dead letters (the callbacks queue and its dead-letter queue).

use crate::db::{corrupt, sql_error, Embedded};
use pacer_core::callback_url::CallbackUrl;
use pacer_core::ports::{
    CallbackDeadLetter, CallbackDelivery, CallbackQueue, FinalOutcome, Settlement,
};
use pacer_core::{PortError, RecordId, Timestamp};
use rusqlite::{params, Transaction};
use std::time::Duration;

/// Enqueues the webhook of `outcome` to `url`, due at once; idempotent by
/// `record_id#attempt`. Called inside the results transaction.
pub(crate) fn enqueue(
    tx: &Transaction<'_>,
    outcome: &FinalOutcome,
    url: &str,
    now: i64,
) -> Result<(), PortError> {
    const OP: &str = "enqueue webhook";
    let json = serde_json::to_string(outcome).map_err(|e| corrupt(OP, "outcome", e))?;
    tx.prepare_cached(
        "INSERT INTO callbacks (id, record_id, url, outcome, due_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO NOTHING",
    )
    .and_then(|mut s| {
        s.execute(params![
            format!("{}#{}", outcome.record_id, outcome.attempt),
            outcome.record_id.as_str(),
            url,
            json,
            now
        ])
    })
    .map_err(|e| sql_error(OP, e))?;
    Ok(())
}

/// One stored row, as text, before it is checked.
struct Row {
    id: String,
    record_id: String,
    url: String,
    outcome: String,
    attempts: u32,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            record_id: r.get(1)?,
            url: r.get(2)?,
            outcome: r.get(3)?,
            attempts: r.get(4)?,
        })
    }

    fn parts(&self, op: &'static str) -> Result<(RecordId, CallbackUrl), PortError> {
        let record_id = RecordId::new(self.record_id.clone())
            .map_err(|e| corrupt(op, &format!("record id of webhook {}", self.id), e))?;
        let url = CallbackUrl::parse(&self.url)
            .map_err(|e| corrupt(op, &format!("url of webhook {}", self.id), e))?;
        Ok((record_id, url))
    }
}

#[async_trait::async_trait]
impl CallbackQueue for Embedded {
    async fn receive(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<CallbackDelivery>, PortError> {
        const OP: &str = "receive webhooks";
        self.shared.write(OP, |tx| {
            let e = |err| sql_error(OP, err);
            let rows: Vec<Row> = tx
                .prepare_cached(
                    "SELECT id, record_id, url, outcome, attempts FROM callbacks
                     WHERE state = 'pending' AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![now.as_millis(), max as i64], Row::read)?
                        .collect()
                })
                .map_err(e)?;
            let mut hide = tx
                .prepare_cached("UPDATE callbacks SET due_at = ?2, receipt = ?3 WHERE id = ?1")
                .map_err(e)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let (record_id, url) = row.parts(OP)?;
                let outcome: FinalOutcome = serde_json::from_str(&row.outcome)
                    .map_err(|err| corrupt(OP, &format!("outcome of webhook {}", row.id), err))?;
                let receipt = ulid::Ulid::new().to_string();
                hide.execute(params![row.id, now.plus(lease).as_millis(), receipt])
                    .map_err(e)?;
                out.push(CallbackDelivery {
                    id: row.id,
                    record_id,
                    url,
                    outcome,
                    attempts: row.attempts,
                    receipt,
                });
            }
            Ok(out)
        })
    }

    async fn settle(
        &self,
        receipt: &str,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<bool, PortError> {
        const OP: &str = "settle webhook";
        let (state, due_at, reason) = match settlement {
            Settlement::Delivered => ("delivered", None, None),
            Settlement::Retry { due_at, reason } => {
                ("pending", Some(due_at.as_millis()), Some(reason))
            }
            Settlement::DeadLetter { reason } => ("dead_lettered", None, Some(reason)),
        };
        self.shared.write(OP, |tx| {
            let changed = tx
                .execute(
                    "UPDATE callbacks SET state = ?2, due_at = COALESCE(?3, due_at), reason = ?4,
                         attempts = attempts + 1, receipt = NULL, updated_at = ?5
                     WHERE receipt = ?1 AND state = 'pending'",
                    params![receipt, state, due_at, reason, now.as_millis()],
                )
                .map_err(|e| sql_error(OP, e))?;
            Ok(changed == 1)
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<CallbackDeadLetter>, PortError> {
        const OP: &str = "list webhook dead letters";
        let conn = self.shared.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, record_id, url, outcome, attempts, reason, updated_at FROM callbacks
                 WHERE state = 'dead_lettered' ORDER BY updated_at, id LIMIT ?1",
            )
            .map_err(|e| sql_error(OP, e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    Row::read(r)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(|e| sql_error(OP, e))?;
        rows.map(|r| {
            let (row, reason, at) = r.map_err(|e| sql_error(OP, e))?;
            let (record_id, url) = row.parts(OP)?;
            Ok(CallbackDeadLetter {
                id: row.id,
                record_id,
                url,
                attempts: row.attempts,
                reason: reason.unwrap_or_default(),
                dead_lettered_at: Timestamp::from_millis(at),
            })
        })
        .collect()
    }
}
