//! The global call-rate cap on one machine, with `governor`.

use governor::{DefaultDirectRateLimiter, Quota};
use pacer_core::ports::RateGate;
use std::num::NonZeroU32;
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
        let quota = if per_second >= 1.0 {
            Quota::per_second(NonZeroU32::new(per_second.round() as u32)?)
                .allow_burst(NonZeroU32::MIN)
        } else {
            Quota::with_period(Duration::from_secs_f64(1.0 / per_second))?
        };
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

    #[test]
    fn refuses_nonsense_rates() {
        assert!(GovernorGate::new(0.0).is_none());
        assert!(GovernorGate::new(f64::NAN).is_none());
        assert!(GovernorGate::new(0.5).is_some());
    }
}
