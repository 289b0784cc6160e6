//! A clock tests move by hand.
//!
//! [`ManualClock`] implements [`pacer_core::Clock`] without looking at the system clock:
//! time stands still until a test calls [`ManualClock::advance`] or [`ManualClock::set`],
//! so visibility timeouts, lease expiry and deduplication windows are crossed in
//! microseconds instead of minutes. It is not a tokio timer: code that waits with
//! `tokio::time` (a queue's long poll, for instance) still waits in real time.

use async_trait::async_trait;
use pacer_core::{Clock, Timestamp};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A [`Clock`] whose time only moves when told to.
///
/// Cheap to read and share (`Arc<ManualClock>`): the time is one atomic integer of
/// milliseconds.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// Where [`ManualClock::default`] starts: 2026-01-01T00:00:00Z, a realistic
    /// time far from the epoch so "zero" never passes for a real timestamp.
    pub const DEFAULT_START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    /// A clock reading `start` until it is moved.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now_ms: AtomicI64::new(start.as_millis()),
        }
    }

    /// The current time (the same as [`Clock::now`], without importing the trait).
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now_ms.load(Ordering::SeqCst))
    }

    /// Moves the clock forward by `d` (saturating).
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        // fetch_update cannot fail here: the closure always returns Some.
        let _ = self
            .now_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(ms))
            });
    }

    /// Sets the time to `t`. Setting it backwards breaks [`Clock`]'s promise that `now`
    /// never goes backwards; do that only before the code under test has read the clock.
    pub fn set(&self, t: Timestamp) {
        self.now_ms.store(t.as_millis(), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(Self::DEFAULT_START)
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        ManualClock::now(self)
    }

    /// Does not wait: advances this clock by `d` and yields to the scheduler once, so
    /// other tasks run as they would while a real sleep was pending. With several tasks
    /// sleeping at once, each one's sleep moves the shared clock, so time passes at
    /// least as fast as any of them asked — never slower, which keeps the
    /// "returns after at least `d`" promise.
    async fn sleep(&self, d: Duration) {
        self.advance(d);
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn time_moves_only_when_told_to() {
        let clock = ManualClock::new(Timestamp::from_millis(1_000));
        assert_eq!(clock.now(), Timestamp::from_millis(1_000));
        clock.advance(Duration::from_millis(250));
        assert_eq!(clock.now(), Timestamp::from_millis(1_250));
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), Timestamp::from_millis(3_601_250));
        clock.set(Timestamp::from_millis(5));
        assert_eq!(clock.now(), Timestamp::from_millis(5));
        assert_eq!(ManualClock::default().now(), ManualClock::DEFAULT_START);
    }
}
