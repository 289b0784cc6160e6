//! Taking a provider's lease the way a worker does, for tests that need a record in
//! flight before they exercise what comes after the call.

use pacer_core::ports::{Claim, Lease, LeaseGrant, LeaseStore};
use pacer_core::{ProviderId, RecordId, Timestamp};
use std::time::Duration;

/// Takes `provider`'s lease for `holder` (30 s), claiming attempt 1 of `record`; panics
/// unless the lease is granted and the claim eligible.
pub async fn claim_first_attempt(
    leases: &dyn LeaseStore,
    provider: &ProviderId,
    holder: &str,
    record: &RecordId,
    now: Timestamp,
) -> Lease {
    let claim = Claim {
        record_id: record.clone(),
        attempt: 1,
    };
    let grant = leases
        .acquire(provider, holder, Duration::from_secs(30), now, &[claim])
        .await
        .expect("acquire the provider's lease");
    let LeaseGrant::Granted { lease, eligible } = grant else {
        panic!("lease of {provider} busy: {grant:?}");
    };
    assert_eq!(eligible, [true], "attempt 1 of {record} is eligible");
    lease
}
