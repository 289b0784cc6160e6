//! [`WorkQueue::send`](pacer_core::ports::WorkQueue::send) deduplication: a message is
//! identified by `record_id#attempt` for at least five minutes.

use super::fixtures::work;
use super::work_queue::{decode, delete, keys, receive};
use super::Harness;
use pacer_core::ports::{QueueDepth, SendReport};
use std::time::Duration;

/// A message whose `record#attempt` was sent less than five minutes ago is dropped and
/// counted, even with a different body; the first copy is the one delivered.
pub async fn a_record_attempt_sent_twice_within_five_minutes_is_deduplicated(h: Harness) {
    let t0 = h.clock.now();
    let first = work("r-1", "a", 1, t0);
    let report = h
        .ports
        .work
        .send(std::slice::from_ref(&first))
        .await
        .expect("send");
    assert_eq!(
        report,
        SendReport {
            sent: 1,
            deduplicated: 0
        }
    );
    h.clock.advance(Duration::from_secs(4 * 60));
    // A dispatcher tick repeated after a crash: same record and attempt, new release time.
    let repeat = work("r-1", "a", 1, h.clock.now());
    let report = h
        .ports
        .work
        .send(&[repeat, work("r-2", "a", 1, h.clock.now())])
        .await;
    assert_eq!(
        report.expect("send again"),
        SendReport {
            sent: 1,
            deduplicated: 1
        }
    );
    let depth = h.ports.work.depth().await.expect("depth");
    assert_eq!(
        depth,
        QueueDepth {
            visible: 2,
            in_flight: 0
        },
        "r-1 is queued once"
    );
    let got = receive(&h, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(decode(&got[0]), first, "the first copy is kept");
}

/// The next attempt of a record is a different message, not a duplicate.
pub async fn a_new_attempt_of_a_record_is_not_deduplicated(h: Harness) {
    let now = h.clock.now();
    let report = h
        .ports
        .work
        .send(&[work("r-1", "a", 1, now)])
        .await
        .expect("send");
    assert_eq!(
        report,
        SendReport {
            sent: 1,
            deduplicated: 0
        }
    );
    let report = h
        .ports
        .work
        .send(&[work("r-1", "a", 2, now)])
        .await
        .expect("send");
    assert_eq!(
        report,
        SendReport {
            sent: 1,
            deduplicated: 0
        },
        "attempt 2 is new"
    );
    let first = receive(&h, 10).await;
    let mut seen = keys(&first);
    delete(&h, &first).await;
    if seen.len() < 2 {
        seen.extend(keys(&receive(&h, 10).await));
    }
    assert_eq!(seen, ["r-1#1", "r-1#2"]);
}

/// Every backend deduplicates a re-send while the first message is still queued. With
/// `dedup_survives_delete`, a re-send within the window after the message was deleted
/// is deduplicated too (SQS remembers the id; moto forgets it on delete); without it,
/// the case only checks that the re-send is accepted one way or the other.
pub async fn a_resend_after_delete_is_deduplicated_where_the_backend_remembers(h: Harness) {
    let message = work("r-1", "a", 1, h.clock.now());
    h.ports
        .work
        .send(std::slice::from_ref(&message))
        .await
        .expect("send");
    let report = h
        .ports
        .work
        .send(std::slice::from_ref(&message))
        .await
        .expect("send");
    assert_eq!(
        report,
        SendReport {
            sent: 0,
            deduplicated: 1
        },
        "still queued: a duplicate"
    );
    let got = receive(&h, 1).await;
    assert_eq!(keys(&got), ["r-1#1"]);
    delete(&h, &got).await;
    h.clock.advance(Duration::from_secs(60));
    let report = h
        .ports
        .work
        .send(std::slice::from_ref(&message))
        .await
        .expect("re-send");
    assert_eq!(report.sent + report.deduplicated, 1, "{report:?}");
    if !h.caps.dedup_survives_delete {
        return;
    }
    assert_eq!(
        report,
        SendReport {
            sent: 0,
            deduplicated: 1
        },
        "deleted, yet remembered"
    );
    let depth = h.ports.work.depth().await.expect("depth");
    assert_eq!(
        depth,
        QueueDepth {
            visible: 0,
            in_flight: 0
        }
    );
    assert!(receive(&h, 10).await.is_empty(), "nothing was queued again");
}
