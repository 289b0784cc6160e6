//! Process a batch of work messages (the worker function).
//!
//! Messages are grouped by provider. Providers run concurrently; each provider's messages
//! run strictly in order under that provider's lease. When a message cannot be finished
//! (lease lost, store down, no time left), it and every later message of its provider in
//! the batch are given back, so a provider's order is never broken.

mod attempt;

use crate::classify::ErrorClass;
use crate::ports::{Claim, DeadLetter, Delivery, LeaseGrant, Ports};
use crate::schema::{NextState, OutcomeEvent, WorkMessage, OUTCOME_EVENT_VERSION};
use crate::time::Timestamp;
use futures::future::{join_all, BoxFuture};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How a worker behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// Names this invocation in leases and attempts.
    pub invocation_id: String,
    /// Added to the provider's timeout for each lease renewal, covering the bookkeeping
    /// around a call, so the lease always outlives the call made under it.
    pub lease_margin: Duration,
    /// When a message is given back, how soon it may be received again.
    pub retry_delay: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            invocation_id: ulid::Ulid::new().to_string(),
            lease_margin: Duration::from_secs(5),
            retry_delay: Duration::from_secs(1),
        }
    }
}

/// When the current invocation must stop starting calls. Shared and settable, so a
/// graceful shutdown can move it to "now" while batches are running.
#[derive(Debug, Clone)]
pub struct Deadline(Arc<AtomicI64>);

impl Deadline {
    /// No deadline.
    pub fn none() -> Self {
        Self(Arc::new(AtomicI64::new(i64::MAX)))
    }

    /// A deadline at `t` (e.g. the Lambda context's deadline).
    pub fn at(t: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(t.as_millis())))
    }

    /// Moves the deadline.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.as_millis(), Ordering::SeqCst);
    }

    /// The deadline, if any.
    pub fn get(&self) -> Option<Timestamp> {
        match self.0.load(Ordering::SeqCst) {
            i64::MAX => None,
            ms => Some(Timestamp::from_millis(ms)),
        }
    }
}

impl Default for Deadline {
    fn default() -> Self {
        Self::none()
    }
}

/// What to do with a delivery after processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Finished (or a harmless duplicate): delete it.
    Done,
    /// Not finished: make it visible again after `delay`.
    Retry {
        /// How long to keep it hidden.
        delay: Duration,
    },
}

/// What a batch came to, one disposition per delivery (by message id), in input order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchReport {
    /// Per delivery: message id and disposition.
    pub dispositions: Vec<(String, Disposition)>,
    /// HTTP calls made.
    pub calls: u32,
}

impl BatchReport {
    /// Message ids given back (the Lambda `batchItemFailures`).
    pub fn failed_ids(&self) -> Vec<String> {
        self.dispositions
            .iter()
            .filter(|(_, d)| matches!(d, Disposition::Retry { .. }))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Why a provider's run stopped before its last message.
#[derive(Debug, thiserror::Error)]
enum Stop {
    /// Store, queue or bus failed; retry the message later.
    #[error(transparent)]
    Port(crate::PortError),
    /// Another holder took the lease: calling now could overlap.
    #[error("the provider lease was taken by another holder")]
    LeaseLost,
    /// Not enough invocation time for another call.
    #[error("not enough invocation time left for another call")]
    OutOfTime,
}

/// Processes a batch of deliveries. No call starts that could outlast `deadline`.
pub async fn process_batch(
    ports: &Ports,
    settings: &WorkerSettings,
    deliveries: &[Delivery],
    deadline: &Deadline,
) -> BatchReport {
    let mut dispositions: BTreeMap<usize, Disposition> = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<(usize, WorkMessage)>> = BTreeMap::new();
    let mut poison = Vec::new();
    for (i, d) in deliveries.iter().enumerate() {
        match WorkMessage::decode(&d.body) {
            Ok(m) if m.provider.as_str() == d.group => {
                groups.entry(d.group.clone()).or_default().push((i, m))
            }
            Ok(m) => poison.push((
                i,
                format!(
                    "message group {:?} differs from provider {:?}",
                    d.group,
                    m.provider.as_str()
                ),
            )),
            Err(e) => poison.push((i, e.to_string())),
        }
    }
    if !poison.is_empty() {
        let entries: Vec<DeadLetter> = poison
            .iter()
            .map(|(i, reason)| {
                let d = &deliveries[*i];
                tracing::warn!(message_id = %d.message_id, reason = %reason, "poison work message");
                DeadLetter {
                    id: format!("msg:{}", d.message_id),
                    record_id: None,
                    provider: Some(d.group.clone()),
                    error_class: ErrorClass::BadMessage,
                    attempts: 0,
                    reason: reason.clone(),
                    dead_lettered_at: ports.clock.now(),
                    body: d.body.clone(),
                }
            })
            .collect();
        let disposition = match ports.dead_letters.put(&entries).await {
            Ok(()) => Disposition::Done,
            Err(_) => Disposition::Retry {
                delay: settings.retry_delay,
            },
        };
        dispositions.extend(poison.iter().map(|(i, _)| (*i, disposition)));
    }
    let runs = groups
        .into_values()
        .map(|messages| run_provider(ports, settings, messages, deadline));
    let mut calls = 0;
    for (done, c) in join_all(runs).await {
        calls += c;
        dispositions.extend(done);
    }
    BatchReport {
        dispositions: dispositions
            .into_iter()
            .map(|(i, d)| (deliveries[i].message_id.clone(), d))
            .collect(),
        calls,
    }
}

/// Runs one provider's messages in order under its lease.
async fn run_provider(
    ports: &Ports,
    settings: &WorkerSettings,
    messages: Vec<(usize, WorkMessage)>,
    deadline: &Deadline,
) -> (Vec<(usize, Disposition)>, u32) {
    let retry_all = |delay| {
        messages
            .iter()
            .map(|(i, _)| (*i, Disposition::Retry { delay }))
            .collect()
    };
    let provider = messages[0].1.provider.clone();
    let provider_settings = match ports.providers.get_provider(&provider).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return (
                attempt::dead_letter_unconfigured(ports, settings, &messages).await,
                0,
            )
        }
        Err(err) => {
            tracing::warn!(%provider, error = %err, "cannot read provider settings");
            return (retry_all(settings.retry_delay), 0);
        }
    };
    let ttl = call_budget(&provider_settings, settings) * LEASE_SPAN;
    let claims: Vec<Claim> = messages
        .iter()
        .map(|(_, m)| Claim {
            record_id: m.record_id.clone(),
            attempt: m.attempt,
        })
        .collect();
    let holder = format!("{}:{}", settings.invocation_id, provider);
    let (mut lease, eligible) = match ports
        .leases
        .acquire(&provider, &holder, ttl, ports.clock.now(), &claims)
        .await
    {
        Ok(LeaseGrant::Granted { lease, eligible }) => (lease, eligible),
        Ok(LeaseGrant::Busy { expires_at }) => {
            let wait = expires_at
                .since(ports.clock.now())
                .max(settings.retry_delay);
            tracing::info!(%provider, wait_ms = wait.as_millis() as u64, "provider lease busy; giving messages back");
            return (retry_all(wait), 0);
        }
        Err(err) => {
            tracing::warn!(%provider, error = %err, "cannot take provider lease");
            return (retry_all(settings.retry_delay), 0);
        }
    };
    let mut breaker = lease.breaker;
    let mut out = Vec::with_capacity(messages.len());
    let mut calls = 0;
    let mut stopped = false;
    // The previous message's outcomes are stored while the next message's call runs:
    // storing never sits between two calls of the provider. A message is done only once
    // its outcomes are stored; the batch returns only when every store has finished.
    let mut storing: Option<(usize, BoxFuture<'_, Result<(), crate::PortError>>)> = None;
    let retry = Disposition::Retry {
        delay: settings.retry_delay,
    };
    for ((i, message), eligible) in messages.iter().zip(eligible) {
        if stopped {
            out.push((*i, retry));
            continue;
        }
        if !eligible {
            tracing::debug!(record_id = %message.record_id, attempt = message.attempt, "stale or duplicate message");
            out.push((*i, Disposition::Done));
            continue;
        }
        let mut run = attempt::MessageRun {
            ports,
            settings,
            provider: &provider_settings,
            lease: &mut lease,
            breaker: &mut breaker,
            deadline,
        };
        let result = match storing.take() {
            None => run.run(message).await,
            Some((previous, store)) => {
                let (stored, result) = futures::join!(store, run.run(message));
                if !settle_store(&provider, previous, stored, retry, &mut out) {
                    // The store is failing: this message's outcomes are still stored
                    // below if they can be, but no further call starts.
                    stopped = true;
                }
                result
            }
        };
        match result {
            Ok(publication) => {
                calls += publication.made;
                storing = Some((*i, Box::pin(publication.store(ports))));
            }
            Err((made, stop)) => {
                calls += made;
                tracing::warn!(%provider, record_id = %message.record_id, reason = %stop, "giving back the rest of the provider's batch");
                stopped = true;
                out.push((*i, retry));
            }
        }
    }
    // No call follows: the lease is released while the last outcomes are stored.
    let release = ports.leases.release(&lease, breaker, ports.clock.now());
    let released = match storing {
        Some((previous, store)) => {
            let (stored, released) = futures::join!(store, release);
            settle_store(&provider, previous, stored, retry, &mut out);
            released
        }
        None => release.await,
    };
    if let Err(err) = released {
        // The lease lapses on its own at expires_at; nothing is lost.
        tracing::warn!(%provider, error = %err, "could not release the lease; it will expire");
    }
    (out, calls)
}

/// Records how storing message `index`'s outcomes went: done, or given back to be run
/// again. Returns whether the store worked.
fn settle_store(
    provider: &crate::ids::ProviderId,
    index: usize,
    stored: Result<(), crate::PortError>,
    retry: Disposition,
    out: &mut Vec<(usize, Disposition)>,
) -> bool {
    match stored {
        Ok(()) => {
            out.push((index, Disposition::Done));
            true
        }
        Err(err) => {
            tracing::warn!(%provider, error = %err, "could not store a message's outcomes; giving it back");
            out.push((index, retry));
            false
        }
    }
}

/// A lease is taken (and renewed) for this many call budgets, so most calls need no
/// renewal write while a crashed holder still frees the provider within seconds.
pub(crate) const LEASE_SPAN: u32 = 3;

/// The longest one call can hold the provider: waiting out the minimum interval, a
/// short retry's wait, the call up to its timeout, and the bookkeeping around it. The
/// lease always has at least this much left when a call starts, so it outlives the call.
pub(crate) fn call_budget(
    provider: &crate::provider::ProviderSettings,
    settings: &WorkerSettings,
) -> Duration {
    provider.timeout
        + provider.min_interval
        + provider.retry_policy().short_max
        + settings.lease_margin
}

/// Builds an outcome event skeleton for `message`.
fn event(
    message: &WorkMessage,
    attempt: u32,
    settings: &WorkerSettings,
    token: u64,
    now: Timestamp,
) -> OutcomeEvent {
    OutcomeEvent {
        v: OUTCOME_EVENT_VERSION,
        record_id: message.record_id.clone(),
        provider: message.provider.clone(),
        attempt,
        called: false,
        request_summary: format!(
            "{} {}",
            message.request.method.as_str(),
            message.request.path
        ),
        started_at: now,
        finished_at: now,
        latency_ms: 0,
        status_code: None,
        error_class: None,
        detail: None,
        response: None,
        fencing_token: token,
        invocation_id: settings.invocation_id.clone(),
        next: NextState::Continue,
    }
}
