//! A crashed runtime (tasks aborted mid-call) is restarted on the same database file:
//! it resumes and loses nothing, and exclusion holds across the two processes' leases.

use pacer_cli::drive::Ended;
use pacer_core::ports::{Delivery, QueueDepth, SendReport, WorkQueue};
use pacer_core::schema::WorkMessage;
use pacer_core::{PortError, RecordState};
use pacer_e2e::{test_runtime, Pipeline};
use pacer_local::Runtime;
use pacer_testkit::mock_api::{FaultRates, MockConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_restarted_runtime_resumes_without_loss_or_overlap() {
    let faults = FaultRates {
        server_error: 0.05,
        ..FaultRates::NONE
    };
    let mut p = Pipeline::new(
        MockConfig::none()
            .with_fault_rates(faults)
            .with_latency(Duration::from_millis(10)),
    )
    .await;
    for name in ["a", "b", "c", "d"] {
        p.provider(name, |_| {}).await;
        p.seed(name, 50, None).await;
    }
    // First process: plan a 2 s window, run a while, then crash.
    p.plan(Duration::from_secs(2)).await;
    let mut rt = test_runtime();
    rt.visibility = Duration::from_secs(2);
    let first = Runtime::start(p.ports.clone(), rt.clone());
    tokio::time::sleep(Duration::from_millis(900)).await;
    first.abort();
    let counts = p.ports.records.counts().await.unwrap();
    let done: u64 = counts
        .iter()
        .filter(|c| c.state.is_final())
        .map(|c| c.count)
        .sum();
    assert!(
        done > 0 && done < 200,
        "the crash must land mid-run (done {done})"
    );

    // Second process: reopen the file and run to the end.
    p.reopen();
    let ended = p
        .run(Duration::from_secs(2), rt, Duration::from_secs(60))
        .await;
    assert_eq!(ended, Ended::Idle);
    let s = p.summary().await;
    assert_eq!(s.lost, 0, "{s:?}");
    assert_eq!(s.succeeded + s.failed + s.dead_lettered, 200, "{s:?}");
    let seen = p.api.observations();
    assert_eq!(seen.overlaps(), 0);
    assert_eq!(seen.max_fencing_token_regressions(), 0);
    let in_flight = p.ports.records.counts().await.unwrap();
    assert!(in_flight.iter().all(|c| c.state != RecordState::InFlight));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_calls_under_way_and_returns_the_rest_to_the_queue() {
    // What Ctrl-C on `pacer run` does: calls under way end and are stored, nothing else
    // starts, every message taken is deleted or handed back at once (not left hidden
    // for its visibility timeout), and a second run picks up at once where it stopped.
    let mut p = Pipeline::new(MockConfig::none().with_latency(Duration::from_millis(40))).await;
    for name in ["a", "b", "c", "d"] {
        p.provider(name, |_| {}).await;
        p.seed(name, 40, None).await;
    }
    p.plan(Duration::from_millis(10)).await;
    // A visibility far longer than the test: a message left hidden would stall the
    // second run past its cap.
    let mut rt = test_runtime();
    rt.visibility = Duration::from_secs(120);
    let first = Runtime::start(p.ports.clone(), rt.clone());
    tokio::time::sleep(Duration::from_millis(600)).await;
    first.shutdown().await;

    let seen = p.api.observations();
    assert!(
        !seen.calls.is_empty() && seen.calls.len() < 160,
        "the stop must land mid-run ({} calls)",
        seen.calls.len()
    );
    assert_eq!(
        seen.calls_by_provider.values().sum::<u64>(),
        seen.calls.len() as u64,
        "a call was still open after the stop"
    );
    // Every call made is stored and applied: the records it touched are final.
    let succeeded = p
        .ports
        .records
        .counts()
        .await
        .unwrap()
        .iter()
        .filter(|c| c.state == RecordState::Succeeded)
        .map(|c| c.count)
        .sum::<u64>();
    assert_eq!(succeeded, seen.calls.len() as u64);
    // Messages a stopped batch did not reach come back after the worker's retry delay
    // (100 ms here), not after the visibility timeout.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let depth = p.ports.work.depth().await.unwrap();
    assert_eq!(depth.in_flight, 0, "messages left hidden: {depth:?}");

    // The second run finishes well inside the visibility timeout, calling each record once.
    let ended = p
        .run(Duration::from_millis(10), rt, Duration::from_secs(30))
        .await;
    assert_eq!(ended, Ended::Idle);
    let s = p.summary().await;
    assert_eq!((s.succeeded, s.lost), (160, 0), "{s:?}");
    let seen = p.api.observations();
    assert_eq!(seen.calls.len(), 160, "a record was called twice");
    assert_eq!(seen.overlaps(), 0);
}

/// A work queue whose receive hands its messages over late: after the queue has marked
/// them taken, it says so on `holding` and waits before returning them. A stop that
/// lands then finds a receive that has already taken messages.
struct SlowHandOver {
    inner: Arc<dyn WorkQueue>,
    holding: Arc<Notify>,
}

#[async_trait::async_trait]
impl WorkQueue for SlowHandOver {
    async fn send(&self, messages: &[WorkMessage]) -> Result<SendReport, PortError> {
        self.inner.send(messages).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, PortError> {
        let taken = self.inner.receive(max, visibility, wait).await?;
        if !taken.is_empty() {
            self.holding.notify_one();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(taken)
    }
    async fn delete(&self, receipts: &[String]) -> Result<(), PortError> {
        self.inner.delete(receipts).await
    }
    async fn release(&self, receipts: &[String], delay: Duration) -> Result<(), PortError> {
        self.inner.release(receipts, delay).await
    }
    async fn depth(&self) -> Result<QueueDepth, PortError> {
        self.inner.depth().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_receive_hands_its_messages_back_at_once() {
    let mut p = Pipeline::new(MockConfig::none()).await;
    for name in ["a", "b"] {
        p.provider(name, |_| {}).await;
        p.seed(name, 10, None).await;
    }
    p.plan(Duration::from_millis(10)).await;
    // Release first, once all are due, so the runtime's first receive finds messages.
    tokio::time::sleep(Duration::from_millis(50)).await;
    pacer_core::services::release_due(&p.ports, &Default::default())
        .await
        .unwrap();
    let holding = Arc::new(Notify::new());
    let mut ports = p.ports.clone();
    ports.work = Arc::new(SlowHandOver {
        inner: Arc::clone(&p.ports.work),
        holding: Arc::clone(&holding),
    });
    let mut rt = test_runtime();
    rt.visibility = Duration::from_secs(120);
    let first = Runtime::start(ports, rt);
    holding.notified().await;
    first.shutdown().await;
    // Nothing was called, and every message is visible again at once, not hidden for
    // the 120 s visibility timeout.
    assert!(p.api.observations().calls.is_empty());
    let depth = p.ports.work.depth().await.unwrap();
    assert_eq!((depth.visible, depth.in_flight), (20, 0), "{depth:?}");
}
