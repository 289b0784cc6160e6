//! [`RecordStore::apply_outcomes`](pacer_core::ports::RecordStore::apply_outcomes):
//! attempts are stored once, state moves are conditional and monotonic in the attempt
//! number, and a success stores its result.

use super::fixtures::{apply, begin, get, in_flight, outcome, rid, scheduled};
use super::Harness;
use pacer_core::classify::ErrorClass;
use pacer_core::ports::{ApplyReport, StoredResult};
use pacer_core::schema::{NextState, OutcomeEvent};
use pacer_core::RecordState;
use std::time::Duration;

async fn apply_report(h: &Harness, events: &[OutcomeEvent]) -> ApplyReport {
    h.ports
        .records
        .apply_outcomes(events, h.clock.now())
        .await
        .expect("apply outcomes")
}

async fn attempts(h: &Harness, id: &str) -> Vec<OutcomeEvent> {
    h.ports.records.attempts(&rid(id)).await.expect("attempts")
}

async fn result(h: &Harness, id: &str) -> Option<StoredResult> {
    h.ports.records.result(&rid(id)).await.expect("result")
}

/// Re-applying an event — right away, or after the record moved on — stores nothing
/// and changes nothing: the record, its attempts and its result stay as they were.
pub async fn applying_the_same_outcome_twice_changes_nothing_the_second_time(h: Harness) {
    in_flight(&h, "p", "o-1", 1).await;
    let retry = NextState::RetryWait {
        due_at: h.clock.now().plus(Duration::from_secs(300)),
    };
    let event = outcome("o-1", "p", 1, retry, h.clock.now());
    h.clock.advance(Duration::from_secs(1));
    let first = apply_report(&h, std::slice::from_ref(&event)).await;
    assert_eq!(
        first,
        ApplyReport {
            attempts_stored: 1,
            duplicates: 0,
            stale_moves: 0
        }
    );
    let record = get(&h, "o-1").await;
    let stored = attempts(&h, "o-1").await;
    assert_eq!(stored, vec![event.clone()], "the attempt is stored as sent");

    h.clock.advance(Duration::from_secs(60));
    let again = apply_report(&h, std::slice::from_ref(&event)).await;
    assert_eq!(
        again,
        ApplyReport {
            attempts_stored: 0,
            duplicates: 1,
            stale_moves: 0
        }
    );
    assert_eq!(
        get(&h, "o-1").await,
        record,
        "a duplicate changes nothing, not even updated_at"
    );
    assert_eq!(attempts(&h, "o-1").await, stored);

    // The record moves on; the old event arriving once more must not drag it back.
    begin(&h, "p", "o-1", 2).await;
    apply(
        &h,
        outcome("o-1", "p", 2, NextState::Succeeded, h.clock.now()),
    )
    .await;
    let done = get(&h, "o-1").await;
    let result_before = result(&h, "o-1").await;
    h.clock.advance(Duration::from_secs(60));
    let late = apply_report(&h, &[event]).await;
    assert_eq!((late.attempts_stored, late.duplicates), (0, 1));
    assert_eq!(get(&h, "o-1").await, done);
    assert_eq!(result(&h, "o-1").await, result_before);
    assert_eq!(attempts(&h, "o-1").await.len(), 2);
}

/// A success moves `in_flight` to `succeeded` and stores the result with the attempt,
/// status and response excerpt.
pub async fn a_success_moves_the_record_to_succeeded_and_stores_the_result(h: Harness) {
    in_flight(&h, "p", "s-1", 1).await;
    assert_eq!(result(&h, "s-1").await, None, "no result before success");
    let event = outcome("s-1", "p", 1, NextState::Succeeded, h.clock.now());
    h.clock.advance(Duration::from_secs(1));
    let applied_at = h.clock.now();
    apply(&h, event.clone()).await;
    let r = get(&h, "s-1").await;
    assert_eq!(
        (r.state, r.attempt, r.calls),
        (RecordState::Succeeded, 1, 1)
    );
    let expected = StoredResult {
        record_id: rid("s-1"),
        attempt: 1,
        status_code: 200,
        body: event.response.clone().expect("fixture success has a body"),
        stored_at: applied_at,
    };
    assert_eq!(result(&h, "s-1").await, Some(expected));
    assert_eq!(attempts(&h, "s-1").await, vec![event]);
}

/// A transient failure moves `in_flight` to `retry_wait` with the event's `due_at`,
/// and the record is due exactly then.
pub async fn a_transient_failure_moves_the_record_to_retry_wait_with_its_due_time(h: Harness) {
    in_flight(&h, "p", "t-1", 1).await;
    let t0 = h.clock.now();
    let due_at = t0.plus(Duration::from_secs(600));
    apply(
        &h,
        outcome("t-1", "p", 1, NextState::RetryWait { due_at }, t0),
    )
    .await;
    let r = get(&h, "t-1").await;
    assert_eq!((r.state, r.due_at), (RecordState::RetryWait, Some(due_at)));
    assert_eq!((r.attempt, r.calls), (1, 1));
    assert_eq!(result(&h, "t-1").await, None);
    let early = due_at.minus(Duration::from_millis(1));
    let not_yet = h.ports.records.due(early, t0, 10).await.expect("due");
    assert!(not_yet.is_empty(), "not due before its due_at: {not_yet:?}");
    let due = h.ports.records.due(due_at, t0, 10).await.expect("due");
    assert_eq!(
        due.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["t-1"]
    );
}

/// An event of an older attempt than the record's is stored (it happened) but its
/// state move is refused as stale, even where the lifecycle would allow it.
pub async fn an_outcome_older_than_the_record_is_stored_but_does_not_move_it(h: Harness) {
    scheduled(&h, "p", &["x-1"]).await;
    begin(&h, "p", "x-1", 2).await;
    let late = outcome("x-1", "p", 1, NextState::Succeeded, h.clock.now());
    let report = apply_report(&h, std::slice::from_ref(&late)).await;
    assert_eq!(
        report,
        ApplyReport {
            attempts_stored: 1,
            duplicates: 0,
            stale_moves: 1
        }
    );
    let r = get(&h, "x-1").await;
    assert_eq!(
        (r.state, r.attempt),
        (RecordState::InFlight, 2),
        "attempt 2 is running"
    );
    assert_eq!(
        result(&h, "x-1").await,
        None,
        "a stale success stores no result"
    );
    assert_eq!(
        attempts(&h, "x-1").await,
        vec![late],
        "the attempt itself is kept"
    );
}

/// An event whose move the lifecycle forbids (a final record) is stored, and the
/// record stays where it is.
pub async fn an_outcome_the_lifecycle_forbids_is_stored_but_does_not_move_it(h: Harness) {
    in_flight(&h, "p", "f-1", 1).await;
    apply(
        &h,
        outcome("f-1", "p", 1, NextState::Succeeded, h.clock.now()),
    )
    .await;
    let done = get(&h, "f-1").await;
    let first_result = result(&h, "f-1").await;
    h.clock.advance(Duration::from_secs(1));
    let odd = outcome("f-1", "p", 2, NextState::Failed, h.clock.now());
    let report = apply_report(&h, &[odd]).await;
    assert_eq!((report.attempts_stored, report.duplicates), (1, 0));
    assert_eq!(
        get(&h, "f-1").await.state,
        RecordState::Succeeded,
        "{done:?} stays final"
    );
    assert_eq!(result(&h, "f-1").await, first_result);
    assert_eq!(attempts(&h, "f-1").await.len(), 2);
}

/// `Continue` (another attempt follows in the same invocation) stores the attempt and
/// counts the call without moving the record; the next attempt then moves it.
pub async fn continue_stores_the_attempt_without_moving_the_record(h: Harness) {
    in_flight(&h, "p", "c-1", 1).await;
    let first = outcome("c-1", "p", 1, NextState::Continue, h.clock.now());
    let report = apply_report(&h, std::slice::from_ref(&first)).await;
    assert_eq!(
        report,
        ApplyReport {
            attempts_stored: 1,
            duplicates: 0,
            stale_moves: 0
        }
    );
    let r = get(&h, "c-1").await;
    assert_eq!((r.state, r.calls), (RecordState::InFlight, 1));
    h.clock.advance(Duration::from_secs(2));
    let second = outcome("c-1", "p", 2, NextState::Succeeded, h.clock.now());
    let report = apply_report(&h, std::slice::from_ref(&second)).await;
    assert_eq!(
        report,
        ApplyReport {
            attempts_stored: 1,
            duplicates: 0,
            stale_moves: 0
        }
    );
    let r = get(&h, "c-1").await;
    assert_eq!(
        (r.state, r.attempt, r.calls),
        (RecordState::Succeeded, 2, 2)
    );
    assert_eq!(
        attempts(&h, "c-1").await,
        vec![first, second],
        "oldest first"
    );
    assert_eq!(result(&h, "c-1").await.map(|r| r.attempt), Some(2));
}

/// `calls` counts HTTP calls made, not attempts: an attempt the breaker refused
/// (`called: false`) is stored but not counted.
pub async fn calls_count_only_attempts_that_made_a_call(h: Harness) {
    in_flight(&h, "p", "k-1", 1).await;
    let t0 = h.clock.now();
    let mut refused = outcome("k-1", "p", 1, NextState::RetryWait { due_at: t0 }, t0);
    refused.called = false;
    refused.status_code = None;
    refused.response = None;
    refused.error_class = Some(ErrorClass::BreakerOpen);
    apply(&h, refused).await;
    let r = get(&h, "k-1").await;
    assert_eq!(
        (r.state, r.attempt, r.calls),
        (RecordState::RetryWait, 1, 0)
    );
    begin(&h, "p", "k-1", 2).await;
    apply(
        &h,
        outcome("k-1", "p", 2, NextState::Succeeded, h.clock.now()),
    )
    .await;
    let r = get(&h, "k-1").await;
    assert_eq!(
        (r.state, r.attempt, r.calls),
        (RecordState::Succeeded, 2, 1)
    );
    assert_eq!(attempts(&h, "k-1").await.len(), 2, "both attempts are kept");
}
