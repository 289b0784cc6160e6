//! [`OutcomeBus`](pacer_core::ports::OutcomeBus): at-least-once delivery of outcome
//! events, no order promised, un-acked deliveries come back after their visibility.

use super::fixtures::{outcome, pass_queue_time, queue_span, PAST_VISIBILITY, VISIBILITY};
use super::Harness;
use pacer_core::ports::{Delivery, QueueDepth};
use pacer_core::schema::{NextState, OutcomeEvent};
use std::time::Duration;

async fn receive(h: &Harness, max: usize) -> Vec<Delivery> {
    let got = h
        .ports
        .outcomes
        .receive(max, queue_span(h, VISIBILITY), Duration::ZERO)
        .await
        .expect("receive outcomes");
    assert!(
        got.len() <= max,
        "receive({max}) returned {} deliveries",
        got.len()
    );
    got
}

/// Receives until `n` deliveries came (a standard queue may hand out fewer than are
/// waiting per receive).
async fn receive_n(h: &Harness, max: usize, n: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    for _ in 0..5 {
        out.extend(receive(h, max).await);
        if out.len() >= n {
            break;
        }
    }
    out
}

fn decode(d: &Delivery) -> OutcomeEvent {
    OutcomeEvent::decode(&d.body).unwrap_or_else(|e| panic!("delivery {d:?} decodes: {e}"))
}

async fn ack(h: &Harness, deliveries: &[Delivery]) {
    let receipts: Vec<String> = deliveries.iter().map(|d| d.receipt.clone()).collect();
    h.ports.outcomes.ack(&receipts).await.expect("ack outcomes");
}

async fn depth(h: &Harness) -> QueueDepth {
    h.ports.outcomes.depth().await.expect("outcome depth")
}

fn two_events(h: &Harness) -> [OutcomeEvent; 2] {
    let now = h.clock.now();
    let retry = NextState::RetryWait {
        due_at: now.plus(Duration::from_secs(60)),
    };
    [
        outcome("o-1", "a", 1, NextState::Succeeded, now),
        outcome("o-2", "b", 3, retry, now),
    ]
}

/// Published events are received intact (in any order), counted once, and gone for
/// good once acked.
pub async fn published_events_are_received_and_gone_once_acked(h: Harness) {
    let events = two_events(&h);
    h.ports.outcomes.publish(&events).await.expect("publish");
    let got = receive_n(&h, 10, 2).await;
    let mut bodies: Vec<OutcomeEvent> = got.iter().map(decode).collect();
    bodies.sort_by(|x, y| x.record_id.cmp(&y.record_id));
    assert_eq!(bodies, events, "every event arrives intact");
    assert!(got.iter().all(|d| d.receive_count == 1), "{got:?}");
    assert_ne!(got[0].receipt, got[1].receipt, "one receipt per delivery");
    ack(&h, &got).await;
    pass_queue_time(&h, PAST_VISIBILITY).await;
    assert!(
        receive(&h, 10).await.is_empty(),
        "acked deliveries do not come back"
    );
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 0,
            in_flight: 0
        }
    );
}

/// A delivery not acked within its visibility is hidden meanwhile, then delivered again
/// with `receive_count` 2; acking that delivery ends it.
pub async fn unacked_deliveries_come_back_after_the_visibility_timeout(h: Harness) {
    let [event, _] = two_events(&h);
    h.ports
        .outcomes
        .publish(std::slice::from_ref(&event))
        .await
        .expect("publish");
    let first = receive_n(&h, 10, 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert!(
        receive(&h, 10).await.is_empty(),
        "hidden while its visibility runs"
    );
    pass_queue_time(&h, PAST_VISIBILITY).await;
    let again = receive_n(&h, 10, 1).await;
    assert_eq!(again.len(), 1, "the un-acked delivery comes back");
    assert_eq!(decode(&again[0]), event);
    assert_eq!(again[0].message_id, first[0].message_id, "the same message");
    assert_eq!(again[0].receive_count, 2);
    ack(&h, &again).await;
    pass_queue_time(&h, PAST_VISIBILITY).await;
    assert!(receive(&h, 10).await.is_empty(), "acked now");
}

/// `depth` counts deliveries waiting and in flight.
pub async fn depth_counts_waiting_and_in_flight_deliveries(h: Harness) {
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 0,
            in_flight: 0
        }
    );
    let [a, b] = two_events(&h);
    let mut c = a.clone();
    c.attempt = 2;
    h.ports.outcomes.publish(&[a, b, c]).await.expect("publish");
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 3,
            in_flight: 0
        }
    );
    let got = receive_n(&h, 1, 1).await;
    assert_eq!(got.len(), 1, "receive(1) takes one of the three");
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 2,
            in_flight: 1
        }
    );
    ack(&h, &got).await;
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 2,
            in_flight: 0
        }
    );
}
