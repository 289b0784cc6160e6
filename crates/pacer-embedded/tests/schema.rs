//! Opening files written by other versions: a newer one is refused untouched, an older
//! one is migrated.

use pacer_core::classify::ErrorClass;
use pacer_core::ports::RecordStore;
use pacer_core::schema::{NextState, OutcomeEvent, OUTCOME_EVENT_VERSION};
use pacer_core::{ApiRequest, Clock, NewRecord, ProviderId, RecordId, Timestamp};
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
    count(
        conn,
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'",
    )
}

/// The single integer `sql` answers.
fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
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
    let tables = count(
        &conn,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'records'",
    );
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
    assert_eq!(schema_version(&conn), 3);
    let unique = count(
        &conn,
        "SELECT COUNT(*) FROM pragma_index_list('feed') WHERE \"unique\" = 1",
    );
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

/// An attempt that made a call and ended as `next` says.
fn outcome(id: &str, attempt: u32, next: NextState, at: Timestamp) -> OutcomeEvent {
    let ok = next == NextState::Succeeded;
    OutcomeEvent {
        v: OUTCOME_EVENT_VERSION,
        record_id: RecordId::new(id).expect("record id"),
        provider: ProviderId::new("acme").expect("provider id"),
        attempt,
        called: true,
        request_summary: format!("GET /v1/{id}"),
        started_at: at,
        finished_at: at,
        latency_ms: 20,
        status_code: Some(if ok { 200 } else { 503 }),
        error_class: (!ok).then_some(ErrorClass::ServerError),
        detail: None,
        response: Some(format!("{{\"attempt\":{attempt}}}")),
        fencing_token: 1,
        invocation_id: "schema-test".to_owned(),
        next,
    }
}

/// Writes a file the way version 2 left it: records r1 (two attempts, the second a
/// success with its result) and r2 (one attempt), in the old attempts and results tables.
async fn version_2_file(path: &Path, clock: &Arc<ManualClock>) {
    let now = clock.now();
    {
        let store = Embedded::open(path, Arc::clone(clock) as _, EmbeddedOptions::default())
            .expect("create");
        let new = |id: &str| NewRecord {
            id: RecordId::new(id).expect("record id"),
            provider: ProviderId::new("acme").expect("provider id"),
            request: ApiRequest::default(),
            callback_url: None,
        };
        store
            .insert(&[new("r1"), new("r2")], now)
            .await
            .expect("insert");
        let in_flight = |attempt: u32| {
            let conn = Connection::open(path).expect("open");
            conn.execute(
                "UPDATE records SET state = 'in_flight', attempt = ?1",
                [attempt],
            )
            .expect("in flight");
        };
        in_flight(1);
        let retry = NextState::RetryWait { due_at: now };
        store
            .apply_outcomes(
                &[outcome("r1", 1, retry, now), outcome("r2", 1, retry, now)],
                now,
            )
            .await
            .expect("first attempts");
        in_flight(2);
        store
            .apply_outcomes(&[outcome("r1", 2, NextState::Succeeded, now)], now)
            .await
            .expect("a success");
    }
    {
        // Put the tables back the way version 2 kept them.
        let conn = Connection::open(path).expect("open");
        conn.execute_batch(
            "CREATE TABLE attempts_v2 (
                 record_id TEXT NOT NULL,
                 attempt INTEGER NOT NULL,
                 started_at INTEGER NOT NULL,
                 event TEXT NOT NULL,
                 PRIMARY KEY (record_id, attempt)
             ) WITHOUT ROWID;
             INSERT INTO attempts_v2 SELECT record_id, attempt, started_at, event FROM attempts;
             DROP TABLE attempts;
             ALTER TABLE attempts_v2 RENAME TO attempts;
             CREATE TABLE results_v2 (
                 record_id TEXT PRIMARY KEY,
                 attempt INTEGER NOT NULL,
                 status INTEGER NOT NULL,
                 body TEXT NOT NULL,
                 stored_at INTEGER NOT NULL
             );
             INSERT INTO results_v2 SELECT record_id, attempt, status, body, stored_at FROM results;
             DROP TABLE results;
             ALTER TABLE results_v2 RENAME TO results;
             ALTER TABLE records DROP COLUMN result_id;
             UPDATE meta SET value = '2' WHERE key = 'schema_version';",
        )
        .expect("version 2 file");
    }
}

#[tokio::test]
async fn a_version_2_file_keeps_its_attempts_and_results_when_the_tables_are_rebuilt() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("v2.db");
    let clock = Arc::new(ManualClock::default());
    let now = clock.now();
    version_2_file(&path, &clock).await;
    let store = open(&path).expect("migrate");
    let r1 = RecordId::new("r1").expect("record id");
    let r2 = RecordId::new("r2").expect("record id");
    let attempts: Vec<(u32, NextState)> = store
        .attempts(&r1)
        .await
        .expect("attempts")
        .into_iter()
        .map(|a| (a.attempt, a.next))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, NextState::RetryWait { due_at: now }),
            (2, NextState::Succeeded)
        ]
    );
    assert_eq!(store.attempts(&r2).await.expect("attempts").len(), 1);
    let result = store
        .result(&r1)
        .await
        .expect("result")
        .expect("r1 has its result");
    assert_eq!((result.attempt, result.status_code), (2, 200));
    assert_eq!(result.body, "{\"attempt\":2}");
    assert!(store.result(&r2).await.expect("result").is_none());
    // The rebuilt attempts table still refuses a second copy of an attempt.
    let again = store
        .apply_outcomes(&[outcome("r2", 1, NextState::Succeeded, now)], now)
        .await
        .expect("a repeat");
    assert_eq!(again.attempts_stored, 0);
    drop(store);
    let conn = Connection::open(&path).expect("reopen");
    assert_eq!(schema_version(&conn), 3);
    let without_rowid = count(
        &conn,
        "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'attempts' AND sql LIKE '%WITHOUT ROWID%'",
    );
    assert_eq!(without_rowid, 0);
    drop(open(&path).expect("a second open changes nothing"));
}

#[tokio::test]
async fn a_migration_that_fails_half_way_leaves_the_version_2_file_as_it_was() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("v2.db");
    let clock = Arc::new(ManualClock::default());
    version_2_file(&path, &clock).await;
    // Fails the migration's last step, after the attempts were copied and the old
    // tables dropped.
    Connection::open(&path)
        .expect("open")
        .execute_batch(
            "CREATE TRIGGER stop_migration BEFORE UPDATE ON records BEGIN SELECT RAISE(ABORT, 'in the way'); END;",
        )
        .expect("obstacle");
    assert!(open(&path).is_err(), "the migration had to fail");
    let conn = Connection::open(&path).expect("reopen");
    assert_eq!(schema_version(&conn), 2);
    let (attempts_sql, attempts): (String, i64) = conn
        .query_row(
            "SELECT (SELECT sql FROM sqlite_schema WHERE name = 'attempts'), (SELECT COUNT(*) FROM attempts)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("attempts");
    assert!(attempts_sql.contains("WITHOUT ROWID"), "{attempts_sql}");
    assert_eq!(attempts, 3);
    conn.execute_batch("DROP TRIGGER stop_migration")
        .expect("clear the way");
    drop(conn);
    let store = open(&path).expect("migrate");
    let r1 = RecordId::new("r1").expect("record id");
    assert_eq!(store.attempts(&r1).await.expect("attempts").len(), 2);
    assert!(store.result(&r1).await.expect("result").is_some());
}
