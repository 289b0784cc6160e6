//! Consumer applications of the HTTP API and their token hashes.

use crate::db::{corrupt, sql_error, Embedded};
use pacer_core::ports::{AppName, Client, ClientDirectory, Registration, TokenHash};
use pacer_core::{PortError, Timestamp};
use rusqlite::{params, OptionalExtension, Row};

const COLUMNS: &str = "app, token_hash, created_at, revoked_at";

fn read_client(row: &Row<'_>) -> rusqlite::Result<Result<Client, PortError>> {
    let app: String = row.get(0)?;
    let hash: String = row.get(1)?;
    let created_at: i64 = row.get(2)?;
    let revoked_at: Option<i64> = row.get(3)?;
    const OP: &str = "read client";
    Ok((|| {
        Ok(Client {
            app: AppName::new(app.clone()).map_err(|e| corrupt(OP, &format!("app {app:?}"), e))?,
            token_hash: TokenHash::from_hex(&hash)
                .ok_or_else(|| corrupt(OP, &format!("token hash of {app}"), "not 64 hex digits"))?,
            created_at: Timestamp::from_millis(created_at),
            revoked_at: revoked_at.map(Timestamp::from_millis),
        })
    })())
}

impl Embedded {
    fn client_where(
        &self,
        op: &'static str,
        condition: &str,
        key: &str,
    ) -> Result<Option<Client>, PortError> {
        let conn = self.shared.conn();
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE {condition} = ?1");
        conn.query_row(&sql, [key], read_client)
            .optional()
            .map_err(|e| sql_error(op, e))?
            .transpose()
    }
}

#[async_trait::async_trait]
impl ClientDirectory for Embedded {
    async fn register(
        &self,
        app: &AppName,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Registration, PortError> {
        const OP: &str = "register client";
        self.shared.write(OP, |tx| {
            let e = |err| sql_error(OP, err);
            // Inserts a new app, or re-activates a revoked one; an active one is untouched.
            let changed = tx
                .execute(
                    "INSERT INTO clients (app, token_hash, created_at, revoked_at) VALUES (?1, ?2, ?3, NULL)
                     ON CONFLICT (app) DO UPDATE SET token_hash = excluded.token_hash,
                         created_at = excluded.created_at, revoked_at = NULL
                     WHERE clients.revoked_at IS NOT NULL",
                    params![app.as_str(), token_hash.as_str(), now.as_millis()],
                )
                .map_err(e)?;
            Ok(if changed == 1 {
                Registration::Registered
            } else {
                Registration::AlreadyActive
            })
        })
    }

    async fn get(&self, app: &AppName) -> Result<Option<Client>, PortError> {
        self.client_where("get client", "app", app.as_str())
    }

    async fn find_by_token(&self, hash: &TokenHash) -> Result<Option<Client>, PortError> {
        self.client_where("find client by token", "token_hash", hash.as_str())
    }

    async fn list(&self) -> Result<Vec<Client>, PortError> {
        const OP: &str = "list clients";
        let conn = self.shared.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM clients ORDER BY app"))
            .map_err(|e| sql_error(OP, e))?;
        let rows = stmt
            .query_map([], read_client)
            .map_err(|e| sql_error(OP, e))?;
        rows.map(|r| r.map_err(|e| sql_error(OP, e))?).collect()
    }

    async fn revoke(&self, app: &AppName, now: Timestamp) -> Result<bool, PortError> {
        const OP: &str = "revoke client";
        self.shared.write(OP, |tx| {
            let changed = tx
                .execute(
                    "UPDATE clients SET revoked_at = ?2 WHERE app = ?1 AND revoked_at IS NULL",
                    params![app.as_str(), now.as_millis()],
                )
                .map_err(|e| sql_error(OP, e))?;
            Ok(changed == 1)
        })
    }
}
