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

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_rows(conn: &Connection) -> Vec<(i64, String, i64)> {
        let mut stmt = conn
            .prepare("SELECT seq, record_id, attempt FROM feed ORDER BY seq")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    #[test]
    fn a_feed_with_the_old_unique_index_is_rebuilt_keeping_its_numbers() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE records (id TEXT PRIMARY KEY);
             CREATE TABLE feed (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 record_id TEXT NOT NULL,
                 attempt INTEGER NOT NULL,
                 outcome TEXT NOT NULL,
                 UNIQUE (record_id, attempt)
             );
             INSERT INTO feed (seq, record_id, attempt, outcome) VALUES
                 (1, 'a', 1, '{}'), (2, 'b', 3, '{}'), (7, 'c', 1, '{}');
             DELETE FROM feed WHERE seq = 7;",
        )
        .expect("old schema");
        migrate(&conn).expect("migrate");
        migrate(&conn).expect("a second open changes nothing");
        let unique: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_index_list('feed') WHERE \"unique\" = 1",
                [],
                |r| r.get(0),
            )
            .expect("indexes");
        assert_eq!(unique, 0);
        assert_eq!(
            feed_rows(&conn),
            [(1, "a".to_owned(), 1), (2, "b".to_owned(), 3)]
        );
        // Number 7 was handed out before (then removed here): never again.
        conn.execute(
            "INSERT INTO feed (record_id, attempt, outcome) VALUES ('d', 1, '{}')",
            [],
        )
        .expect("append");
        assert_eq!(feed_rows(&conn).last().map(|r| r.0), Some(8));
    }
}
