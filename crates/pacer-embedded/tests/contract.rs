//! The port contract suite (`pacer-testkit`) against the embedded backend: every case
//! on its own SQLite file in its own temporary directory.

use async_trait::async_trait;
use pacer_core::ports::Unlimited;
use pacer_core::Clock;
use pacer_embedded::{Embedded, EmbeddedOptions};
use pacer_testkit::clock::ManualClock;
use pacer_testkit::contract::{
    BackendFactory, Capabilities, Harness, UnusedCaller, WORK_RECEIVE_LIMIT,
};
use std::sync::Arc;

/// A fresh database file per harness; the directory lives as long as the harness.
struct EmbeddedFactory;

#[async_trait]
impl BackendFactory for EmbeddedFactory {
    async fn harness(&self) -> Harness {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let clock = Arc::new(ManualClock::default());
        let options = EmbeddedOptions {
            work_max_receives: WORK_RECEIVE_LIMIT,
            ..Default::default()
        };
        let embedded = Embedded::open(
            &dir.path().join("pacer.db"),
            Arc::clone(&clock) as Arc<dyn Clock>,
            options,
        )
        .expect("open the embedded backend");
        let api = embedded.api_ports(Arc::new(UnusedCaller), Arc::new(Unlimited));
        Harness {
            ports: api.core.clone(),
            api: Some(api),
            clock,
            caps: Capabilities::FULL,
            guard: Some(Box::new(dir)),
        }
    }
}

pacer_testkit::contract_suite!(EmbeddedFactory);
