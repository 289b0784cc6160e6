//! [`LeaseStore`](pacer_core::ports::LeaseStore): one holder per provider at a time,
//! fencing tokens that only grow, the min-interval clock, the breaker, and which claimed
//! records a grant moves to `in_flight`.

use super::fixtures::{apply, get, in_flight, outcome, pid, rid, scheduled, TTL};
use super::Harness;
use pacer_core::breaker::BreakerState;
use pacer_core::ports::{Claim, Lease, LeaseGrant};
use pacer_core::schema::NextState;
use pacer_core::{RecordState, Timestamp};
use std::time::Duration;

fn claim(id: &str, attempt: u32) -> Claim {
    Claim {
        record_id: rid(id),
        attempt,
    }
}

async fn acquire(h: &Harness, holder: &str, claims: &[Claim]) -> LeaseGrant {
    h.ports
        .leases
        .acquire(&pid("p"), holder, TTL, h.clock.now(), claims)
        .await
        .expect("acquire lease")
}

/// Acquires provider `p`'s lease for `holder`, which must be granted.
async fn granted(h: &Harness, holder: &str, claims: &[Claim]) -> (Lease, Vec<bool>) {
    match acquire(h, holder, claims).await {
        LeaseGrant::Granted { lease, eligible } => (lease, eligible),
        busy => panic!(
            "{holder} expected the lease of p at {}, got {busy:?}",
            h.clock.now()
        ),
    }
}

/// Acquires provider `p`'s lease for `holder`, which must be refused; returns until when.
async fn busy(h: &Harness, holder: &str, claims: &[Claim]) -> Timestamp {
    match acquire(h, holder, claims).await {
        LeaseGrant::Busy { expires_at } => expires_at,
        granted => panic!(
            "{holder} expected p's lease to be busy at {}, got {granted:?}",
            h.clock.now()
        ),
    }
}

async fn inspect(h: &Harness) -> Lease {
    let lease = h
        .ports
        .leases
        .inspect(&pid("p"))
        .await
        .expect("inspect lease");
    lease.expect("p has a lease row")
}

/// The first grant of a provider's lease carries token 1, expires `ttl` from now, has
/// no call start yet and a closed breaker, and moves every eligible claim to `in_flight`
/// with the claimed attempt.
pub async fn acquiring_a_free_lease_grants_token_one_and_marks_eligible_claims_in_flight(
    h: Harness,
) {
    scheduled(&h, "p", &["l-1", "l-2"]).await;
    let none = h.ports.leases.inspect(&pid("p")).await.expect("inspect");
    assert_eq!(none, None, "no lease row before the first acquire");
    let t0 = h.clock.now();
    let (lease, eligible) = granted(&h, "w1", &[claim("l-1", 1), claim("l-2", 1)]).await;
    let expected = Lease {
        provider: pid("p"),
        holder: "w1".to_owned(),
        token: 1,
        expires_at: t0.plus(TTL),
        last_call_started_at: None,
        breaker: BreakerState::default(),
    };
    assert_eq!(lease, expected);
    assert_eq!(eligible, [true, true]);
    for id in ["l-1", "l-2"] {
        let r = get(&h, id).await;
        assert_eq!((r.state, r.attempt), (RecordState::InFlight, 1), "{id}");
    }
    assert_eq!(inspect(&h).await, expected, "inspect shows the held lease");
}

/// While one holder's lease runs, every other holder is told `Busy` until its expiry,
/// and their claims move nothing.
pub async fn a_held_lease_is_busy_for_other_holders_and_claims_nothing(h: Harness) {
    scheduled(&h, "p", &["b-1"]).await;
    let before = get(&h, "b-1").await;
    let t0 = h.clock.now();
    granted(&h, "w1", &[]).await;
    h.clock.advance(Duration::from_secs(10));
    assert_eq!(busy(&h, "w2", &[claim("b-1", 1)]).await, t0.plus(TTL));
    assert_eq!(
        get(&h, "b-1").await,
        before,
        "a refused acquire claims nothing"
    );
    h.clock.set(t0.plus(TTL).minus(Duration::from_millis(1)));
    assert_eq!(
        busy(&h, "w2", &[]).await,
        t0.plus(TTL),
        "still held 1 ms before expiry"
    );
}

/// Once the lease has expired, another holder gets it with a strictly greater token;
/// the old holder is then the one told `Busy`.
pub async fn an_expired_lease_goes_to_the_next_holder_with_a_greater_token(h: Harness) {
    let (first, _) = granted(&h, "w1", &[]).await;
    h.clock.advance(TTL + Duration::from_millis(1));
    let (second, _) = granted(&h, "w2", &[]).await;
    assert!(
        second.token > first.token,
        "{} must exceed {}",
        second.token,
        first.token
    );
    assert_eq!(second.holder, "w2");
    assert_eq!(second.expires_at, h.clock.now().plus(TTL));
    assert_eq!(busy(&h, "w1", &[]).await, second.expires_at, "w1 lost it");
}

/// The holder may acquire its own lease again: it gets a greater token, a renewed
/// expiry, and its new claims.
pub async fn the_holder_may_acquire_its_lease_again(h: Harness) {
    scheduled(&h, "p", &["h-1"]).await;
    let (first, _) = granted(&h, "w1", &[]).await;
    h.clock.advance(Duration::from_secs(5));
    let (again, eligible) = granted(&h, "w1", &[claim("h-1", 1)]).await;
    assert!(
        again.token > first.token,
        "{} must exceed {}",
        again.token,
        first.token
    );
    assert_eq!(again.expires_at, h.clock.now().plus(TTL));
    assert_eq!(eligible, [true]);
    h.clock.set(first.expires_at.plus(Duration::from_secs(1)));
    assert_eq!(
        busy(&h, "w2", &[]).await,
        again.expires_at,
        "the renewed lease still runs"
    );
}

/// `begin_call` with the current token renews the lease to `now + ttl` and stamps the
/// call start, which the next holder sees (the provider's min-interval clock).
pub async fn begin_call_renews_the_lease_and_stamps_the_call_start(h: Harness) {
    let t0 = h.clock.now();
    let (lease, _) = granted(&h, "w1", &[]).await;
    h.clock.advance(Duration::from_secs(10));
    let t1 = h.clock.now();
    let ok = h
        .ports
        .leases
        .begin_call(&lease, t1, TTL)
        .await
        .expect("begin call");
    assert!(ok, "the current token may call");
    h.clock.set(t0.plus(TTL).plus(Duration::from_secs(1)));
    assert_eq!(
        busy(&h, "w2", &[]).await,
        t1.plus(TTL),
        "renewed past the first expiry"
    );
    h.clock.set(t1.plus(TTL).plus(Duration::from_millis(1)));
    let (next, _) = granted(&h, "w2", &[]).await;
    assert_eq!(
        next.last_call_started_at,
        Some(t1),
        "the next holder sees the last call"
    );
    assert!(next.token > lease.token);
}

/// `begin_call` with a token that is no longer current returns false and changes
/// nothing: no call start, no renewal of the new holder's lease.
pub async fn begin_call_with_a_stale_token_is_refused(h: Harness) {
    let (old, _) = granted(&h, "w1", &[]).await;
    h.clock.advance(TTL + Duration::from_secs(1));
    let (current, _) = granted(&h, "w2", &[]).await;
    h.clock.advance(Duration::from_secs(1));
    let ok = h
        .ports
        .leases
        .begin_call(&old, h.clock.now(), TTL)
        .await
        .expect("begin call");
    assert!(!ok, "a stale token may not call");
    let row = inspect(&h).await;
    assert_eq!(row.token, current.token);
    assert_eq!(
        row.expires_at, current.expires_at,
        "the stale call renewed nothing"
    );
    assert_eq!(
        row.last_call_started_at, None,
        "the stale call stamped nothing"
    );
    let ok = h
        .ports
        .leases
        .begin_call(&current, h.clock.now(), TTL)
        .await;
    assert!(ok.expect("begin call"), "the current holder still may");
}

/// `release` frees the lease at once (no waiting for expiry) and stores the breaker
/// state, which the next holder gets back; the last call start survives.
pub async fn release_frees_the_lease_and_stores_the_breaker(h: Harness) {
    let (lease, _) = granted(&h, "w1", &[]).await;
    let called_at = h.clock.now();
    let ok = h
        .ports
        .leases
        .begin_call(&lease, called_at, TTL)
        .await
        .expect("begin call");
    assert!(ok);
    h.clock.advance(Duration::from_secs(1));
    let open = BreakerState::Open {
        until: h.clock.now().plus(Duration::from_secs(30)),
    };
    h.ports
        .leases
        .release(&lease, open, h.clock.now())
        .await
        .expect("release");
    let (next, _) = granted(&h, "w2", &[]).await;
    assert_eq!(next.breaker, open, "the breaker travels with the lease");
    assert_eq!(next.last_call_started_at, Some(called_at));
    assert!(next.token > lease.token);
}

/// `release` stores the call start the holder carries in its lease (a call made without
/// a `begin_call`), for the next holder's min-interval clock; a later stamp already
/// stored is never replaced by an earlier one.
pub async fn release_stores_the_latest_call_start_for_the_next_holder(h: Harness) {
    let (mut lease, _) = granted(&h, "w1", &[]).await;
    h.clock.advance(Duration::from_secs(1));
    let t1 = h.clock.now();
    lease.last_call_started_at = Some(t1);
    let breaker = lease.breaker;
    h.ports
        .leases
        .release(&lease, breaker, t1)
        .await
        .expect("release");
    let (mut second, _) = granted(&h, "w2", &[]).await;
    assert_eq!(
        second.last_call_started_at,
        Some(t1),
        "w2 starts from w1's last call"
    );
    h.clock.advance(Duration::from_secs(1));
    let t2 = h.clock.now();
    let ok = h
        .ports
        .leases
        .begin_call(&second, t2, TTL)
        .await
        .expect("begin call");
    assert!(ok);
    // w2's copy of the lease still says t1; the stored t2 is the later call and stays.
    second.last_call_started_at = Some(t1);
    let breaker = second.breaker;
    h.ports
        .leases
        .release(&second, breaker, t2)
        .await
        .expect("release");
    let (third, _) = granted(&h, "w3", &[]).await;
    assert_eq!(
        third.last_call_started_at,
        Some(t2),
        "the min-interval clock never goes back"
    );
}

/// `release` with a token that is no longer current frees nothing and stores nothing.
pub async fn release_with_a_stale_token_changes_nothing(h: Harness) {
    let (old, _) = granted(&h, "w1", &[]).await;
    h.clock.advance(TTL + Duration::from_secs(1));
    let (current, _) = granted(&h, "w2", &[]).await;
    let open = BreakerState::Open {
        until: h.clock.now().plus(Duration::from_secs(30)),
    };
    h.ports
        .leases
        .release(&old, open, h.clock.now())
        .await
        .expect("stale release is Ok");
    assert_eq!(
        busy(&h, "w3", &[]).await,
        current.expires_at,
        "w2 still holds it"
    );
    let row = inspect(&h).await;
    assert_eq!((row.holder.as_str(), row.token), ("w2", current.token));
    assert_eq!(
        row.breaker,
        BreakerState::default(),
        "the stale breaker was not stored"
    );
}

/// Claims are eligible only for the lease's provider's records, where `Begin` is
/// allowed and the claimed attempt is newer than the record's: not for another
/// provider's record, a record already past that attempt, a final record, or an
/// unknown id. Refused claims leave their records as they were.
pub async fn claims_past_their_attempt_or_of_another_provider_are_not_eligible(h: Harness) {
    scheduled(&h, "q", &["c-other"]).await;
    in_flight(&h, "p", "c-past", 1).await;
    let t0 = h.clock.now();
    apply(
        &h,
        outcome("c-past", "p", 1, NextState::RetryWait { due_at: t0 }, t0),
    )
    .await;
    in_flight(&h, "p", "c-done", 1).await;
    apply(&h, outcome("c-done", "p", 1, NextState::Succeeded, t0)).await;
    scheduled(&h, "p", &["c-ok"]).await;
    let before: Vec<_> = {
        let mut out = Vec::new();
        for id in ["c-other", "c-past", "c-done"] {
            out.push(get(&h, id).await);
        }
        out
    };
    let claims = [
        claim("c-other", 1),
        claim("c-past", 1),
        claim("c-done", 2),
        claim("c-unknown", 1),
        claim("c-ok", 1),
    ];
    let (_, eligible) = granted(&h, "w1", &claims).await;
    assert_eq!(eligible, [false, false, false, false, true]);
    for (i, id) in ["c-other", "c-past", "c-done"].into_iter().enumerate() {
        assert_eq!(get(&h, id).await, before[i], "{id} was not claimable");
    }
    let unknown = h.ports.records.get(&rid("c-unknown")).await.expect("get");
    assert_eq!(unknown, None);
    let ok = get(&h, "c-ok").await;
    assert_eq!((ok.state, ok.attempt), (RecordState::InFlight, 1));
}

/// A message delivered again after its worker died (the record `in_flight` with the
/// same attempt) is eligible for the next holder; once the record moved on, it is not.
pub async fn a_redelivered_claim_of_an_in_flight_record_is_eligible(h: Harness) {
    scheduled(&h, "p", &["d-1"]).await;
    let (_, eligible) = granted(&h, "w1", &[claim("d-1", 1)]).await;
    assert_eq!(eligible, [true]);
    // w1 dies without releasing; the lease expires and the message comes back.
    h.clock.advance(TTL + Duration::from_secs(1));
    let (lease, eligible) = granted(&h, "w2", &[claim("d-1", 1)]).await;
    assert_eq!(eligible, [true], "a redelivery of the running attempt");
    let r = get(&h, "d-1").await;
    assert_eq!((r.state, r.attempt), (RecordState::InFlight, 1));
    h.ports
        .leases
        .release(&lease, lease.breaker, h.clock.now())
        .await
        .expect("release");
    let t = h.clock.now();
    apply(
        &h,
        outcome("d-1", "p", 1, NextState::RetryWait { due_at: t }, t),
    )
    .await;
    let (_, eligible) = granted(&h, "w3", &[claim("d-1", 1)]).await;
    assert_eq!(eligible, [false], "attempt 1 is over");
    assert_eq!(get(&h, "d-1").await.state, RecordState::RetryWait);
}

/// A record stuck `in_flight` (its worker and message lost) is re-released by the
/// dispatcher as the next attempt; that claim's attempt is newer than the record's, so
/// it is eligible, and the old attempt's message no longer is.
pub async fn a_later_attempt_takes_over_a_stale_in_flight_record(h: Harness) {
    in_flight(&h, "p", "s-1", 1).await;
    h.clock.advance(Duration::from_secs(3600));
    let (lease, eligible) = granted(&h, "w2", &[claim("s-1", 2)]).await;
    assert_eq!(
        eligible,
        [true],
        "attempt 2 is newer than the stuck attempt 1"
    );
    let r = get(&h, "s-1").await;
    assert_eq!((r.state, r.attempt), (RecordState::InFlight, 2));
    h.ports
        .leases
        .release(&lease, lease.breaker, h.clock.now())
        .await
        .expect("release");
    let (_, eligible) = granted(&h, "w3", &[claim("s-1", 1)]).await;
    assert_eq!(eligible, [false], "attempt 1's message is stale now");
}
