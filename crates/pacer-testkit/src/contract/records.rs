//! [`RecordStore`](pacer_core::ports::RecordStore): inserting, reading, counting and
//! scheduling records. Releasing them is in [`super::record_release`], applying
//! outcomes in [`super::record_outcomes`].

use super::fixtures::{
    get, in_flight, insert, new_record, pid, plan, provider_plan, rid, scheduled,
};
use super::Harness;
use pacer_core::ports::{InsertReport, RecordFilter, ScheduleReport, StateCount};
use pacer_core::{Record, RecordState};
use std::time::Duration;

fn ids(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

async fn list(h: &Harness, filter: RecordFilter) -> Vec<Record> {
    h.ports.records.list(&filter).await.expect("list records")
}

/// `insert` stores new ids as `pending`, counts ids already stored as duplicates and
/// leaves their first copy untouched.
pub async fn insert_is_idempotent_by_id_and_keeps_the_first_copy(h: Harness) {
    let t0 = h.clock.now();
    let first = [
        new_record("r-1", "acme", "/first"),
        new_record("r-2", "acme", "/v1/r-2"),
    ];
    let report = h.ports.records.insert(&first, t0).await.expect("insert");
    assert_eq!(
        report,
        InsertReport {
            inserted: 2,
            duplicates: 0
        }
    );
    h.clock.advance(Duration::from_secs(60));
    let again = [
        new_record("r-1", "other", "/second"),
        new_record("r-3", "acme", "/v1/r-3"),
    ];
    let report = h.ports.records.insert(&again, h.clock.now()).await;
    assert_eq!(
        report.expect("insert again"),
        InsertReport {
            inserted: 1,
            duplicates: 1
        },
        "r-1 is a duplicate, r-3 is new"
    );
    let r1 = get(&h, "r-1").await;
    assert_eq!(r1.request.path, "/first", "the first copy of r-1 is kept");
    assert_eq!(r1.provider, pid("acme"));
    assert_eq!(
        (r1.state, r1.due_at, r1.note.as_deref()),
        (RecordState::Pending, None, None)
    );
    assert_eq!((r1.attempt, r1.calls), (0, 0));
    assert_eq!(
        (r1.created_at, r1.updated_at),
        (t0, t0),
        "the duplicate did not touch r-1"
    );
    assert_eq!(get(&h, "r-3").await.state, RecordState::Pending);
}

/// `get` of an id never stored is `None`, not an error.
pub async fn get_of_an_unknown_id_is_none(h: Harness) {
    insert(&h, "acme", &["known"]).await;
    let got = h.ports.records.get(&rid("unknown")).await.expect("get");
    assert_eq!(got, None);
}

/// `list` filters by provider and state, orders by id, honours `limit`, and pages with
/// `after`.
pub async fn list_filters_by_provider_and_state_and_pages_after_an_id(h: Harness) {
    insert(&h, "a", &["a-3", "a-1", "a-2"]).await;
    scheduled(&h, "b", &["b-2", "b-1"]).await;
    let all = |limit| RecordFilter {
        limit,
        ..Default::default()
    };
    assert_eq!(
        ids(&list(&h, all(10)).await),
        ["a-1", "a-2", "a-3", "b-1", "b-2"]
    );
    let of_a = RecordFilter {
        provider: Some(pid("a")),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(ids(&list(&h, of_a.clone()).await), ["a-1", "a-2", "a-3"]);
    let sched = RecordFilter {
        state: Some(RecordState::Scheduled),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(ids(&list(&h, sched.clone()).await), ["b-1", "b-2"]);
    let both = RecordFilter {
        provider: Some(pid("a")),
        ..sched
    };
    assert!(
        list(&h, both).await.is_empty(),
        "no record of a is scheduled"
    );

    assert_eq!(ids(&list(&h, all(2)).await), ["a-1", "a-2"]);
    let page = |after: &str| RecordFilter {
        after: Some(rid(after)),
        ..all(2)
    };
    assert_eq!(ids(&list(&h, page("a-2")).await), ["a-3", "b-1"]);
    assert_eq!(ids(&list(&h, page("b-1")).await), ["b-2"]);
    assert!(
        list(&h, page("b-2")).await.is_empty(),
        "nothing after the last id"
    );
    let a_after = RecordFilter {
        after: Some(rid("a-1")),
        limit: 1,
        ..of_a
    };
    assert_eq!(ids(&list(&h, a_after).await), ["a-2"]);
}

/// `pending_load` counts `pending` records per provider and nothing else.
pub async fn pending_load_counts_pending_records_per_provider(h: Harness) {
    insert(&h, "a", &["a-1", "a-2", "a-3"]).await;
    insert(&h, "b", &["b-1"]).await;
    scheduled(&h, "c", &["c-1", "c-2"]).await;
    let mut load = h.ports.records.pending_load().await.expect("pending load");
    load.retain(|(_, n)| *n > 0);
    load.sort();
    assert_eq!(
        load,
        vec![(pid("a"), 3), (pid("b"), 1)],
        "c has nothing pending"
    );
}

/// `counts` gives every non-zero (provider, state) count.
pub async fn counts_report_each_provider_and_state(h: Harness) {
    scheduled(&h, "a", &["a-3"]).await;
    insert(&h, "a", &["a-1", "a-2"]).await;
    insert(&h, "b", &["b-1"]).await;
    in_flight(&h, "c", "c-1", 1).await;
    let mut counts = h.ports.records.counts().await.expect("counts");
    counts.sort_by(|x, y| (&x.provider, x.state).cmp(&(&y.provider, y.state)));
    let count = |p: &str, state, count| StateCount {
        provider: pid(p),
        state,
        count,
    };
    assert_eq!(
        counts,
        vec![
            count("a", RecordState::Pending, 2),
            count("a", RecordState::Scheduled, 1),
            count("b", RecordState::Pending, 1),
            count("c", RecordState::InFlight, 1),
        ]
    );
}

/// `schedule` gives the provider's `rank`-th pending record (oldest first)
/// `plan.due_at(start, rank)` while `rank < fits`, leaves the rest `pending` with a
/// carried-over note, and touches neither records that are not pending nor providers
/// outside the plan.
pub async fn schedule_gives_due_times_oldest_first_and_carries_over_the_rest(h: Harness) {
    // Already scheduled by an earlier plan: not pending, so neither ranked nor moved.
    scheduled(&h, "p", &["p-0"]).await;
    let earlier = get(&h, "p-0").await;
    h.clock.advance(Duration::from_secs(1));
    // Stored one second apart, in the reverse of id order: age decides, not the id.
    for id in ["p-3", "p-1", "p-2"] {
        insert(&h, "p", &[id]).await;
        h.clock.advance(Duration::from_secs(1));
    }
    insert(&h, "q", &["q-1"]).await;
    let untouched = get(&h, "q-1").await;
    h.clock.advance(Duration::from_secs(1));
    let start = h.clock.now().plus(Duration::from_secs(600));
    let p = provider_plan(
        "p",
        3,
        2,
        Duration::from_millis(1500),
        Duration::from_secs(60),
    );
    let report = h
        .ports
        .records
        .schedule(&plan(start, vec![p.clone()]), h.clock.now())
        .await;
    assert_eq!(
        report.expect("schedule"),
        ScheduleReport {
            scheduled: 2,
            carried_over: 1
        }
    );
    for (rank, id) in ["p-3", "p-1"].into_iter().enumerate() {
        let r = get(&h, id).await;
        assert_eq!(r.state, RecordState::Scheduled, "{id}");
        assert_eq!(
            r.due_at,
            Some(p.due_at(start, rank as u64)),
            "{id} has rank {rank}"
        );
    }
    let carried = get(&h, "p-2").await;
    assert_eq!(
        (carried.state, carried.due_at),
        (RecordState::Pending, None)
    );
    assert!(
        carried.note.as_deref().is_some_and(|n| !n.is_empty()),
        "a carried-over record says why: {carried:?}"
    );
    assert_eq!(get(&h, "q-1").await, untouched, "q is not in the plan");
    assert_eq!(
        get(&h, "p-0").await,
        earlier,
        "only pending records are scheduled"
    );
}

/// Records stored at the same instant are ranked by id ("oldest first, then by id").
pub async fn schedule_breaks_ties_between_records_stored_together_by_id(h: Harness) {
    insert(&h, "p", &["t-b", "t-c", "t-a"]).await;
    let start = h.clock.now();
    let p = provider_plan("p", 3, 3, Duration::ZERO, Duration::from_secs(60));
    let report = h
        .ports
        .records
        .schedule(&plan(start, vec![p.clone()]), start)
        .await;
    assert_eq!(
        report.expect("schedule"),
        ScheduleReport {
            scheduled: 3,
            carried_over: 0
        }
    );
    for (rank, id) in ["t-a", "t-b", "t-c"].into_iter().enumerate() {
        let due = get(&h, id).await.due_at;
        assert_eq!(
            due,
            Some(p.due_at(start, rank as u64)),
            "{id} has rank {rank}"
        );
    }
}

/// The report counts what was done to the records actually pending, even when they
/// differ from the counts the plan was made with (records arrived or left meanwhile).
pub async fn schedule_reports_what_it_did_when_the_plan_is_out_of_date(h: Harness) {
    insert(&h, "p", &["p-1", "p-2", "p-3", "p-4"]).await;
    insert(&h, "q", &["q-1"]).await;
    let now = h.clock.now();
    // Planned when p had 2 records: both fit; the 2 that arrived since are carried over.
    let p = provider_plan("p", 2, 2, Duration::ZERO, Duration::from_secs(60));
    let report = h.ports.records.schedule(&plan(now, vec![p]), now).await;
    assert_eq!(
        report.expect("schedule p"),
        ScheduleReport {
            scheduled: 2,
            carried_over: 2
        }
    );
    let states: Vec<RecordState> = {
        let mut out = Vec::new();
        for id in ["p-1", "p-2", "p-3", "p-4"] {
            out.push(get(&h, id).await.state);
        }
        out
    };
    use RecordState::{Pending, Scheduled};
    assert_eq!(states, [Scheduled, Scheduled, Pending, Pending]);
    // Planned when q had 5 records of which 3 fit; only 1 is left, and it fits.
    let q = provider_plan("q", 5, 3, Duration::ZERO, Duration::from_secs(60));
    let report = h.ports.records.schedule(&plan(now, vec![q]), now).await;
    assert_eq!(
        report.expect("schedule q"),
        ScheduleReport {
            scheduled: 1,
            carried_over: 0
        }
    );
    assert_eq!(get(&h, "q-1").await.state, Scheduled);
}
