//! What the handler tests share: the fixtures, and an app over the embedded backend with
//! the mock API, so the handlers run their real services without AWS.

// Each test file uses part of this module.
#![allow(dead_code)]

use aws_lambda_events::sqs::SqsEvent;
use pacer_core::ports::{Ports, Unlimited};
use pacer_core::provider::ProviderSettings;
use pacer_core::record::NewRecord;
use pacer_core::services::{PlanRequest, ReleaseSettings, WorkerSettings};
use pacer_core::{ProviderId, RecordId, SystemClock, Timestamp};
use pacer_embedded::{Embedded, EmbeddedOptions};
use pacer_http::HttpCaller;
use pacer_lambda::{App, Invocation, Settings};
use pacer_testkit::mock_api::{MockApi, MockConfig};
use std::sync::Arc;
use std::time::Duration;

/// An SQS FIFO batch as Lambda delivers it: three `acme` messages and one `globex`.
pub(crate) const WORK_BATCH: &[u8] = include_bytes!("../fixtures/sqs-fifo-work-batch.json");
/// An SQS batch of outcome events raw-delivered from SNS.
pub(crate) const RESULTS_BATCH: &[u8] = include_bytes!("../fixtures/sqs-results-batch.json");
/// The Scheduler's daily payload.
pub(crate) const SCHEDULER_PLAN: &[u8] = include_bytes!("../fixtures/scheduler-plan.json");
/// The Scheduler's minute payload.
pub(crate) const SCHEDULER_RELEASE: &[u8] = include_bytes!("../fixtures/scheduler-release.json");

/// The record ids the fixtures carry, in event order.
pub(crate) const WORK_IDS: [&str; 4] = ["acme-0001", "acme-0002", "globex-0001", "acme-0003"];

/// Decodes an SQS event fixture.
pub(crate) fn sqs_event(bytes: &[u8]) -> SqsEvent {
    serde_json::from_slice(bytes).expect("the fixture is an SQS event")
}

/// Handler settings for tests: short lease margins and retry delays.
pub(crate) fn test_settings() -> Settings {
    Settings {
        window: Duration::from_millis(10),
        global_rate: None,
        release: ReleaseSettings::default(),
        worker: WorkerSettings {
            lease_margin: Duration::from_millis(500),
            retry_delay: Duration::from_millis(100),
            ..WorkerSettings::default()
        },
        dispatcher_margin: Duration::from_secs(10),
        worker_margin: Duration::from_secs(3),
    }
}

/// An invocation with a minute to go.
pub(crate) fn invocation(ports: &Ports, request_id: &str) -> Invocation {
    Invocation {
        request_id: request_id.into(),
        deadline: ports.clock.now().plus(Duration::from_secs(60)),
    }
}

/// An app on a fresh embedded database, with the mock API.
pub(crate) struct Env {
    /// Keeps the database folder.
    pub(crate) dir: tempfile::TempDir,
    /// The mock API.
    pub(crate) api: MockApi,
    /// The backend.
    pub(crate) embedded: Embedded,
    /// The app the handlers get.
    pub(crate) app: App,
}

impl Env {
    /// A fresh environment; `ports` may wrap the embedded ports (e.g. to inject failures).
    pub(crate) async fn new(mock: MockConfig, wrap: impl FnOnce(Ports) -> Ports) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let api = MockApi::start(mock).await.expect("mock API starts");
        let embedded = Embedded::open(
            &dir.path().join("pacer.db"),
            Arc::new(SystemClock),
            EmbeddedOptions::default(),
        )
        .expect("open the database");
        let caller = HttpCaller::new(8).expect("http client");
        let ports = wrap(embedded.ports(Arc::new(caller), Arc::new(Unlimited)));
        Self {
            dir,
            api,
            embedded,
            app: App::new(ports, test_settings()),
        }
    }

    /// The ports.
    pub(crate) fn ports(&self) -> &Ports {
        self.app.ports()
    }

    /// Registers `acme` and `globex` at the mock API and stores the fixtures' records.
    pub(crate) async fn seed_fixture_records(&self) {
        for provider in ["acme", "globex"] {
            let mut p = ProviderSettings::with_defaults(
                ProviderId::new(provider).expect("valid"),
                self.api.base_url_for(provider),
            );
            p.timeout = Duration::from_millis(500);
            p.backoff_base = Duration::from_millis(50);
            p.backoff_max = Duration::from_millis(200);
            self.ports()
                .providers
                .put_provider(&p)
                .await
                .expect("put provider");
        }
        self.insert_records(
            WORK_IDS
                .iter()
                .map(|id| (*id, id.split('-').next().expect("prefix"))),
        )
        .await;
    }

    /// Stores a new record per `(id, provider)`.
    pub(crate) async fn insert_records<'a>(
        &self,
        records: impl Iterator<Item = (&'a str, &'a str)>,
    ) {
        let records: Vec<NewRecord> = records.map(|(id, p)| new_record(id, p)).collect();
        self.ports()
            .records
            .insert(&records, self.ports().clock.now())
            .await
            .expect("insert");
    }

    /// Plans the pending records over a few milliseconds from now.
    pub(crate) async fn plan(&self) {
        let request = PlanRequest {
            start: self.ports().clock.now(),
            window: Duration::from_millis(10),
            global_rate: None,
        };
        pacer_core::services::plan_window(self.ports(), &request)
            .await
            .expect("plan");
    }
}

/// A new record for `provider` calling `POST /collect` (built from JSON, the way records
/// enter pacer, so it stays valid whatever optional fields records gain).
pub(crate) fn new_record(id: &str, provider: &str) -> NewRecord {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "provider": provider,
        "request": { "method": "POST", "path": "/collect" },
    }))
    .expect("a valid record")
}

/// A record id.
pub(crate) fn rid(id: &str) -> RecordId {
    RecordId::new(id).expect("valid record id")
}

/// Now, on the system clock.
pub(crate) fn now() -> Timestamp {
    pacer_core::Clock::now(&SystemClock)
}
