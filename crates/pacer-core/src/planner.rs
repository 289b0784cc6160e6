//! The window planner: when each provider's records become due.
//!
//! Provider P with `n` records, minimum interval `d`, expected call latency `l` and
//! window `W` gets the spacing `max(W/n, d, l)`; all spacings are stretched together
//! when their summed rate would pass the global cap. Each provider starts at an offset
//! inside its first spacing (a stable hash of its name) so providers do not all fire at
//! `:00`. What does not fit the window is counted per provider, with the reason, before
//! the run starts: those records are carried over, not lost.
//!
//! The planner only decides when work becomes *due*; the minimum interval is enforced
//! again at call time by the worker, so retries and replays cannot break it.

use crate::ids::ProviderId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One provider's load for the window.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderLoad {
    /// The provider.
    pub provider: ProviderId,
    /// Records waiting to be planned.
    pub records: u64,
    /// Least time between two calls' starts.
    pub min_interval: Duration,
    /// Typical call duration, when known; calls cannot start faster than they finish.
    pub expected_latency: Option<Duration>,
}

/// What the planner needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    /// When the window opens.
    pub start: Timestamp,
    /// How long it lasts.
    pub window: Duration,
    /// Cap on calls per second across all providers.
    pub global_rate: Option<f64>,
    /// The stretch to apply instead of computing it from `global_rate`: a plan continued
    /// for the providers an earlier run did not reach keeps that run's stretch, which
    /// counted every provider's load.
    pub global_stretch: Option<f64>,
    /// Every provider with records to plan.
    pub providers: Vec<ProviderLoad>,
}

/// What bounded a provider's spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Records are spread evenly over the window; everything fits.
    Window,
    /// The provider's minimum interval.
    MinInterval,
    /// The expected call latency.
    Latency,
    /// The global rate cap.
    GlobalRate,
}

/// One provider's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderPlan {
    /// The provider.
    pub provider: ProviderId,
    /// Records it had.
    pub records: u64,
    /// Time between two due times, in microseconds (sub-millisecond spacings exist at 1 M records).
    pub spacing_us: u64,
    /// Offset of the first due time from the window start, in microseconds.
    pub offset_us: u64,
    /// Records that fit in the window.
    pub fits: u64,
    /// Records carried over to the next window.
    pub carried_over: u64,
    /// What set the spacing.
    pub limited_by: Limit,
    /// When its last planned record is due.
    pub last_due: Option<Timestamp>,
}

impl ProviderPlan {
    /// Due time of the provider's `rank`-th record (0-based) in a window opening at `start`.
    pub fn due_at(&self, start: Timestamp, rank: u64) -> Timestamp {
        let us = self
            .offset_us
            .saturating_add(rank.saturating_mul(self.spacing_us));
        Timestamp::from_millis(start.as_millis().saturating_add((us / 1000) as i64))
    }

    /// The spacing as a duration.
    pub fn spacing(&self) -> Duration {
        Duration::from_micros(self.spacing_us)
    }
}

/// A whole window's plan: the forecast before the run and the input to scheduling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPlan {
    /// Window start.
    pub start: Timestamp,
    /// Window end (exclusive).
    pub end: Timestamp,
    /// Per provider, sorted by provider id.
    pub providers: Vec<ProviderPlan>,
    /// The factor every spacing was stretched by to respect the global cap (1 = none).
    pub global_stretch: f64,
}

impl WindowPlan {
    /// Records that fit.
    pub fn total_fits(&self) -> u64 {
        self.providers.iter().map(|p| p.fits).sum()
    }

    /// Records carried over.
    pub fn total_carried_over(&self) -> u64 {
        self.providers.iter().map(|p| p.carried_over).sum()
    }
}

/// A stable fraction in `[0, 1)` per provider (FNV-1a, mixed), so offsets survive restarts.
fn offset_fraction(provider: &ProviderId) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in provider.as_str().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV alone barely changes the high bits for short names like `p1`, `p2`:
    // finish with splitmix64's mixer so neighbouring names land far apart.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// Plans a window. Pure and O(providers).
pub fn plan_window(input: &PlanInput) -> WindowPlan {
    let window_us = input.window.as_micros().max(1) as f64;
    let mut raw: Vec<(&ProviderLoad, f64, Limit)> = input
        .providers
        .iter()
        .filter(|p| p.records > 0)
        .map(|p| {
            let even = window_us / p.records as f64;
            let d = p.min_interval.as_micros() as f64;
            let l = p.expected_latency.map_or(0.0, |l| l.as_micros() as f64);
            let (spacing, limit) = if even >= d && even >= l {
                (even, Limit::Window)
            } else if d >= l {
                (d, Limit::MinInterval)
            } else {
                (l, Limit::Latency)
            };
            (p, spacing.max(1.0), limit)
        })
        .collect();
    let rate_per_s: f64 = raw.iter().map(|(_, s, _)| 1e6 / s).sum();
    let stretch = match (input.global_stretch, input.global_rate) {
        (Some(given), _) if given >= 1.0 => given,
        (_, Some(cap)) if cap > 0.0 && rate_per_s > cap => rate_per_s / cap,
        _ => 1.0,
    };
    raw.sort_by(|a, b| a.0.provider.cmp(&b.0.provider));
    let providers = raw
        .into_iter()
        .map(|(load, spacing, limit)| {
            let spacing = spacing * stretch;
            let limited_by = if stretch > 1.0 {
                Limit::GlobalRate
            } else {
                limit
            };
            let offset = spacing * offset_fraction(&load.provider);
            let capacity = if offset >= window_us {
                0
            } else {
                ((window_us - offset) / spacing).ceil() as u64
            };
            let fits = capacity.min(load.records);
            let mut plan = ProviderPlan {
                provider: load.provider.clone(),
                records: load.records,
                spacing_us: spacing.round().max(1.0) as u64,
                offset_us: offset as u64,
                fits,
                carried_over: load.records - fits,
                limited_by,
                last_due: None,
            };
            if fits > 0 {
                plan.last_due = Some(plan.due_at(input.start, fits - 1));
            }
            plan
        })
        .collect();
    WindowPlan {
        start: input.start,
        end: input.start.plus(input.window),
        providers,
        global_stretch: stretch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, records: u64, min_ms: u64) -> ProviderLoad {
        ProviderLoad {
            provider: ProviderId::new(name).unwrap(),
            records,
            min_interval: Duration::from_millis(min_ms),
            expected_latency: None,
        }
    }

    fn input(window_s: u64, rate: Option<f64>, providers: Vec<ProviderLoad>) -> PlanInput {
        PlanInput {
            start: Timestamp::from_millis(0),
            window: Duration::from_secs(window_s),
            global_rate: rate,
            global_stretch: None,
            providers,
        }
    }

    #[test]
    fn spreads_records_evenly_over_the_window() {
        let plan = plan_window(&input(100, None, vec![load("a", 10, 0)]));
        let p = &plan.providers[0];
        assert_eq!(p.spacing(), Duration::from_secs(10));
        assert_eq!(
            (p.fits, p.carried_over, p.limited_by),
            (10, 0, Limit::Window)
        );
        assert!(p.last_due.unwrap() < plan.end);
        for rank in 1..10 {
            assert_eq!(
                p.due_at(plan.start, rank).as_millis() - p.due_at(plan.start, rank - 1).as_millis(),
                10_000
            );
        }
    }

    #[test]
    fn minimum_interval_wins_and_the_excess_is_carried_over() {
        let plan = plan_window(&input(100, None, vec![load("a", 1000, 1000)]));
        let p = &plan.providers[0];
        assert_eq!(p.spacing(), Duration::from_secs(1));
        assert_eq!(p.limited_by, Limit::MinInterval);
        assert!((99..=100).contains(&p.fits), "{}", p.fits);
        assert_eq!(p.fits + p.carried_over, 1000);
        assert!(p.last_due.unwrap() < plan.end);
    }

    #[test]
    fn latency_bounds_the_spacing_when_calls_are_slow() {
        let mut l = load("a", 1000, 0);
        l.expected_latency = Some(Duration::from_millis(500));
        let plan = plan_window(&input(100, None, vec![l]));
        assert_eq!(plan.providers[0].limited_by, Limit::Latency);
        assert!(plan.providers[0].carried_over >= 799);
    }

    #[test]
    fn providers_start_at_different_offsets_within_their_first_spacing() {
        let loads = (0..20).map(|i| load(&format!("p{i}"), 10, 0)).collect();
        let plan = plan_window(&input(100, None, loads));
        let mut offsets: Vec<u64> = plan.providers.iter().map(|p| p.offset_us).collect();
        assert!(offsets.iter().all(|o| *o < 10_000_000));
        offsets.sort_unstable();
        offsets.dedup();
        assert!(offsets.len() >= 18, "offsets collide: {offsets:?}");
    }

    #[test]
    fn a_given_stretch_replaces_the_computed_one() {
        // Alone, "b" would fit under the cap unstretched; continued from a plan whose
        // stretch counted "a" too, it keeps that stretch.
        let alone = plan_window(&input(10, Some(15.0), vec![load("b", 100, 0)]));
        assert_eq!(alone.global_stretch, 1.0);
        let both = plan_window(&input(
            10,
            Some(15.0),
            vec![load("a", 100, 0), load("b", 100, 0)],
        ));
        let mut continued = input(10, Some(15.0), vec![load("b", 100, 0)]);
        continued.global_stretch = Some(both.global_stretch);
        let continued = plan_window(&continued);
        assert!(both.global_stretch > 1.0);
        assert_eq!(continued.providers[0], both.providers[1]);
    }

    #[test]
    fn the_global_cap_stretches_every_spacing() {
        // 10 providers × 100 records in 10 s = 100 calls/s; cap at 25/s.
        let loads = (0..10).map(|i| load(&format!("p{i}"), 100, 0)).collect();
        let plan = plan_window(&input(10, Some(25.0), loads));
        assert!((plan.global_stretch - 4.0).abs() < 1e-9);
        let rate: f64 = plan
            .providers
            .iter()
            .map(|p| 1e6 / p.spacing_us as f64)
            .sum();
        assert!(rate <= 25.0 + 1e-6, "{rate}");
        for p in &plan.providers {
            assert_eq!(p.limited_by, Limit::GlobalRate);
            assert!((25..=26).contains(&p.fits), "{}", p.fits);
        }
        assert_eq!(plan.total_fits() + plan.total_carried_over(), 1000);
    }

    #[test]
    fn a_cap_above_demand_changes_nothing() {
        let plan = plan_window(&input(10, Some(1000.0), vec![load("a", 100, 0)]));
        assert_eq!(plan.global_stretch, 1.0);
        assert_eq!(plan.providers[0].fits, 100);
    }

    #[test]
    fn offsets_are_stable_across_runs() {
        let a = plan_window(&input(60, None, vec![load("acme", 7, 0)]));
        let b = plan_window(&input(60, None, vec![load("acme", 7, 0)]));
        assert_eq!(a, b);
    }
}
