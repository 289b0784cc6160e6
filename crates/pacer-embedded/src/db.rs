//! Opening the file, the schema, and the one connection every port shares.

use pacer_core::ports::{ApiCaller, ApiPorts, Ports, RateGate};
use pacer_core::{Clock, PortError};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// Prepared statements kept per connection (more than the backend has distinct ones).
const STATEMENT_CACHE: usize = 256;

/// The schema version this build writes. Opening a file with a newer one is refused;
/// an older one is migrated. 2: the feed has no unique index on `(record_id, attempt)`,
/// which builds of version 1 need (they would fail on every final move). 3: attempts and
/// results are rowid tables and a record names its result (`records.result_id`); builds
/// of version 2 would read no results from such a file.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    due_at INTEGER,
    attempt INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    result_id INTEGER
);
-- Sparse indexes: finished records are in none of them, so release never scans them.
CREATE INDEX IF NOT EXISTS records_due ON records(due_at) WHERE state IN ('scheduled', 'retry_wait');
CREATE INDEX IF NOT EXISTS records_stale ON records(updated_at) WHERE state IN ('queued', 'in_flight');
CREATE INDEX IF NOT EXISTS records_pending_v2 ON records(provider, created_at, id) WHERE state = 'pending';
DROP INDEX IF EXISTS records_pending;
CREATE TABLE IF NOT EXISTS providers (id TEXT PRIMARY KEY, settings TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    provider TEXT PRIMARY KEY,
    holder TEXT,
    token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_call_started_at INTEGER,
    breaker TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    grp TEXT,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
-- Each kind of queue has the one index its receive reads: FIFO messages by group, the
-- standard queue's (no group) by visibility. A message in both would cost every send,
-- receive and delete an index write that no query reads.
CREATE INDEX IF NOT EXISTS queue_fifo_by_group ON queue_messages(queue, grp, id) WHERE grp IS NOT NULL;
CREATE INDEX IF NOT EXISTS queue_standard_by_visibility ON queue_messages(queue, visible_at, id) WHERE grp IS NULL;
DROP INDEX IF EXISTS queue_by_group;
DROP INDEX IF EXISTS queue_by_visibility;
-- A receipt names its message's id, so it needs no index of its own.
DROP INDEX IF EXISTS queue_by_receipt;
-- One row per non-empty FIFO group: whether it is blocked by in-flight messages.
CREATE TABLE IF NOT EXISTS queue_groups (
    queue TEXT NOT NULL,
    grp TEXT NOT NULL,
    head INTEGER NOT NULL,
    inflight INTEGER NOT NULL DEFAULT 0,
    hidden_until INTEGER NOT NULL DEFAULT 0,
    held_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, grp)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_groups_by_head ON queue_groups(queue, head);
CREATE TABLE IF NOT EXISTS queue_dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    record_id TEXT,
    provider TEXT,
    error_class TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_lettered_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_time ON dead_letters(dead_lettered_at, id);
CREATE TABLE IF NOT EXISTS history (
    record_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_record ON history(record_id, at);
CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#;

/// The attempts and results tables, created with the schema and by [`migrate_store`].
const STORE_TABLES: &str = r#"
-- Attempts and results are appended in arrival order, so a commit's new rows share the
-- table's last pages whatever their providers. Attempts are found by a small unique
-- index; a result by the id its record holds (`records.result_id`, written by the row
-- write that makes the record's final move), so storing one costs no index page.
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    event TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS attempts_by_record ON attempts(record_id, attempt);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    stored_at INTEGER NOT NULL
);
"#;

/// Rebuilds the attempts and results tables of a file written before schema version 3,
/// in one transaction that also records the new version: a crash leaves the file as it
/// was, and a second process opening it meanwhile waits, then finds it migrated.
///
/// Version 2 kept attempts in a `WITHOUT ROWID` table keyed by `(record_id, attempt)`:
/// such a table stores whole rows in its interior pages too, and with rows of about
/// 500 bytes every attempt stored rewrote three pages on average (measured from the WAL
/// of a 1 000-provider drain). Results had a primary key on `record_id`, one more page
/// scattered over the key space per success. A file in the new shape is left alone.
fn migrate_store(conn: &Connection) -> rusqlite::Result<()> {
    // The copy's statement journal and sorts may be as large as the tables: on disk.
    conn.execute_batch("PRAGMA temp_store = FILE")?;
    let migrated = (|| {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let shape = |table: &str| -> rusqlite::Result<Option<String>> {
            tx.query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()
        };
        let old_attempts = shape("attempts")?.is_some_and(|sql| sql.contains("WITHOUT ROWID"));
        let old_results =
            shape("results")?.is_some_and(|sql| !sql.contains("id INTEGER PRIMARY KEY"));
        let no_result_id = shape("records")?.is_some()
            && !tx.query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('records') WHERE name = 'result_id'",
                [],
                |r| r.get::<_, bool>(0),
            )?;
        if !(old_attempts || old_results || no_result_id) {
            return Ok(());
        }
        let mut steps = String::new();
        if old_attempts {
            steps.push_str("ALTER TABLE attempts RENAME TO attempts_v2;");
        }
        if old_results {
            steps.push_str("ALTER TABLE results RENAME TO results_v2;");
        }
        if no_result_id {
            steps.push_str("ALTER TABLE records ADD COLUMN result_id INTEGER;");
        }
        steps.push_str(STORE_TABLES);
        if old_attempts {
            steps.push_str(
                "INSERT INTO attempts (record_id, attempt, started_at, event)
                     SELECT record_id, attempt, started_at, event FROM attempts_v2;
                 DROP TABLE attempts_v2;",
            );
        }
        if old_results {
            steps.push_str(
                "INSERT INTO results (record_id, attempt, status, body, stored_at)
                     SELECT record_id, attempt, status, body, stored_at FROM results_v2;
                 UPDATE records SET result_id = r.id FROM results AS r WHERE r.record_id = records.id;
                 DROP TABLE results_v2;",
            );
        }
        tx.execute_batch(&steps)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [SCHEMA_VERSION.to_string()],
        )?;
        tx.commit()
    })();
    conn.execute_batch("PRAGMA temp_store = MEMORY")?;
    migrated
}

/// Tunables of the embedded backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// Receives of one work message before it is redriven to the dead-letter queue.
    pub work_max_receives: u32,
    /// Receives of one outcome delivery before it is dead-lettered.
    pub outcome_max_receives: u32,
    /// How long a deduplication id is remembered (SQS FIFO: 5 minutes).
    pub dedup_window: Duration,
    /// Most messages of one group handed out by one work receive. SQS FIFO hands out
    /// 10 (the default, which the contract suite checks); a local runtime may take more
    /// per provider so the per-batch bookkeeping (lease, delete, receive) between a
    /// provider's calls comes less often. Keep `max_group_batch` × the longest call
    /// below the receive's visibility timeout.
    pub max_group_batch: usize,
    /// Whether a background thread folds the WAL into the file as it grows (the
    /// default). Off, the WAL keeps every page written until the file is closed: that is
    /// how `pacer bench --scenario drain --keep-wal` shows which tables a run writes.
    pub background_checkpoints: bool,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            work_max_receives: 10,
            outcome_max_receives: 10,
            dedup_window: Duration::from_secs(300),
            max_group_batch: 10,
            background_checkpoints: true,
        }
    }
}

/// The file could not be opened as a pacer database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused (missing folder, permissions, not a database).
    #[error("cannot open {path} as a SQLite database")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database writer thread could not be started.
    #[error("cannot start the database writer thread for {path}")]
    Thread {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Written by a newer pacer.
    #[error(
        "{path} has schema version {found}; this pacer reads up to {SCHEMA_VERSION}: upgrade pacer"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
}

/// State shared by every port of one open file.
pub(crate) struct Shared {
    /// The write connection: the writer thread's, and the synchronous writers' between
    /// its groups.
    conn: Arc<Mutex<Connection>>,
    /// A second connection for reads: under WAL they never wait for a writer.
    reader: Mutex<Connection>,
    /// Group-committed writes off the async runtime's threads.
    writer: crate::writer::Writer,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: EmbeddedOptions,
    /// Wakes long-polling receivers of the work queue when messages arrive or groups unblock.
    pub(crate) work_changed: Notify,
    /// Wakes long-polling receivers of the outcome bus.
    pub(crate) outcomes_changed: Notify,
    _checkpointer: Checkpointer,
}

/// Checkpoints the WAL in the background (PASSIVE: never blocks writers) and stops when
/// the backend is dropped.
struct Checkpointer {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Checkpointer {
    /// No background checkpoints: the WAL grows until the file is closed.
    fn none() -> Self {
        Self {
            stop: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }
    }

    fn start(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(1))?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("pacer-checkpoint".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "WAL checkpoint skipped");
                    }
                }
                // A last full checkpoint so the file is compact for the next process.
                let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no checkpoint thread; the WAL grows until the next open");
        }
        Ok(Self { stop })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Shared {
    /// The notifier of one queue, so activity on one never wakes the other's receivers.
    pub(crate) fn changed(&self, queue: &str) -> &Notify {
        if queue == "work" {
            &self.work_changed
        } else {
            &self.outcomes_changed
        }
    }

    /// Locks the read connection (reads outside transactions; they see every committed
    /// write).
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.reader)
    }

    /// Runs `f` in a transaction on the writer thread, group-committed with the writes
    /// waiting at the same moment: for the hot paths (queues, leases, outcomes).
    pub(crate) async fn write_async<T, F>(
        &self,
        operation: &'static str,
        f: F,
    ) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, PortError> + Send + 'static,
    {
        self.writer.write(operation, f).await
    }

    /// Runs `f` in one immediate transaction on the calling thread.
    pub(crate) fn write<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let mut conn = lock(&self.conn);
        // These writes are the bulk ones (import, plan, replay): their statement journals
        // may be as large as the table, so they spill to temporary files rather than
        // memory; the writer thread's small groups keep theirs in memory.
        conn.execute_batch("PRAGMA temp_store = FILE")
            .map_err(|e| sql_error(operation, e))?;
        let result = (|| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| sql_error(operation, e))?;
            let value = f(&tx)?;
            tx.commit().map_err(|e| sql_error(operation, e))?;
            Ok(value)
        })();
        conn.execute_batch("PRAGMA temp_store = MEMORY")
            .map_err(|e| sql_error(operation, e))?;
        result
    }

    /// Locks the write connection itself (checkpoints, backups).
    pub(crate) fn write_conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }
}

/// Locks a connection. A poisoned lock only means another task panicked mid-call;
/// SQLite rolled that transaction back, so the connection is still consistent.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    {
        match conn.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            // Contended: waiting would park a runtime worker thread and stall every task
            // on it (timers, sockets). On a multi-threaded runtime, tell tokio first so it
            // moves the thread's other tasks elsewhere while this one waits.
            Err(std::sync::TryLockError::WouldBlock) => {
                let multi = tokio::runtime::Handle::try_current().is_ok_and(|h| {
                    h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                });
                let wait = || conn.lock().unwrap_or_else(|p| p.into_inner());
                if multi {
                    tokio::task::block_in_place(wait)
                } else {
                    wait()
                }
            }
        }
    }
}

/// Maps a SQLite error to the port error that says what to do.
pub(crate) fn sql_error(operation: &'static str, e: rusqlite::Error) -> PortError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => PortError::Unavailable {
            operation,
            source: Box::new(e),
        },
        _ => PortError::Backend {
            operation,
            source: Box::new(e),
        },
    }
}

/// Maps unreadable stored JSON to [`PortError::Corrupt`].
pub(crate) fn corrupt(operation: &'static str, what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Corrupt {
        operation,
        detail: format!("{what}: {e}"),
    }
}

/// An open pacer database: implements the record store, lease store, provider directory
/// and dead-letter queue itself, and hands out the work queue and outcome bus.
#[derive(Clone)]
pub struct Embedded {
    pub(crate) shared: Arc<Shared>,
}

impl Embedded {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(
        path: &Path,
        clock: Arc<dyn Clock>,
        options: EmbeddedOptions,
    ) -> Result<Self, OpenError> {
        let wrap = |source| OpenError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(wrap)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(wrap)?;
        // WAL with NORMAL sync: commits append to the WAL without an fsync. Checkpoints
        // (which do fsync) run on their own thread and connection, so no writer ever
        // waits for the disk while holding the connection every port shares.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;
             PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
        )
        .map_err(wrap)?;
        // Every port's statements stay prepared: rusqlite keeps 16 by default, fewer
        // than the hot paths use, and re-preparing costs more than running them.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // The version is checked before anything else is created or migrated, so a file
        // written by a newer pacer is refused untouched.
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .map_err(wrap)?;
        let found: Option<i64> = conn
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(wrap)?;
        if let Some(v) = found.filter(|v| *v > SCHEMA_VERSION) {
            return Err(OpenError::NewerSchema {
                path: path.to_owned(),
                found: v,
            });
        }
        migrate_store(&conn).map_err(wrap)?;
        conn.execute_batch(SCHEMA).map_err(wrap)?;
        conn.execute_batch(STORE_TABLES).map_err(wrap)?;
        crate::api_schema::migrate(&conn).map_err(wrap)?;
        if found != Some(SCHEMA_VERSION) {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [SCHEMA_VERSION.to_string()],
            )
            .map_err(wrap)?;
        }
        let checkpointer = if options.background_checkpoints {
            Checkpointer::start(path).map_err(wrap)?
        } else {
            Checkpointer::none()
        };
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(wrap)?;
        reader.busy_timeout(Duration::from_secs(10)).map_err(wrap)?;
        reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        reader
            .execute_batch("PRAGMA cache_size = -16384;")
            .map_err(wrap)?;
        let conn = Arc::new(Mutex::new(conn));
        let writer =
            crate::writer::Writer::start(Arc::clone(&conn)).map_err(|e| OpenError::Thread {
                path: path.to_owned(),
                source: e,
            })?;
        Ok(Self {
            shared: Arc::new(Shared {
                conn,
                reader: Mutex::new(reader),
                writer,
                clock,
                options,
                work_changed: Notify::new(),
                outcomes_changed: Notify::new(),
                _checkpointer: checkpointer,
            }),
        })
    }

    /// The FIFO work queue in this file.
    pub fn work_queue(&self) -> crate::SqliteWorkQueue {
        crate::SqliteWorkQueue::new(Arc::clone(&self.shared))
    }

    /// The outcome bus in this file.
    pub fn outcome_bus(&self) -> crate::SqliteOutcomeBus {
        crate::SqliteOutcomeBus::new(Arc::clone(&self.shared))
    }

    /// Every port, with the given API caller and rate gate.
    pub fn ports(&self, caller: Arc<dyn ApiCaller>, gate: Arc<dyn RateGate>) -> Ports {
        let me = Arc::new(self.clone());
        Ports {
            records: Arc::clone(&me) as _,
            leases: Arc::clone(&me) as _,
            providers: Arc::clone(&me) as _,
            dead_letters: me as _,
            work: Arc::new(self.work_queue()),
            outcomes: Arc::new(self.outcome_bus()),
            caller,
            clock: Arc::clone(&self.shared.clock),
            gate,
        }
    }

    /// Every port, the HTTP API's included.
    pub fn api_ports(&self, caller: Arc<dyn ApiCaller>, gate: Arc<dyn RateGate>) -> ApiPorts {
        ApiPorts {
            core: self.ports(caller, gate),
            intake: Arc::new(self.clone()),
            clients: Arc::new(self.clone()),
            feed: Arc::new(self.clone()),
            callbacks: Arc::new(self.clone()),
        }
    }

    /// Starts (or stops) timing the writer thread's writes by operation, and its
    /// commits; read with [`Embedded::write_profile`]. For benchmarks.
    pub fn profile_writes(&self, on: bool) {
        self.shared.writer.profile.switch(on);
    }

    /// Where the writer thread's time went while profiling was on, most time first.
    pub fn write_profile(&self) -> Vec<crate::WriteTiming> {
        self.shared.writer.profile.timings()
    }

    /// Folds the write-ahead log into the database file and truncates it (blocks writers
    /// briefly): for measurements of the file size and before copying the file.
    pub fn checkpoint(&self) -> Result<(), PortError> {
        // No read of ours may pin an old snapshot while it runs; the background
        // checkpointer may be mid-checkpoint, which answers busy: try again.
        let _reads = self.shared.conn();
        let conn = self.shared.write_conn();
        for _ in 0..100 {
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(|e| sql_error("checkpoint", e))?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(PortError::Unavailable {
            operation: "checkpoint",
            source: "the write-ahead log stayed busy for 5 s".into(),
        })
    }

    /// Copies the database into `target` (a consistent snapshot, usable while running).
    pub fn backup_to(&self, target: &Path) -> Result<(), PortError> {
        let conn = self.shared.write_conn();
        conn.execute("VACUUM INTO ?1", [target.to_string_lossy()])
            .map_err(|e| sql_error("backup", e))?;
        Ok(())
    }
}
