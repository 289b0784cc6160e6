//! [`RecordStore`](pacer_core::ports::RecordStore) on the dispatcher's side: which
//! records are `due` for release, and `mark_queued` after they were sent.

use super::fixtures::{
    apply, begin, get, in_flight, insert, outcome, plan, provider_plan, rid, scheduled,
};
use super::Harness;
use pacer_core::schema::NextState;
use pacer_core::{Record, RecordState, Timestamp};
use std::time::Duration;

fn ids(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

/// `due` returns `scheduled` and `retry_wait` records with `due_at <= now`, oldest
/// `due_at` first, up to `limit`, and nothing due later.
pub async fn due_returns_records_whose_time_has_come_oldest_due_first(h: Harness) {
    let t0 = h.clock.now();
    // A retry_wait record of another provider, due between d-3 and d-2.
    in_flight(&h, "q", "d-0", 1).await;
    let start = t0.plus(Duration::from_secs(60));
    let retry = NextState::RetryWait {
        due_at: start.plus(Duration::from_secs(90)),
    };
    apply(&h, outcome("d-0", "q", 1, retry, t0)).await;
    // Ids in the reverse of their due order, so ordering by id would show.
    for id in ["d-4", "d-3", "d-2", "d-1"] {
        insert(&h, "p", &[id]).await;
        h.clock.advance(Duration::from_millis(1));
    }
    let p = provider_plan("p", 4, 4, Duration::ZERO, Duration::from_secs(60));
    let report = h
        .ports
        .records
        .schedule(&plan(start, vec![p]), h.clock.now())
        .await;
    assert_eq!(report.expect("schedule").scheduled, 4);

    let now = start.plus(Duration::from_secs(150));
    h.clock.set(now);
    let nothing_stale = t0;
    let due = h
        .ports
        .records
        .due(now, nothing_stale, 10)
        .await
        .expect("due");
    assert_eq!(
        ids(&due),
        ["d-4", "d-3", "d-0", "d-2"],
        "d-1 is due at +180s, later than now"
    );
    let first_two = h
        .ports
        .records
        .due(now, nothing_stale, 2)
        .await
        .expect("due");
    assert_eq!(
        ids(&first_two),
        ["d-4", "d-3"],
        "limit keeps the oldest due"
    );
    let before_start = Timestamp::from_millis(start.as_millis() - 1);
    let none = h
        .ports
        .records
        .due(before_start, nothing_stale, 10)
        .await
        .expect("due");
    assert!(
        none.is_empty(),
        "nothing is due before the window: {:?}",
        ids(&none)
    );
}

/// `due` also returns `queued` and `in_flight` records not updated since
/// `stale_before` (their message may be lost), and not fresher ones.
pub async fn due_returns_queued_and_in_flight_records_gone_stale(h: Harness) {
    let t0 = h.clock.now();
    scheduled(&h, "p", &["s-queued"]).await;
    h.ports
        .records
        .mark_queued(&[rid("s-queued")], t0)
        .await
        .expect("mark queued");
    in_flight(&h, "f", "s-flying", 1).await;
    h.clock.advance(Duration::from_secs(600));
    scheduled(&h, "p", &["s-fresh"]).await;
    let t1 = h.clock.now();
    h.ports
        .records
        .mark_queued(&[rid("s-fresh")], t1)
        .await
        .expect("mark queued");
    let now = t0.plus(Duration::from_secs(1200));
    h.clock.set(now);

    let stale_before = t0.plus(Duration::from_secs(300));
    let mut due = ids(&h
        .ports
        .records
        .due(now, stale_before, 10)
        .await
        .expect("due"))
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    due.sort();
    assert_eq!(
        due,
        ["s-flying", "s-queued"],
        "s-fresh was queued after stale_before"
    );
    let long_ago = t0.minus(Duration::from_secs(60));
    let none = h.ports.records.due(now, long_ago, 10).await.expect("due");
    assert!(
        none.is_empty(),
        "nothing went stale before t0: {:?}",
        ids(&none)
    );
}

/// `mark_queued` moves `scheduled` and `retry_wait` records to `queued`, refreshes
/// `queued` ones, keeps `in_flight` ones in flight, and leaves pending, final and
/// unknown records alone.
pub async fn mark_queued_moves_scheduled_and_retry_wait_records_and_leaves_others_alone(
    h: Harness,
) {
    let t0 = h.clock.now();
    scheduled(&h, "s", &["m-sched"]).await;
    in_flight(&h, "r", "m-retry", 1).await;
    let retry = NextState::RetryWait { due_at: t0 };
    apply(&h, outcome("m-retry", "r", 1, retry, t0)).await;
    insert(&h, "n", &["m-pending"]).await;
    in_flight(&h, "f", "m-flying", 2).await;
    in_flight(&h, "d", "m-done", 1).await;
    apply(&h, outcome("m-done", "d", 1, NextState::Succeeded, t0)).await;
    let pending = get(&h, "m-pending").await;
    let done = get(&h, "m-done").await;

    h.clock.advance(Duration::from_secs(60));
    let t1 = h.clock.now();
    let all = [
        "m-sched",
        "m-retry",
        "m-pending",
        "m-flying",
        "m-done",
        "m-unknown",
    ]
    .map(rid);
    h.ports
        .records
        .mark_queued(&all, t1)
        .await
        .expect("mark queued");
    for id in ["m-sched", "m-retry"] {
        let r = get(&h, id).await;
        assert_eq!((r.state, r.updated_at), (RecordState::Queued, t1), "{id}");
    }
    assert_eq!(
        get(&h, "m-pending").await,
        pending,
        "pending records are not released"
    );
    assert_eq!(
        get(&h, "m-done").await,
        done,
        "final records are left alone"
    );
    let flying = get(&h, "m-flying").await;
    assert_eq!(
        (flying.state, flying.attempt),
        (RecordState::InFlight, 2),
        "a worker has it"
    );
    let unknown = h.ports.records.get(&rid("m-unknown")).await.expect("get");
    assert_eq!(unknown, None, "mark_queued does not create records");

    h.clock.advance(Duration::from_secs(60));
    let t2 = h.clock.now();
    h.ports
        .records
        .mark_queued(&[rid("m-sched")], t2)
        .await
        .expect("mark queued");
    let again = get(&h, "m-sched").await;
    assert_eq!(
        (again.state, again.updated_at),
        (RecordState::Queued, t2),
        "refreshed"
    );
    // Queued is not a dead end: a worker can still take the record.
    begin(&h, "s", "m-sched", 1).await;
    assert_eq!(get(&h, "m-sched").await.state, RecordState::InFlight);
}
