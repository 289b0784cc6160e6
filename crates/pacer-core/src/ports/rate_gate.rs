//! The global call-rate cap, enforced at call time.

use async_trait::async_trait;

/// Admits calls at no more than the configured global rate.
///
/// Contract: `wait_turn` returns when one more call may start without the rate across
/// every caller sharing this gate passing its cap. It never fails; it may wait.
#[async_trait]
pub trait RateGate: Send + Sync {
    /// Waits for a slot.
    async fn wait_turn(&self);
}

/// No global cap.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

#[async_trait]
impl RateGate for Unlimited {
    async fn wait_turn(&self) {}
}
