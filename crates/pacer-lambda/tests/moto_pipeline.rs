//! The whole pipeline on moto: the dispatcher, worker and results handlers (the functions
//! the Lambda binaries call), driven by a test runtime that plays EventBridge Scheduler
//! and the SQS event source mappings, against the mock API with faults. Every invariant of
//! DESIGN.md §2 is checked from the outside (what the API saw) and the inside (DynamoDB,
//! read with plain SDK calls, against `pacer trace`), and every AWS operation each
//! handler made is checked against that function's IAM policy in `template.yaml`.
//!
//! Skipped (with a printed reason) unless `PACER_TEST_AWS_ENDPOINT` is set; run it with
//! `scripts/test-aws.sh`. Sizes stay small (a couple of hundred records): moto's SQS
//! slows down as queues fill; scale is measured on the embedded backend. moto's DynamoDB
//! is made atomic under concurrency by the test's HTTP client (`pacer_cli::bench_aws::serial`).

mod aws_runtime;
mod dynamo_read;
mod iam;

use aws_lambda_events::sqs::SqsEvent;
use aws_runtime::least_privilege::check_iam;
use aws_runtime::setup::{
    explain_unsettled, functions, inv, lambda_config, mapping, moto, new_record, provider, Moto,
};
use aws_runtime::{Functions, Runtime};
use pacer_core::classify::ErrorClass;
use pacer_core::ports::{DeadLetterFilter, Ports, RecordFilter};
use pacer_core::record::NewRecord;
use pacer_core::{ProviderId, Record, RecordState};
use pacer_lambda::events::deliveries;
use pacer_lambda::{results, worker};
use pacer_testkit::mock_api::{FaultRates, MockConfig};
use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

const HARSH: FaultRates = FaultRates {
    timeout: 0.03,
    reset: 0.05,
    rate_limited: 0.08,
    server_error: 0.10,
};

/// (provider, records, minimum interval ms, defective every, max attempts)
const PROVIDERS: [(&str, u64, u64, Option<u64>, u32); 5] = [
    ("alpha", 90, 15, Some(20), 6),
    ("beta", 50, 30, Some(20), 6),
    ("gamma", 40, 0, Some(20), 6),
    ("down", 6, 0, None, 3),
    ("flaky", 6, 0, None, 4),
];

async fn seed(m: &Moto) -> u64 {
    let mut total = 0;
    for (name, n, gap, defective_every, max_attempts) in PROVIDERS {
        m.admin
            .providers
            .put_provider(&provider(&m.api, name, gap, max_attempts))
            .await
            .expect("put provider");
        let records: Vec<NewRecord> = (0..n)
            .map(|i| {
                let bad = defective_every.is_some_and(|k| i % k == k - 1);
                new_record(
                    &format!("{name}-{i:04}{}", if bad { "-defective" } else { "" }),
                    name,
                )
            })
            .collect();
        m.admin
            .records
            .insert(&records, m.admin.clock.now())
            .await
            .expect("insert");
        total += n;
    }
    total
}

async fn all_final(admin: &Ports, total: u64) -> bool {
    let Ok(counts) = admin.records.counts().await else {
        return false;
    };
    let done: u64 = counts
        .iter()
        .filter(|c| c.state.is_final())
        .map(|c| c.count)
        .sum();
    let (Ok(work), Ok(outcomes)) = (admin.work.depth().await, admin.outcomes.depth().await) else {
        return false;
    };
    done == total && work.visible + work.in_flight + outcomes.visible + outcomes.in_flight == 0
}

async fn list(admin: &Ports, state: Option<RecordState>) -> Vec<Record> {
    let filter = RecordFilter {
        state,
        limit: 1000,
        ..Default::default()
    };
    admin.records.list(&filter).await.expect("list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lambda_handlers_keep_every_invariant_on_moto_with_harsh_faults() {
    let mock = MockConfig::none()
        .with_fault_rates(HARSH)
        .with_latency(Duration::from_millis(3))
        .with_hang(Duration::from_secs(2))
        .with_retry_after_secs(0)
        .with_seed(11)
        .with_down("down")
        .with_fail_first("flaky", 2)
        .with_provider_faults("flaky", FaultRates::NONE);
    let Some(m) = moto("the moto pipeline", mock).await else {
        return;
    };
    let started = Instant::now();
    let total = seed(&m).await;
    let config = lambda_config(&m.resources);
    let f = functions(&m.sdk, &config);
    let work = mapping(&m.sdk, &m.resources.work_queue_url);
    let outcomes = mapping(&m.sdk, &m.resources.results_queue_url);
    let runtime = Runtime::start(
        f.clone(),
        work.clone(),
        outcomes.clone(),
        Duration::from_millis(200),
        4,
        2,
        5,
    )
    .await;
    let cap = Instant::now() + Duration::from_secs(240);
    while !all_final(&m.admin, total).await && Instant::now() < cap {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let seen = runtime.stop().await;
    let secs = started.elapsed().as_secs_f64();
    let summary = pacer_cli::summary::summarise(&m.admin, total, Some(&m.api.observations()), secs)
        .await
        .expect("summary");
    eprintln!("{}", pacer_cli::summary::render(&summary));
    if !all_final(&m.admin, total).await {
        explain_unsettled(&m.admin, &m.sdk, &m.resources).await;
        panic!("not every record settled in time: {summary:?}");
    }
    assert_invariants(&m, total, &summary).await;
    let work_events = seen
        .work_events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let results_events = seen
        .results_events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_duplicates_are_harmless(&m, &f, &work_events, &results_events, total, &summary).await;
    assert_dynamo_tells_the_trace_story(&m).await;
    assert_busy_lease_and_poison_paths(&m, &f, &work_events[0]).await;
    eprintln!(
        "moto pipeline: {total} records, {} calls, {:.1} s",
        summary.attempts,
        started.elapsed().as_secs_f64()
    );
    check_iam(&f, &work, &outcomes, &m.resources);
}

/// DESIGN.md §2, as `tests/e2e/pipeline.rs` checks it on the embedded backend.
async fn assert_invariants(m: &Moto, total: u64, summary: &pacer_cli::summary::Summary) {
    let observed = m.api.observations();
    // Exclusion: never two calls of one provider at once, never a stale fencing token.
    assert_eq!(
        observed.overlaps(),
        0,
        "{:?}",
        observed.overlaps_by_provider
    );
    assert_eq!(observed.max_fencing_token_regressions(), 0);
    // No loss: every record is final.
    assert_eq!(summary.lost, 0);
    assert_eq!(
        summary.succeeded + summary.failed + summary.dead_lettered,
        total,
        "{summary:?}"
    );
    // Permanent errors are not retried.
    let failed = list(&m.admin, Some(RecordState::Failed)).await;
    let defective: u64 = PROVIDERS
        .iter()
        .map(|(_, n, _, every, _)| every.map_or(0, |k| n / k))
        .sum();
    assert_eq!(
        failed.len() as u64,
        defective,
        "one in 20 of alpha, beta and gamma is defective"
    );
    for r in &failed {
        assert!(r.id.as_str().ends_with("defective"), "{} failed", r.id);
        assert_eq!(observed.calls_for(r.id.as_str()), 1, "{} retried", r.id);
    }
    // Transient errors are retried, then dead-lettered at max_attempts.
    assert!(summary.retries > 0, "harsh faults must cause retries");
    let all = list(&m.admin, None).await;
    for r in all.iter().filter(|r| r.provider.as_str() == "down") {
        assert_eq!(r.state, RecordState::DeadLettered, "{}", r.id);
        assert_eq!(
            (r.calls, observed.calls_for(r.id.as_str())),
            (3, 3),
            "{}",
            r.id
        );
    }
    for r in all.iter().filter(|r| r.provider.as_str() == "flaky") {
        assert_eq!(
            (r.state, r.calls),
            (RecordState::Succeeded, 3),
            "{}: two 503s then success",
            r.id
        );
    }
    let filter = DeadLetterFilter {
        provider: Some("down".into()),
        ..Default::default()
    };
    let dead = m
        .admin
        .dead_letters
        .list(&filter)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 6);
    assert!(dead
        .iter()
        .all(|d| d.error_class == ErrorClass::ServerError && d.attempts == 3));
    // Traceability: every call the API saw is a stored attempt.
    assert_eq!(
        summary.attempts as usize,
        observed.calls.len(),
        "calls stored vs calls seen"
    );
    // Pacing where enforced: stored call starts of a provider never closer than its interval.
    let mut starts: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &all {
        for a in m
            .admin
            .records
            .attempts(&r.id)
            .await
            .expect("attempts")
            .into_iter()
            .filter(|a| a.called)
        {
            starts
                .entry(r.provider.to_string())
                .or_default()
                .push(a.started_at.as_millis());
        }
    }
    for (name, _, gap, _, _) in PROVIDERS {
        let mut v = starts.remove(name).unwrap_or_default();
        v.sort_unstable();
        let min_gap = v.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(i64::MAX);
        assert!(
            min_gap + 1 >= gap as i64,
            "{name}: calls {min_gap} ms apart"
        );
    }
}

/// The first work batches and every outcome batch again: no call, no change.
async fn assert_duplicates_are_harmless(
    m: &Moto,
    f: &Functions,
    work_events: &[SqsEvent],
    results_events: &[SqsEvent],
    total: u64,
    before: &pacer_cli::summary::Summary,
) {
    let calls_before = m.api.observations().calls.len();
    for event in work_events.iter().take(5) {
        let response = worker::handle(&f.worker.0, event, &inv("dup-work")).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "a redelivered, finished message is done"
        );
    }
    assert!(!results_events.is_empty());
    for event in results_events {
        let response = results::handle(&f.results.0, event, &inv("dup-results")).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(
        m.api.observations().calls.len(),
        calls_before,
        "a duplicate must not call the API"
    );
    let after =
        pacer_cli::summary::summarise(&m.admin, total, Some(&m.api.observations()), before.seconds)
            .await
            .expect("summary");
    assert_eq!(&after, before, "duplicates changed nothing");
}

/// DynamoDB, read with plain SDK calls, tells the same story as `pacer trace`, for every
/// fifth record and every one that was retried or did not succeed.
async fn assert_dynamo_tells_the_trace_story(m: &Moto) {
    let dynamo = aws_sdk_dynamodb::Client::new(&m.sdk);
    let observed = m.api.observations();
    let all = list(&m.admin, None).await;
    let sample = all
        .iter()
        .enumerate()
        .filter(|(i, r)| i % 5 == 0 || r.state != RecordState::Succeeded || r.calls > 1);
    for (_, r) in sample {
        let raw = dynamo_read::read(&dynamo, &m.resources, r.id.as_str()).await;
        let trace = pacer_cli::commands::trace::trace_json(&m.admin, &r.id)
            .await
            .expect("trace")
            .expect("traced");
        dynamo_read::assert_same_story(r.id.as_str(), &raw, &trace);
        assert_eq!(
            raw.calls as usize,
            observed.calls_for(r.id.as_str()),
            "{}: calls the API saw",
            r.id
        );
    }
}

/// A batch whose provider lease is held elsewhere is given back whole; a poison outcome
/// is dead-lettered, not redelivered. (Also so the IAM check sees these paths' calls.)
async fn assert_busy_lease_and_poison_paths(m: &Moto, f: &Functions, event: &SqsEvent) {
    let batch = deliveries(event);
    let group = batch[0].group.clone();
    let busy = ProviderId::new(group.as_str()).expect("provider");
    let now = m.admin.clock.now();
    m.admin
        .leases
        .acquire(&busy, "elsewhere", Duration::from_secs(60), now, &[])
        .await
        .expect("lease");
    let response = worker::handle(&f.worker.0, event, &inv("busy")).await;
    let kept: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let of_group: Vec<&str> = batch
        .iter()
        .filter(|d| d.group == group)
        .map(|d| d.message_id.as_str())
        .collect();
    assert_eq!(
        kept, of_group,
        "every message of the busy provider, and only those"
    );

    let mut poison = event.clone();
    poison.records.truncate(1);
    poison.records[0].body = Some("{\"v\":1,\"not\":\"an outcome\"}".into());
    let response = results::handle(&f.results.0, &poison, &inv("poison")).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "poison is not redelivered"
    );
    let id = format!(
        "msg:{}",
        poison.records[0].message_id.clone().unwrap_or_default()
    );
    let dead = m
        .admin
        .dead_letters
        .list(&DeadLetterFilter::default())
        .await
        .expect("dead letters");
    assert!(
        dead.iter()
            .any(|d| d.id == id && d.error_class == ErrorClass::BadMessage),
        "{dead:?}"
    );
}
