//! End-to-end harness: a temporary database, the mock API, providers and records, and
//! the local runtime driven to completion — the same code `pacer demo` runs.

use pacer_cli::drive::{run_window, Ended, StopWhen};
use pacer_cli::summary::{summarise, Summary};
use pacer_core::ports::{Ports, RateGate, Unlimited};
use pacer_core::provider::ProviderSettings;
use pacer_core::record::{ApiRequest, HttpMethod, NewRecord};
use pacer_core::services::PlanRequest;
use pacer_core::{ProviderId, RecordId, SystemClock};
use pacer_embedded::{Embedded, EmbeddedOptions};
use pacer_http::HttpCaller;
use pacer_local::{GovernorGate, RuntimeConfig};
use pacer_testkit::mock_api::{MockApi, MockConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One isolated pipeline: its own database file and mock API.
pub struct Pipeline {
    /// Keeps the temporary folder alive.
    pub dir: tempfile::TempDir,
    /// The database file.
    pub db: PathBuf,
    /// The mock internal API.
    pub api: MockApi,
    /// The open backend.
    pub embedded: Embedded,
    /// Its ports.
    pub ports: Ports,
    /// Records seeded so far.
    pub seeded: u64,
    /// The global call-rate cap of the gate every call passes (calls/s), if any.
    pub global_rate: Option<f64>,
}

/// Fast settings for tests: short timeouts and backoffs.
pub fn test_provider(id: &str, base_url: String) -> ProviderSettings {
    let mut p =
        ProviderSettings::with_defaults(ProviderId::new(id).expect("valid provider id"), base_url);
    p.timeout = Duration::from_millis(500);
    p.max_attempts = 4;
    p.backoff_base = Duration::from_millis(50);
    p.backoff_max = Duration::from_millis(400);
    p.breaker_failures = 1000;
    p.breaker_cooldown = Duration::from_millis(300);
    p
}

/// A runtime tuned for tests: quick ticks, short visibility.
pub fn test_runtime() -> RuntimeConfig {
    let mut rt = RuntimeConfig {
        workers: 8,
        visibility: Duration::from_secs(5),
        poll_wait: Duration::from_millis(50),
        release_every: Duration::from_millis(20),
        ..RuntimeConfig::default()
    };
    rt.worker.lease_margin = Duration::from_millis(500);
    rt.worker.retry_delay = Duration::from_millis(100);
    rt
}

impl Pipeline {
    /// A fresh pipeline with the mock API configured by `mock`.
    pub async fn new(mock: MockConfig) -> Self {
        Self::with_global_rate(mock, None).await
    }

    /// A fresh pipeline whose calls pass a global rate gate of `global_rate` calls/s.
    /// The plan is not told of the cap, so the gate alone holds it.
    pub async fn with_global_rate(mock: MockConfig, global_rate: Option<f64>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("pacer.db");
        let api = MockApi::start(mock).await.expect("mock API starts");
        let (embedded, ports) = open(&db, global_rate);
        Self {
            dir,
            db,
            api,
            embedded,
            ports,
            seeded: 0,
            global_rate,
        }
    }

    /// Re-opens the database as a restarted process would.
    pub fn reopen(&mut self) {
        let (embedded, ports) = open(&self.db, self.global_rate);
        self.embedded = embedded;
        self.ports = ports;
    }

    /// Registers a provider pointing at the mock API, after `tweak`.
    pub async fn provider(&self, id: &str, tweak: impl FnOnce(&mut ProviderSettings)) {
        let mut p = test_provider(id, self.api.base_url_for(id));
        tweak(&mut p);
        self.ports
            .providers
            .put_provider(&p)
            .await
            .expect("put provider");
    }

    /// Seeds `n` records for `provider`; ids containing `defective` get a 422 from the mock.
    pub async fn seed(
        &mut self,
        provider: &str,
        n: u64,
        defective_every: Option<u64>,
    ) -> Vec<RecordId> {
        let records: Vec<NewRecord> = (0..n)
            .map(|i| {
                let bad = defective_every.is_some_and(|k| i % k == k - 1);
                NewRecord {
                    id: RecordId::new(format!(
                        "{provider}-{i:05}{}",
                        if bad { "-defective" } else { "" }
                    ))
                    .expect("id"),
                    provider: ProviderId::new(provider).expect("provider"),
                    request: ApiRequest {
                        method: HttpMethod::Post,
                        path: "/collect".into(),
                        ..Default::default()
                    },
                    callback_url: None,
                }
            })
            .collect();
        self.ports
            .records
            .insert(&records, self.ports.clock.now())
            .await
            .expect("insert");
        self.seeded += n;
        records.into_iter().map(|r| r.id).collect()
    }

    /// Plans `window` from now without running anything.
    pub async fn plan(&self, window: Duration) {
        let plan = PlanRequest {
            start: self.ports.clock.now(),
            window,
            global_rate: None,
        };
        pacer_core::services::plan_window(&self.ports, &plan)
            .await
            .expect("plan");
    }

    /// Plans `window` from now and runs until every record is settled (or `cap` passes).
    pub async fn run(&self, window: Duration, runtime: RuntimeConfig, cap: Duration) -> Ended {
        let now = self.ports.clock.now();
        let plan = PlanRequest {
            start: now,
            window,
            global_rate: None,
        };
        let stop = StopWhen::AllSettled { cap: now.plus(cap) };
        run_window(&self.ports, runtime, plan, stop, false)
            .await
            .expect("run window")
            .1
    }

    /// The summary, with what the mock API observed.
    pub async fn summary(&self) -> Summary {
        summarise(
            &self.ports,
            self.seeded,
            Some(&self.api.observations()),
            0.0,
        )
        .await
        .expect("summary")
    }
}

fn open(db: &std::path::Path, global_rate: Option<f64>) -> (Embedded, Ports) {
    let embedded =
        Embedded::open(db, Arc::new(SystemClock), EmbeddedOptions::default()).expect("open db");
    let caller = HttpCaller::new(8).expect("http client");
    let gate: Arc<dyn RateGate> = match global_rate {
        Some(rate) => Arc::new(GovernorGate::new(rate).expect("a usable rate")),
        None => Arc::new(Unlimited),
    };
    let ports = embedded.ports(Arc::new(caller), gate);
    (embedded, ports)
}
