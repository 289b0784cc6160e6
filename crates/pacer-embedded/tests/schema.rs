//! Opening files written by other versions: a newer one is refused untouched, an older
//! one is migrated.

use pacer_core::Clock;
use pacer_embedded::{Embedded, EmbeddedOptions, OpenError};
use pacer_testkit::clock::ManualClock;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;

fn open(path: &Path) -> Result<Embedded, OpenError> {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
    Embedded::open(path, clock, EmbeddedOptions::default())
}

fn schema_version(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .expect("schema version")
}

#[test]
fn a_file_from_a_newer_pacer_is_refused_before_anything_is_created_in_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("newer.db");
    {
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '99');",
        )
        .expect("newer file");
    }
    match open(&path) {
        Err(OpenError::NewerSchema { found: 99, .. }) => {}
        Err(other) => panic!("expected NewerSchema, got {other}"),
        Ok(_) => panic!("a newer file was opened"),
    }
    let conn = Connection::open(&path).expect("reopen");
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'records'",
            [],
            |r| r.get(0),
        )
        .expect("tables");
    assert_eq!(tables, 0, "the refused file was changed");
}

#[test]
fn a_version_1_file_loses_the_feed_unique_index_and_keeps_its_entries_and_numbering() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("v1.db");
    drop(open(&path).expect("create"));
    {
        // Put the file back the way version 1 left it.
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "DROP TABLE feed;
             CREATE TABLE feed (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 record_id TEXT NOT NULL,
                 attempt INTEGER NOT NULL,
                 outcome TEXT NOT NULL,
                 UNIQUE (record_id, attempt)
             );
             INSERT INTO feed (record_id, attempt, outcome) VALUES ('r1', 1, '{}'), ('r2', 2, '{}'), ('r3', 1, '{}');
             DELETE FROM feed WHERE seq = 3;
             UPDATE meta SET value = '1' WHERE key = 'schema_version';",
        )
        .expect("version 1 file");
    }
    drop(open(&path).expect("migrate"));
    let conn = Connection::open(&path).expect("reopen");
    assert_eq!(schema_version(&conn), 2);
    let unique: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_index_list('feed') WHERE \"unique\" = 1",
            [],
            |r| r.get(0),
        )
        .expect("indexes");
    assert_eq!(unique, 0);
    let entries: Vec<(i64, String)> = conn
        .prepare("SELECT seq, record_id FROM feed ORDER BY seq")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(entries, [(1, "r1".to_owned()), (2, "r2".to_owned())]);
    // Number 3 was handed out before (and its entry removed here): never again.
    conn.execute(
        "INSERT INTO feed (record_id, attempt, outcome) VALUES ('r4', 1, '{}')",
        [],
    )
    .expect("append");
    assert_eq!(conn.last_insert_rowid(), 4);
    drop(open(&path).expect("a second open changes nothing"));
}
