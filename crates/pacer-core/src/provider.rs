//! Provider settings: where a provider's calls go and how they are paced and retried.

use crate::breaker::BreakerPolicy;
use crate::ids::ProviderId;
use crate::retry::RetryPolicy;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Everything pacer needs to call one provider. Stored by the backend so operators can
/// change it without a redeploy; durations are written in humantime form (`"500ms"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSettings {
    /// The provider.
    pub id: ProviderId,
    /// Base URL; a record's path is appended to it.
    pub base_url: String,
    /// Per-call HTTP timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Least time between the starts of two calls to this provider.
    #[serde(with = "humantime_serde")]
    pub min_interval: Duration,
    /// HTTP calls allowed per record before it is dead-lettered.
    pub max_attempts: u32,
    /// First durable retry delay (before jitter).
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Cap on durable retry delays.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Consecutive provider-down failures that open the circuit breaker.
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// How long an open breaker waits before a probe call.
    #[serde(default = "default_breaker_cooldown", with = "humantime_serde")]
    pub breaker_cooldown: Duration,
    /// Typical call duration, for forecasts: calls cannot start faster than they finish.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_latency: Option<Duration>,
}

fn default_breaker_failures() -> u32 {
    BreakerPolicy::default().failure_threshold
}

fn default_breaker_cooldown() -> Duration {
    BreakerPolicy::default().cooldown
}

impl ProviderSettings {
    /// Settings with pacer's defaults for everything but the id and URL.
    pub fn with_defaults(id: ProviderId, base_url: impl Into<String>) -> Self {
        Self {
            id,
            base_url: base_url.into(),
            timeout: Duration::from_secs(10),
            min_interval: Duration::ZERO,
            max_attempts: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(15 * 60),
            breaker_failures: default_breaker_failures(),
            breaker_cooldown: default_breaker_cooldown(),
            expected_latency: None,
        }
    }

    /// The retry policy these settings describe.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            backoff_base: self.backoff_base,
            backoff_max: self.backoff_max,
            ..RetryPolicy::default()
        }
    }

    /// The breaker policy for this provider.
    pub fn breaker_policy(&self) -> BreakerPolicy {
        BreakerPolicy {
            failure_threshold: self.breaker_failures.max(1),
            cooldown: self.breaker_cooldown,
        }
    }

    /// The URL for a request path: `base_url` without its trailing `/`, then `path`.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_base_url_and_path_with_one_slash() {
        let p = ProviderSettings::with_defaults(ProviderId::new("a").unwrap(), "http://h/x/");
        assert_eq!(p.url_for("/y"), "http://h/x/y");
    }

    #[test]
    fn durations_serialise_in_humantime_form() {
        let p = ProviderSettings::with_defaults(ProviderId::new("a").unwrap(), "http://h");
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["min_interval"], "0s");
        assert_eq!(json["backoff_max"], "15m");
    }
}
