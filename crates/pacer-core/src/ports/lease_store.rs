//! Per-provider leases: the mutual exclusion behind "never two calls to one provider".

use crate::breaker::BreakerState;
use crate::error::PortError;
use crate::ids::{ProviderId, RecordId};
use crate::time::Timestamp;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A held lease. The token is the fencing token sent to the API with every call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// The provider.
    pub provider: ProviderId,
    /// Who holds it (worker invocation + task).
    pub holder: String,
    /// Fencing token; strictly greater than every token granted before for this provider.
    pub token: u64,
    /// When it lapses unless renewed.
    pub expires_at: Timestamp,
    /// When the last call to this provider started, by any holder (the min-interval clock).
    pub last_call_started_at: Option<Timestamp>,
    /// The provider's circuit breaker.
    pub breaker: BreakerState,
}

/// A record the lease holder wants to work on, as attempt `attempt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The record.
    pub record_id: RecordId,
    /// The attempt number its message carries.
    pub attempt: u32,
}

/// The answer to `acquire`.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseGrant {
    /// The lease is yours; `eligible[i]` says whether claim `i` was moved to `in_flight`
    /// (false: the record is already past that attempt — a duplicate or stale message).
    Granted {
        /// The lease.
        lease: Lease,
        /// One flag per claim, in order.
        eligible: Vec<bool>,
    },
    /// Someone else holds it.
    Busy {
        /// Until when, unless they release or renew it.
        expires_at: Timestamp,
    },
}

/// Stores one lease per provider with its breaker and min-interval clock.
///
/// Contract:
/// - `acquire` takes the lease with one atomic conditional write: it succeeds only if the
///   lease is free, expired at `now`, or already held by `holder`, and sets a token
///   greater than any earlier one and `expires_at = now + ttl`. Only then, under the
///   lease, it moves each claimed record to `in_flight` with its attempt number where the
///   lifecycle allows `Begin` and the record's attempt is lower (or equal while it is
///   already `in_flight`: a redelivery), each claim seeing the moves of the ones before
///   it. A busy lease claims nothing. Each claim is conditional on its record alone, so
///   a store may write them one by one: if one fails, the lease is released and the
///   error returned; the claims already made stay eligible when the same messages come
///   back (a redelivery).
/// - `begin_call` renews the lease to `now + ttl` and records `now` as the provider's last
///   call start, only if `lease.token` is still the current token; `false` means the
///   lease was lost and no call may be made. Holders call it whenever the lease might
///   not outlive the next call.
/// - `release` frees the lease and stores the breaker and `lease.last_call_started_at`
///   (the min-interval clock the next holder starts from), only if the token is current.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the provider's lease and marks the claimed records in flight.
    async fn acquire(
        &self,
        provider: &ProviderId,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
        claims: &[Claim],
    ) -> Result<LeaseGrant, PortError>;
    /// Renews the lease for one call and stamps the call start.
    async fn begin_call(
        &self,
        lease: &Lease,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, PortError>;
    /// Frees the lease, storing the breaker state and the last call start.
    async fn release(
        &self,
        lease: &Lease,
        breaker: BreakerState,
        now: Timestamp,
    ) -> Result<(), PortError>;
    /// The provider's lease row, held or not, for operators.
    async fn inspect(&self, provider: &ProviderId) -> Result<Option<Lease>, PortError>;
}
