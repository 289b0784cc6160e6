//! A mock of the internal API pacer calls, with fault injection and an overlap
//! detector.
//!
//! [`MockApi::start`] serves `/p/{provider}/{*rest}` (any method) on an ephemeral
//! port of `127.0.0.1`. Each call is counted per provider (two calls to the same
//! provider open at once is an *overlap*, which pacer must never cause), waits
//! the provider's latency, then gets a fault or a 200 echo. Faults, in order of
//! precedence:
//!
//! * provider down ([`MockApi::set_down`]): 503;
//! * record id (the `Idempotency-Key` header) containing the defective marker:
//!   422 `{"error":"invalid data","record":id}`, on every attempt;
//! * the first N calls of each record id ([`MockConfig::with_fail_first`]): 503;
//! * random, by [`FaultRates`]: timeout (hang, then 504), reset (the TCP
//!   connection is reset, no HTTP status), 429 with `Retry-After`, 500/502/503.
//!
//! Random faults are a deterministic function of the seed, the record id and its
//! attempt number, so a test run is reproducible.
//!
//! This is test support only: no TLS, no auth, everything kept in memory.

mod config;
mod detector;
mod fault;
mod handler;
mod observations;
mod server;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use axum::routing::any;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{FaultRates, MockConfig};
pub use detector::{OverlapDetector, OverlapGuard};
pub use observations::{CallObservation, Observations};

use handler::Shared;

/// Why the mock API could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// No ephemeral port could be bound on 127.0.0.1 (sandbox without loopback
    /// networking, or out of file descriptors).
    #[error("could not bind the mock API on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// The bound socket did not report its address.
    #[error("could not read the mock API's local address: {0}")]
    LocalAddr(#[source] std::io::Error),
    /// The server task panicked or was cancelled; its observations are still
    /// valid up to that point.
    #[error("the mock API server task failed: {0}")]
    ServerTask(#[source] tokio::task::JoinError),
}

/// A running mock API. Dropping it stops the server without waiting;
/// [`MockApi::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct MockApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockApi {
    /// Binds `127.0.0.1:0` and serves in a spawned task. Must be called inside a
    /// Tokio runtime.
    pub async fn start(config: MockConfig) -> Result<MockApi, MockError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(MockError::Bind)?;
        let addr = listener.local_addr().map_err(MockError::LocalAddr)?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, stopped.clone()));
        let router = Router::new()
            .route("/p/{provider}", any(handler::handle))
            .route("/p/{provider}/{*rest}", any(handler::handle))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(server::run(listener, router, stopped));
        Ok(MockApi {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of `provider`: `http://127.0.0.1:PORT/p/{provider}`.
    pub fn base_url_for(&self, provider: &str) -> String {
        format!("http://{}/p/{provider}", self.addr)
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &MockConfig {
        &self.shared.config
    }

    /// Takes `provider` down (every call answers 503) or brings it back.
    pub fn set_down(&self, provider: &str, down: bool) {
        self.shared
            .provider(provider)
            .down
            .store(down, Ordering::Relaxed);
    }

    /// The overlap detector the server counts calls with; tests may also enter
    /// it directly.
    pub fn detector(&self) -> &OverlapDetector {
        &self.shared.detector
    }

    /// A snapshot of what the server observed so far.
    pub fn observations(&self) -> Observations {
        let calls = self
            .shared
            .observations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let overlaps_by_provider = self.shared.detector.overlaps_by_provider();
        Observations {
            calls,
            total_overlaps: overlaps_by_provider.values().sum(),
            overlaps_by_provider,
            calls_by_provider: self.shared.detector.calls_by_provider(),
        }
    }

    /// Forgets the recorded calls and zeroes the overlap counts. Per-record
    /// attempt counts (for fail-first and the random faults) are kept.
    pub fn reset_observations(&self) {
        // Clear under the lock, then reset counters: a call finishing in between
        // is at worst in `calls` but not in the counts, never the reverse.
        self.shared
            .observations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.shared.detector.reset();
    }

    /// Stops accepting connections, lets in-flight calls finish (hung "timeout"
    /// calls are reset; anything else gets at most 5 s), and waits for the server
    /// task to end.
    pub async fn shutdown(mut self) -> Result<(), MockError> {
        // Sending fails only if every receiver is gone, i.e. the server already ended.
        let _ = self.stop.send(true);
        match self.task.take() {
            Some(task) => task.await.map_err(MockError::ServerTask),
            None => Ok(()),
        }
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
