//! On-demand intake: records submitted over the HTTP API, due at once.

use crate::error::PortError;
use crate::record::NewRecord;
use crate::time::Timestamp;
use async_trait::async_trait;
use serde::Serialize;

/// What happened to one submitted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// Stored, due now.
    Accepted,
    /// A record with this id was already stored; it was left untouched.
    Duplicate,
}

/// Stores records submitted on demand (not planned into the day's window).
///
/// Contract:
/// - `submit` stores each new record as `scheduled` with `due_at = now`, keeping its
///   `callback_url`: it is due at once, and the provider's minimum interval is enforced
///   at call time from the provider's last call, so pacing holds whatever `due_at` says.
/// - It is idempotent by record id, like `RecordStore::insert`: an id already stored (in
///   any state, whoever stored it) is reported [`Admission::Duplicate`] and left untouched.
/// - Each accepted record gets one history entry of kind `submitted` whose detail is
///   `origin` (who submitted it, and the request id), at `now`.
/// - The answer has one [`Admission`] per input record, in input order. All records are
///   stored or none (one failure fails the whole call; calling again is safe).
#[async_trait]
pub trait RecordIntake: Send + Sync {
    /// Stores records due now.
    async fn submit(
        &self,
        records: &[NewRecord],
        origin: &str,
        now: Timestamp,
    ) -> Result<Vec<Admission>, PortError>;
}
