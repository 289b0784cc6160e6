//! The dead-letter queue: a table operators list, replay from and purge.

use crate::db::{corrupt, sql_error, Embedded};
use pacer_core::classify::ErrorClass;
use pacer_core::ports::{DeadLetter, DeadLetterFilter, DeadLetterQueue};
use pacer_core::{PortError, RecordId, Timestamp};
use rusqlite::params;

#[async_trait::async_trait]
impl DeadLetterQueue for Embedded {
    async fn put(&self, entries: &[DeadLetter]) -> Result<(), PortError> {
        let entries = entries.to_vec();
        self.shared.write_async("dead-letter put", move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO dead_letters (id, record_id, provider, error_class, attempts, reason, dead_lettered_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(|e| sql_error("dead-letter put", e))?;
            for d in &entries {
                stmt.execute(params![
                    d.id,
                    d.record_id.as_ref().map(RecordId::as_str),
                    d.provider,
                    d.error_class.as_str(),
                    d.attempts,
                    d.reason,
                    d.dead_lettered_at.as_millis(),
                    d.body
                ])
                .map_err(|e| sql_error("dead-letter put", e))?;
            }
            Ok(())
        })
        .await
    }

    async fn list(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>, PortError> {
        let conn = self.shared.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, record_id, provider, error_class, attempts, reason, dead_lettered_at, body FROM dead_letters
                 WHERE (?1 IS NULL OR provider = ?1) AND (?2 IS NULL OR error_class = ?2) AND (?3 IS NULL OR dead_lettered_at >= ?3)
                 ORDER BY dead_lettered_at, id LIMIT ?4",
            )
            .map_err(|e| sql_error("dead-letter list", e))?;
        let rows = stmt
            .query_map(
                params![
                    filter.provider,
                    filter.error_class.map(ErrorClass::as_str),
                    filter.since.map(Timestamp::as_millis),
                    filter.limit.map_or(-1, |l| l as i64)
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, u32>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                },
            )
            .map_err(|e| sql_error("dead-letter list", e))?;
        rows.map(|row| {
            let (id, record_id, provider, class, attempts, reason, at, body) =
                row.map_err(|e| sql_error("dead-letter list", e))?;
            Ok(DeadLetter {
                record_id: record_id
                    .map(RecordId::new)
                    .transpose()
                    .map_err(|e| corrupt("dead-letter list", &format!("record id of {id}"), e))?,
                error_class: ErrorClass::parse(&class)
                    .ok_or_else(|| corrupt("dead-letter list", "error class", &class))?,
                id,
                provider,
                attempts,
                reason,
                dead_lettered_at: Timestamp::from_millis(at),
                body,
            })
        })
        .collect()
    }

    async fn remove(&self, ids: &[String]) -> Result<u64, PortError> {
        self.shared.write("dead-letter remove", |tx| {
            let mut stmt = tx
                .prepare_cached("DELETE FROM dead_letters WHERE id = ?1")
                .map_err(|e| sql_error("dead-letter remove", e))?;
            let mut removed = 0;
            for id in ids {
                removed += stmt
                    .execute([id])
                    .map_err(|e| sql_error("dead-letter remove", e))?
                    as u64;
            }
            Ok(removed)
        })
    }
}
