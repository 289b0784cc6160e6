//! What the mock API saw: one [`CallObservation`] per finished call, plus the
//! overlap counts, and the questions tests ask of them.
//!
//! Plain data, snapshot at the time of [`MockApi::observations`](super::MockApi::observations).

use std::collections::{BTreeMap, HashMap};

/// One call as seen by the mock API, recorded when the call ends (answered,
/// reset on purpose, or abandoned by the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallObservation {
    /// The provider named in the path (`/p/{provider}/...`).
    pub provider: String,
    /// The `Idempotency-Key` header, if present and valid UTF-8.
    pub record_id: Option<String>,
    /// The `Pacer-Fencing-Token` header, if present and a `u64`.
    pub fencing_token: Option<u64>,
    /// Microseconds from the server's start to the call's arrival.
    pub started_at: u64,
    /// Microseconds from the server's start to the call's end.
    pub finished_at: u64,
    /// The status answered; `None` when the connection was reset on purpose or the
    /// client went away before the answer (e.g. it timed out).
    pub status: Option<u16>,
    /// Whether another call to the same provider was open at the same time.
    /// The later of two overlapping calls is always marked; the earlier one is
    /// marked when the later one entered before it finished.
    pub overlapped: bool,
}

impl CallObservation {
    /// How long the call was open, in microseconds.
    pub fn busy_micros(&self) -> u64 {
        self.finished_at.saturating_sub(self.started_at)
    }
}

/// A snapshot of everything the mock API observed since it started (or since
/// the last [`MockApi::reset_observations`](super::MockApi::reset_observations)).
///
/// `calls` holds finished calls only; the per-provider counts also include calls
/// still in flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observations {
    /// Finished calls, in the order they finished.
    pub calls: Vec<CallObservation>,
    /// Overlaps per provider seen.
    pub overlaps_by_provider: BTreeMap<String, u64>,
    /// Sum of `overlaps_by_provider`.
    pub total_overlaps: u64,
    /// Calls received per provider seen.
    pub calls_by_provider: BTreeMap<String, u64>,
}

impl Observations {
    /// Total overlaps: calls that arrived while another call to the same provider
    /// was open. pacer's invariant is that this stays 0.
    pub fn overlaps(&self) -> u64 {
        self.total_overlaps
    }

    /// How many finished calls carried `record_id` as their idempotency key.
    pub fn calls_for(&self, record_id: &str) -> usize {
        self.calls
            .iter()
            .filter(|call| call.record_id.as_deref() == Some(record_id))
            .count()
    }

    /// Per provider, the total time its calls were open, in microseconds.
    pub fn busy_micros_by_provider(&self) -> BTreeMap<String, u64> {
        let mut busy = BTreeMap::new();
        for call in &self.calls {
            *busy.entry(call.provider.clone()).or_insert(0) += call.busy_micros();
        }
        busy
    }

    /// Calls whose fencing token is lower than one already seen on the same
    /// provider in an earlier-started call: each is a call made by a stale lease
    /// holder. Calls without a token are ignored.
    pub fn max_fencing_token_regressions(&self) -> u64 {
        let mut ordered: Vec<&CallObservation> = self
            .calls
            .iter()
            .filter(|call| call.fencing_token.is_some())
            .collect();
        ordered.sort_by_key(|call| call.started_at);
        let mut highest: HashMap<&str, u64> = HashMap::new();
        let mut regressions = 0;
        for call in ordered {
            let Some(token) = call.fencing_token else {
                continue;
            };
            let seen = highest.entry(call.provider.as_str()).or_insert(token);
            if token < *seen {
                regressions += 1;
            } else {
                *seen = token;
            }
        }
        regressions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(provider: &str, token: Option<u64>, started_at: u64) -> CallObservation {
        CallObservation {
            provider: provider.to_owned(),
            record_id: Some(format!("r{started_at}")),
            fencing_token: token,
            started_at,
            finished_at: started_at + 10,
            status: Some(200),
            overlapped: false,
        }
    }

    #[test]
    fn a_lower_token_after_a_higher_one_is_a_regression() {
        let observations = Observations {
            // Finish order differs from start order on purpose.
            calls: vec![
                call("a", Some(3), 30),
                call("a", Some(5), 20),
                call("a", Some(1), 10),
                call("a", None, 40),
                call("b", Some(2), 50),
            ],
            ..Observations::default()
        };
        assert_eq!(observations.max_fencing_token_regressions(), 1);
    }

    #[test]
    fn increasing_tokens_per_provider_are_not_regressions() {
        let observations = Observations {
            calls: vec![
                call("a", Some(5), 10),
                call("b", Some(1), 20),
                call("a", Some(5), 30),
            ],
            ..Observations::default()
        };
        assert_eq!(observations.max_fencing_token_regressions(), 0);
    }

    #[test]
    fn busy_time_sums_per_provider() {
        let observations = Observations {
            calls: vec![call("a", None, 0), call("a", None, 100), call("b", None, 0)],
            ..Observations::default()
        };
        let busy = observations.busy_micros_by_provider();
        assert_eq!(busy["a"], 20);
        assert_eq!(busy["b"], 10);
        assert_eq!(observations.calls_for("r100"), 1);
    }
}
