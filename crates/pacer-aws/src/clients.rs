//! Consumer applications on DynamoDB: the clients table (pk `pk`) holds one item per
//! application (`app#<name>`: token hash, created, revoked) and one per token hash
//! (`token#<sha256>` → app), so authenticating a request is two strongly consistent key
//! lookups and no index (an index would be eventually consistent: a fresh token could
//! fail and a replaced one still pass for a moment).
//!
//! Registration writes both items, and deletes the replaced token's item, in one
//! transaction conditional on the application being unknown or revoked.

use crate::backend::Aws;
use crate::dynamo::{cancellation_codes, condition_failed, condition_held, transact};
use crate::error::{build, corrupt, sdk};
use crate::item::{n, names, opt_n, req_n, req_s, s, values, Item};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use pacer_core::ports::{AppName, Client, ClientDirectory, Registration, TokenHash};
use pacer_core::{PortError, Timestamp};

const PK: &str = "pk";

fn app_key(app: &AppName) -> String {
    format!("app#{app}")
}

fn token_key(hash: &TokenHash) -> String {
    format!("token#{}", hash.as_str())
}

fn read_client(item: &Item, op: &'static str) -> Result<Client, PortError> {
    let name = req_s(item, "app", op)?;
    let hash = req_s(item, "token_hash", op)?;
    Ok(Client {
        app: AppName::new(name).map_err(|e| corrupt(op, format!("app {name:?}: {e}")))?,
        token_hash: TokenHash::from_hex(hash)
            .ok_or_else(|| corrupt(op, format!("token hash of {name} is not 64 hex digits")))?,
        created_at: Timestamp::from_millis(req_n(item, "created_at", op)?),
        revoked_at: opt_n(item, "revoked_at", op)?.map(Timestamp::from_millis),
    })
}

impl Aws {
    fn clients_table(&self, op: &'static str) -> Result<&str, PortError> {
        Ok(&self.api_resources(op)?.clients_table)
    }

    async fn client_item(&self, key: String, op: &'static str) -> Result<Option<Item>, PortError> {
        let answer = self
            .inner
            .dynamo
            .get_item()
            .table_name(self.clients_table(op)?)
            .key(PK, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk(op, e))?;
        Ok(answer.item)
    }
}

#[async_trait::async_trait]
impl ClientDirectory for Aws {
    async fn register(
        &self,
        app: &AppName,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Registration, PortError> {
        const OP: &str = "register client";
        let table = self.clients_table(OP)?;
        let old = match self.get(app).await? {
            Some(c) if c.revoked_at.is_none() => return Ok(Registration::AlreadyActive),
            Some(c) => Some(c.token_hash),
            None => None,
        };
        let client = Put::builder()
            .table_name(table)
            .item(PK, s(app_key(app)))
            .item("app", s(app.as_str()))
            .item("token_hash", s(token_hash.as_str()))
            .item("created_at", n(now.as_millis()))
            // Unknown, or still revoked as read: a concurrent registration wins.
            .condition_expression("attribute_not_exists(#pk) OR attribute_exists(#revoked)")
            .set_expression_attribute_names(Some(names([("#pk", PK), ("#revoked", "revoked_at")])))
            .build()
            .map_err(|e| build(OP, e))?;
        let token = Put::builder()
            .table_name(table)
            .item(PK, s(token_key(token_hash)))
            .item("app", s(app.as_str()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| build(OP, e))?;
        let mut items = vec![TransactWriteItem::builder().put(client).build()];
        // Re-registering with the token it had keeps its token item.
        if old.as_ref() != Some(token_hash) {
            items.push(TransactWriteItem::builder().put(token).build());
        }
        if let Some(old) = old.filter(|h| h != token_hash) {
            let delete = Delete::builder()
                .table_name(table)
                .key(PK, s(token_key(&old)))
                .build()
                .map_err(|e| build(OP, e))?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        match transact(&self.inner.dynamo, items).await {
            Ok(()) => Ok(Registration::Registered),
            Err(e) => {
                let codes = cancellation_codes(e, OP)?;
                if condition_failed(&codes, 0) {
                    return Ok(Registration::AlreadyActive);
                }
                Err(corrupt(
                    OP,
                    format!("the token hash of {app} is already registered; issue another token"),
                ))
            }
        }
    }

    async fn get(&self, app: &AppName) -> Result<Option<Client>, PortError> {
        const OP: &str = "get client";
        self.client_item(app_key(app), OP)
            .await?
            .map(|i| read_client(&i, OP))
            .transpose()
    }

    async fn find_by_token(&self, hash: &TokenHash) -> Result<Option<Client>, PortError> {
        const OP: &str = "find client by token";
        let Some(token) = self.client_item(token_key(hash), OP).await? else {
            return Ok(None);
        };
        let name = req_s(&token, "app", OP)?;
        let app = AppName::new(name).map_err(|e| corrupt(OP, format!("app {name:?}: {e}")))?;
        // The application's own item is the truth: a token item left behind by a
        // re-registration that failed half-way finds nothing.
        Ok(self.get(&app).await?.filter(|c| &c.token_hash == hash))
    }

    async fn list(&self) -> Result<Vec<Client>, PortError> {
        const OP: &str = "list clients";
        let items: Vec<Item> = self
            .inner
            .dynamo
            .scan()
            .table_name(self.clients_table(OP)?)
            .filter_expression("begins_with(#pk, :app)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":app", s("app#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk(OP, e))?;
        let mut clients = items
            .iter()
            .map(|i| read_client(i, OP))
            .collect::<Result<Vec<_>, _>>()?;
        clients.sort_by(|a, b| a.app.cmp(&b.app));
        Ok(clients)
    }

    async fn revoke(&self, app: &AppName, now: Timestamp) -> Result<bool, PortError> {
        const OP: &str = "revoke client";
        let answer = self
            .inner
            .dynamo
            .update_item()
            .table_name(self.clients_table(OP)?)
            .key(PK, s(app_key(app)))
            .update_expression("SET #revoked = :now")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#revoked)")
            .set_expression_attribute_names(Some(names([("#pk", PK), ("#revoked", "revoked_at")])))
            .set_expression_attribute_values(Some(values([(":now", n(now.as_millis()))])))
            .send()
            .await;
        condition_held(answer, OP)
    }
}
