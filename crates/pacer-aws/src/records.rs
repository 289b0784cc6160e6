//! The record store on DynamoDB: inserting, reading, listing and counting records here;
//! scheduling and release in [`crate::schedule`], applying outcomes in [`crate::apply`].
//!
//! `list` without a provider and `counts` scan the whole table: they are operator
//! commands, not part of the pipeline. Everything the pipeline runs uses a key or an
//! index.

use crate::backend::Aws;
use crate::dynamo::{batch_get, bounded, condition_held};
use crate::error::sdk;
use crate::item::{names, req_s, s, Item};
use crate::record_item::{
    from_item, to_item, ID, INDEX_BY_PROVIDER, INDEX_PENDING, PENDING_PROVIDER, PROVIDER, STATE,
};
use pacer_core::planner::WindowPlan;
use pacer_core::ports::{
    ApplyReport, HistoryEntry, InsertReport, RecordFilter, RecordStore, Replay, ScheduleReport,
    StateCount, StoredResult,
};
use pacer_core::schema::OutcomeEvent;
use pacer_core::{NewRecord, PortError, ProviderId, Record, RecordId, RecordState, Timestamp};
use std::collections::{BTreeMap, HashSet};

/// Stores one new record unless its id exists; `true` if it was stored.
async fn insert_one(aws: &Aws, record: &NewRecord, now: Timestamp) -> Result<bool, PortError> {
    let inner = &aws.inner;
    let fresh = Record {
        id: record.id.clone(),
        provider: record.provider.clone(),
        request: record.request.clone(),
        state: RecordState::Pending,
        due_at: None,
        attempt: 0,
        calls: 0,
        note: None,
        callback_url: record.callback_url.clone(),
        created_at: now,
        updated_at: now,
    };
    let item = to_item(&fresh, 0, inner.options.due_shards)?;
    let put = inner
        .dynamo
        .put_item()
        .table_name(&inner.resources.records_table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#id)")
        .set_expression_attribute_names(Some(names([("#id", ID)])))
        .send()
        .await;
    condition_held(put, "insert records")
}

/// Filters, orders by id and cuts a list of records the way `list` promises.
fn select(mut records: Vec<Record>, filter: &RecordFilter) -> Vec<Record> {
    records.retain(|r| {
        filter.state.is_none_or(|s| r.state == s)
            && filter.provider.as_ref().is_none_or(|p| &r.provider == p)
            && filter.after.as_ref().is_none_or(|a| &r.id > a)
    });
    records.sort_by(|a, b| a.id.cmp(&b.id));
    records.truncate(filter.limit);
    records
}

/// `list` of one provider: the `by_provider` index gives ids in order, page by page;
/// the records themselves are read consistently.
async fn list_of_provider(
    aws: &Aws,
    provider: &ProviderId,
    filter: &RecordFilter,
) -> Result<Vec<Record>, PortError> {
    let inner = &aws.inner;
    let op = "list records";
    let mut query = inner
        .dynamo
        .query()
        .table_name(&inner.resources.records_table)
        .index_name(INDEX_BY_PROVIDER)
        .expression_attribute_names("#p", PROVIDER)
        .expression_attribute_values(":p", s(provider.as_str()));
    query = match &filter.after {
        Some(after) => query
            .key_condition_expression("#p = :p AND #id > :after")
            .expression_attribute_names("#id", ID)
            .expression_attribute_values(":after", s(after.as_str())),
        None => query.key_condition_expression("#p = :p"),
    };
    let mut pages = query.limit(100).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk(op, e))?;
        let ids = page
            .items()
            .iter()
            .map(|i| req_s(i, ID, op).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let items = batch_get(&inner.dynamo, &inner.resources.records_table, ID, &ids, op).await?;
        let records = items
            .iter()
            .map(|i| from_item(i).map(|(r, _)| r))
            .collect::<Result<Vec<_>, _>>()?;
        out.extend(select(records, filter));
        if out.len() >= filter.limit {
            break;
        }
    }
    Ok(select(out, filter))
}

/// `list` across providers: a consistent scan of the table.
async fn list_all(aws: &Aws, filter: &RecordFilter) -> Result<Vec<Record>, PortError> {
    let inner = &aws.inner;
    let op = "list records";
    let mut scan = inner
        .dynamo
        .scan()
        .table_name(&inner.resources.records_table)
        .consistent_read(true);
    if let Some(state) = filter.state {
        scan = scan
            .filter_expression("#s = :s")
            .expression_attribute_names("#s", STATE)
            .expression_attribute_values(":s", s(state.as_str()));
    }
    let items: Vec<Item> = scan
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk(op, e))?;
    let records = items
        .iter()
        .map(|i| from_item(i).map(|(r, _)| r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(select(records, filter))
}

#[async_trait::async_trait]
impl RecordStore for Aws {
    async fn insert(
        &self,
        records: &[NewRecord],
        now: Timestamp,
    ) -> Result<InsertReport, PortError> {
        // A repeat of an id within the slice is a duplicate of its first copy.
        let mut seen = HashSet::new();
        let (first, repeats): (Vec<&NewRecord>, Vec<&NewRecord>) =
            records.iter().partition(|r| seen.insert(r.id.clone()));
        let inserts = first
            .into_iter()
            .map(|r| insert_one(self, r, now))
            .collect();
        let stored: Vec<bool> = bounded(inserts, self.inner.options.concurrency).await?;
        let inserted = stored.iter().filter(|s| **s).count() as u64;
        Ok(InsertReport {
            inserted,
            duplicates: stored.len() as u64 - inserted + repeats.len() as u64,
        })
    }

    async fn get(&self, id: &RecordId) -> Result<Option<Record>, PortError> {
        let inner = &self.inner;
        let answer = inner
            .dynamo
            .get_item()
            .table_name(&inner.resources.records_table)
            .key(ID, s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("get record", e))?;
        answer
            .item
            .map(|i| from_item(&i).map(|(r, _)| r))
            .transpose()
    }

    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, PortError> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        match &filter.provider {
            Some(provider) => list_of_provider(self, provider, filter).await,
            None => list_all(self, filter).await,
        }
    }

    async fn pending_load(&self) -> Result<Vec<(ProviderId, u64)>, PortError> {
        let inner = &self.inner;
        let op = "pending load";
        // The `pending` index holds only pending records, so this scan reads nothing else.
        let items: Vec<Item> = inner
            .dynamo
            .scan()
            .table_name(&inner.resources.records_table)
            .index_name(INDEX_PENDING)
            .projection_expression("#p")
            .expression_attribute_names("#p", PENDING_PROVIDER)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk(op, e))?;
        let mut load: BTreeMap<ProviderId, u64> = BTreeMap::new();
        for item in &items {
            let p = req_s(item, PENDING_PROVIDER, op)?;
            let id = ProviderId::new(p)
                .map_err(|e| crate::error::corrupt(op, format!("provider {p:?}: {e}")))?;
            *load.entry(id).or_default() += 1;
        }
        Ok(load.into_iter().collect())
    }

    async fn schedule(
        &self,
        plan: &WindowPlan,
        now: Timestamp,
    ) -> Result<ScheduleReport, PortError> {
        crate::schedule::schedule(self, plan, now).await
    }

    async fn due(
        &self,
        now: Timestamp,
        stale_before: Timestamp,
        limit: usize,
    ) -> Result<Vec<Record>, PortError> {
        crate::schedule::due(self, now, stale_before, limit).await
    }

    async fn mark_queued(&self, ids: &[RecordId], now: Timestamp) -> Result<(), PortError> {
        crate::schedule::mark_queued(self, ids, now).await
    }

    async fn apply_outcomes(
        &self,
        events: &[OutcomeEvent],
        now: Timestamp,
    ) -> Result<ApplyReport, PortError> {
        crate::apply::apply_outcomes(self, events, now).await
    }

    async fn attempts(&self, id: &RecordId) -> Result<Vec<OutcomeEvent>, PortError> {
        crate::apply::attempts(self, id).await
    }

    async fn result(&self, id: &RecordId) -> Result<Option<StoredResult>, PortError> {
        crate::apply::result(self, id).await
    }

    async fn replay(&self, replays: &[Replay], now: Timestamp) -> Result<u64, PortError> {
        crate::history::replay(self, replays, now).await
    }

    async fn note(&self, id: &RecordId, entry: &HistoryEntry) -> Result<(), PortError> {
        crate::history::note(self, id, entry).await
    }

    async fn history(&self, id: &RecordId) -> Result<Vec<HistoryEntry>, PortError> {
        crate::history::history(self, id).await
    }

    async fn counts(&self) -> Result<Vec<StateCount>, PortError> {
        let inner = &self.inner;
        let op = "counts";
        let items: Vec<Item> = inner
            .dynamo
            .scan()
            .table_name(&inner.resources.records_table)
            .projection_expression("#p, #s")
            .set_expression_attribute_names(Some(names([("#p", PROVIDER), ("#s", STATE)])))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk(op, e))?;
        let mut counts: BTreeMap<(ProviderId, RecordState), u64> = BTreeMap::new();
        for item in &items {
            let p = req_s(item, PROVIDER, op)?;
            let state = req_s(item, STATE, op)?;
            let provider = ProviderId::new(p)
                .map_err(|e| crate::error::corrupt(op, format!("provider {p:?}: {e}")))?;
            let state = RecordState::parse(state)
                .ok_or_else(|| crate::error::corrupt(op, format!("state {state:?}")))?;
            *counts.entry((provider, state)).or_default() += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((provider, state), count)| StateCount {
                provider,
                state,
                count,
            })
            .collect())
    }
}
