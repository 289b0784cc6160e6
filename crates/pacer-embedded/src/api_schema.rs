//! Schema additions for the HTTP API: consumer clients, the outcome feed and its
//! per-client positions, webhook deliveries, and records' `callback_url` column.
//!
//! Additive only (new tables, one nullable column), so files written before them open
//! unchanged and older builds still read newer files.

use rusqlite::Connection;

const API_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS clients (
    app TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS clients_by_token ON clients(token_hash);
-- The outcome feed: AUTOINCREMENT so a sequence number is never reused. No unique index
-- on (record_id, attempt): the entry is appended only by the application that stored
-- the attempt (whose primary key refuses a repeat), and such an index cost every final
-- move a write to a page scattered over the key space.
CREATE TABLE IF NOT EXISTS feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_positions (app TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS callbacks (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    url TEXT NOT NULL,
    outcome TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    receipt TEXT,
    reason TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks(due_at) WHERE state = 'pending';
CREATE UNIQUE INDEX IF NOT EXISTS callbacks_by_receipt ON callbacks(receipt) WHERE receipt IS NOT NULL;
CREATE INDEX IF NOT EXISTS callbacks_dead ON callbacks(updated_at, id) WHERE state = 'dead_lettered';
"#;

/// Creates the API tables, adds `records.callback_url` where missing, and rebuilds a feed
/// table created with the unique index on `(record_id, attempt)` without it, keeping
/// every entry's number and the numbering's high-water mark.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(API_SCHEMA)?;
    let feed_has_unique: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_index_list('feed') WHERE \"unique\" = 1",
        [],
        |r| r.get(0),
    )?;
    if feed_has_unique {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE feed_rebuilt (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 record_id TEXT NOT NULL,
                 attempt INTEGER NOT NULL,
                 outcome TEXT NOT NULL
             );
             INSERT INTO feed_rebuilt (seq, record_id, attempt, outcome)
                 SELECT seq, record_id, attempt, outcome FROM feed ORDER BY seq;
             UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'feed'))
                 WHERE name = 'feed_rebuilt';
             DROP TABLE feed;
             ALTER TABLE feed_rebuilt RENAME TO feed;
             COMMIT;",
        )?;
    }
    let has_column: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('records') WHERE name = 'callback_url'",
        [],
        |r| r.get(0),
    )?;
    if !has_column {
        conn.execute_batch("ALTER TABLE records ADD COLUMN callback_url TEXT")?;
    }
    Ok(())
}
