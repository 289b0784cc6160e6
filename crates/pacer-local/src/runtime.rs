//! The loops: release tick, worker pollers, results poller; graceful shutdown.

use pacer_core::ports::{Delivery, Ports};
use pacer_core::services::{self, Deadline, Disposition, ReleaseSettings, WorkerSettings};
use pacer_core::{PortError, RecordState, Timestamp};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

/// Control document key of the schedule switch: `{"paused": true}` stops release ticks.
pub const SCHEDULE_KEY: &str = "schedule";

/// Most messages taken by one receive of the embedded queue (several groups' batches).
const MAX_RECEIVE: usize = 500;

/// How the runtime drives the services.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    /// Provider batches processed at once (each holds its provider's lease); keep it at
    /// or above the number of providers with work so none waits for a slot.
    pub workers: usize,
    /// Messages per provider batch (an SQS FIFO batch holds up to 10).
    pub batch_size: usize,
    /// Work message visibility timeout; keep it above the longest batch (a provider's
    /// batch of up to 25 calls, each with its minimum interval). A batch that outlasts it
    /// works on messages the queue hands out again: each record is still called once, but
    /// their receive counts climb (see the README's known gaps).
    pub visibility: Duration,
    /// Long-poll wait of an empty receive.
    pub poll_wait: Duration,
    /// Release tick period.
    pub release_every: Duration,
    /// Outcome deliveries applied per store call.
    pub results_batch: usize,
    /// Pause between result polls when the last one was not full.
    pub results_every: Duration,
    /// The release service's settings.
    pub release: ReleaseSettings,
    /// The worker service's settings.
    pub worker: WorkerSettings,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            workers: 64,
            batch_size: 10,
            visibility: Duration::from_secs(300),
            poll_wait: Duration::from_millis(200),
            release_every: Duration::from_millis(100),
            results_batch: 500,
            results_every: Duration::from_millis(25),
            release: ReleaseSettings::default(),
            worker: WorkerSettings::default(),
        }
    }
}

/// Counters, readable while running.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    /// HTTP calls made.
    pub calls: AtomicU64,
    /// Work batches processed.
    pub batches: AtomicU64,
    /// Messages released into the work queue.
    pub released: AtomicU64,
    /// Outcome events applied.
    pub applied: AtomicU64,
    /// Port errors seen by the loops (each retried).
    pub port_errors: AtomicU64,
}

/// A running runtime.
pub struct Runtime {
    stop: watch::Sender<bool>,
    drain: watch::Sender<bool>,
    deadline: Deadline,
    producers: Vec<JoinHandle<()>>,
    results: JoinHandle<()>,
    stats: Arc<RuntimeStats>,
    clock_now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
}

impl Runtime {
    /// Starts the loops on the current tokio runtime.
    pub fn start(ports: Ports, config: RuntimeConfig) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let (drain, drain_rx) = watch::channel(false);
        let stats = Arc::new(RuntimeStats::default());
        let deadline = Deadline::none();
        let mut producers = Vec::with_capacity(config.workers + 1);
        producers.push(tokio::spawn(release_loop(
            ports.clone(),
            config.clone(),
            stop_rx.clone(),
            Arc::clone(&stats),
        )));
        producers.push(tokio::spawn(dispatch_loop(
            ports.clone(),
            config.clone(),
            deadline.clone(),
            stop_rx.clone(),
            Arc::clone(&stats),
        )));
        let results = tokio::spawn(results_loop(
            ports.clone(),
            config,
            drain_rx,
            Arc::clone(&stats),
        ));
        let clock = Arc::clone(&ports.clock);
        Self {
            stop,
            drain,
            deadline,
            producers,
            results,
            stats,
            clock_now: Arc::new(move || clock.now()),
        }
    }

    /// Also delivers due webhooks until shutdown (the `serve` command's runtime).
    pub fn deliver_callbacks(
        &mut self,
        ports: pacer_core::ports::ApiPorts,
        worker: crate::CallbackWorker,
    ) {
        let stop = self.stop.subscribe();
        let handle = tokio::spawn(crate::callbacks::callbacks_loop(ports, worker, stop));
        self.producers.push(handle);
    }

    /// Live counters.
    pub fn stats(&self) -> Arc<RuntimeStats> {
        Arc::clone(&self.stats)
    }

    /// Graceful stop: no new calls start, calls under way finish and are recorded, the
    /// unprocessed rest of each batch goes back to the queue, and every published
    /// outcome is applied before this returns.
    pub async fn shutdown(self) {
        self.deadline.set((self.clock_now)());
        let _ = self.stop.send(true);
        for handle in self.producers {
            let _ = handle.await;
        }
        let _ = self.drain.send(true);
        let _ = self.results.await;
    }

    /// Stops every loop at once, mid-call, as a crash would. For tests of recovery.
    pub fn abort(self) {
        for handle in &self.producers {
            handle.abort();
        }
        self.results.abort();
    }
}

async fn release_loop(
    ports: Ports,
    config: RuntimeConfig,
    mut stop: watch::Receiver<bool>,
    stats: Arc<RuntimeStats>,
) {
    let mut tick = tokio::time::interval(config.release_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match ports.providers.get_control(SCHEDULE_KEY).await {
            Ok(Some(doc)) if doc["paused"] == serde_json::Value::Bool(true) => continue,
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the schedule switch; releasing anyway")
            }
        }
        match services::release_due(&ports, &config.release).await {
            Ok(r) => {
                stats
                    .released
                    .fetch_add(r.released as u64, Ordering::Relaxed);
            }
            Err(err) => {
                stats.port_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "release tick failed; next tick retries");
            }
        }
    }
}

/// The worker side, as the SQS FIFO event source mapping does it: one receiver takes
/// ready groups' messages and hands each group's batch to its own task, at most
/// `workers` batches at once. A single receiver means no herd of pollers waking on
/// every queue change, and a group freed by a finished batch is picked up at once.
async fn dispatch_loop(
    ports: Ports,
    config: RuntimeConfig,
    deadline: Deadline,
    mut stop: watch::Receiver<bool>,
    stats: Arc<RuntimeStats>,
) {
    let permits = Arc::new(Semaphore::new(config.workers.max(1)));
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        if *stop.borrow() {
            break;
        }
        let free = permits.available_permits();
        if free == 0 {
            tokio::select! {
                _ = running.join_next() => continue,
                _ = stop.changed() => break,
            }
        }
        let max = (free * config.batch_size).clamp(1, MAX_RECEIVE);
        let receive = ports.work.receive(max, config.visibility, config.poll_wait);
        tokio::pin!(receive);
        let received = tokio::select! {
            r = &mut receive => r,
            _ = stop.changed() => {
                // Dropping the receive could lose messages it has already taken: they would
                // stay hidden for the whole visibility timeout. Let it end (it waits at
                // most poll_wait) and hand what it took straight back.
                if let Ok(taken) = receive.await {
                    give_back(&ports, &taken).await;
                }
                break;
            }
        };
        let deliveries = match received {
            Ok(d) => d,
            Err(err) => {
                stats.port_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "work receive failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        for batch in by_group(deliveries) {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                break;
            };
            let (ports, worker, deadline, stats) = (
                ports.clone(),
                config.worker.clone(),
                deadline.clone(),
                Arc::clone(&stats),
            );
            running.spawn(async move {
                run_batch(&ports, &worker, &batch, &deadline, &stats).await;
                drop(permit);
            });
        }
    }
    // Graceful: batches under way finish (no new call starts past the deadline).
    while running.join_next().await.is_some() {}
}

/// Returns received messages to the queue at once, untouched.
async fn give_back(ports: &Ports, taken: &[Delivery]) {
    if taken.is_empty() {
        return;
    }
    let receipts: Vec<String> = taken.iter().map(|d| d.receipt.clone()).collect();
    if let Err(err) = ports.work.release(&receipts, Duration::ZERO).await {
        tracing::warn!(error = %err, "could not give messages back; they return after their visibility timeout");
    }
}

/// Splits a receive into per-group batches, keeping each group's order.
fn by_group(deliveries: Vec<Delivery>) -> Vec<Vec<Delivery>> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<Delivery>> = HashMap::new();
    for d in deliveries {
        if !groups.contains_key(&d.group) {
            order.push(d.group.clone());
        }
        groups.entry(d.group.clone()).or_default().push(d);
    }
    order
        .into_iter()
        .filter_map(|g| groups.remove(&g))
        .collect()
}

async fn run_batch(
    ports: &Ports,
    worker: &WorkerSettings,
    batch: &[Delivery],
    deadline: &Deadline,
    stats: &RuntimeStats,
) {
    let report = services::process_batch(ports, worker, batch, deadline).await;
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats
        .calls
        .fetch_add(u64::from(report.calls), Ordering::Relaxed);
    let receipts: HashMap<&str, &str> = batch
        .iter()
        .map(|d| (d.message_id.as_str(), d.receipt.as_str()))
        .collect();
    if let Err(err) = settle(ports, &receipts, &report.dispositions).await {
        stats.port_errors.fetch_add(1, Ordering::Relaxed);
        // The messages reappear after their visibility timeout; the lifecycle
        // recognises them as done or stale then.
        tracing::warn!(error = %err, "could not settle work messages");
    }
}

/// Deletes finished messages and gives the others back with their delays.
async fn settle(
    ports: &Ports,
    receipts: &HashMap<&str, &str>,
    dispositions: &[(String, Disposition)],
) -> Result<(), PortError> {
    let mut done = Vec::new();
    let mut retry: HashMap<Duration, Vec<String>> = HashMap::new();
    for (id, d) in dispositions {
        let Some(receipt) = receipts.get(id.as_str()) else {
            continue;
        };
        match d {
            Disposition::Done => done.push((*receipt).to_owned()),
            Disposition::Retry { delay } => {
                retry.entry(*delay).or_default().push((*receipt).to_owned())
            }
        }
    }
    if !done.is_empty() {
        ports.work.delete(&done).await?;
    }
    for (delay, receipts) in retry {
        ports.work.release(&receipts, delay).await?;
    }
    Ok(())
}

/// Applies outcomes in batches. It polls on a short period instead of waking on every
/// publish: one store transaction per batch, not per call, at the price of a few
/// milliseconds of delay before an outcome shows in the store.
async fn results_loop(
    ports: Ports,
    config: RuntimeConfig,
    drain: watch::Receiver<bool>,
    stats: Arc<RuntimeStats>,
) {
    loop {
        let draining = *drain.borrow();
        let deliveries = match ports
            .outcomes
            .receive(
                config.results_batch,
                Duration::from_secs(30),
                Duration::ZERO,
            )
            .await
        {
            Ok(d) => d,
            Err(err) => {
                stats.port_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "outcome receive failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if deliveries.is_empty() && draining {
            return;
        }
        if !deliveries.is_empty() {
            let report = services::apply_outcomes(&ports, &deliveries).await;
            stats
                .applied
                .fetch_add(report.applied as u64, Ordering::Relaxed);
            let receipts: HashMap<&str, &str> = deliveries
                .iter()
                .map(|d| (d.message_id.as_str(), d.receipt.as_str()))
                .collect();
            let done: Vec<String> = report
                .dispositions
                .iter()
                .filter(|(_, d)| *d == Disposition::Done)
                .filter_map(|(id, _)| receipts.get(id.as_str()).map(|r| (*r).to_owned()))
                .collect();
            if let Err(err) = ports.outcomes.ack(&done).await {
                stats.port_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "could not ack outcomes; they will be applied again, harmlessly");
            }
        }
        if deliveries.len() < config.results_batch && !draining {
            tokio::time::sleep(config.results_every).await;
        }
    }
}

/// Whether nothing is left to do before `window_end`: no record queued or in flight, none
/// due by then, and both queues empty. Records still pending were carried over.
pub async fn is_idle(ports: &Ports, window_end: Timestamp) -> Result<bool, PortError> {
    let counts = ports.records.counts().await?;
    if counts
        .iter()
        .any(|c| matches!(c.state, RecordState::Queued | RecordState::InFlight) && c.count > 0)
    {
        return Ok(false);
    }
    if !ports
        .records
        .due(window_end, Timestamp::from_millis(i64::MIN), 1)
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    let work = ports.work.depth().await?;
    let outcomes = ports.outcomes.depth().await?;
    Ok(work.visible + work.in_flight + outcomes.visible + outcomes.in_flight == 0)
}
