//! Provider leases on the control table: fencing tokens, the min-interval clock and the
//! breaker, in one item per provider (pk `provider#<id>`, sk `lease`).
//!
//! `acquire` is one conditional `UpdateItem` on the lease (free, lapsed or already ours;
//! the token raised in the same write, the lease returned as written), then one
//! conditional `UpdateItem` per claimed record that moves it to `in_flight` only where
//! the lifecycle and the attempt numbers allow. No read comes first and no transaction is
//! needed: exclusion rests on the lease's condition and its fencing token alone, and each
//! claim's condition makes it safe against any concurrent write to its record. A grant
//! costs 1 + claims write units instead of a lease read, a batch read of the records and a
//! transaction billed twice per item.

use crate::backend::Aws;
use crate::dynamo::{bounded, condition_held, pause, written_or_current};
use crate::error::{corrupt, sdk, AdapterError};
use crate::item::{n, names, opt_n, opt_s, req_n, s, values, Item};
use crate::record_item::{
    shard, stale_partition, ATTEMPT, DUE_KEY, DUE_SHARD, ID, PROVIDER, REV, STATE, UPDATED_AT,
};
use aws_sdk_dynamodb::types::ReturnValue;
use pacer_core::breaker::BreakerState;
use pacer_core::lifecycle::{self, Event};
use pacer_core::ports::{Claim, Lease, LeaseGrant, LeaseStore};
use pacer_core::{PortError, ProviderId, RecordState, Timestamp};
use std::collections::HashMap;
use std::time::Duration;

/// Optimistic rounds before `acquire` gives up as contended.
const MAX_ROUNDS: u32 = 8;

/// The control table's keys for a provider's lease.
pub(crate) fn lease_key(provider: &ProviderId) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("provider#{provider}"))),
        ("sk".to_owned(), s("lease")),
    ])
}

fn breaker_text(b: &BreakerState, op: &'static str) -> Result<String, PortError> {
    serde_json::to_string(b).map_err(|e| corrupt(op, format!("breaker state: {e}")))
}

/// The stored lease, as `inspect` shows it.
fn read_lease(provider: &ProviderId, item: &Item, op: &'static str) -> Result<Lease, PortError> {
    let breaker = match opt_s(item, "breaker", op)? {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| corrupt(op, format!("breaker state of {provider}: {e}")))?,
        None => BreakerState::default(),
    };
    Ok(Lease {
        provider: provider.clone(),
        holder: opt_s(item, "holder", op)?.unwrap_or_default().to_owned(),
        token: req_n(item, "token", op)?,
        expires_at: Timestamp::from_millis(req_n(item, "expires_at", op)?),
        last_call_started_at: opt_n(item, "last_call_started_at", op)?.map(Timestamp::from_millis),
        breaker,
    })
}

async fn get_lease(
    aws: &Aws,
    provider: &ProviderId,
    op: &'static str,
) -> Result<Option<Lease>, PortError> {
    let inner = &aws.inner;
    let answer = inner
        .dynamo
        .get_item()
        .table_name(&inner.resources.control_table)
        .set_key(Some(lease_key(provider)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk(op, e))?;
    answer
        .item
        .map(|i| read_lease(provider, &i, op))
        .transpose()
}

/// Takes the lease with one conditional update, without reading it first: it succeeds
/// only if the lease is free (no holder), lapsed at `now`, or already `holder`'s, and it
/// raises the token in the same write, so the token is greater than every one granted
/// before. Returns the lease as written, or, when someone else holds it, the lease as it
/// is.
async fn take_lease(
    aws: &Aws,
    provider: &ProviderId,
    holder: &str,
    ttl: Duration,
    now: Timestamp,
) -> Result<Result<Lease, Option<Lease>>, PortError> {
    let op = "acquire lease";
    let inner = &aws.inner;
    let update = inner
        .dynamo
        .update_item()
        .table_name(&inner.resources.control_table)
        .set_key(Some(lease_key(provider)))
        .condition_expression("attribute_not_exists(#holder) OR #holder = :holder OR #exp <= :now")
        .update_expression(
            "SET #provider = :provider, #holder = :holder, #exp = :exp, \
             #token = if_not_exists(#token, :zero) + :one",
        )
        .set_expression_attribute_names(Some(names([
            ("#provider", "provider"),
            ("#holder", "holder"),
            ("#exp", "expires_at"),
            ("#token", "token"),
        ])))
        .set_expression_attribute_values(Some(values([
            (":provider", s(provider.as_str())),
            (":holder", s(holder)),
            (":now", n(now.as_millis())),
            (":exp", n(now.plus(ttl).as_millis())),
            (":zero", n(0)),
            (":one", n(1)),
        ])))
        .return_values(ReturnValue::AllNew);
    Ok(match written_or_current(update, op).await? {
        Ok(Some(item)) => Ok(read_lease(provider, &item, op)?),
        Ok(None) => return Err(corrupt(op, format!("no lease of {provider} returned"))),
        Err(current) => Err(current
            .map(|item| read_lease(provider, &item, op))
            .transpose()?),
    })
}

/// The states a record may be claimed from with a newer attempt (the lifecycle's
/// `Begin` sources other than `in_flight`, which allows the same attempt: a redelivery).
fn claimable_states() -> Vec<RecordState> {
    RecordState::ALL
        .into_iter()
        .filter(|s| *s != RecordState::InFlight && lifecycle::transition(*s, Event::Begin).is_ok())
        .collect()
}

/// Moves one claimed record to `in_flight` at the claim's attempt with one conditional
/// update, no read: only a record of this provider whose attempt is lower (or equal while
/// it is already in flight: a redelivery) and whose state allows `Begin`. `false` when
/// the record is past that attempt, someone else's, or missing.
async fn claim(
    aws: &Aws,
    provider: &ProviderId,
    c: &Claim,
    now: Timestamp,
) -> Result<bool, PortError> {
    let op = "acquire lease";
    let inner = &aws.inner;
    let id = c.record_id.as_str();
    let from = claimable_states();
    let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
    let condition = format!(
        "#provider = :provider AND ((#state = :in_flight AND #attempt <= :attempt) \
         OR (#state IN ({}) AND #attempt < :attempt))",
        placeholders.join(", ")
    );
    let mut update = inner
        .dynamo
        .update_item()
        .table_name(&inner.resources.records_table)
        .key(ID, s(id))
        .condition_expression(condition)
        .update_expression(
            "SET #state = :in_flight, #attempt = :attempt, #updated = :now, \
             #rev = #rev + :one, #shard = :stale, #key = :now",
        )
        .set_expression_attribute_names(Some(names([
            ("#provider", PROVIDER),
            ("#state", STATE),
            ("#attempt", ATTEMPT),
            ("#updated", UPDATED_AT),
            ("#rev", REV),
            ("#shard", DUE_SHARD),
            ("#key", DUE_KEY),
        ])))
        .set_expression_attribute_values(Some(values([
            (":provider", s(provider.as_str())),
            (":in_flight", s(RecordState::InFlight.as_str())),
            (":attempt", n(c.attempt)),
            (":now", n(now.as_millis())),
            (":one", n(1)),
            (
                ":stale",
                s(stale_partition(shard(id, inner.options.due_shards))),
            ),
        ])));
    for (placeholder, state) in placeholders.iter().zip(&from) {
        update = update.expression_attribute_values(placeholder, s(state.as_str()));
    }
    Ok(written_or_current(update, op).await?.is_ok())
}

/// Moves the claims in order: one record's claims one after another (each sees the
/// moves of the ones before it), different records concurrently.
async fn claim_all(
    aws: &Aws,
    provider: &ProviderId,
    claims: &[Claim],
    now: Timestamp,
) -> Result<Vec<bool>, PortError> {
    let mut per_record: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in claims.iter().enumerate() {
        per_record.entry(c.record_id.as_str()).or_default().push(i);
    }
    let runs = per_record
        .into_values()
        .map(|indices| async move {
            let mut out = Vec::with_capacity(indices.len());
            for i in indices {
                out.push((i, claim(aws, provider, &claims[i], now).await?));
            }
            Ok(out)
        })
        .collect();
    let mut flags = vec![false; claims.len()];
    for (i, eligible) in bounded(runs, aws.inner.options.concurrency)
        .await?
        .into_iter()
        .flatten()
    {
        flags[i] = eligible;
    }
    Ok(flags)
}

/// One conditional release write; `false` when its condition did not hold.
async fn release_update(
    aws: &Aws,
    lease: &Lease,
    breaker: &str,
    now: Timestamp,
    condition: &str,
    expression: &str,
    last: Option<Timestamp>,
) -> Result<bool, PortError> {
    let inner = &aws.inner;
    let mut update = inner
        .dynamo
        .update_item()
        .table_name(&inner.resources.control_table)
        .set_key(Some(lease_key(&lease.provider)))
        .condition_expression(condition)
        .update_expression(expression)
        .set_expression_attribute_names(Some(names([
            ("#token", "token"),
            ("#exp", "expires_at"),
            ("#breaker", "breaker"),
            ("#holder", "holder"),
        ])))
        .set_expression_attribute_values(Some(values([
            (":token", n(lease.token)),
            (":now", n(now.as_millis())),
            (":breaker", s(breaker)),
        ])));
    if let Some(last) = last {
        update = update
            .expression_attribute_names("#last", "last_call_started_at")
            .expression_attribute_values(":last", n(last.as_millis()));
    }
    condition_held(update.send().await, "release lease")
}

#[async_trait::async_trait]
impl LeaseStore for Aws {
    async fn acquire(
        &self,
        provider: &ProviderId,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
        claims: &[Claim],
    ) -> Result<LeaseGrant, PortError> {
        for round in 0..MAX_ROUNDS {
            let lease = match take_lease(self, provider, holder, ttl, now).await? {
                Ok(lease) => lease,
                Err(Some(current)) if current.expires_at > now => {
                    return Ok(LeaseGrant::Busy {
                        expires_at: current.expires_at,
                    })
                }
                // Released or lapsed between the write and its answer: try again.
                Err(_) => {
                    pause(round).await;
                    continue;
                }
            };
            return match claim_all(self, provider, claims, now).await {
                Ok(eligible) => Ok(LeaseGrant::Granted { lease, eligible }),
                Err(err) => {
                    // Nothing will be called under this lease: free the provider now
                    // rather than when the lease lapses. The claims already moved are
                    // redeliveries of the same attempts, which stay eligible.
                    if let Err(e) = self.release(&lease, lease.breaker, now).await {
                        tracing::warn!(%provider, error = %e, "could not release an unused lease; it will expire");
                    }
                    Err(err)
                }
            };
        }
        Err(AdapterError::Contention {
            item: format!("lease of {provider}"),
            attempts: MAX_ROUNDS,
        }
        .into_port("acquire lease"))
    }

    async fn begin_call(
        &self,
        lease: &Lease,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, PortError> {
        let inner = &self.inner;
        let sent = inner
            .dynamo
            .update_item()
            .table_name(&inner.resources.control_table)
            .set_key(Some(lease_key(&lease.provider)))
            .condition_expression("#token = :token")
            .update_expression("SET #exp = :exp, #last = :now")
            .set_expression_attribute_names(Some(names([
                ("#token", "token"),
                ("#exp", "expires_at"),
                ("#last", "last_call_started_at"),
            ])))
            .set_expression_attribute_values(Some(values([
                (":token", n(lease.token)),
                (":exp", n(now.plus(ttl).as_millis())),
                (":now", n(now.as_millis())),
            ])))
            .send()
            .await;
        condition_held(sent, "begin call")
    }

    async fn release(
        &self,
        lease: &Lease,
        breaker: BreakerState,
        now: Timestamp,
    ) -> Result<(), PortError> {
        let op = "release lease";
        let breaker = breaker_text(&breaker, op)?;
        // The min-interval clock only moves forward: store the holder's last call start
        // if it is later than the stored one, else keep the stored one.
        if let Some(last) = lease.last_call_started_at {
            let later = "#token = :token AND (attribute_not_exists(#last) OR #last < :last)";
            let set = "SET #exp = :now, #breaker = :breaker, #last = :last REMOVE #holder";
            if release_update(self, lease, &breaker, now, later, set, Some(last)).await? {
                return Ok(());
            }
        }
        let set = "SET #exp = :now, #breaker = :breaker REMOVE #holder";
        // A stale token changes nothing: the lease is someone else's now.
        release_update(self, lease, &breaker, now, "#token = :token", set, None).await?;
        Ok(())
    }

    async fn inspect(&self, provider: &ProviderId) -> Result<Option<Lease>, PortError> {
        get_lease(self, provider, "inspect lease").await
    }
}
