//! How a record is laid out as a DynamoDB item, and which index keys it carries.
//!
//! Base table: pk `id`. Every item has a revision `rev`, raised by every write, so a
//! write computed from a read (applying an outcome, claiming a record) can be made
//! conditional on nothing having changed since.
//!
//! Three indexes, all *sparse* (an item appears in an index only while it has that
//! index's key attributes):
//!
//! | index | keys | carried while | projection | used by |
//! |---|---|---|---|---|
//! | `due` | `due_shard` = `due#NN`, `due_key` = `due_at` | `scheduled`, `retry_wait` | all | `due` |
//! | `due` | `due_shard` = `stale#NN`, `due_key` = `updated_at` | `queued`, `in_flight` | all | `due` (staleness sweep) |
//! | `pending` | `pending_provider`, `pending_key` = `created_at#id` | `pending` | keys | `pending_load`, `schedule` |
//! | `by_provider` | `provider`, `id` | always | keys | `list` by provider |
//!
//! `NN` is a stable hash of the id modulo the shard count, so the dispatcher's writes
//! and reads spread over `2 × shards` index partitions instead of one, and finished
//! records leave the `due` index altogether. `by_provider` projects only keys and its
//! keys never change, so DynamoDB writes it once per record, at insert.

use crate::error::corrupt;
use crate::item::{n, opt_n, opt_s, req_n, req_s, s, Item};
use pacer_core::{PortError, ProviderId, Record, RecordId, RecordState, Timestamp};

pub(crate) const ID: &str = "id";
pub(crate) const PROVIDER: &str = "provider";
pub(crate) const REQUEST: &str = "request";
pub(crate) const STATE: &str = "state";
pub(crate) const DUE_AT: &str = "due_at";
pub(crate) const ATTEMPT: &str = "attempt";
pub(crate) const CALLS: &str = "calls";
pub(crate) const NOTE: &str = "note";
/// Where the final outcome is posted (HTTP API records).
pub(crate) const CALLBACK_URL: &str = "callback_url";
pub(crate) const CREATED_AT: &str = "created_at";
pub(crate) const UPDATED_AT: &str = "updated_at";
pub(crate) const REV: &str = "rev";
pub(crate) const DUE_SHARD: &str = "due_shard";
pub(crate) const DUE_KEY: &str = "due_key";
pub(crate) const PENDING_PROVIDER: &str = "pending_provider";
pub(crate) const PENDING_KEY: &str = "pending_key";

/// The sparse, sharded index of schedulable records.
pub(crate) const INDEX_DUE: &str = "due";
/// The sparse index of pending records per provider, oldest first.
pub(crate) const INDEX_PENDING: &str = "pending";
/// Every record's id per provider (keys only).
pub(crate) const INDEX_BY_PROVIDER: &str = "by_provider";

/// The shard of a record id: FNV-1a, so every process agrees without coordination.
pub(crate) fn shard(id: &str, shards: u16) -> u16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(shards.max(1))) as u16
}

/// The `due` index partition of schedulable records in `shard`.
pub(crate) fn due_partition(shard: u16) -> String {
    format!("due#{shard:02}")
}

/// The `due` index partition of queued and in-flight records in `shard`.
pub(crate) fn stale_partition(shard: u16) -> String {
    format!("stale#{shard:02}")
}

/// The `pending` index sort key: oldest first, then by id (the schedule contract).
pub(crate) fn pending_key(created_at: Timestamp, id: &RecordId) -> String {
    format!("{:015}#{}", created_at.as_millis().max(0), id)
}

/// A record's full item at revision `rev`, with the index keys its state calls for.
pub(crate) fn to_item(record: &Record, rev: u64, shards: u16) -> Result<Item, PortError> {
    let request = serde_json::to_string(&record.request)
        .map_err(|e| corrupt("write record", format!("request of {}: {e}", record.id)))?;
    let mut item: Item = [
        (ID, s(record.id.as_str())),
        (PROVIDER, s(record.provider.as_str())),
        (REQUEST, s(request)),
        (STATE, s(record.state.as_str())),
        (ATTEMPT, n(record.attempt)),
        (CALLS, n(record.calls)),
        (CREATED_AT, n(record.created_at.as_millis())),
        (UPDATED_AT, n(record.updated_at.as_millis())),
        (REV, n(rev)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(due) = record.due_at {
        item.insert(DUE_AT.to_owned(), n(due.as_millis()));
    }
    if let Some(note) = &record.note {
        item.insert(NOTE.to_owned(), s(note));
    }
    if let Some(url) = &record.callback_url {
        item.insert(CALLBACK_URL.to_owned(), s(url.as_str()));
    }
    let shard = shard(record.id.as_str(), shards);
    match record.state {
        RecordState::Pending => {
            item.insert(PENDING_PROVIDER.to_owned(), s(record.provider.as_str()));
            item.insert(
                PENDING_KEY.to_owned(),
                s(pending_key(record.created_at, &record.id)),
            );
        }
        RecordState::Scheduled | RecordState::RetryWait => {
            // A schedulable record without a due time is due at once.
            let due = record.due_at.map_or(0, Timestamp::as_millis);
            item.insert(DUE_SHARD.to_owned(), s(due_partition(shard)));
            item.insert(DUE_KEY.to_owned(), n(due));
        }
        RecordState::Queued | RecordState::InFlight => {
            item.insert(DUE_SHARD.to_owned(), s(stale_partition(shard)));
            item.insert(DUE_KEY.to_owned(), n(record.updated_at.as_millis()));
        }
        RecordState::Succeeded | RecordState::Failed | RecordState::DeadLettered => {}
    }
    Ok(item)
}

/// Reads a record item back, with its revision.
pub(crate) fn from_item(item: &Item) -> Result<(Record, u64), PortError> {
    let op = "read record";
    let id = req_s(item, ID, op)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(op, format!("{what} of {id}: {e}"));
    let state = req_s(item, STATE, op)?;
    let record = Record {
        id: RecordId::new(id).map_err(|e| bad("id", &e))?,
        provider: ProviderId::new(req_s(item, PROVIDER, op)?).map_err(|e| bad("provider", &e))?,
        request: serde_json::from_str(req_s(item, REQUEST, op)?).map_err(|e| bad("request", &e))?,
        state: RecordState::parse(state).ok_or_else(|| bad("state", &state))?,
        due_at: opt_n(item, DUE_AT, op)?.map(Timestamp::from_millis),
        attempt: req_n(item, ATTEMPT, op)?,
        calls: req_n(item, CALLS, op)?,
        note: opt_s(item, NOTE, op)?.map(str::to_owned),
        callback_url: opt_s(item, CALLBACK_URL, op)?
            .map(pacer_core::callback_url::CallbackUrl::parse)
            .transpose()
            .map_err(|e| bad("callback_url", &e))?,
        created_at: Timestamp::from_millis(req_n(item, CREATED_AT, op)?),
        updated_at: Timestamp::from_millis(req_n(item, UPDATED_AT, op)?),
    };
    Ok((record, opt_n(item, REV, op)?.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_core::ApiRequest;

    fn record(state: RecordState) -> Record {
        Record {
            id: RecordId::new("r-1").expect("test data is valid"),
            provider: ProviderId::new("acme").expect("test data is valid"),
            request: ApiRequest {
                path: "/x".into(),
                ..Default::default()
            },
            state,
            due_at: Some(Timestamp::from_millis(5_000)),
            attempt: 2,
            calls: 1,
            note: Some("why".into()),
            callback_url: None,
            created_at: Timestamp::from_millis(1_000),
            updated_at: Timestamp::from_millis(2_000),
        }
    }

    #[test]
    fn round_trips_every_state() {
        for state in RecordState::ALL {
            let r = record(state);
            let item = to_item(&r, 7, 16).expect("test data is valid");
            assert_eq!(from_item(&item).expect("test data is valid"), (r, 7));
        }
    }

    #[test]
    fn only_schedulable_records_carry_due_index_keys() {
        let shard = due_partition(shard("r-1", 16));
        let item = to_item(&record(RecordState::RetryWait), 0, 16).expect("test data is valid");
        assert_eq!(item[DUE_SHARD], s(shard));
        assert_eq!(item[DUE_KEY], n(5_000));
        let queued = to_item(&record(RecordState::Queued), 0, 16).expect("test data is valid");
        assert!(queued[DUE_SHARD]
            .as_s()
            .expect("test data is valid")
            .starts_with("stale#"));
        assert_eq!(
            queued[DUE_KEY],
            n(2_000),
            "stale records sort by updated_at"
        );
        let done = to_item(&record(RecordState::Succeeded), 0, 16).expect("test data is valid");
        assert!(!done.contains_key(DUE_SHARD) && !done.contains_key(PENDING_KEY));
        let pending = to_item(&record(RecordState::Pending), 0, 16).expect("test data is valid");
        assert_eq!(pending[PENDING_KEY], s("000000000001000#r-1"));
        assert!(!pending.contains_key(DUE_SHARD));
    }

    #[test]
    fn shards_spread_ids_and_stay_in_range() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000 {
            let shard = shard(&format!("rec-{i}"), 16);
            assert!(shard < 16);
            seen.insert(shard);
        }
        assert_eq!(seen.len(), 16, "every shard gets ids");
    }
}
