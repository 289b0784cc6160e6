//! What the mock API does to each call: latency, fault probabilities, deterministic
//! faults and presets.
//!
//! Plain data; nothing here runs a server. Every setting can be given for all
//! providers and overridden per provider.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Probabilities (each in `0.0..=1.0`, their sum at most 1) of the random faults
/// applied to a call that is not otherwise decided (down, defective, fail-first).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultRates {
    /// The server sleeps [`MockConfig::hang`] before answering 504; the client is
    /// expected to time out first.
    pub timeout: f64,
    /// The connection is reset without any response.
    pub reset: f64,
    /// 429 with a `Retry-After` header.
    pub rate_limited: f64,
    /// 500, 502 or 503, chosen at random.
    pub server_error: f64,
}

impl FaultRates {
    /// No random faults.
    pub const NONE: FaultRates = FaultRates {
        timeout: 0.0,
        reset: 0.0,
        rate_limited: 0.0,
        server_error: 0.0,
    };

    /// The probability that a call gets any random fault.
    pub fn total(&self) -> f64 {
        self.timeout + self.reset + self.rate_limited + self.server_error
    }
}

/// Configuration of a [`MockApi`](super::MockApi).
///
/// Start from a preset ([`MockConfig::none`], [`MockConfig::realistic`],
/// [`MockConfig::harsh`]) and adjust with the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Latency of every call, unless overridden per provider.
    pub latency: Duration,
    /// Per-provider latency overrides.
    pub provider_latency: BTreeMap<String, Duration>,
    /// Random fault probabilities, unless overridden per provider.
    pub fault_rates: FaultRates,
    /// Per-provider fault probability overrides.
    pub provider_faults: BTreeMap<String, FaultRates>,
    /// Per provider: the first N calls of each record id answer 503.
    pub fail_first: BTreeMap<String, u32>,
    /// Providers that start down (every call answers 503); see
    /// [`MockApi::set_down`](super::MockApi::set_down).
    pub down: BTreeSet<String>,
    /// How long a "timeout" fault makes the server wait before answering.
    pub hang: Duration,
    /// The `Retry-After` value, in seconds, of 429 answers.
    pub retry_after_secs: u32,
    /// Seed of the fault decisions: the same seed, record id and attempt number
    /// always give the same fault.
    pub seed: u64,
    /// Record ids containing this substring are permanently rejected with 422.
    /// `None` disables the check.
    pub defective_marker: Option<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self::none()
    }
}

impl MockConfig {
    /// The default marker of defective records.
    pub const DEFAULT_DEFECTIVE_MARKER: &'static str = "defective";

    /// No latency and no random faults; defective records are still rejected.
    pub fn none() -> Self {
        Self {
            latency: Duration::ZERO,
            provider_latency: BTreeMap::new(),
            fault_rates: FaultRates::NONE,
            provider_faults: BTreeMap::new(),
            fail_first: BTreeMap::new(),
            down: BTreeSet::new(),
            hang: Duration::from_secs(30),
            retry_after_secs: 1,
            seed: 0x5eed,
            defective_marker: Some(Self::DEFAULT_DEFECTIVE_MARKER.to_owned()),
        }
    }

    /// 5 ms latency; 1% timeouts, 1% resets, 2% 429s, 3% 5xx.
    pub fn realistic() -> Self {
        Self::none()
            .with_latency(Duration::from_millis(5))
            .with_fault_rates(FaultRates {
                timeout: 0.01,
                reset: 0.01,
                rate_limited: 0.02,
                server_error: 0.03,
            })
    }

    /// 10 ms latency; 5% timeouts, 5% resets, 10% 429s, 10% 5xx.
    pub fn harsh() -> Self {
        Self::none()
            .with_latency(Duration::from_millis(10))
            .with_fault_rates(FaultRates {
                timeout: 0.05,
                reset: 0.05,
                rate_limited: 0.10,
                server_error: 0.10,
            })
    }

    /// Sets the default latency.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the latency of one provider.
    pub fn with_provider_latency(mut self, provider: impl Into<String>, latency: Duration) -> Self {
        self.provider_latency.insert(provider.into(), latency);
        self
    }

    /// Sets the default random fault probabilities.
    pub fn with_fault_rates(mut self, rates: FaultRates) -> Self {
        self.fault_rates = rates;
        self
    }

    /// Sets the random fault probabilities of one provider.
    pub fn with_provider_faults(mut self, provider: impl Into<String>, rates: FaultRates) -> Self {
        self.provider_faults.insert(provider.into(), rates);
        self
    }

    /// The first `n` calls of each record id to `provider` answer 503.
    pub fn with_fail_first(mut self, provider: impl Into<String>, n: u32) -> Self {
        self.fail_first.insert(provider.into(), n);
        self
    }

    /// Starts with `provider` down (every call answers 503).
    pub fn with_down(mut self, provider: impl Into<String>) -> Self {
        self.down.insert(provider.into());
        self
    }

    /// Sets how long a timeout fault waits before answering.
    pub fn with_hang(mut self, hang: Duration) -> Self {
        self.hang = hang;
        self
    }

    /// Sets the `Retry-After` of 429 answers.
    pub fn with_retry_after_secs(mut self, secs: u32) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// Sets the seed of the fault decisions.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the substring marking defective record ids.
    pub fn with_defective_marker(mut self, marker: impl Into<String>) -> Self {
        self.defective_marker = Some(marker.into());
        self
    }

    /// Rejects no record as defective.
    pub fn without_defective_marker(mut self) -> Self {
        self.defective_marker = None;
        self
    }

    /// The latency of `provider`.
    pub fn latency_for(&self, provider: &str) -> Duration {
        self.provider_latency
            .get(provider)
            .copied()
            .unwrap_or(self.latency)
    }

    /// The random fault probabilities of `provider`.
    pub fn faults_for(&self, provider: &str) -> FaultRates {
        self.provider_faults
            .get(provider)
            .copied()
            .unwrap_or(self.fault_rates)
    }

    /// How many calls of each record id to `provider` answer 503 first.
    pub fn fail_first_for(&self, provider: &str) -> u32 {
        self.fail_first.get(provider).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_overrides_win_over_defaults() {
        let config = MockConfig::realistic()
            .with_provider_latency("slow", Duration::from_millis(50))
            .with_provider_faults("calm", FaultRates::NONE)
            .with_fail_first("flaky", 2);
        assert_eq!(config.latency_for("slow"), Duration::from_millis(50));
        assert_eq!(config.latency_for("other"), Duration::from_millis(5));
        assert_eq!(config.faults_for("calm"), FaultRates::NONE);
        assert!(config.faults_for("other").total() > 0.0);
        assert_eq!(config.fail_first_for("flaky"), 2);
        assert_eq!(config.fail_first_for("other"), 0);
    }

    #[test]
    fn presets_reject_defective_records() {
        for config in [
            MockConfig::none(),
            MockConfig::realistic(),
            MockConfig::harsh(),
        ] {
            assert_eq!(config.defective_marker.as_deref(), Some("defective"));
        }
    }
}
