//! Per-provider overlap detection: counts calls to the same provider that were
//! open at the same time.
//!
//! This is the invariant pacer promises ("never two concurrent calls to the same
//! provider"), measured from the outside. It is usable without HTTP: tests of the
//! scheduler can wrap their fake calls in [`OverlapDetector::enter`]. It does not
//! record timings or statuses; that is the mock server's job.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Counters of one provider. Shared between the detector and live guards.
#[derive(Debug, Default)]
pub(crate) struct ProviderCounters {
    /// Calls currently open.
    open: AtomicU64,
    /// Calls that entered while another call was open.
    overlaps: AtomicU64,
    /// Calls that entered, ever (since the last reset).
    calls: AtomicU64,
    /// Entries ever, never reset: lets a guard tell whether someone entered after it.
    entries: AtomicU64,
    /// Highest number of simultaneously open calls seen.
    max_concurrency: AtomicU64,
}

impl ProviderCounters {
    /// Opens a call on this provider.
    pub(crate) fn enter(self: &Arc<Self>) -> OverlapGuard {
        // SeqCst throughout: two racing entries must each see the other's increment
        // in one order or the other, and the cost is irrelevant next to a syscall.
        let previous = self.open.fetch_add(1, Ordering::SeqCst);
        let entry = self.entries.fetch_add(1, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.max_concurrency
            .fetch_max(previous + 1, Ordering::SeqCst);
        let overlapped_on_entry = previous >= 1;
        if overlapped_on_entry {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        OverlapGuard {
            counters: Arc::clone(self),
            entry,
            overlapped_on_entry,
        }
    }

    fn reset(&self) {
        self.overlaps.store(0, Ordering::SeqCst);
        self.calls.store(0, Ordering::SeqCst);
        self.max_concurrency
            .store(self.open.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    pub(crate) fn overlaps(&self) -> u64 {
        self.overlaps.load(Ordering::SeqCst)
    }

    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Counts, per provider, calls that were open at the same time as another call
/// to the same provider.
///
/// Cheap to clone (the clones share their counters) and safe to use from many
/// tasks. A call is an *overlap* when, on entry, at least one other call to the
/// same provider was still open; two concurrent calls therefore count one overlap,
/// three count two.
#[derive(Debug, Clone, Default)]
pub struct OverlapDetector {
    providers: Arc<RwLock<HashMap<String, Arc<ProviderCounters>>>>,
}

impl OverlapDetector {
    /// Creates a detector with no providers seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a call to `provider`; the call stays open until the guard is dropped
    /// (also when the future holding it is cancelled).
    pub fn enter(&self, provider: &str) -> OverlapGuard {
        self.counters(provider).enter()
    }

    /// Total overlaps over all providers.
    pub fn overlaps(&self) -> u64 {
        self.read(|map| map.values().map(|c| c.overlaps()).sum())
    }

    /// Overlaps on one provider (0 for a provider never seen).
    pub fn overlaps_for(&self, provider: &str) -> u64 {
        self.read(|map| map.get(provider).map_or(0, |c| c.overlaps()))
    }

    /// Overlaps per provider, for every provider seen (zeros included).
    pub fn overlaps_by_provider(&self) -> BTreeMap<String, u64> {
        self.read(|map| {
            map.iter()
                .map(|(name, c)| (name.clone(), c.overlaps()))
                .collect()
        })
    }

    /// Calls entered per provider, for every provider seen.
    pub fn calls_by_provider(&self) -> BTreeMap<String, u64> {
        self.read(|map| {
            map.iter()
                .map(|(name, c)| (name.clone(), c.calls()))
                .collect()
        })
    }

    /// The highest number of calls to `provider` that were open at once
    /// (0 if never called, 1 if never overlapped).
    pub fn max_concurrency(&self, provider: &str) -> u64 {
        self.read(|map| {
            map.get(provider)
                .map_or(0, |c| c.max_concurrency.load(Ordering::SeqCst))
        })
    }

    /// Calls to `provider` open right now.
    pub fn open_calls(&self, provider: &str) -> u64 {
        self.read(|map| {
            map.get(provider)
                .map_or(0, |c| c.open.load(Ordering::SeqCst))
        })
    }

    /// Zeroes the overlap, call and max-concurrency counts. Calls still open stay
    /// open (and are counted in the new maximum).
    pub fn reset(&self) {
        self.read(|map| map.values().for_each(|c| c.reset()));
    }

    /// The counters of `provider`, created on first sight. The mock server keeps
    /// the returned `Arc` so its per-call path skips the map.
    pub(crate) fn counters(&self, provider: &str) -> Arc<ProviderCounters> {
        if let Some(found) = self.read(|map| map.get(provider).map(Arc::clone)) {
            return found;
        }
        // A poisoned lock only means another thread panicked mid-insert; the map
        // itself is still consistent, so carry on with it.
        let mut map = self
            .providers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(provider.to_owned()).or_default())
    }

    fn read<T>(&self, f: impl FnOnce(&HashMap<String, Arc<ProviderCounters>>) -> T) -> T {
        let map = self
            .providers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f(&map)
    }
}

/// An open call. Dropping it closes the call.
#[derive(Debug)]
#[must_use = "the call is closed as soon as the guard is dropped"]
pub struct OverlapGuard {
    counters: Arc<ProviderCounters>,
    entry: u64,
    overlapped_on_entry: bool,
}

impl OverlapGuard {
    /// Whether this call has so far been open at the same time as another call to
    /// the same provider: either one was open when it entered, or one entered
    /// while it is open.
    pub fn overlapped(&self) -> bool {
        self.overlapped_on_entry || self.counters.entries.load(Ordering::SeqCst) > self.entry + 1
    }
}

impl Drop for OverlapGuard {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_calls_count_no_overlap() {
        let detector = OverlapDetector::new();
        for _ in 0..100 {
            let guard = detector.enter("alpha");
            assert!(!guard.overlapped());
        }
        assert_eq!(detector.overlaps(), 0);
        assert_eq!(detector.max_concurrency("alpha"), 1);
        assert_eq!(detector.calls_by_provider()["alpha"], 100);
    }

    #[test]
    fn concurrent_calls_to_one_provider_count_one_overlap_per_extra_call() {
        let detector = OverlapDetector::new();
        let first = detector.enter("alpha");
        assert!(!first.overlapped());
        let second = detector.enter("alpha");
        let third = detector.enter("alpha");
        assert!(
            first.overlapped(),
            "a call entering later marks the open one too"
        );
        assert!(second.overlapped() && third.overlapped());
        assert_eq!(detector.overlaps_for("alpha"), 2);
        assert_eq!(detector.max_concurrency("alpha"), 3);
        drop((first, second, third));
        assert_eq!(detector.open_calls("alpha"), 0);
    }

    #[test]
    fn concurrent_calls_to_different_providers_do_not_overlap() {
        let detector = OverlapDetector::new();
        let _a = detector.enter("alpha");
        let _b = detector.enter("beta");
        assert_eq!(detector.overlaps(), 0);
        assert_eq!(detector.overlaps_by_provider().get("beta"), Some(&0));
    }

    #[tokio::test]
    async fn cancelled_call_still_closes() {
        let detector = OverlapDetector::new();
        let inner = detector.clone();
        let task = tokio::spawn(async move {
            let _guard = inner.enter("alpha");
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        while detector.open_calls("alpha") == 0 {
            tokio::task::yield_now().await;
        }
        task.abort();
        let _ = task.await;
        assert_eq!(detector.open_calls("alpha"), 0);
        let _next = detector.enter("alpha");
        assert_eq!(detector.overlaps(), 0);
    }

    #[test]
    fn reset_zeroes_counts() {
        let detector = OverlapDetector::new();
        let _a = detector.enter("alpha");
        let _b = detector.enter("alpha");
        detector.reset();
        assert_eq!(detector.overlaps(), 0);
        assert_eq!(detector.max_concurrency("alpha"), 2, "two are still open");
    }
}
