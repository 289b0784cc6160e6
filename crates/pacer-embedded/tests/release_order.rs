//! Release order on the embedded backend when many records fall due in the same
//! millisecond (a window shorter than the work, a backlog, a bulk submission): every
//! provider's first records come out of `due` first, so one release batch starts every
//! provider instead of one provider's whole backlog before the next provider's first call.

use pacer_core::planner::{Limit, ProviderPlan, WindowPlan};
use pacer_core::ports::{Ports, Unlimited};
use pacer_core::{ApiRequest, Clock, NewRecord, ProviderId, RecordId};
use pacer_embedded::{Embedded, EmbeddedOptions};
use pacer_testkit::clock::ManualClock;
use pacer_testkit::contract::UnusedCaller;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const PROVIDERS: [&str; 3] = ["a", "b", "c"];
const PER_PROVIDER: usize = 5;

fn record(provider: &str, i: usize) -> NewRecord {
    NewRecord {
        id: RecordId::new(format!("{provider}-{i}")).expect("valid id"),
        provider: ProviderId::new(provider).expect("valid provider"),
        request: ApiRequest {
            path: "/x".into(),
            ..Default::default()
        },
        callback_url: None,
    }
}

fn open(dir: &tempfile::TempDir, clock: &Arc<ManualClock>) -> (Embedded, Ports) {
    let embedded = Embedded::open(
        &dir.path().join("pacer.db"),
        Arc::clone(clock) as Arc<dyn Clock>,
        EmbeddedOptions::default(),
    )
    .expect("open the embedded backend");
    let ports = embedded.ports(Arc::new(UnusedCaller), Arc::new(Unlimited));
    (embedded, ports)
}

/// Providers of the first `limit` due records, counted.
async fn first_due(ports: &Ports, clock: &ManualClock, limit: usize) -> BTreeMap<String, usize> {
    let now = clock.now().plus(Duration::from_secs(1));
    let due = ports
        .records
        .due(now, clock.now().minus(Duration::from_secs(3600)), limit)
        .await
        .expect("due records");
    let mut count = BTreeMap::new();
    for r in due {
        *count.entry(r.provider.to_string()).or_default() += 1;
    }
    count
}

#[tokio::test]
async fn records_planned_into_the_same_millisecond_are_released_across_providers() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clock = Arc::new(ManualClock::default());
    let (_embedded, ports) = open(&dir, &clock);
    // Inserted provider by provider, as an import file usually is.
    let records: Vec<NewRecord> = PROVIDERS
        .iter()
        .flat_map(|p| (0..PER_PROVIDER).map(move |i| record(p, i)))
        .collect();
    let now = clock.now();
    ports.records.insert(&records, now).await.expect("insert");
    let plan = WindowPlan {
        start: now,
        end: now.plus(Duration::from_millis(1)),
        providers: PROVIDERS
            .iter()
            .map(|p| ProviderPlan {
                provider: ProviderId::new(*p).expect("valid provider"),
                records: PER_PROVIDER as u64,
                spacing_us: 1,
                offset_us: 0,
                fits: PER_PROVIDER as u64,
                carried_over: 0,
                limited_by: Limit::Window,
                last_due: None,
            })
            .collect(),
        global_stretch: 1.0,
    };
    let report = ports.records.schedule(&plan, now).await.expect("schedule");
    assert_eq!(report.scheduled, 15);
    let firsts = first_due(&ports, &clock, 6).await;
    assert_eq!(
        firsts,
        BTreeMap::from([("a".into(), 2), ("b".into(), 2), ("c".into(), 2)]),
        "two of each provider, not five of the first and one of the next"
    );
}

#[tokio::test]
async fn a_bulk_submission_is_released_across_its_providers() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clock = Arc::new(ManualClock::default());
    let (embedded, _) = open(&dir, &clock);
    let api = embedded.api_ports(Arc::new(UnusedCaller), Arc::new(Unlimited));
    let records: Vec<NewRecord> = PROVIDERS
        .iter()
        .flat_map(|p| (0..PER_PROVIDER).map(move |i| record(p, i)))
        .collect();
    api.intake
        .submit(&records, "test", clock.now())
        .await
        .expect("submit");
    let firsts = first_due(&api.core, &clock, 3).await;
    assert_eq!(
        firsts,
        BTreeMap::from([("a".into(), 1), ("b".into(), 1), ("c".into(), 1)])
    );
}
