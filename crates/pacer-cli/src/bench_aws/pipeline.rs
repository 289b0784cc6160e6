//! The scenario's run: the three functions as production wires them, each with a
//! metered client, the two event source mappings, and the loop that plays the Scheduler
//! and the mappings around them until every record is final.

use super::esm::Mapping;
use super::meter::Meter;
use super::{function, pricing, CAP, WINDOW};
use anyhow::Context as _;
use pacer_aws::AwsResources;
use pacer_core::ports::Ports;
use pacer_lambda::{dispatcher, results, worker, App, Invocation};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The three functions, the two mappings, and the meters of each.
pub(super) struct Pipeline {
    dispatcher: App,
    worker: App,
    results: App,
    work: Mapping,
    outcomes: Mapping,
    /// Requests each part made: dispatcher, worker, results, mappings, invocations.
    pub(super) meters: [(&'static str, Meter); 5],
    /// Messages handed to the worker and to the results function.
    messages: [AtomicU64; 2],
}

impl Pipeline {
    pub(super) fn new(sdk: &aws_config::SdkConfig, r: &AwsResources) -> anyhow::Result<Self> {
        let meters = [
            ("dispatcher", Meter::new()),
            ("worker", Meter::new()),
            ("results", Meter::new()),
            ("event_source_mappings", Meter::new()),
            ("invocations", Meter::new()),
        ];
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let mapping = |queue_url: &str, batch_size| Mapping {
            sqs: sqs.clone(),
            queue_url: queue_url.to_owned(),
            batch_size,
            meter: meters[3].1.clone(),
        };
        Ok(Self {
            dispatcher: function(sdk, r, &meters[0].1)?,
            worker: function(sdk, r, &meters[1].1)?,
            results: function(sdk, r, &meters[2].1)?,
            // template.yaml: BatchSize 10 (work, FIFO) and 100 (results).
            work: mapping(&r.work_queue_url, 10),
            outcomes: mapping(&r.results_queue_url, 100),
            meters,
            messages: [AtomicU64::new(0), AtomicU64::new(0)],
        })
    }

    fn invoked(&self, label: &str) {
        self.meters[4].1.add(label, 1.0);
    }

    /// One Scheduler invocation of the dispatcher.
    async fn dispatch(&self, mode: &str) -> anyhow::Result<()> {
        self.invoked(&format!("scheduler:Invoke ({mode})"));
        self.invoked("lambda:Invoke (dispatcher)");
        let inv = invocation(&self.dispatcher, "dispatcher", 300);
        dispatcher::handle(&self.dispatcher, &json!({ "mode": mode }), &inv)
            .await
            .with_context(|| format!("the dispatcher's {mode} run"))?;
        Ok(())
    }

    /// One work batch through the worker, if any is waiting.
    async fn work_once(&self) -> anyhow::Result<bool> {
        let messages = self.work.poll().await?;
        if messages.is_empty() {
            return Ok(false);
        }
        let event = self.work.event(&messages);
        self.invoked("lambda:Invoke (worker)");
        self.messages[0].fetch_add(messages.len() as u64, Ordering::Relaxed);
        let response =
            worker::handle(&self.worker, &event, &invocation(&self.worker, "w", 60)).await;
        self.work.settle(&event, &response).await?;
        Ok(true)
    }

    /// One outcome batch through the results function, if any is waiting.
    async fn results_once(&self) -> anyhow::Result<bool> {
        let messages = self.outcomes.poll().await?;
        if messages.is_empty() {
            return Ok(false);
        }
        self.meters[3]
            .1
            .add("sqs:Deliver from SNS (free)", messages.len() as f64);
        let event = self.outcomes.event(&messages);
        self.invoked("lambda:Invoke (results)");
        self.messages[1].fetch_add(messages.len() as u64, Ordering::Relaxed);
        let inv = invocation(&self.results, "r", 60);
        let response = results::handle(&self.results, &event, &inv).await;
        self.outcomes.settle(&event, &response).await?;
        Ok(true)
    }

    /// Plan, one release tick, then work and results batches until every record is final.
    pub(super) async fn drive(&self, admin: &Ports, total: u64) -> anyhow::Result<()> {
        self.dispatch("plan").await?;
        tokio::time::sleep(WINDOW + Duration::from_millis(100)).await;
        self.dispatch("release").await?;
        let cap = Instant::now() + CAP;
        let mut idle = 0u32;
        loop {
            let worked = self.work_once().await?;
            let applied = self.results_once().await?;
            if worked || applied {
                idle = 0;
                continue;
            }
            if settled(admin, total).await? {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < cap,
                "the pipeline did not settle within {CAP:?}"
            );
            idle += 1;
            // Something is due again (not the happy path): the minute tick releases it.
            if idle % 20 == 0 {
                self.dispatch("release").await?;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Adds each function's compute (GB-seconds) from its invocations and messages.
    pub(super) fn add_compute(&self) {
        let invocations = self.meters[4].1.counts();
        let messages = [
            ("dispatcher", 0),
            ("worker", self.messages[0].load(Ordering::Relaxed)),
            ("results", self.messages[1].load(Ordering::Relaxed)),
        ];
        for (function, n) in messages {
            let label = format!("lambda:Invoke ({function})");
            let invoked = invocations.get(&label).copied().unwrap_or(0.0);
            self.meters[4].1.add(
                &pricing::compute_label(function),
                pricing::gb_seconds(function, invoked, n as f64),
            );
        }
    }
}

fn invocation(app: &App, kind: &str, timeout_secs: u64) -> Invocation {
    Invocation {
        request_id: format!("{kind}-{}", next_id()),
        deadline: app
            .ports()
            .clock
            .now()
            .plus(Duration::from_secs(timeout_secs)),
    }
}

/// A request id unique within the run.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Every record final and both queues empty.
async fn settled(admin: &Ports, total: u64) -> anyhow::Result<bool> {
    let counts = admin.records.counts().await?;
    let done: u64 = counts
        .iter()
        .filter(|c| c.state.is_final())
        .map(|c| c.count)
        .sum();
    let work = admin.work.depth().await?;
    let outcomes = admin.outcomes.depth().await?;
    Ok(done == total && work.visible + work.in_flight + outcomes.visible + outcomes.in_flight == 0)
}
