//! [`WorkQueue::receive`](pacer_core::ports::WorkQueue::receive) batches, queue depth
//! and long polling.

use super::fixtures::{work, VISIBILITY};
use super::work_queue::{decode, delete, depth, drain, keys, receive};
use super::Harness;
use pacer_core::ports::QueueDepth;
use std::sync::Arc;
use std::time::Duration;

/// One receive hands out at most 10 messages of one group (an SQS FIFO batch), in send
/// order; the rest of the group follows in later receives.
pub async fn a_receive_hands_out_at_most_ten_messages_of_one_group(h: Harness) {
    let now = h.clock.now();
    let sent: Vec<_> = (1..=12)
        .map(|i| work(&format!("m-{i:02}"), "a", 1, now))
        .collect();
    h.ports.work.send(&sent).await.expect("send");
    h.ports
        .work
        .send(&[work("b-1", "b", 1, now)])
        .await
        .expect("send");
    let got = receive(&h, 20).await;
    let of_a: Vec<String> = got
        .iter()
        .filter(|d| d.group == "a")
        .map(|d| decode(d).dedup_id())
        .collect();
    assert!(
        !of_a.is_empty() && of_a.len() <= 10,
        "got {} of group a: {of_a:?}",
        of_a.len()
    );
    let expected: Vec<String> = sent.iter().take(of_a.len()).map(|m| m.dedup_id()).collect();
    assert_eq!(of_a, expected, "a prefix of the group, in send order");
    let taken = of_a.len();
    delete(&h, &got).await;
    let rest = drain(&h, 20, 12 - taken).await;
    let rest_of_a: Vec<&String> = rest.iter().filter(|k| k.starts_with("m-")).collect();
    let expected: Vec<String> = sent.iter().skip(taken).map(|m| m.dedup_id()).collect();
    assert_eq!(
        rest_of_a,
        expected.iter().collect::<Vec<_>>(),
        "the rest follows in order"
    );
    assert!(keys(&got).len() <= 20);
}

/// `depth` counts messages waiting (including those queued behind an in-flight head of
/// their group) and messages in flight.
pub async fn depth_counts_visible_and_in_flight_messages(h: Harness) {
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 0,
            in_flight: 0
        }
    );
    let now = h.clock.now();
    let msgs = [
        work("d-1", "a", 1, now),
        work("d-2", "a", 1, now),
        work("d-3", "b", 1, now),
    ];
    h.ports.work.send(&msgs).await.expect("send");
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 3,
            in_flight: 0
        }
    );
    let got = receive(&h, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 2,
            in_flight: 1
        }
    );
    delete(&h, &got).await;
    assert_eq!(
        depth(&h).await,
        QueueDepth {
            visible: 2,
            in_flight: 0
        }
    );
}

/// A receive with `wait` returns as soon as a message is sent, well before `wait` runs
/// out. This case runs in real time (long polling waits on the runtime's timer).
pub async fn a_long_poll_returns_as_soon_as_a_message_arrives(h: Harness) {
    let queue = Arc::clone(&h.ports.work);
    let message = work("lp-1", "a", 1, h.clock.now());
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        queue.send(&[message]).await
    });
    let started = std::time::Instant::now();
    let wait = Duration::from_secs(2);
    let got = h
        .ports
        .work
        .receive(10, VISIBILITY, wait)
        .await
        .expect("long poll");
    let elapsed = started.elapsed();
    let sent = sender.await.expect("sender task").expect("send");
    assert_eq!(sent.sent, 1);
    assert_eq!(
        keys(&got),
        ["lp-1#1"],
        "the long poll got the message sent while it waited"
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "the long poll returned after {elapsed:?}; the message was sent at about 200 ms"
    );
}
