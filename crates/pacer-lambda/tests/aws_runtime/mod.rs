//! A test runtime on moto that plays the parts AWS plays around the functions: the
//! EventBridge Scheduler (the dispatcher with `plan` once, then `release` every tick) and
//! the SQS event source mappings (receive up to 10 messages, build the `SqsEvent` Lambda
//! would, call the handler, delete what it did not report — failures are left to the
//! worker's own give-back or the visibility timeout, as Lambda leaves them).
//!
//! Each function gets its own `Aws` with its own recorder, as each Lambda function has its
//! own clients, so the AWS operations each handler's code makes can be checked against
//! that function's IAM policy; the mappings record theirs separately.

// Each test file uses part of this module.
#![allow(dead_code)]

pub(crate) mod least_privilege;
pub(crate) mod setup;

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use pacer_aws::recorder::Recorder;
use pacer_lambda::{dispatcher, results, worker, App, Invocation};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinSet;

/// The three functions, each with the recorder of its clients.
#[derive(Clone)]
pub(crate) struct Functions {
    pub(crate) dispatcher: (App, Recorder),
    pub(crate) worker: (App, Recorder),
    pub(crate) results: (App, Recorder),
}

/// One SQS event source mapping: a queue and the client that polls it.
#[derive(Clone)]
pub(crate) struct Mapping {
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) queue_url: String,
    pub(crate) recorder: Recorder,
}

impl Mapping {
    /// Receives up to 10 messages with every system attribute, as the mapping does.
    pub(crate) async fn poll(&self) -> Vec<aws_sdk_sqs::types::Message> {
        match self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
        {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!("receive failed (retrying): {e}");
                Vec::new()
            }
        }
    }

    /// The event Lambda would hand the function for `messages`.
    pub(crate) fn event(&self, messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
        pacer_cli::bench_aws::esm::sqs_event(&self.queue_url, messages)
    }

    /// Deletes the messages the response did not report, as Lambda does.
    pub(crate) async fn settle(&self, event: &SqsEvent, failed: &[String]) {
        let done: Vec<DeleteMessageBatchRequestEntry> = event
            .records
            .iter()
            .filter(|r| !failed.iter().any(|f| Some(f) == r.message_id.as_ref()))
            .enumerate()
            .filter_map(|(i, r)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r.receipt_handle.clone()?)
                    .build()
                    .ok()
            })
            .collect();
        for chunk in done.chunks(10) {
            if let Err(e) = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await
            {
                eprintln!("delete failed; the messages come back: {e}");
            }
        }
    }
}

/// What the runtime saw, for the duplicate-delivery checks.
#[derive(Default)]
pub(crate) struct Seen {
    /// Every work event handed to the worker.
    pub(crate) work_events: Mutex<Vec<SqsEvent>>,
    /// Every results event handed to the results function.
    pub(crate) results_events: Mutex<Vec<SqsEvent>>,
    /// Worker invocations, results invocations, release ticks.
    pub(crate) invocations: AtomicU64,
}

/// The running runtime.
pub(crate) struct Runtime {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
    pub(crate) seen: Arc<Seen>,
}

fn invocation(app: &App, seen: &Seen, kind: &str) -> Invocation {
    let n = seen.invocations.fetch_add(1, Ordering::Relaxed);
    Invocation {
        request_id: format!("{kind}-{n:05}"),
        deadline: app.ports().clock.now().plus(Duration::from_secs(60)),
    }
}

fn ids(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

impl Runtime {
    /// Plans once, then runs the release tick every `tick`, `workers` work pollers and
    /// `results_pollers` results pollers. Results batches are handed to the function a
    /// second time whenever the work batch count is a multiple of `twice_every` (an SQS
    /// duplicate). Work batches are not duplicated while their outcomes may be pending: a
    /// redelivered message whose outcome is not applied yet is called again under the
    /// same attempt number (the API deduplicates by `Idempotency-Key`), and only the
    /// first copy of that attempt is stored — the test checks every call is stored.
    pub(crate) async fn start(
        f: Functions,
        work: Mapping,
        outcomes: Mapping,
        tick: Duration,
        workers: usize,
        results_pollers: usize,
        twice_every: u64,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Seen::default());
        let mut tasks = JoinSet::new();
        let plan = serde_json::json!({"mode": "plan"});
        let (app, _) = &f.dispatcher;
        dispatcher::handle(app, &plan, &invocation(app, &seen, "plan"))
            .await
            .expect("the plan runs");
        let (stop2, seen2, app) = (Arc::clone(&stop), Arc::clone(&seen), f.dispatcher.0.clone());
        tasks.spawn(async move {
            let release = serde_json::json!({"mode": "release"});
            while !stop2.load(Ordering::Relaxed) {
                if let Err(e) =
                    dispatcher::handle(&app, &release, &invocation(&app, &seen2, "tick")).await
                {
                    eprintln!("release tick failed; the next one retries: {e}");
                }
                tokio::time::sleep(tick).await;
            }
        });
        let batches = Arc::new(AtomicU64::new(0));
        for _ in 0..workers {
            let (stop, seen, app, work, batches) = (
                Arc::clone(&stop),
                Arc::clone(&seen),
                f.worker.0.clone(),
                work.clone(),
                Arc::clone(&batches),
            );
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let messages = work.poll().await;
                    if messages.is_empty() {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    let event = work.event(&messages);
                    seen.work_events
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(event.clone());
                    batches.fetch_add(1, Ordering::Relaxed);
                    let response =
                        worker::handle(&app, &event, &invocation(&app, &seen, "work")).await;
                    work.settle(&event, &ids(&response)).await;
                }
            });
        }
        for _ in 0..results_pollers {
            let (stop, seen, app, outcomes, batches) = (
                Arc::clone(&stop),
                Arc::clone(&seen),
                f.results.0.clone(),
                outcomes.clone(),
                Arc::clone(&batches),
            );
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let messages = outcomes.poll().await;
                    if messages.is_empty() {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    let event = outcomes.event(&messages);
                    seen.results_events
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(event.clone());
                    let mut response =
                        results::handle(&app, &event, &invocation(&app, &seen, "res")).await;
                    if batches.load(Ordering::Relaxed) % twice_every == 0 {
                        response =
                            results::handle(&app, &event, &invocation(&app, &seen, "res")).await;
                    }
                    outcomes.settle(&event, &ids(&response)).await;
                }
            });
        }
        Self { stop, tasks, seen }
    }

    /// Stops every loop after its current step.
    pub(crate) async fn stop(mut self) -> Arc<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        self.seen
    }
}
