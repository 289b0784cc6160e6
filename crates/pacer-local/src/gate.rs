//! The global call-rate cap on one machine, with `governor`.

use governor::{DefaultDirectRateLimiter, Quota};
use pacer_core::ports::RateGate;
use std::time::Duration;

/// A token bucket shared by every worker of this process.
#[derive(Debug)]
pub struct GovernorGate {
    limiter: DefaultDirectRateLimiter,
}

impl GovernorGate {
    /// A gate admitting `per_second` calls per second (fractions allowed, e.g. 0.5),
    /// with no burst beyond one call.
    pub fn new(per_second: f64) -> Option<Self> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return None;
        }
        // One call per period, no burst: a rate of 12.5 must not round to 13 (or 0.4 to
        // 0), so the period carries the fraction. Rates beyond one call per nanosecond
        // are held to that.
        let period = Duration::try_from_secs_f64(1.0 / per_second)
            .ok()?
            .max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)?;
        Some(Self {
            limiter: DefaultDirectRateLimiter::direct(quota),
        })
    }
}

#[async_trait::async_trait]
impl RateGate for GovernorGate {
    async fn wait_turn(&self) {
        self.limiter.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admits_no_more_than_the_rate() {
        let gate = GovernorGate::new(50.0).unwrap();
        let start = std::time::Instant::now();
        for _ in 0..11 {
            gate.wait_turn().await;
        }
        // 11 calls at 50/s without burst need at least 10 intervals of 20 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(190),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_fractional_rate_is_not_rounded_up() {
        // 12.5/s is one call per 80 ms; rounded to 13/s it would be one per 77 ms.
        let gate = GovernorGate::new(12.5).unwrap();
        let start = std::time::Instant::now();
        for _ in 0..11 {
            gate.wait_turn().await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(800),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn refuses_nonsense_rates() {
        assert!(GovernorGate::new(0.0).is_none());
        assert!(GovernorGate::new(f64::NAN).is_none());
        assert!(GovernorGate::new(f64::INFINITY).is_none());
        assert!(GovernorGate::new(-1.0).is_none());
        assert!(GovernorGate::new(0.5).is_some());
        assert!(GovernorGate::new(1e12).is_some());
        // One call in more seconds than a Duration holds: refused, not a panic.
        assert!(GovernorGate::new(1e-300).is_none());
    }
}
