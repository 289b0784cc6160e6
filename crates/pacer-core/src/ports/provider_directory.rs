//! Provider settings, read by the worker and the planner, written by operators; and the
//! few control documents the runtime shares with operators (the schedule switch, the
//! current window's plan).

use crate::error::PortError;
use crate::ids::ProviderId;
use crate::provider::ProviderSettings;
use async_trait::async_trait;
use std::sync::Arc;

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

/// Settings for every provider that has none of its own, when one internal API serves
/// them all: a record's path is appended to `base_url`, and `max_attempts` calls are
/// made before a record is dead-lettered. Other settings are the built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDefaults {
    /// The internal API's base URL (`http://` or `https://`).
    pub base_url: String,
    /// Calls per record before it is dead-lettered.
    pub max_attempts: u32,
}

impl ProviderDefaults {
    /// The settings a provider without its own gets.
    pub fn settings_for(&self, id: &ProviderId) -> ProviderSettings {
        let mut settings = ProviderSettings::with_defaults(id.clone(), self.base_url.clone());
        settings.max_attempts = self.max_attempts;
        settings
    }
}

/// A directory that answers [`ProviderDirectory::get_provider`] with the
/// [`ProviderDefaults`] for a provider it does not hold, so records for any provider are
/// accepted and called. `list_providers` still lists only the configured ones, and
/// `put_provider` stores a provider's own settings, which then win.
pub struct WithDefaults {
    inner: Arc<dyn ProviderDirectory>,
    defaults: ProviderDefaults,
}

impl WithDefaults {
    /// `inner`, answering unknown providers with `defaults`.
    pub fn new(inner: Arc<dyn ProviderDirectory>, defaults: ProviderDefaults) -> Self {
        Self { inner, defaults }
    }
}

#[async_trait]
impl ProviderDirectory for WithDefaults {
    async fn put_provider(&self, settings: &ProviderSettings) -> Result<(), PortError> {
        self.inner.put_provider(settings).await
    }

    async fn get_provider(&self, id: &ProviderId) -> Result<Option<ProviderSettings>, PortError> {
        Ok(Some(match self.inner.get_provider(id).await? {
            Some(own) => own,
            None => self.defaults.settings_for(id),
        }))
    }

    async fn list_providers(&self) -> Result<Vec<ProviderSettings>, PortError> {
        self.inner.list_providers().await
    }

    async fn put_control(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError> {
        self.inner.put_control(key, value).await
    }

    async fn get_control(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        self.inner.get_control(key).await
    }
}
