//! Provider settings, read by the worker and the planner, written by operators; and the
//! few control documents the runtime shares with operators (the schedule switch, the
//! current window's plan).

use crate::error::PortError;
use crate::ids::ProviderId;
use crate::provider::ProviderSettings;
use async_trait::async_trait;

/// Stores provider settings so they change without a redeploy.
///
/// Contract: `put` replaces the provider's settings whole (last writer wins) and is
/// visible to every later `get`, at once on a strongly consistent store or within its
/// replication delay (about a second on DynamoDB, whose `get` reads eventually
/// consistently because workers read settings for every provider batch); a provider that
/// was put is never reported missing. `list` is sorted by provider id. Control documents work
/// the same way, by key.
#[async_trait]
pub trait ProviderDirectory: Send + Sync {
    /// Creates or replaces one provider's settings.
    async fn put_provider(&self, settings: &ProviderSettings) -> Result<(), PortError>;
    /// One provider's settings, if configured.
    async fn get_provider(&self, id: &ProviderId) -> Result<Option<ProviderSettings>, PortError>;
    /// Every configured provider.
    async fn list_providers(&self) -> Result<Vec<ProviderSettings>, PortError>;
    /// Creates or replaces a control document.
    async fn put_control(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError>;
    /// A control document, if set.
    async fn get_control(&self, key: &str) -> Result<Option<serde_json::Value>, PortError>;
}
