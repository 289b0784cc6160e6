//! [`OutcomeFeed`](pacer_core::ports::OutcomeFeed): final outcomes are appended by
//! `apply_outcomes` once per move, and each application takes each entry once.

use super::fixtures::{api_of, apply, begin, in_flight, outcome};
use super::Harness;
use pacer_core::ports::{AppName, FinalOutcome, Replay};
use pacer_core::schema::NextState;
use pacer_core::RecordState;
use std::time::Duration;

async fn take(h: &Harness, name: &str, limit: usize) -> Vec<FinalOutcome> {
    let app = AppName::new(name).expect("test app names are valid");
    api_of(h)
        .feed
        .take(&app, limit)
        .await
        .expect("take from the feed")
}

fn ids(entries: &[FinalOutcome]) -> Vec<(&str, RecordState)> {
    entries
        .iter()
        .map(|e| (e.record_id.as_str(), e.state))
        .collect()
}

/// A record moved to a final state appears once in the feed, carrying the outcome;
/// taking again returns nothing, and re-applying the same event appends nothing.
pub async fn a_final_outcome_is_appended_once_and_taken_once(h: Harness) {
    let Some(api) = h.api.clone() else {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    };
    in_flight(&h, "p", "f-1", 1).await;
    let event = outcome("f-1", "p", 1, NextState::Succeeded, h.clock.now());
    apply(&h, event.clone()).await;
    let got = take(&h, "app-a", 10).await;
    assert_eq!(ids(&got), [("f-1", RecordState::Succeeded)]);
    let entry = &got[0];
    assert!(entry.seq > 0, "sequence numbers start above 0");
    assert_eq!(
        (
            entry.attempt,
            entry.status_code,
            entry.finished_at,
            entry.provider.as_str()
        ),
        (1, Some(200), event.finished_at, "p")
    );
    assert_eq!(entry.response, event.response);
    assert!(take(&h, "app-a", 10).await.is_empty(), "up to date: empty");
    api.records
        .apply_outcomes(&[event], h.clock.now())
        .await
        .expect("re-apply");
    assert!(
        take(&h, "app-a", 10).await.is_empty(),
        "a re-applied event appends nothing"
    );
}

/// Outcomes that do not end the record (retry later, continue) are not in the feed;
/// `failed` and `dead_lettered` are.
pub async fn only_moves_into_a_final_state_are_appended(h: Harness) {
    if h.api.is_none() {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    }
    in_flight(&h, "p", "f-retry", 1).await;
    in_flight(&h, "q", "f-fail", 1).await;
    in_flight(&h, "r", "f-dead", 1).await;
    let now = h.clock.now();
    let later = NextState::RetryWait {
        due_at: now.plus(Duration::from_secs(60)),
    };
    apply(&h, outcome("f-retry", "p", 1, NextState::Continue, now)).await;
    apply(&h, outcome("f-retry", "p", 2, later, now)).await;
    apply(&h, outcome("f-fail", "q", 1, NextState::Failed, now)).await;
    apply(&h, outcome("f-dead", "r", 1, NextState::DeadLettered, now)).await;
    let entries = take(&h, "app-a", 10).await;
    let mut got = ids(&entries);
    got.sort();
    assert_eq!(
        got,
        [
            ("f-dead", RecordState::DeadLettered),
            ("f-fail", RecordState::Failed)
        ]
    );
}

/// Applications read independently, each from the beginning of the feed, in `seq`
/// order, `limit` entries at a time.
pub async fn applications_take_independently_from_the_beginning_in_order(h: Harness) {
    if h.api.is_none() {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    }
    for id in ["f-1", "f-2", "f-3"] {
        in_flight(&h, "p", id, 1).await;
        apply(&h, outcome(id, "p", 1, NextState::Succeeded, h.clock.now())).await;
        h.clock.advance(Duration::from_secs(1));
    }
    let a1 = take(&h, "app-a", 2).await;
    let b = take(&h, "app-b", 10).await;
    let a2 = take(&h, "app-a", 10).await;
    assert_eq!(a1.len(), 2, "limit is honoured");
    assert_eq!(a2.len(), 1, "app-a goes on after its first page");
    let a: Vec<_> = a1.into_iter().chain(a2).collect();
    assert_eq!(a, b, "both apps see the same entries");
    assert!(
        b.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq increases: {b:?}"
    );
    let mut names: Vec<&str> = b.iter().map(|e| e.record_id.as_str()).collect();
    names.sort();
    assert_eq!(names, ["f-1", "f-2", "f-3"]);
    assert!(take(&h, "app-b", 10).await.is_empty());
}

/// Final moves applied in one call (as a results batch brings them, mixed with moves
/// that end nothing, copies and a stale event) are each appended exactly once, under
/// consecutive numbers.
pub async fn final_moves_of_one_batch_are_appended_once_each_under_consecutive_numbers(h: Harness) {
    if h.api.is_none() {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    }
    let now = h.clock.now();
    let ending = ["b-1", "b-2", "b-3", "b-4", "b-5"];
    for id in ending.iter().chain(&["b-retry"]) {
        in_flight(&h, "p", id, 1).await;
    }
    in_flight(&h, "q", "b-done", 1).await;
    apply(&h, outcome("b-done", "q", 1, NextState::Succeeded, now)).await;
    let before = take(&h, "app-a", 10).await;
    assert_eq!(ids(&before), [("b-done", RecordState::Succeeded)]);

    let mut batch: Vec<_> = ending
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let next = if i % 2 == 0 {
                NextState::Succeeded
            } else {
                NextState::Failed
            };
            outcome(id, "p", 1, next, now)
        })
        .collect();
    batch.push(batch[0].clone());
    batch.push(outcome(
        "b-retry",
        "p",
        1,
        NextState::RetryWait {
            due_at: now.plus(Duration::from_secs(60)),
        },
        now,
    ));
    // Attempt 2 of a record that already ended: stored, but it moves nothing.
    batch.push(outcome("b-done", "q", 2, NextState::Failed, now));
    let report = h
        .ports
        .records
        .apply_outcomes(&batch, now)
        .await
        .expect("apply a batch");
    assert_eq!(
        (report.attempts_stored, report.duplicates),
        (7, 1),
        "{report:?}"
    );

    let entries = take(&h, "app-a", 100).await;
    let mut got = ids(&entries);
    got.sort();
    assert_eq!(
        got,
        [
            ("b-1", RecordState::Succeeded),
            ("b-2", RecordState::Failed),
            ("b-3", RecordState::Succeeded),
            ("b-4", RecordState::Failed),
            ("b-5", RecordState::Succeeded),
        ]
    );
    let first = before[0].seq;
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (first + 1..=first + 5).collect::<Vec<_>>(),
        "consecutive numbers after the last one taken"
    );
    for id in ending {
        let record = h
            .ports
            .records
            .get(&pacer_core::RecordId::new(id).expect("valid id"))
            .await
            .expect("get")
            .expect("exists");
        assert!(record.state.is_final(), "{id} ended: {record:?}");
    }
}

/// A dead-lettered record replayed by an operator that ends again appears a second
/// time, after the first.
pub async fn a_replayed_record_that_ends_again_is_appended_again(h: Harness) {
    if h.api.is_none() {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    }
    in_flight(&h, "p", "f-1", 1).await;
    apply(
        &h,
        outcome("f-1", "p", 1, NextState::DeadLettered, h.clock.now()),
    )
    .await;
    let replay = Replay {
        record_id: super::fixtures::rid("f-1"),
        due_at: h.clock.now(),
    };
    let moved = h
        .ports
        .records
        .replay(&[replay], h.clock.now())
        .await
        .expect("replay");
    assert_eq!(moved, 1, "fixture replay");
    begin(&h, "p", "f-1", 2).await;
    apply(
        &h,
        outcome("f-1", "p", 2, NextState::Succeeded, h.clock.now()),
    )
    .await;
    let got = take(&h, "app-a", 10).await;
    assert_eq!(
        ids(&got),
        [
            ("f-1", RecordState::DeadLettered),
            ("f-1", RecordState::Succeeded)
        ]
    );
    assert!(got[0].seq < got[1].seq);
}
