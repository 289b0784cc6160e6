//! Provider settings, stored as JSON so operators can change them between runs.

use crate::db::{corrupt, sql_error, Embedded};
use pacer_core::ports::ProviderDirectory;
use pacer_core::provider::ProviderSettings;
use pacer_core::{PortError, ProviderId};
use rusqlite::{params, OptionalExtension};

fn decode(text: &str) -> Result<ProviderSettings, PortError> {
    serde_json::from_str(text).map_err(|e| corrupt("read provider", "provider settings", e))
}

#[async_trait::async_trait]
impl ProviderDirectory for Embedded {
    async fn put_provider(&self, settings: &ProviderSettings) -> Result<(), PortError> {
        let text =
            serde_json::to_string(settings).map_err(|e| corrupt("put provider", "settings", e))?;
        self.shared.write("put provider", |tx| {
            tx.execute(
                "INSERT INTO providers (id, settings) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET settings = ?2",
                params![settings.id.as_str(), text],
            )
            .map_err(|e| sql_error("put provider", e))?;
            Ok(())
        })
    }

    async fn get_provider(&self, id: &ProviderId) -> Result<Option<ProviderSettings>, PortError> {
        let conn = self.shared.conn();
        let text: Option<String> = conn
            .prepare_cached("SELECT settings FROM providers WHERE id = ?1")
            .and_then(|mut s| s.query_row([id.as_str()], |r| r.get(0)).optional())
            .map_err(|e| sql_error("get provider", e))?;
        text.as_deref().map(decode).transpose()
    }

    async fn list_providers(&self) -> Result<Vec<ProviderSettings>, PortError> {
        let conn = self.shared.conn();
        let mut stmt = conn
            .prepare_cached("SELECT settings FROM providers ORDER BY id")
            .map_err(|e| sql_error("list providers", e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| sql_error("list providers", e))?;
        rows.map(|r| decode(&r.map_err(|e| sql_error("list providers", e))?))
            .collect()
    }

    async fn put_control(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError> {
        let text = value.to_string();
        self.shared.write("put control", |tx| {
            tx.execute(
                "INSERT INTO control (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, text],
            )
            .map_err(|e| sql_error("put control", e))?;
            Ok(())
        })
    }

    async fn get_control(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        let conn = self.shared.conn();
        let text: Option<String> = conn
            .prepare_cached("SELECT value FROM control WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(|e| sql_error("get control", e))?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("get control", key, e)))
            .transpose()
    }
}
