//! The outcome feed on moto under concurrency, the case decision 0006 is about: many
//! final moves applied at once (the results function applies a batch's records
//! concurrently) all contend for the feed counter, and several takes of one application
//! run at once. Every entry must get a distinct number, the numbers must have no gaps,
//! and every application must see every entry exactly once.
//!
//! moto is made linearizable for DynamoDB by the test's HTTP client (one DynamoDB request
//! at a time, as real DynamoDB evaluates each conditional write atomically); requests
//! still interleave, so appliers read the same counter value and lose transactions to
//! each other exactly as on DynamoDB. Skipped unless `PACER_TEST_AWS_ENDPOINT` is set
//! (`scripts/test-aws.sh`).

use pacer_aws::provision::{provision, unique_prefix, ProvisionOptions};
use pacer_aws::{Aws, AwsOptions};
use pacer_core::breaker::BreakerState;
use pacer_core::ports::{ApiPorts, AppName, Claim, FinalOutcome, LeaseGrant, Unlimited};
use pacer_core::schema::{NextState, OutcomeEvent, OUTCOME_EVENT_VERSION};
use pacer_core::{NewRecord, ProviderId, RecordId, SystemClock};
use pacer_testkit::contract::UnusedCaller;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const ENDPOINT_VAR: &str = "PACER_TEST_AWS_ENDPOINT";
const RECORDS: usize = 40;

async fn api_ports(test: &str) -> Option<ApiPorts> {
    let Ok(endpoint) = std::env::var(ENDPOINT_VAR) else {
        eprintln!("skipped {test}: {ENDPOINT_VAR} is not set; run scripts/test-aws.sh");
        return None;
    };
    let sdk = pacer_cli::bench_aws::sdk_config(&endpoint).await;
    let options = ProvisionOptions {
        prefix: unique_prefix("f"),
        work_max_receive_count: None,
    };
    let resources = provision(&sdk, &options).await.expect("provision on moto");
    let aws = Aws::new(
        &sdk,
        resources,
        AwsOptions {
            concurrency: 16,
            ..AwsOptions::default()
        },
        Arc::new(SystemClock),
    );
    aws.api_ports(Arc::new(UnusedCaller), Arc::new(Unlimited))
}

fn rid(i: usize) -> RecordId {
    RecordId::new(format!("feed-{i:03}")).expect("valid")
}

/// `RECORDS` records of one provider, in flight under one lease; returns their outcomes.
async fn in_flight(ports: &ApiPorts) -> Vec<OutcomeEvent> {
    let provider = ProviderId::new("acme").expect("valid");
    let now = ports.clock.now();
    let records: Vec<NewRecord> = (0..RECORDS)
        .map(|i| {
            NewRecord::from_value(serde_json::json!({
                "id": rid(i).as_str(), "provider": "acme",
                "request": {"method": "GET", "path": "/v1/x"}
            }))
            .expect("a valid record")
        })
        .collect();
    ports
        .intake
        .submit(&records, "test", now)
        .await
        .expect("submit");
    let claims: Vec<Claim> = (0..RECORDS)
        .map(|i| Claim {
            record_id: rid(i),
            attempt: 1,
        })
        .collect();
    let grant = ports
        .leases
        .acquire(&provider, "test", Duration::from_secs(60), now, &claims)
        .await
        .expect("acquire");
    let LeaseGrant::Granted { lease, eligible } = grant else {
        panic!("lease busy: {grant:?}");
    };
    assert!(eligible.iter().all(|e| *e), "every record is claimed");
    ports
        .leases
        .release(&lease, BreakerState::default(), now)
        .await
        .expect("release");
    (0..RECORDS)
        .map(|i| OutcomeEvent {
            v: OUTCOME_EVENT_VERSION,
            record_id: rid(i),
            provider: provider.clone(),
            attempt: 1,
            called: true,
            request_summary: "GET /v1/x".into(),
            started_at: now,
            finished_at: now,
            latency_ms: 1,
            status_code: Some(200),
            error_class: None,
            detail: None,
            response: None,
            fencing_token: lease.token,
            invocation_id: "test".into(),
            next: NextState::Succeeded,
        })
        .collect()
}

/// Takes everything `app` has, with `takers` concurrent takes of `limit` at a time.
async fn take_all(ports: &ApiPorts, app: &str, takers: usize, limit: usize) -> Vec<FinalOutcome> {
    let app = AppName::new(app).expect("valid");
    let runs = (0..takers).map(|_| {
        let ports = ports.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let page = match ports.feed.take(&app, limit).await {
                    Ok(page) => page,
                    // This test's own takers contending past the adapter's rounds (on a
                    // loaded machine): retryable, as a client retries a 503.
                    Err(e) if e.is_retryable() => continue,
                    Err(e) => panic!("take: {e:?}"),
                };
                if page.is_empty() {
                    return got;
                }
                got.extend(page);
            }
        })
    });
    let mut all = Vec::new();
    for run in runs.collect::<Vec<_>>() {
        all.extend(run.await.expect("taker"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_final_moves_get_distinct_gapless_numbers_and_each_app_sees_each_once() {
    let Some(ports) = api_ports(
        "concurrent_final_moves_get_distinct_gapless_numbers_and_each_app_sees_each_once",
    )
    .await
    else {
        return;
    };
    let events = in_flight(&ports).await;
    // One call: the adapter applies the records concurrently (16 at a time), each final
    // move racing the others for the feed counter.
    let report = ports
        .records
        .apply_outcomes(&events, ports.clock.now())
        .await
        .expect("apply");
    assert_eq!(report.attempts_stored, RECORDS as u64);

    let mut seqs: Vec<u64> = Vec::new();
    for app in ["app-a", "app-b"] {
        let got = take_all(&ports, app, 4, 3).await;
        let ids: BTreeSet<&str> = got.iter().map(|e| e.record_id.as_str()).collect();
        assert_eq!(got.len(), RECORDS, "{app} sees every entry once: {got:?}");
        assert_eq!(ids.len(), RECORDS, "{app}: no entry twice");
        let mut numbers: Vec<u64> = got.iter().map(|e| e.seq).collect();
        numbers.sort_unstable();
        seqs = numbers;
    }
    let expected: Vec<u64> = (1..=RECORDS as u64).collect();
    assert_eq!(seqs, expected, "distinct numbers without gaps");
    let again = ports
        .feed
        .take(&AppName::new("app-a").expect("valid"), 10)
        .await
        .expect("take");
    assert!(again.is_empty(), "up to date: empty");
}
