//! Receipts name their message's row and are found by it (no receipt index): a receipt
//! still acts only on the receive it was handed out by.

use pacer_core::ports::{QueueDepth, WorkQueue};
use pacer_core::schema::{WorkMessage, WORK_MESSAGE_VERSION};
use pacer_core::{ApiRequest, Clock, ProviderId, RecordId};
use pacer_embedded::{Embedded, EmbeddedOptions};
use pacer_testkit::clock::ManualClock;
use std::sync::Arc;
use std::time::Duration;

const VISIBILITY: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_receipt_from_an_earlier_receive_or_a_forged_one_neither_deletes_nor_releases() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clock = Arc::new(ManualClock::default());
    let store = Embedded::open(
        &dir.path().join("pacer.db"),
        Arc::clone(&clock) as Arc<dyn Clock>,
        EmbeddedOptions::default(),
    )
    .expect("open");
    let queue = store.work_queue();
    let message = WorkMessage {
        v: WORK_MESSAGE_VERSION,
        record_id: RecordId::new("r1").expect("record id"),
        provider: ProviderId::new("acme").expect("provider id"),
        attempt: 1,
        calls: 0,
        request: ApiRequest::default(),
        released_at: clock.now(),
    };
    queue.send(&[message]).await.expect("send");
    let receive = || queue.receive(10, VISIBILITY, Duration::ZERO);
    let first = receive().await.expect("first receive");
    assert_eq!(first.len(), 1);
    clock.advance(VISIBILITY + Duration::from_secs(1));
    let second = receive().await.expect("second receive");
    assert_eq!(
        second.len(),
        1,
        "the message comes back after its visibility timeout"
    );
    assert_ne!(first[0].receipt, second[0].receipt);
    let (id, _) = second[0]
        .receipt
        .split_once('.')
        .expect("receipt names its message");
    let forged = format!("{id}.01ARZ3NDEKTSV4RRFFQ69G5FAV");
    let in_flight = QueueDepth {
        visible: 0,
        in_flight: 1,
    };
    for stale in [first[0].receipt.clone(), forged, "not-a-receipt".to_owned()] {
        queue
            .delete(std::slice::from_ref(&stale))
            .await
            .expect("delete");
        queue
            .release(std::slice::from_ref(&stale), Duration::ZERO)
            .await
            .expect("release");
        assert_eq!(
            queue.depth().await.expect("depth"),
            in_flight,
            "{stale} acted"
        );
    }
    queue
        .delete(&[second[0].receipt.clone()])
        .await
        .expect("delete");
    assert_eq!(queue.depth().await.expect("depth"), QueueDepth::default());
}
