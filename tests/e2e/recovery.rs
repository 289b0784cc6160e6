//! A crashed runtime (tasks aborted mid-call) is restarted on the same database file:
//! it resumes and loses nothing, and exclusion holds across the two processes' leases.

use pacer_cli::drive::Ended;
use pacer_core::RecordState;
use pacer_e2e::{test_runtime, Pipeline};
use pacer_local::Runtime;
use pacer_testkit::mock_api::{FaultRates, MockConfig};
use std::time::Duration;

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
    let plan = pacer_core::services::PlanRequest {
        start: p.ports.clock.now(),
        window: Duration::from_secs(2),
        global_rate: None,
    };
    pacer_core::services::plan_window(&p.ports, &plan)
        .await
        .unwrap();
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
