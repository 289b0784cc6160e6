//! One message's attempts: pacing, the call, classification, the retry decision, and
//! the outcomes to publish.

use super::{event, Disposition, Stop, WorkerSettings};
use crate::breaker::{Admission, BreakerState};
use crate::classify::{classify, ErrorClass, TransportFailure, Verdict};
use crate::ports::{ApiCall, DeadLetter, Lease, Ports};
use crate::provider::ProviderSettings;
use crate::retry::Decision;
use crate::schema::{NextState, OutcomeEvent, WorkMessage};
use std::time::Duration;

/// Everything one message's run needs; borrowed from the provider's run.
pub(super) struct MessageRun<'a> {
    pub(super) ports: &'a Ports,
    pub(super) settings: &'a WorkerSettings,
    pub(super) provider: &'a ProviderSettings,
    pub(super) lease: &'a mut Lease,
    pub(super) breaker: &'a mut BreakerState,
    pub(super) deadline: &'a super::Deadline,
}

/// What a message's run leaves to record: its attempts' outcomes and, when it ended
/// in the dead-letter queue, the entry. Nothing is done with the message until this is
/// stored ([`Publication::store`]).
pub(super) struct Publication {
    /// HTTP calls made.
    pub(super) made: u32,
    events: Vec<OutcomeEvent>,
    dead_letter: Option<DeadLetter>,
}

impl Publication {
    /// Stores the dead letter first, so a record never reads dead_lettered without an
    /// entry an operator can replay, then publishes the outcomes.
    pub(super) async fn store(self, ports: &Ports) -> Result<(), crate::PortError> {
        if let Some(entry) = self.dead_letter {
            ports.dead_letters.put(&[entry]).await?;
        }
        ports.outcomes.publish(&self.events).await
    }
}

impl MessageRun<'_> {
    /// Makes the message's calls (one, plus short retries) and returns their outcomes
    /// to publish. On `Err` no outcome is left to publish and the message must be given
    /// back.
    pub(super) async fn run(&mut self, message: &WorkMessage) -> Result<Publication, (u32, Stop)> {
        let policy = self.provider.retry_policy();
        let budget = super::call_budget(self.provider, self.settings);
        let span = budget * super::LEASE_SPAN;
        let clock = &self.ports.clock;
        let mut attempt = message.attempt;
        let mut calls = message.calls;
        let mut short_used = 0;
        let mut made = 0;
        let mut events: Vec<OutcomeEvent> = Vec::new();
        let mut dead_letter = None;
        loop {
            let now = clock.now();
            if let Admission::Reject { until } = self.breaker.admits(now) {
                let mut e = event(message, attempt, self.settings, self.lease.token, now);
                e.error_class = Some(ErrorClass::BreakerOpen);
                e.detail = Some(format!("circuit breaker open until {until}; no call made"));
                e.next = NextState::RetryWait { due_at: until };
                events.push(e);
                break;
            }
            if self.deadline.get().is_some_and(|d| now.plus(budget) > d) {
                return self.finish_early(events, made, Stop::OutOfTime);
            }
            if let Some(last) = self.lease.last_call_started_at {
                let ready = last.plus(spacing_after_truncation(self.provider.min_interval));
                if ready > now {
                    clock.sleep(ready.since(now)).await;
                }
            }
            self.ports.gate.wait_turn().await;
            let started = clock.now();
            // Renew only when the lease might not outlive this call; a lost lease means
            // another holder may be calling, so stop before calling.
            if self.lease.expires_at < started.plus(budget) {
                match self
                    .ports
                    .leases
                    .begin_call(self.lease, started, span)
                    .await
                {
                    Ok(true) => self.lease.expires_at = started.plus(span),
                    Ok(false) => return self.finish_early(events, made, Stop::LeaseLost),
                    Err(err) => return self.finish_early(events, made, Stop::Port(err)),
                }
            }
            // Stamped after any renewal write, as close to the call as the clock allows,
            // so the next call's spacing counts from when this one really went out.
            self.lease.last_call_started_at = Some(clock.now());
            let call = ApiCall {
                url: self.provider.url_for(&message.request.path),
                method: message.request.method,
                query: &message.request.query,
                headers: &message.request.headers,
                body: message.request.body.as_ref(),
                idempotency_key: message.record_id.as_str(),
                fencing_token: self.lease.token,
                timeout: self.provider.timeout,
            };
            let result = self.ports.caller.call(&call).await;
            made += 1;
            calls += 1;
            let finished = clock.now();
            let verdict = classify(&result, finished);
            *self.breaker =
                self.breaker
                    .after_call(verdict.class(), finished, self.provider.breaker_policy());
            let time_left = self.deadline.get().map(|d| d.since(finished));
            let decision = policy.decide(
                &verdict,
                calls,
                short_used,
                time_left,
                budget,
                rand::random::<f64>(),
            );
            let mut e = event(message, attempt, self.settings, self.lease.token, started);
            e.called = true;
            e.finished_at = finished;
            e.latency_ms = finished.since(started).as_millis() as u64;
            describe(&mut e, &result, &verdict, self.provider);
            tracing::info!(
                record_id = %message.record_id,
                provider = %message.provider,
                attempt,
                status = e.status_code,
                error_class = e.error_class.map(ErrorClass::as_str),
                latency_ms = e.latency_ms,
                "call made"
            );
            e.next = match decision {
                Decision::Succeed => NextState::Succeeded,
                Decision::Fail => NextState::Failed,
                Decision::RetryNow { .. } => NextState::Continue,
                Decision::RetryLater { delay } => NextState::RetryWait {
                    due_at: finished.plus(delay),
                },
                Decision::DeadLetter => {
                    dead_letter = Some(DeadLetter {
                        id: format!("{}#{}", message.record_id, attempt),
                        record_id: Some(message.record_id.clone()),
                        provider: Some(message.provider.to_string()),
                        error_class: e.error_class.unwrap_or(ErrorClass::Transport),
                        attempts: calls,
                        reason: e.detail.clone().unwrap_or_default(),
                        dead_lettered_at: finished,
                        body: message.encode(),
                    });
                    NextState::DeadLettered
                }
            };
            events.push(e);
            match decision {
                Decision::RetryNow { delay } => {
                    clock.sleep(delay).await;
                    attempt += 1;
                    short_used += 1;
                }
                _ => break,
            }
        }
        Ok(Publication {
            made,
            events,
            dead_letter,
        })
    }

    /// Stops before the next call. Attempts already made are published with the record
    /// due again shortly, so their numbers are never reused; with none made, the message
    /// is given back untouched.
    fn finish_early(
        &self,
        mut events: Vec<OutcomeEvent>,
        made: u32,
        stop: Stop,
    ) -> Result<Publication, (u32, Stop)> {
        let Some(last) = events.last_mut() else {
            return Err((made, stop));
        };
        last.next = NextState::RetryWait {
            due_at: self.ports.clock.now().plus(self.settings.retry_delay),
        };
        tracing::info!(record_id = %last.record_id, reason = %stop, "stopping between short retries");
        Ok(Publication {
            made,
            events,
            dead_letter: None,
        })
    }
}

/// Fills the status, class, detail and response excerpt of an attempt.
fn describe(
    e: &mut OutcomeEvent,
    result: &Result<crate::classify::ApiResponse, TransportFailure>,
    verdict: &Verdict,
    provider: &ProviderSettings,
) {
    e.error_class = verdict.class();
    match result {
        Ok(response) => {
            e.status_code = Some(response.status);
            e.response = Some(if response.truncated {
                format!("{}{}", response.body, crate::schema::TRUNCATION_MARKER)
            } else {
                response.body.clone()
            });
            e.detail = match verdict {
                Verdict::Success => None,
                Verdict::Permanent { reason, .. } => Some(reason.clone()),
                Verdict::Transient { retry_after, .. } => Some(match retry_after {
                    Some(wait) => {
                        format!("HTTP {} (Retry-After {}s)", response.status, wait.as_secs())
                    }
                    None => format!("HTTP {}", response.status),
                }),
            };
        }
        Err(TransportFailure::Timeout) => {
            e.detail = Some(format!("no answer within {:?}", provider.timeout))
        }
        Err(failure) => e.detail = Some(format!("transport failure: {failure:?}")),
    }
}

/// Dead-letters the messages of a provider that has no settings: nothing can be called.
/// The operator configures the provider and replays them.
pub(super) async fn dead_letter_unconfigured(
    ports: &Ports,
    settings: &WorkerSettings,
    messages: &[(usize, WorkMessage)],
) -> Vec<(usize, Disposition)> {
    let now = ports.clock.now();
    let reason = |m: &WorkMessage| {
        format!(
            "provider {:?} is not configured; configure it, then replay",
            m.provider.as_str()
        )
    };
    let entries: Vec<DeadLetter> = messages
        .iter()
        .map(|(_, m)| DeadLetter {
            id: format!("{}#{}", m.record_id, m.attempt),
            record_id: Some(m.record_id.clone()),
            provider: Some(m.provider.to_string()),
            error_class: ErrorClass::BadMessage,
            attempts: m.calls,
            reason: reason(m),
            dead_lettered_at: now,
            body: m.encode(),
        })
        .collect();
    let events: Vec<OutcomeEvent> = messages
        .iter()
        .map(|(_, m)| {
            let mut e = event(m, m.attempt, settings, 0, now);
            e.error_class = Some(ErrorClass::BadMessage);
            e.detail = Some(reason(m));
            e.next = NextState::DeadLettered;
            e
        })
        .collect();
    let done = match ports.dead_letters.put(&entries).await {
        Ok(()) => ports.outcomes.publish(&events).await.is_ok(),
        Err(_) => false,
    };
    let disposition = if done {
        Disposition::Done
    } else {
        Disposition::Retry {
            delay: settings.retry_delay,
        }
    };
    messages.iter().map(|(i, _)| (*i, disposition)).collect()
}

/// The wait after the previous call's recorded start that guarantees `min_interval`
/// between the real starts: timestamps are truncated to the millisecond, so the previous
/// call may have gone out up to 1 ms after its stamp.
fn spacing_after_truncation(min_interval: Duration) -> Duration {
    if min_interval.is_zero() {
        Duration::ZERO
    } else {
        min_interval + Duration::from_millis(1)
    }
}

#[cfg(test)]
mod spacing_tests {
    use super::spacing_after_truncation;
    use std::time::Duration;

    #[test]
    fn a_spaced_provider_waits_one_millisecond_more_than_its_interval_to_cover_truncation() {
        assert_eq!(
            spacing_after_truncation(Duration::from_millis(150)),
            Duration::from_millis(151)
        );
        assert_eq!(spacing_after_truncation(Duration::ZERO), Duration::ZERO);
    }
}
