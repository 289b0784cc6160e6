//! A per-provider circuit breaker, so pacer stops spending attempts on a provider that
//! is down. Pure state; the backend stores it beside the provider's lease, and because
//! calls to one provider are serialised by that lease, "half open" admits exactly one
//! probe at a time without further coordination.

use crate::classify::ErrorClass;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive provider-down failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before a probe is allowed.
    pub cooldown: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow; counts consecutive provider-down failures.
    Closed {
        /// Failures in a row so far.
        consecutive_failures: u32,
    },
    /// No calls until `until`.
    Open {
        /// When a probe becomes allowed.
        until: Timestamp,
    },
    /// One probe call decides whether to close or re-open.
    HalfOpen,
}

impl Default for BreakerState {
    fn default() -> Self {
        Self::Closed {
            consecutive_failures: 0,
        }
    }
}

/// Whether a call may go out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes.
    Call,
    /// No; try again at `until`.
    Reject {
        /// When the breaker will admit a probe.
        until: Timestamp,
    },
}

/// Whether an error class says the provider itself is down (a 429 or a 4xx does not).
pub fn counts_as_down(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::Timeout
            | ErrorClass::Connect
            | ErrorClass::Reset
            | ErrorClass::Transport
            | ErrorClass::ServerError
    )
}

impl BreakerState {
    /// Whether a call is admitted at `now`. An open breaker whose cooldown has passed
    /// admits (the caller then records the result, which closes or re-opens it).
    pub fn admits(&self, now: Timestamp) -> Admission {
        match *self {
            Self::Open { until } if now < until => Admission::Reject { until },
            _ => Admission::Call,
        }
    }

    /// The state after a call ended with `class` (`None` = the API answered 2xx).
    pub fn after_call(
        self,
        class: Option<ErrorClass>,
        now: Timestamp,
        policy: BreakerPolicy,
    ) -> Self {
        let down = class.is_some_and(counts_as_down);
        match (self, down) {
            (_, false) => Self::Closed {
                consecutive_failures: 0,
            },
            (
                Self::Closed {
                    consecutive_failures,
                },
                true,
            ) if consecutive_failures + 1 < policy.failure_threshold => Self::Closed {
                consecutive_failures: consecutive_failures + 1,
            },
            (_, true) => Self::Open {
                until: now.plus(policy.cooldown),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: BreakerPolicy = BreakerPolicy {
        failure_threshold: 3,
        cooldown: Duration::from_secs(10),
    };

    fn t(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_down_failures() {
        let mut b = BreakerState::default();
        for _ in 0..2 {
            b = b.after_call(Some(ErrorClass::ServerError), t(0), P);
            assert_eq!(b.admits(t(0)), Admission::Call);
        }
        b = b.after_call(Some(ErrorClass::Timeout), t(1), P);
        assert_eq!(b, BreakerState::Open { until: t(11) });
        assert_eq!(b.admits(t(5)), Admission::Reject { until: t(11) });
    }

    #[test]
    fn client_errors_and_rate_limits_do_not_count_and_reset_the_run() {
        let b = BreakerState::Closed {
            consecutive_failures: 2,
        };
        assert_eq!(
            b.after_call(Some(ErrorClass::ClientError), t(0), P),
            BreakerState::default()
        );
        assert_eq!(
            b.after_call(Some(ErrorClass::RateLimited), t(0), P),
            BreakerState::default()
        );
    }

    #[test]
    fn after_the_cooldown_one_probe_decides() {
        let open = BreakerState::Open { until: t(11) };
        assert_eq!(open.admits(t(11)), Admission::Call);
        assert_eq!(open.after_call(None, t(12), P), BreakerState::default());
        assert_eq!(
            open.after_call(Some(ErrorClass::Connect), t(12), P),
            BreakerState::Open { until: t(22) }
        );
    }
}
