//! Provider leases with fencing tokens, the min-interval clock and breaker state.

use crate::db::{corrupt, sql_error, Embedded};
use pacer_core::breaker::BreakerState;
use pacer_core::lifecycle::{self, Event};
use pacer_core::ports::{Claim, Lease, LeaseGrant, LeaseStore};
use pacer_core::{PortError, ProviderId, RecordState, Timestamp};
use rusqlite::{params, OptionalExtension, Transaction};
use std::time::Duration;

struct Row {
    holder: Option<String>,
    token: u64,
    expires_at: i64,
    last_call_started_at: Option<i64>,
    breaker: String,
}

fn read(tx: &rusqlite::Connection, provider: &str) -> Result<Option<Row>, PortError> {
    tx.prepare_cached("SELECT holder, token, expires_at, last_call_started_at, breaker FROM leases WHERE provider = ?1")
        .and_then(|mut s| {
            s.query_row([provider], |r| {
                Ok(Row {
                    holder: r.get(0)?,
                    token: r.get::<_, i64>(1)? as u64,
                    expires_at: r.get(2)?,
                    last_call_started_at: r.get(3)?,
                    breaker: r.get(4)?,
                })
            })
            .optional()
        })
        .map_err(|e| sql_error("read lease", e))
}

fn breaker(text: &str) -> Result<BreakerState, PortError> {
    serde_json::from_str(text).map_err(|e| corrupt("read lease", "breaker state", e))
}

/// Moves a claimed record to in_flight if the lifecycle and attempt numbers allow.
fn claim(
    tx: &Transaction<'_>,
    provider: &ProviderId,
    c: &Claim,
    now: i64,
) -> Result<bool, PortError> {
    let e = |err| sql_error("claim record", err);
    let row: Option<(String, String, u32)> = tx
        .prepare_cached("SELECT provider, state, attempt FROM records WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([c.record_id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(e)?;
    let Some((owner, state, attempt)) = row else {
        return Ok(false);
    };
    let state =
        RecordState::parse(&state).ok_or_else(|| corrupt("claim record", "state", &state))?;
    // A newer attempt is always fresh; the same attempt only while in flight (a
    // redelivery). A newer attempt of an in_flight record is the dispatcher re-releasing
    // a record whose worker and message were lost: refusing it would strand the record.
    let fresh = match state {
        RecordState::InFlight => attempt <= c.attempt,
        _ => attempt < c.attempt,
    };
    if owner != provider.as_str() || !fresh || lifecycle::transition(state, Event::Begin).is_err() {
        return Ok(false);
    }
    tx.prepare_cached(
        "UPDATE records SET state = 'in_flight', attempt = ?2, updated_at = ?3 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![c.record_id.as_str(), c.attempt, now]))
    .map_err(e)?;
    Ok(true)
}

#[async_trait::async_trait]
impl LeaseStore for Embedded {
    async fn acquire(
        &self,
        provider: &ProviderId,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
        claims: &[Claim],
    ) -> Result<LeaseGrant, PortError> {
        let (provider, holder, claims) = (provider.clone(), holder.to_owned(), claims.to_vec());
        self.shared.write_async("acquire lease", move |tx| {
            let (provider, holder) = (&provider, holder.as_str());
            let current = read(tx, provider.as_str())?;
            if let Some(row) = &current {
                let held_by_other = row.holder.as_deref().is_some_and(|h| h != holder);
                if held_by_other && row.expires_at > now.as_millis() {
                    return Ok(LeaseGrant::Busy { expires_at: Timestamp::from_millis(row.expires_at) });
                }
            }
            let token = current.as_ref().map_or(0, |r| r.token) + 1;
            let breaker_state = match &current {
                Some(r) => breaker(&r.breaker)?,
                None => BreakerState::default(),
            };
            let expires_at = now.plus(ttl);
            let breaker_text = serde_json::to_string(&breaker_state).map_err(|e| corrupt("acquire lease", "breaker", e))?;
            tx.prepare_cached(
                "INSERT INTO leases (provider, holder, token, expires_at, last_call_started_at, breaker)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5)
                 ON CONFLICT (provider) DO UPDATE SET holder = ?2, token = ?3, expires_at = ?4",
            )
            .and_then(|mut s| {
                s.execute(params![provider.as_str(), holder, token as i64, expires_at.as_millis(), breaker_text])
            })
            .map_err(|e| sql_error("acquire lease", e))?;
            let eligible = claims.iter().map(|c| claim(tx, provider, c, now.as_millis())).collect::<Result<_, _>>()?;
            Ok(LeaseGrant::Granted {
                lease: Lease {
                    provider: provider.clone(),
                    holder: holder.to_owned(),
                    token,
                    expires_at,
                    last_call_started_at: current.and_then(|r| r.last_call_started_at).map(Timestamp::from_millis),
                    breaker: breaker_state,
                },
                eligible,
            })
        })
        .await
    }

    async fn begin_call(
        &self,
        lease: &Lease,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, PortError> {
        let lease = lease.clone();
        self.shared.write_async("begin call", move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE leases SET expires_at = ?3, last_call_started_at = ?4 WHERE provider = ?1 AND token = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![lease.provider.as_str(), lease.token as i64, now.plus(ttl).as_millis(), now.as_millis()])
                })
                .map_err(|e| sql_error("begin call", e))?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release(
        &self,
        lease: &Lease,
        breaker: BreakerState,
        now: Timestamp,
    ) -> Result<(), PortError> {
        let text =
            serde_json::to_string(&breaker).map_err(|e| corrupt("release lease", "breaker", e))?;
        let lease = lease.clone();
        self.shared
            .write_async("release lease", move |tx| {
                tx.prepare_cached(
                    "UPDATE leases SET holder = NULL, expires_at = ?3, breaker = ?4,
                 last_call_started_at = MAX(COALESCE(last_call_started_at, 0), COALESCE(?5, 0))
                 WHERE provider = ?1 AND token = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        lease.provider.as_str(),
                        lease.token as i64,
                        now.as_millis(),
                        text,
                        lease.last_call_started_at.map(Timestamp::as_millis)
                    ])
                })
                .map_err(|e| sql_error("release lease", e))?;
                Ok(())
            })
            .await
    }

    async fn inspect(&self, provider: &ProviderId) -> Result<Option<Lease>, PortError> {
        let conn = self.shared.conn();
        let Some(row) = read(&conn, provider.as_str())? else {
            return Ok(None);
        };
        Ok(Some(Lease {
            provider: provider.clone(),
            holder: row.holder.unwrap_or_default(),
            token: row.token,
            expires_at: Timestamp::from_millis(row.expires_at),
            last_call_started_at: row.last_call_started_at.map(Timestamp::from_millis),
            breaker: breaker(&row.breaker)?,
        }))
    }
}
