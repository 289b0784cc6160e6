//! The whole pipeline on the embedded backend against the mock API, with faults on:
//! every invariant of DESIGN.md §2 checked from the outside (what the API saw) and the
//! inside (what the store says).

use pacer_cli::drive::Ended;
use pacer_core::classify::ErrorClass;
use pacer_core::ports::{DeadLetterFilter, Delivery, RecordFilter};
use pacer_core::schema::{NextState, WorkMessage, WORK_MESSAGE_VERSION};
use pacer_core::services::{self, Deadline, Disposition, WorkerSettings};
use pacer_core::{RecordState, Timestamp};
use pacer_e2e::{test_runtime, Pipeline};
use pacer_testkit::mock_api::{FaultRates, MockConfig};
use std::collections::BTreeMap;
use std::time::Duration;

const HARSH: FaultRates = FaultRates {
    timeout: 0.03,
    reset: 0.05,
    rate_limited: 0.08,
    server_error: 0.10,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harsh_faults_keep_exclusion_no_loss_traceability_and_pacing() {
    let mock = MockConfig::none()
        .with_fault_rates(HARSH)
        .with_latency(Duration::from_millis(3))
        .with_hang(Duration::from_secs(2))
        .with_retry_after_secs(0)
        .with_seed(7);
    let mut p = Pipeline::new(mock).await;
    for (name, n, gap) in [
        ("alpha", 120, 15),
        ("beta", 60, 30),
        ("gamma", 30, 0),
        ("delta", 10, 0),
    ] {
        p.provider(name, |s| {
            s.min_interval = Duration::from_millis(gap);
            s.max_attempts = 6;
        })
        .await;
        p.seed(name, n, Some(20)).await;
    }
    let ended = p
        .run(
            Duration::from_secs(3),
            test_runtime(),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(ended, Ended::Idle);
    let s = p.summary().await;
    let seen = p.api.observations();

    // Exclusion: the API never saw two calls of one provider at once, nor a stale token.
    assert_eq!(seen.overlaps(), 0, "{:?}", seen.overlaps_by_provider);
    assert_eq!(seen.max_fencing_token_regressions(), 0);
    // No loss: every record is final.
    assert_eq!(s.lost, 0);
    assert_eq!(s.succeeded + s.failed + s.dead_lettered, 220, "{s:?}");
    // Permanent errors are not retried: each defective record was called exactly once.
    let failed = p
        .ports
        .records
        .list(&RecordFilter {
            state: Some(RecordState::Failed),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 10, "one in 20 is defective: 6 + 3 + 1 + 0");
    for r in &failed {
        assert!(r.id.as_str().ends_with("defective"), "{} failed", r.id);
        assert_eq!(seen.calls_for(r.id.as_str()), 1, "{} retried", r.id);
    }
    // Traceability: every call the API saw is an attempt in the store, with its fields.
    assert_eq!(
        s.attempts as usize,
        seen.calls.len(),
        "calls stored vs calls seen"
    );
    assert!(s.retries > 0, "harsh faults must cause retries");
    let sample = p
        .ports
        .records
        .list(&RecordFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    for r in sample.iter().step_by(7) {
        let attempts = p.ports.records.attempts(&r.id).await.unwrap();
        let calls = attempts.iter().filter(|a| a.called).count();
        assert_eq!(calls as u32, r.calls, "{}", r.id);
        assert_eq!(calls, seen.calls_for(r.id.as_str()), "{}", r.id);
        for a in attempts.iter().filter(|a| a.called) {
            assert!(
                a.fencing_token > 0 && !a.invocation_id.is_empty() && a.finished_at >= a.started_at
            );
            assert!(a.status_code.is_some() || a.error_class.is_some());
        }
        if r.state == RecordState::Succeeded {
            assert!(
                p.ports.records.result(&r.id).await.unwrap().is_some(),
                "{} has no stored result",
                r.id
            );
        }
    }
    // Pacing, where it is enforced: no two call starts of a provider closer than its
    // minimum interval (stored start times have millisecond resolution). The API sees
    // the same spacing give or take scheduling noise, so it is checked on the median.
    let mut starts: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let all = p
        .ports
        .records
        .list(&RecordFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    for r in &all {
        for a in p
            .ports
            .records
            .attempts(&r.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.called)
        {
            starts
                .entry(r.provider.to_string())
                .or_default()
                .push(a.started_at.as_millis());
        }
    }
    for prov in &s.providers {
        let mut v = starts.remove(&prov.provider).unwrap_or_default();
        v.sort_unstable();
        let min_gap = v.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(i64::MAX);
        assert!(
            min_gap + 1 >= prov.min_interval_ms as i64,
            "{}: calls {min_gap} ms apart",
            prov.provider
        );
        if let Some(median) = prov.median_gap_ms {
            assert!(
                median >= prov.min_interval_ms as f64,
                "{}: API saw a median gap of {median} ms",
                prov.provider
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_then_dead_lettered_at_max_attempts() {
    let mut p = Pipeline::new(
        MockConfig::none()
            .with_down("down")
            .with_fail_first("flaky", 2),
    )
    .await;
    p.provider("down", |s| s.max_attempts = 3).await;
    p.provider("flaky", |s| s.max_attempts = 3).await;
    let down = p.seed("down", 5, None).await;
    let flaky = p.seed("flaky", 5, None).await;
    assert_eq!(
        p.run(
            Duration::from_millis(500),
            test_runtime(),
            Duration::from_secs(30)
        )
        .await,
        Ended::Idle
    );
    let seen = p.api.observations();
    for id in &down {
        let r = p.ports.records.get(id).await.unwrap().unwrap();
        assert_eq!(r.state, RecordState::DeadLettered, "{id}");
        assert_eq!(
            (r.calls, seen.calls_for(id.as_str())),
            (3, 3),
            "{id}: exactly max_attempts calls"
        );
    }
    let dead = p
        .ports
        .dead_letters
        .list(&DeadLetterFilter {
            provider: Some("down".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 5);
    assert!(dead
        .iter()
        .all(|d| d.error_class == ErrorClass::ServerError && d.attempts == 3));
    for id in &flaky {
        let r = p.ports.records.get(id).await.unwrap().unwrap();
        assert_eq!(
            (r.state, r.calls),
            (RecordState::Succeeded, 3),
            "{id}: two 503s then success"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_between_calls() {
    let limited = FaultRates {
        rate_limited: 1.0,
        ..FaultRates::NONE
    };
    let mut p = Pipeline::new(
        MockConfig::none()
            .with_provider_faults("slow", limited)
            .with_retry_after_secs(1),
    )
    .await;
    p.provider("slow", |s| s.max_attempts = 2).await;
    let ids = p.seed("slow", 1, None).await;
    assert_eq!(
        p.run(
            Duration::from_millis(100),
            test_runtime(),
            Duration::from_secs(20)
        )
        .await,
        Ended::Idle
    );
    let attempts = p.ports.records.attempts(&ids[0]).await.unwrap();
    assert_eq!(attempts.len(), 2);
    let gap = attempts[1].started_at.as_millis() - attempts[0].finished_at.as_millis();
    assert!(
        gap >= 1000,
        "second call came {gap} ms after a Retry-After: 1"
    );
    assert_eq!(attempts[0].error_class, Some(ErrorClass::RateLimited));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_rate_cap_holds_across_providers_even_when_the_plan_ignores_it() {
    // Three providers with no minimum interval and a window of 100 ms would call at
    // once; the plan is not told of the cap, so only the call-time gate can hold it.
    // 12.5/s is a fraction on purpose: rounded to 13/s the spans below come out short.
    let rate = 12.5;
    let mut p = Pipeline::with_global_rate(MockConfig::none(), Some(rate)).await;
    for name in ["one", "two", "three"] {
        p.provider(name, |s| s.min_interval = Duration::ZERO).await;
        p.seed(name, 10, None).await;
    }
    let ended = p
        .run(
            Duration::from_millis(100),
            test_runtime(),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(ended, Ended::Idle);
    let seen = p.api.observations();
    assert_eq!(seen.calls.len(), 30);
    assert_eq!(seen.overlaps(), 0);
    let mut starts: Vec<u64> = seen.calls.iter().map(|c| c.started_at).collect();
    starts.sort_unstable();
    // Any k + 1 consecutive call starts span at least k periods (80 ms each), less some
    // slack for the way from the gate to the API on a loaded machine. Over all 30 calls
    // a 13/s gate falls 89 ms short, more than the slack.
    let period_us = (1e6 / rate) as u64;
    let slack_us = 40_000;
    for k in [10usize, 29] {
        for w in starts.windows(k + 1) {
            let span = w[k] - w[0];
            assert!(
                span + slack_us >= k as u64 * period_us,
                "{} calls started within {span} µs; a cap of {rate}/s needs {} µs",
                k + 1,
                k as u64 * period_us
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_and_duplicate_outcomes_are_harmless() {
    let mut p = Pipeline::new(MockConfig::none()).await;
    p.provider("acme", |_| {}).await;
    let ids = p.seed("acme", 20, None).await;
    assert_eq!(
        p.run(
            Duration::from_millis(200),
            test_runtime(),
            Duration::from_secs(20)
        )
        .await,
        Ended::Idle
    );
    let before = p.summary().await;
    let calls_before = p.api.observations().calls.len();
    // Every outcome delivered again.
    for id in &ids {
        let attempts = p.ports.records.attempts(id).await.unwrap();
        let report = p
            .ports
            .records
            .apply_outcomes(&attempts, p.ports.clock.now())
            .await
            .unwrap();
        assert_eq!(report.attempts_stored, 0);
    }
    // Every work message delivered again.
    let deliveries = first_attempts(&ids, 2);
    let report = services::process_batch(
        &p.ports,
        &WorkerSettings::default(),
        &deliveries,
        &Deadline::none(),
    )
    .await;
    assert!(report
        .dispositions
        .iter()
        .all(|(_, d)| *d == Disposition::Done));
    assert_eq!(report.calls, 0);
    assert_eq!(
        p.api.observations().calls.len(),
        calls_before,
        "a duplicate must not call the API"
    );
    assert_eq!(p.summary().await, before);
}

/// Work messages for the first attempt of each record of provider `acme`, as the queue
/// would deliver them (`receive_count` as given).
fn first_attempts(ids: &[pacer_core::RecordId], receive_count: u32) -> Vec<Delivery> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let m = WorkMessage {
                v: WORK_MESSAGE_VERSION,
                record_id: id.clone(),
                provider: "acme".parse_provider(),
                attempt: 1,
                calls: 0,
                request: pacer_core::ApiRequest {
                    path: "/x".into(),
                    ..Default::default()
                },
                released_at: Timestamp::from_millis(0),
            };
            Delivery {
                message_id: i.to_string(),
                receipt: i.to_string(),
                group: "acme".into(),
                body: m.encode(),
                receive_count,
            }
        })
        .collect()
}

trait ParseProvider {
    fn parse_provider(&self) -> pacer_core::ProviderId;
}

impl ParseProvider for &str {
    fn parse_provider(&self) -> pacer_core::ProviderId {
        pacer_core::ProviderId::new(*self).expect("valid provider")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusion_holds_even_when_two_workers_get_the_same_provider() {
    // Bypass the FIFO queue: two workers get halves of one provider's work at once, as
    // after a visibility-timeout redelivery. Only the lease stands between them.
    let mut p = Pipeline::new(MockConfig::none().with_latency(Duration::from_millis(40))).await;
    p.provider("acme", |_| {}).await;
    let ids = p.seed("acme", 12, None).await;
    p.plan(Duration::from_millis(10)).await;
    let deliveries = first_attempts(&ids, 1);
    let (a, b) = deliveries.split_at(6);
    let (w1, w2) = (WorkerSettings::default(), WorkerSettings::default());
    let (d1, d2) = (Deadline::none(), Deadline::none());
    let (r1, r2) = tokio::join!(
        services::process_batch(&p.ports, &w1, a, &d1),
        services::process_batch(&p.ports, &w2, b, &d2)
    );
    let seen = p.api.observations();
    assert_eq!(seen.overlaps(), 0);
    let retried = r1.failed_ids().len() + r2.failed_ids().len();
    assert_eq!(
        r1.calls + r2.calls + retried as u32,
        12,
        "every message either called or given back"
    );
    assert!(retried > 0, "one worker must have found the lease busy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_without_blocking_their_provider() {
    let mut p = Pipeline::new(MockConfig::none()).await;
    p.provider("acme", |_| {}).await;
    let ids = p.seed("acme", 1, None).await;
    p.plan(Duration::from_millis(10)).await;
    let good = WorkMessage {
        v: WORK_MESSAGE_VERSION,
        record_id: ids[0].clone(),
        provider: "acme".parse_provider(),
        attempt: 1,
        calls: 0,
        request: pacer_core::ApiRequest {
            path: "/x".into(),
            ..Default::default()
        },
        released_at: p.ports.clock.now(),
    };
    let deliveries = vec![
        Delivery {
            message_id: "m1".into(),
            receipt: "r1".into(),
            group: "acme".into(),
            body: "{not json".into(),
            receive_count: 1,
        },
        Delivery {
            message_id: "m2".into(),
            receipt: "r2".into(),
            group: "acme".into(),
            body: good.encode().replace("\"v\":1", "\"v\":9"),
            receive_count: 1,
        },
        Delivery {
            message_id: "m3".into(),
            receipt: "r3".into(),
            group: "acme".into(),
            body: good.encode(),
            receive_count: 1,
        },
    ];
    let report = services::process_batch(
        &p.ports,
        &WorkerSettings::default(),
        &deliveries,
        &Deadline::none(),
    )
    .await;
    let by_id: BTreeMap<_, _> = report.dispositions.iter().cloned().collect();
    assert!(by_id.values().all(|d| *d == Disposition::Done), "{by_id:?}");
    assert_eq!(
        report.calls, 1,
        "the good message behind the poison is still processed"
    );
    let dead = p
        .ports
        .dead_letters
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(dead.len(), 2);
    assert!(
        dead.iter().any(|d| d.reason.contains("version 9")),
        "{dead:?}"
    );
    assert!(dead.iter().all(|d| d.error_class == ErrorClass::BadMessage));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_breaker_stops_spending_attempts_on_a_provider_that_is_down() {
    let mut p = Pipeline::new(MockConfig::none().with_down("down")).await;
    p.provider("down", |s| {
        s.breaker_failures = 2;
        s.breaker_cooldown = Duration::from_secs(30);
        s.max_attempts = 5;
    })
    .await;
    p.seed("down", 6, None).await;
    let _ = p
        .run(
            Duration::from_millis(100),
            test_runtime(),
            Duration::from_secs(3),
        )
        .await;
    let seen = p.api.observations();
    assert!(
        seen.calls.len() <= 3,
        "after 2 failures the breaker must stop calls; saw {}",
        seen.calls.len()
    );
    let waiting = p
        .ports
        .records
        .list(&RecordFilter {
            state: Some(RecordState::RetryWait),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!waiting.is_empty());
    let attempts = p.ports.records.attempts(&waiting[0].id).await.unwrap();
    let last = attempts.last().unwrap();
    assert!(matches!(last.next, NextState::RetryWait { .. }));
    assert!(
        attempts
            .iter()
            .any(|a| a.error_class == Some(ErrorClass::BreakerOpen) && !a.called),
        "{attempts:?}"
    );
}

/// An outcome bus that refuses to store the outcomes of one record, as a store outage
/// would, and passes everything else through.
struct RefusingBus {
    inner: std::sync::Arc<dyn pacer_core::ports::OutcomeBus>,
    refused: pacer_core::RecordId,
}

#[async_trait::async_trait]
impl pacer_core::ports::OutcomeBus for RefusingBus {
    async fn publish(
        &self,
        events: &[pacer_core::schema::OutcomeEvent],
    ) -> Result<(), pacer_core::PortError> {
        if events.iter().any(|e| e.record_id == self.refused) {
            return Err(pacer_core::PortError::Unavailable {
                operation: "publish",
                source: "injected outage".into(),
            });
        }
        self.inner.publish(events).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, pacer_core::PortError> {
        self.inner.receive(max, visibility, wait).await
    }
    async fn ack(&self, receipts: &[String]) -> Result<(), pacer_core::PortError> {
        self.inner.ack(receipts).await
    }
    async fn depth(&self) -> Result<pacer_core::ports::QueueDepth, pacer_core::PortError> {
        self.inner.depth().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_outcomes_cannot_be_stored_is_given_back_and_no_further_call_starts() {
    // Outcomes are stored while the next call runs, so the call after the failing store
    // has already been made: it is kept (stored, done); the failing message and every
    // later one are given back, and no call starts after the failure is known.
    let mut p = Pipeline::new(MockConfig::none().with_latency(Duration::from_millis(5))).await;
    p.provider("acme", |_| {}).await;
    let ids = p.seed("acme", 5, None).await;
    p.plan(Duration::from_millis(10)).await;
    let mut ports = p.ports.clone();
    ports.outcomes = std::sync::Arc::new(RefusingBus {
        inner: std::sync::Arc::clone(&p.ports.outcomes),
        refused: ids[1].clone(),
    });
    let deliveries = first_attempts(&ids, 1);
    let report = services::process_batch(
        &ports,
        &WorkerSettings::default(),
        &deliveries,
        &Deadline::none(),
    )
    .await;
    let by_id: BTreeMap<&str, Disposition> = report
        .dispositions
        .iter()
        .map(|(id, d)| (id.as_str(), *d))
        .collect();
    let done = |i: usize| by_id[deliveries[i].message_id.as_str()] == Disposition::Done;
    assert_eq!(
        (0..5).map(done).collect::<Vec<_>>(),
        [true, false, true, false, false],
        "{:?}",
        report.dispositions
    );
    let called: Vec<String> = p
        .api
        .observations()
        .calls
        .iter()
        .filter_map(|c| c.record_id.clone())
        .collect();
    assert_eq!(
        called,
        ids[..3].iter().map(|id| id.to_string()).collect::<Vec<_>>(),
        "no call after the failed store was known"
    );
    assert_eq!(report.calls, 3);
}
