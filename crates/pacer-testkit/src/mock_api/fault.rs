//! The fault decision for one call: a pure function of the configuration, the
//! provider's state, the record id and its attempt number.
//!
//! Randomness is a cheap hash of (seed, record id, attempt), not a shared RNG: the
//! same run of a record's attempts gets the same faults whatever the interleaving
//! of other calls, and the per-call path takes no lock for it.

use super::config::FaultRates;

/// What the mock answers to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 200 with the echo body.
    Success,
    /// 503: the provider is down.
    Down,
    /// 422: the record is marked defective.
    Defective,
    /// 503: one of the record's first N attempts.
    FailFirst,
    /// Wait `hang`, then 504.
    Timeout,
    /// Drop the connection without answering.
    Reset,
    /// 429 with `Retry-After`.
    RateLimited,
    /// 500, 502 or 503.
    ServerError(u16),
}

/// Everything the decision depends on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallFacts<'a> {
    pub(crate) down: bool,
    pub(crate) record_id: Option<&'a str>,
    pub(crate) defective_marker: Option<&'a str>,
    /// 1 for the record's first call to this provider.
    pub(crate) attempt: u32,
    pub(crate) fail_first: u32,
    pub(crate) rates: FaultRates,
    pub(crate) seed: u64,
}

/// Decides the outcome. Precedence: down, defective, fail-first, random faults.
pub(crate) fn decide(facts: &CallFacts<'_>) -> Outcome {
    if facts.down {
        return Outcome::Down;
    }
    if let (Some(record), Some(marker)) = (facts.record_id, facts.defective_marker) {
        if record.contains(marker) {
            return Outcome::Defective;
        }
    }
    if facts.attempt <= facts.fail_first {
        return Outcome::FailFirst;
    }
    let draw = mix(
        facts.seed ^ record_hash(facts.record_id.unwrap_or("")),
        facts.attempt,
    );
    let mut threshold = 0.0;
    let point = unit_interval(draw);
    let rates = facts.rates;
    for (rate, outcome) in [
        (rates.timeout, Outcome::Timeout),
        (rates.reset, Outcome::Reset),
        (rates.rate_limited, Outcome::RateLimited),
    ] {
        threshold += rate;
        if point < threshold {
            return outcome;
        }
    }
    threshold += rates.server_error;
    if point < threshold {
        // An independent draw from the low bits picks the status.
        let status = match mix(draw, 0x5e) % 3 {
            0 => 500,
            1 => 502,
            _ => 503,
        };
        return Outcome::ServerError(status);
    }
    Outcome::Success
}

/// FNV-1a over the record id: stable across runs and Rust versions, unlike
/// `DefaultHasher`.
pub(crate) fn record_hash(record: &str) -> u64 {
    record.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64 finaliser of `base` combined with `salt`.
fn mix(base: u64, salt: u32) -> u64 {
    let mut z = base.wrapping_add(u64::from(salt).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Maps the top 53 bits to `[0, 1)`.
fn unit_interval(bits: u64) -> f64 {
    // 53 bits fit an f64 mantissa exactly, so the conversion is lossless.
    let value = (bits >> 11) as f64;
    value / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(record: &str, attempt: u32, rates: FaultRates) -> CallFacts<'_> {
        CallFacts {
            down: false,
            record_id: Some(record),
            defective_marker: Some("defective"),
            attempt,
            fail_first: 0,
            rates,
            seed: 7,
        }
    }

    #[test]
    fn down_wins_over_everything() {
        let mut f = facts("r-defective", 1, FaultRates::NONE);
        f.down = true;
        assert_eq!(decide(&f), Outcome::Down);
    }

    #[test]
    fn defective_records_fail_on_every_attempt() {
        for attempt in 1..50 {
            assert_eq!(
                decide(&facts("x-defective-1", attempt, FaultRates::NONE)),
                Outcome::Defective
            );
        }
    }

    #[test]
    fn fail_first_covers_exactly_the_first_attempts() {
        let mut f = facts("r1", 1, FaultRates::NONE);
        f.fail_first = 2;
        let outcomes: Vec<_> = (1..=3)
            .map(|attempt| decide(&CallFacts { attempt, ..f }))
            .collect();
        assert_eq!(
            outcomes,
            [Outcome::FailFirst, Outcome::FailFirst, Outcome::Success]
        );
    }

    #[test]
    fn random_faults_follow_the_rates_and_the_seed() {
        let rates = FaultRates {
            timeout: 0.1,
            reset: 0.1,
            rate_limited: 0.1,
            server_error: 0.2,
        };
        let ids: Vec<String> = (0..20_000).map(|i| format!("rec-{i}")).collect();
        let outcomes: Vec<Outcome> = ids.iter().map(|id| decide(&facts(id, 1, rates))).collect();
        let share = |pred: fn(&Outcome) -> bool| {
            outcomes.iter().filter(|o| pred(o)).count() as f64 / outcomes.len() as f64
        };
        assert!((share(|o| *o == Outcome::Timeout) - 0.1).abs() < 0.02);
        assert!((share(|o| *o == Outcome::Reset) - 0.1).abs() < 0.02);
        assert!((share(|o| *o == Outcome::RateLimited) - 0.1).abs() < 0.02);
        assert!((share(|o| matches!(o, Outcome::ServerError(_))) - 0.2).abs() < 0.02);
        for status in [500, 502, 503] {
            assert!(outcomes.contains(&Outcome::ServerError(status)));
        }
        let again: Vec<Outcome> = ids.iter().map(|id| decide(&facts(id, 1, rates))).collect();
        assert_eq!(outcomes, again, "same seed, same faults");
    }

    #[test]
    fn a_record_is_not_doomed_on_retry() {
        let rates = FaultRates {
            server_error: 0.5,
            ..FaultRates::NONE
        };
        let succeeded =
            (1..=20).any(|attempt| decide(&facts("rec-1", attempt, rates)) == Outcome::Success);
        assert!(succeeded);
    }
}
