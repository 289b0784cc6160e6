//! Retry policy: a few short retries inside one invocation while holding the lease, then
//! durable retries through `due_at` with capped exponential backoff and full jitter,
//! honouring `Retry-After`, until `max_attempts` calls have been made.
//!
//! The exponential sequence comes from `backon`'s `ExponentialBuilder`; the jitter is
//! applied here from a caller-supplied fraction so that tests are deterministic.

use crate::classify::Verdict;
use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

/// Longest `Retry-After` honoured; a server asking for more is treated as asking for this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Rounds to whole milliseconds: timestamps are in milliseconds, and float steps in the
/// exponential sequence would otherwise leave nanosecond dust.
fn whole_millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().min(u128::from(u64::MAX)) as u64)
}

/// How a record is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// HTTP calls allowed per record; reaching it on a transient error dead-letters.
    pub max_attempts: u32,
    /// First durable delay, before jitter.
    pub backoff_base: Duration,
    /// Cap on durable delays, before jitter.
    pub backoff_max: Duration,
    /// Immediate retries allowed inside one invocation (each one is a call and counts).
    pub short_retries: u32,
    /// First short delay.
    pub short_base: Duration,
    /// Longest short delay, including `Retry-After`; a longer wish becomes a durable retry.
    pub short_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(15 * 60),
            short_retries: 2,
            short_base: Duration::from_millis(50),
            // A longer wait would hold the provider's lease idle; such a record steps
            // aside as a durable retry and the provider's other records go on.
            short_max: Duration::from_millis(250),
        }
    }
}

/// What to do after one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Store the result; the record succeeded.
    Succeed,
    /// Record the failure; no retry.
    Fail,
    /// Call again in this invocation after `delay`, still holding the lease.
    RetryNow {
        /// Wait before the next call.
        delay: Duration,
    },
    /// Give the record back with a `due_at` this far in the future.
    RetryLater {
        /// Delay until it is due again.
        delay: Duration,
    },
    /// Attempts exhausted.
    DeadLetter,
}

impl RetryPolicy {
    /// The `n`-th delay (1-based) of the capped exponential sequence starting at `base`.
    fn exponential(base: Duration, max: Duration, n: u32) -> Duration {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(base)
            .with_max_delay(max)
            .with_factor(2.0)
            .without_max_times()
            .build();
        let delay = delays
            .nth(n.saturating_sub(1).min(64) as usize)
            .unwrap_or(max);
        whole_millis(delay)
    }

    /// Durable delay after the `calls`-th call failed: full jitter over the capped
    /// exponential delay (`jitter` in `[0, 1)`), never shorter than `Retry-After`.
    pub fn durable_delay(
        &self,
        calls: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        let ceiling = Self::exponential(self.backoff_base, self.backoff_max, calls);
        let jittered = whole_millis(ceiling.mul_f64(jitter.clamp(0.0, 1.0)));
        jittered.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER))
    }

    /// Decides what follows a call, given how many calls the record has had (this one
    /// included), how many short retries this invocation already spent, and how much
    /// time the invocation has left for another call of `call_budget`.
    pub fn decide(
        &self,
        verdict: &Verdict,
        calls: u32,
        short_retries_used: u32,
        time_left: Option<Duration>,
        call_budget: Duration,
        jitter: f64,
    ) -> Decision {
        let retry_after = match verdict {
            Verdict::Success => return Decision::Succeed,
            Verdict::Permanent { .. } => return Decision::Fail,
            Verdict::Transient { retry_after, .. } => *retry_after,
        };
        if calls >= self.max_attempts {
            return Decision::DeadLetter;
        }
        if short_retries_used < self.short_retries {
            let short = whole_millis(
                Self::exponential(self.short_base, self.short_max, short_retries_used + 1)
                    .mul_f64(jitter.clamp(0.0, 1.0)),
            )
            .max(retry_after.unwrap_or_default());
            let fits = time_left.is_none_or(|left| short + call_budget < left);
            if short <= self.short_max && fits {
                return Decision::RetryNow { delay: short };
            }
        }
        Decision::RetryLater {
            delay: self.durable_delay(calls, retry_after, jitter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ErrorClass;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            short_retries: 2,
            short_base: Duration::from_millis(100),
            short_max: Duration::from_secs(1),
        }
    }

    fn transient(retry_after: Option<Duration>) -> Verdict {
        Verdict::Transient {
            class: ErrorClass::ServerError,
            retry_after,
        }
    }

    const BUDGET: Duration = Duration::from_secs(10);

    #[test]
    fn durable_delays_grow_exponentially_up_to_the_cap_before_jitter() {
        let p = policy();
        let at_full = |n| p.durable_delay(n, None, 1.0);
        assert_eq!(at_full(1), Duration::from_secs(1));
        assert_eq!(at_full(2), Duration::from_secs(2));
        assert_eq!(at_full(3), Duration::from_secs(4));
        assert_eq!(at_full(7), Duration::from_secs(60));
        assert_eq!(at_full(40), Duration::from_secs(60));
    }

    #[test]
    fn full_jitter_spreads_the_delay_from_zero_to_the_ceiling() {
        let p = policy();
        assert_eq!(p.durable_delay(3, None, 0.0), Duration::ZERO);
        assert_eq!(p.durable_delay(3, None, 0.5), Duration::from_secs(2));
    }

    #[test]
    fn retry_after_is_a_floor_for_durable_delays() {
        let p = policy();
        assert_eq!(
            p.durable_delay(1, Some(Duration::from_secs(30)), 0.1),
            Duration::from_secs(30)
        );
        assert_eq!(
            p.durable_delay(1, Some(Duration::from_secs(90 * 86400)), 0.1),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn success_and_permanent_errors_end_the_record() {
        let p = policy();
        assert_eq!(
            p.decide(&Verdict::Success, 1, 0, None, BUDGET, 0.5),
            Decision::Succeed
        );
        let perm = Verdict::Permanent {
            class: ErrorClass::ClientError,
            reason: "422".into(),
        };
        assert_eq!(p.decide(&perm, 1, 0, None, BUDGET, 0.5), Decision::Fail);
    }

    #[test]
    fn short_retries_come_first_then_durable_ones() {
        let p = policy();
        assert_eq!(
            p.decide(&transient(None), 1, 0, None, BUDGET, 1.0),
            Decision::RetryNow {
                delay: Duration::from_millis(100)
            }
        );
        assert_eq!(
            p.decide(&transient(None), 2, 1, None, BUDGET, 1.0),
            Decision::RetryNow {
                delay: Duration::from_millis(200)
            }
        );
        assert_eq!(
            p.decide(&transient(None), 3, 2, None, BUDGET, 1.0),
            Decision::RetryLater {
                delay: Duration::from_secs(4)
            }
        );
    }

    #[test]
    fn a_long_retry_after_turns_a_short_retry_into_a_durable_one() {
        let p = policy();
        let d = p.decide(
            &transient(Some(Duration::from_secs(5))),
            1,
            0,
            None,
            BUDGET,
            0.0,
        );
        assert_eq!(
            d,
            Decision::RetryLater {
                delay: Duration::from_secs(5)
            }
        );
        let d = p.decide(
            &transient(Some(Duration::from_millis(300))),
            1,
            0,
            None,
            BUDGET,
            0.0,
        );
        assert_eq!(
            d,
            Decision::RetryNow {
                delay: Duration::from_millis(300)
            }
        );
    }

    #[test]
    fn no_short_retry_when_the_invocation_has_no_time_for_another_call() {
        let p = policy();
        let d = p.decide(
            &transient(None),
            1,
            0,
            Some(Duration::from_secs(5)),
            BUDGET,
            1.0,
        );
        assert_eq!(
            d,
            Decision::RetryLater {
                delay: Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn the_last_allowed_call_failing_transiently_dead_letters() {
        let p = policy();
        assert_eq!(
            p.decide(&transient(None), 5, 0, None, BUDGET, 0.5),
            Decision::DeadLetter
        );
        assert_ne!(
            p.decide(&transient(None), 4, 2, None, BUDGET, 0.5),
            Decision::DeadLetter
        );
    }
}
