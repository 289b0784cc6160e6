//! Provider settings on the control table, one item per provider (pk `provider#<id>`,
//! sk `settings`), stored as the settings' JSON so operators can change them without a
//! redeploy; and control documents (pk `control#<key>`, sk `control`).

use crate::backend::Aws;
use crate::error::{corrupt, sdk};
use crate::item::{req_s, s, Item};
use pacer_core::ports::ProviderDirectory;
use pacer_core::provider::ProviderSettings;
use pacer_core::{PortError, ProviderId};
use std::collections::HashMap;

const SETTINGS: &str = "settings";

fn key(id: &ProviderId) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("provider#{id}"))),
        ("sk".to_owned(), s(SETTINGS)),
    ])
}

/// Control documents (the schedule switch, the window's plan): pk `control#<key>`.
const VALUE: &str = "value";

fn control_key(key: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("control#{key}"))),
        ("sk".to_owned(), s("control")),
    ])
}

fn decode(item: &Item, op: &'static str) -> Result<ProviderSettings, PortError> {
    let text = req_s(item, SETTINGS, op)?;
    serde_json::from_str(text).map_err(|e| corrupt(op, format!("provider settings: {e}")))
}

#[async_trait::async_trait]
impl ProviderDirectory for Aws {
    async fn put_provider(&self, settings: &ProviderSettings) -> Result<(), PortError> {
        let op = "put provider";
        let inner = &self.inner;
        let text =
            serde_json::to_string(settings).map_err(|e| corrupt(op, format!("settings: {e}")))?;
        let mut item = key(&settings.id);
        item.insert("provider".into(), s(settings.id.as_str()));
        item.insert(SETTINGS.into(), s(text));
        inner
            .dynamo
            .put_item()
            .table_name(&inner.resources.control_table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk(op, e))?;
        Ok(())
    }

    /// The worker reads a provider's settings once per provider batch, so the read is
    /// eventually consistent (half a read unit): a settings change reaches workers
    /// within about a second either way. A miss is read again consistently, so a
    /// provider configured a moment ago is never taken for unconfigured.
    async fn get_provider(&self, id: &ProviderId) -> Result<Option<ProviderSettings>, PortError> {
        let op = "get provider";
        let inner = &self.inner;
        for consistent in [false, true] {
            let answer = inner
                .dynamo
                .get_item()
                .table_name(&inner.resources.control_table)
                .set_key(Some(key(id)))
                .consistent_read(consistent)
                .send()
                .await
                .map_err(|e| sdk(op, e))?;
            if let Some(item) = answer.item {
                return decode(&item, op).map(Some);
            }
        }
        Ok(None)
    }

    async fn list_providers(&self) -> Result<Vec<ProviderSettings>, PortError> {
        let op = "list providers";
        let inner = &self.inner;
        // The control table holds a few items per provider: a filtered scan is cheap.
        let items: Vec<Item> = inner
            .dynamo
            .scan()
            .table_name(&inner.resources.control_table)
            .filter_expression("#sk = :settings")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":settings", s(SETTINGS))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk(op, e))?;
        let mut out = items
            .iter()
            .map(|i| decode(i, op))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn put_control(&self, key: &str, value: &serde_json::Value) -> Result<(), PortError> {
        let inner = &self.inner;
        let mut item = control_key(key);
        item.insert(VALUE.into(), s(value.to_string()));
        inner
            .dynamo
            .put_item()
            .table_name(&inner.resources.control_table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk("put control", e))?;
        Ok(())
    }

    async fn get_control(&self, key: &str) -> Result<Option<serde_json::Value>, PortError> {
        let op = "get control";
        let inner = &self.inner;
        let answer = inner
            .dynamo
            .get_item()
            .table_name(&inner.resources.control_table)
            .set_key(Some(control_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk(op, e))?;
        answer
            .item
            .map(|i| {
                let text = req_s(&i, VALUE, op)?;
                serde_json::from_str(text)
                    .map_err(|e| corrupt(op, format!("control document {key}: {e}")))
            })
            .transpose()
    }
}
