//! Records, their attempts and their results.

use crate::error::PortError;
use crate::ids::{ProviderId, RecordId};
use crate::planner::WindowPlan;
use crate::record::{NewRecord, Record, RecordState};
use crate::schema::OutcomeEvent;
use crate::time::Timestamp;
use async_trait::async_trait;
use serde::Serialize;

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct InsertReport {
    /// New records stored as `pending`.
    pub inserted: u64,
    /// Ids already stored; left untouched.
    pub duplicates: u64,
}

/// What scheduling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ScheduleReport {
    /// Records given a `due_at`.
    pub scheduled: u64,
    /// Records left `pending` with a carried-over note.
    pub carried_over: u64,
}

/// What applying outcomes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ApplyReport {
    /// Attempts newly stored.
    pub attempts_stored: u64,
    /// Attempts already stored (duplicate events).
    pub duplicates: u64,
    /// Events whose state move was refused as stale (the record is past that attempt).
    pub stale_moves: u64,
}

/// An entry in a record's history that attempts do not tell: operator actions and
/// planner decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    /// When.
    pub at: Timestamp,
    /// What happened, e.g. `replayed`, `purged_from_dead_letters`, `carried_over`.
    pub kind: String,
    /// Details for people.
    pub detail: String,
}

/// A dead-lettered record to bring back, due at `due_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The record.
    pub record_id: RecordId,
    /// When it becomes due again (chosen by the planner).
    pub due_at: Timestamp,
}

/// Which records to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordFilter {
    /// Only this provider.
    pub provider: Option<ProviderId>,
    /// Only this state.
    pub state: Option<RecordState>,
    /// Only ids after this one (pagination).
    pub after: Option<RecordId>,
    /// At most this many, ordered by id.
    pub limit: usize,
}

/// Count of records in one state for one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateCount {
    /// The provider.
    pub provider: ProviderId,
    /// The state.
    pub state: RecordState,
    /// How many.
    pub count: u64,
}

/// A successful call's stored result (the seed's "other database").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredResult {
    /// The record.
    pub record_id: RecordId,
    /// The attempt that succeeded.
    pub attempt: u32,
    /// Its HTTP status.
    pub status_code: u16,
    /// The response excerpt.
    pub body: String,
    /// When it was stored.
    pub stored_at: Timestamp,
}

/// Stores records, attempts and results.
///
/// Contract:
/// - `insert` is idempotent by record id: an id already stored is counted as a
///   duplicate and left untouched.
/// - `schedule` moves `pending` records to `scheduled`, giving the provider's `rank`-th
///   pending record (oldest first, then by id) `plan.due_at(rank)` while `rank < fits`;
///   the rest stay `pending` with a carried-over note. Providers not in the plan are
///   untouched.
/// - `due` returns `scheduled` and `retry_wait` records with `due_at <= now`, plus
///   `queued` and `in_flight` records not updated since `stale_before` (their message
///   may be lost), oldest `due_at` first.
/// - `mark_queued` moves `scheduled`/`retry_wait` records to `queued` and refreshes the
///   `updated_at` of `queued` and `in_flight` ones (so a stale record is not re-sent on
///   every tick); others are left alone.
/// - `apply_outcomes` stores each attempt once (keyed by record and attempt number),
///   and applies its [`crate::schema::NextState`] only if the lifecycle allows it and the
///   event's attempt is not older than the record's; a success also stores the result.
///   Each event's effects are atomic; re-applying an event changes nothing.
/// - `replay` moves `dead_lettered` records to `scheduled` at their `due_at` with a fresh
///   call budget (`calls` back to 0; attempt numbers keep growing, so earlier attempts
///   stay in the history) and notes it in the history; records in any other state are
///   left alone, so replaying twice does nothing the second time.
/// - `note` appends a history entry; `history` lists them oldest first.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Stores new records as `pending`.
    async fn insert(
        &self,
        records: &[NewRecord],
        now: Timestamp,
    ) -> Result<InsertReport, PortError>;
    /// One record.
    async fn get(&self, id: &RecordId) -> Result<Option<Record>, PortError>;
    /// Records matching `filter`, ordered by id.
    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, PortError>;
    /// Pending records per provider: the planner's input.
    async fn pending_load(&self) -> Result<Vec<(ProviderId, u64)>, PortError>;
    /// Applies a window plan to pending records.
    async fn schedule(
        &self,
        plan: &WindowPlan,
        now: Timestamp,
    ) -> Result<ScheduleReport, PortError>;
    /// Records due for release.
    async fn due(
        &self,
        now: Timestamp,
        stale_before: Timestamp,
        limit: usize,
    ) -> Result<Vec<Record>, PortError>;
    /// Marks released records queued.
    async fn mark_queued(&self, ids: &[RecordId], now: Timestamp) -> Result<(), PortError>;
    /// Applies attempt outcomes.
    async fn apply_outcomes(
        &self,
        events: &[OutcomeEvent],
        now: Timestamp,
    ) -> Result<ApplyReport, PortError>;
    /// A record's attempts, oldest first.
    async fn attempts(&self, id: &RecordId) -> Result<Vec<OutcomeEvent>, PortError>;
    /// A record's stored result.
    async fn result(&self, id: &RecordId) -> Result<Option<StoredResult>, PortError>;
    /// Counts by provider and state (only non-zero ones).
    async fn counts(&self) -> Result<Vec<StateCount>, PortError>;
    /// Brings dead-lettered records back; returns how many moved.
    async fn replay(&self, replays: &[Replay], now: Timestamp) -> Result<u64, PortError>;
    /// Appends a history entry to a record.
    async fn note(&self, id: &RecordId, entry: &HistoryEntry) -> Result<(), PortError>;
    /// A record's history entries, oldest first.
    async fn history(&self, id: &RecordId) -> Result<Vec<HistoryEntry>, PortError>;
}
