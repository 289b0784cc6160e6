//! [`RecordStore`](pacer_core::ports::RecordStore) for operators: `replay` of
//! dead-lettered records, and the `note`/`history` log of what attempts do not tell.

use super::fixtures::{apply, get, in_flight, insert, outcome, rid};
use super::Harness;
use pacer_core::ports::{HistoryEntry, Replay};
use pacer_core::schema::NextState;
use pacer_core::RecordState;
use std::time::Duration;

async fn history(h: &Harness, id: &str) -> Vec<HistoryEntry> {
    h.ports.records.history(&rid(id)).await.expect("history")
}

async fn replay(h: &Harness, ids: &[&str], due_at: pacer_core::Timestamp) -> u64 {
    let replays: Vec<Replay> = ids
        .iter()
        .map(|id| Replay {
            record_id: rid(id),
            due_at,
        })
        .collect();
    let moved = h.ports.records.replay(&replays, h.clock.now()).await;
    moved.expect("replay")
}

/// Brings a record to `dead_lettered` after `calls` failed calls as attempts 1..=calls.
async fn dead_lettered(h: &Harness, id: &str, calls: u32) {
    in_flight(h, "p", id, 1).await;
    for attempt in 1..calls {
        apply(
            h,
            outcome(id, "p", attempt, NextState::Continue, h.clock.now()),
        )
        .await;
    }
    let last = outcome(id, "p", calls, NextState::DeadLettered, h.clock.now());
    apply(h, last).await;
    let r = get(h, id).await;
    assert_eq!(
        (r.state, r.calls),
        (RecordState::DeadLettered, calls),
        "fixture"
    );
}

/// `replay` moves a `dead_lettered` record to `scheduled` at the given `due_at` with
/// `calls` back to 0, keeps its attempt number (the next attempt is numbered after the
/// old ones, whose history stays), and notes the replay in the history.
pub async fn replay_brings_a_dead_lettered_record_back_scheduled_with_a_fresh_call_budget(
    h: Harness,
) {
    dead_lettered(&h, "z-1", 3).await;
    assert!(history(&h, "z-1")
        .await
        .iter()
        .all(|e| e.kind != "replayed"));
    h.clock.advance(Duration::from_secs(60));
    let now = h.clock.now();
    let due_at = now.plus(Duration::from_secs(600));
    assert_eq!(replay(&h, &["z-1"], due_at).await, 1);
    let r = get(&h, "z-1").await;
    assert_eq!(
        (r.state, r.due_at, r.calls),
        (RecordState::Scheduled, Some(due_at), 0)
    );
    assert_eq!(r.attempt, 3, "attempt numbers keep growing after a replay");
    assert_eq!(
        h.ports
            .records
            .attempts(&rid("z-1"))
            .await
            .expect("attempts")
            .len(),
        3,
        "earlier attempts stay"
    );
    let replayed: Vec<_> = history(&h, "z-1")
        .await
        .into_iter()
        .filter(|e| e.kind == "replayed")
        .collect();
    assert_eq!(
        replayed.len(),
        1,
        "one `replayed` history entry: {replayed:?}"
    );
    assert_eq!(replayed[0].at, now);
    let due = h.ports.records.due(due_at, now, 10).await.expect("due");
    assert_eq!(
        due.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["z-1"],
        "due again at its new due_at"
    );
}

/// Only `dead_lettered` records move: replaying twice does nothing the second time, and
/// records in other states or unknown ids are left alone (no move, no history entry).
pub async fn replaying_twice_or_a_record_not_dead_lettered_does_nothing(h: Harness) {
    dead_lettered(&h, "z-1", 1).await;
    insert(&h, "q", &["z-pending"]).await;
    let due_at = h.clock.now().plus(Duration::from_secs(600));
    assert_eq!(replay(&h, &["z-1"], due_at).await, 1);
    let replayed = get(&h, "z-1").await;
    let replayed_history = history(&h, "z-1").await;
    let pending = get(&h, "z-pending").await;
    h.clock.advance(Duration::from_secs(60));
    let later = due_at.plus(Duration::from_secs(3600));
    let moved = replay(&h, &["z-1", "z-pending", "z-unknown"], later).await;
    assert_eq!(moved, 0, "nothing here is dead-lettered");
    assert_eq!(
        get(&h, "z-1").await,
        replayed,
        "the second replay changed nothing"
    );
    assert_eq!(history(&h, "z-1").await, replayed_history);
    assert_eq!(get(&h, "z-pending").await, pending);
    assert!(history(&h, "z-pending").await.is_empty());
    let unknown = h.ports.records.get(&rid("z-unknown")).await.expect("get");
    assert_eq!(unknown, None, "replay does not create records");
}

/// `note` appends entries to one record's history; `history` lists them oldest first
/// and only that record's.
pub async fn history_lists_a_records_notes_oldest_first(h: Harness) {
    insert(&h, "p", &["n-1", "n-2"]).await;
    assert!(history(&h, "n-1").await.is_empty(), "no history yet");
    let t0 = h.clock.now();
    let entry = |secs: u64, kind: &str| HistoryEntry {
        at: t0.plus(Duration::from_secs(secs)),
        kind: kind.to_owned(),
        detail: format!("{kind} at +{secs}s"),
    };
    // Appended out of time order: the list is by time, not by arrival.
    let (late, early, other) = (
        entry(20, "purged_from_dead_letters"),
        entry(10, "carried_over"),
        entry(15, "other"),
    );
    for (id, e) in [("n-1", &late), ("n-1", &early), ("n-2", &other)] {
        h.ports.records.note(&rid(id), e).await.expect("note");
    }
    assert_eq!(history(&h, "n-1").await, vec![early, late]);
    assert_eq!(history(&h, "n-2").await, vec![other]);
}
