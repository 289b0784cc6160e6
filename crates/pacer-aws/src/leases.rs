//! Provider leases on the control table: fencing tokens, the min-interval clock and the
//! breaker, in one item per provider (pk `provider#<id>`, sk `lease`).
//!
//! `acquire` reads the lease and the claimed records consistently, decides (as the
//! lifecycle and the port contract say) which claims are eligible, then writes the
//! lease and the eligible records in one `TransactWriteItems`: the lease only if its
//! token is still the one read, each record only if its revision is still the one read.
//! A cancelled transaction means someone wrote in between; the whole decision is made
//! again from fresh reads, so a grant is never based on stale data.

use crate::apply::record_put;
use crate::backend::Aws;
use crate::dynamo::{batch_get, cancellation_codes, pause, transact};
use crate::error::{build, corrupt, sdk, AdapterError};
use crate::item::{n, names, opt_n, opt_s, req_n, s, values, Item};
use crate::record_item::{from_item, ID};
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use pacer_core::breaker::BreakerState;
use pacer_core::lifecycle::{self, Event};
use pacer_core::ports::{Claim, Lease, LeaseGrant, LeaseStore};
use pacer_core::{PortError, ProviderId, Record, RecordState, Timestamp};
use std::collections::HashMap;
use std::time::Duration;

/// Optimistic rounds before `acquire` gives up as contended.
const MAX_ROUNDS: u32 = 8;
/// Items per transaction (DynamoDB's limit).
const TX_ITEMS: usize = 100;

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

/// Whether claim `c` may move `record` to in flight (the embedded backend's rule).
fn eligible(provider: &ProviderId, record: &Record, c: &Claim) -> bool {
    // A newer attempt is always fresh; the same attempt only while in flight (a
    // redelivery). A newer attempt of an in_flight record is the dispatcher re-releasing
    // a record whose worker and message were lost: refusing it would strand the record.
    let fresh = match record.state {
        RecordState::InFlight => record.attempt <= c.attempt,
        _ => record.attempt < c.attempt,
    };
    &record.provider == provider
        && fresh
        && lifecycle::transition(record.state, Event::Begin).is_ok()
}

/// The lease write: a put conditional on the token read (or on there being no lease).
fn lease_put(
    aws: &Aws,
    lease: &Lease,
    read_token: Option<u64>,
    op: &'static str,
) -> Result<TransactWriteItem, PortError> {
    let mut item = lease_key(&lease.provider);
    item.insert("provider".into(), s(lease.provider.as_str()));
    item.insert("holder".into(), s(&lease.holder));
    item.insert("token".into(), n(lease.token));
    item.insert("expires_at".into(), n(lease.expires_at.as_millis()));
    item.insert("breaker".into(), s(breaker_text(&lease.breaker, op)?));
    if let Some(t) = lease.last_call_started_at {
        item.insert("last_call_started_at".into(), n(t.as_millis()));
    }
    let put = Put::builder()
        .table_name(&aws.inner.resources.control_table)
        .set_item(Some(item));
    let put = match read_token {
        None => put
            .condition_expression("attribute_not_exists(#pk)")
            .set_expression_attribute_names(Some(names([("#pk", "pk")]))),
        Some(t) => put
            .condition_expression("#token = :token")
            .set_expression_attribute_names(Some(names([("#token", "token")])))
            .set_expression_attribute_values(Some(values([(":token", n(t))]))),
    };
    Ok(TransactWriteItem::builder()
        .put(put.build().map_err(|e| build(op, e))?)
        .build())
}

/// Later transactions of a large grant check the lease is still the one just written.
fn lease_check(aws: &Aws, lease: &Lease, op: &'static str) -> Result<TransactWriteItem, PortError> {
    let check = ConditionCheck::builder()
        .table_name(&aws.inner.resources.control_table)
        .set_key(Some(lease_key(&lease.provider)))
        .condition_expression("#token = :token")
        .set_expression_attribute_names(Some(names([("#token", "token")])))
        .set_expression_attribute_values(Some(values([(":token", n(lease.token))])))
        .build()
        .map_err(|e| build(op, e))?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// Decides the claims in order, each seeing the moves of the ones before it; returns one
/// flag per claim and the records to write, with the revision each was read at.
fn decide(
    provider: &ProviderId,
    claims: &[Claim],
    read: Vec<(Record, u64)>,
    now: Timestamp,
) -> (Vec<bool>, Vec<(Record, u64)>) {
    let mut records: HashMap<String, (Record, u64, bool)> = read
        .into_iter()
        .map(|(r, rev)| (r.id.to_string(), (r, rev, false)))
        .collect();
    let flags = claims
        .iter()
        .map(|c| match records.get_mut(c.record_id.as_str()) {
            Some((r, _, changed)) if eligible(provider, r, c) => {
                r.state = RecordState::InFlight;
                r.attempt = c.attempt;
                r.updated_at = now;
                *changed = true;
                true
            }
            _ => false,
        })
        .collect();
    let writes = records
        .into_values()
        .filter(|(_, _, changed)| *changed)
        .map(|(r, rev, _)| (r, rev))
        .collect();
    (flags, writes)
}

/// Writes the lease and the claimed records: one transaction, or several (the later ones
/// checking the lease is still this one) past DynamoDB's 100 items. `false` when a
/// condition failed (someone wrote in between).
async fn write_grant(
    aws: &Aws,
    lease: &Lease,
    read_token: Option<u64>,
    records: &[(Record, u64)],
    op: &'static str,
) -> Result<bool, PortError> {
    let writes = records
        .iter()
        .map(|(r, rev)| record_put(aws, r, *rev, op))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rest = writes.into_iter();
    let mut batch = vec![lease_put(aws, lease, read_token, op)?];
    loop {
        batch.extend(rest.by_ref().take(TX_ITEMS - 1));
        if let Err(e) = transact(&aws.inner.dynamo, batch).await {
            cancellation_codes(e, op)?;
            return Ok(false);
        }
        if rest.len() == 0 {
            return Ok(true);
        }
        batch = vec![lease_check(aws, lease, op)?];
    }
}

/// One round of `acquire`: `None` when a concurrent write cancelled it.
async fn try_acquire(
    aws: &Aws,
    provider: &ProviderId,
    holder: &str,
    ttl: Duration,
    now: Timestamp,
    claims: &[Claim],
) -> Result<Option<LeaseGrant>, PortError> {
    let op = "acquire lease";
    let inner = &aws.inner;
    let current = get_lease(aws, provider, op).await?;
    if let Some(l) = &current {
        if !l.holder.is_empty() && l.holder != holder && l.expires_at > now {
            return Ok(Some(LeaseGrant::Busy {
                expires_at: l.expires_at,
            }));
        }
    }
    let lease = Lease {
        provider: provider.clone(),
        holder: holder.to_owned(),
        token: current.as_ref().map_or(0, |l| l.token) + 1,
        expires_at: now.plus(ttl),
        last_call_started_at: current.as_ref().and_then(|l| l.last_call_started_at),
        breaker: current
            .as_ref()
            .map_or_else(BreakerState::default, |l| l.breaker),
    };
    let ids: Vec<String> = claims.iter().map(|c| c.record_id.to_string()).collect();
    let items = batch_get(&inner.dynamo, &inner.resources.records_table, ID, &ids, op).await?;
    let read = items.iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
    let (eligible, writes) = decide(provider, claims, read, now);
    let read_token = current.as_ref().map(|l| l.token);
    if !write_grant(aws, &lease, read_token, &writes, op).await? {
        return Ok(None);
    }
    Ok(Some(LeaseGrant::Granted { lease, eligible }))
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
    match update.send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk("release lease", e)),
    }
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
            if let Some(grant) = try_acquire(self, provider, holder, ttl, now, claims).await? {
                return Ok(grant);
            }
            pause(round).await;
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
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk("begin call", e)),
        }
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
