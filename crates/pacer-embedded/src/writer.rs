//! The writer thread: the hot-path writes (publish, receive, delete, leases, apply) run
//! on one dedicated thread that owns the write transaction, with group commit.
//!
//! Why: SQLite allows one writer at a time. Taking the connection's lock on a tokio
//! worker thread parks that thread (and every task on it: timers, sockets, other
//! providers' calls) whenever another write holds it, and one commit per small write
//! makes the WAL carry a few pages per publish. Here an async caller hands its write to
//! the thread and awaits the answer, never blocking a runtime thread; the thread runs
//! every write waiting at that moment in one transaction (each in its own savepoint, so
//! one write's failure never undoes another's) and commits once.

use pacer_core::PortError;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Most writes folded into one commit: bounds how long a write waits behind others.
const MAX_GROUP: usize = 128;

/// A write handed to the thread.
trait Job: Send {
    /// Runs the write inside the group's transaction; `Err` rolls back only this write.
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Ran;
    /// The group's transaction could not start: answer without running.
    fn abandon(self: Box<Self>, why: &str);
    /// What the write is, for the write profile.
    fn operation(&self) -> &'static str;
}

/// Answers a write's caller once the group's commit is known (`Some(why)` if it failed).
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// A write that ran, waiting for the group's commit to answer its caller.
struct Ran {
    ok: bool,
    answer: Answer,
}

struct TypedJob<T, F> {
    operation: &'static str,
    write: F,
    reply: oneshot::Sender<Result<T, PortError>>,
}

fn unavailable(operation: &'static str, why: &str) -> PortError {
    PortError::Unavailable {
        operation,
        source: why.to_owned().into(),
    }
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> Result<T, PortError> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Ran {
        let TypedJob {
            operation,
            write,
            reply,
        } = *self;
        let result = write(tx);
        Ran {
            ok: result.is_ok(),
            answer: Box::new(move |commit_failure: Option<&str>| {
                let answer = match (result, commit_failure) {
                    (Ok(_), Some(why)) => Err(unavailable(operation, why)),
                    (result, _) => result,
                };
                let _ = reply.send(answer);
            }),
        }
    }

    fn abandon(self: Box<Self>, why: &str) {
        let _ = self.reply.send(Err(unavailable(self.operation, why)));
    }

    fn operation(&self) -> &'static str {
        self.operation
    }
}

/// Time the writer thread spent on one kind of write (or on commits).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteTiming {
    /// The write's operation name, or `commit` for the group commits.
    pub operation: &'static str,
    /// How many ran.
    pub count: u64,
    /// Wall time on the writer thread, summed.
    pub seconds: f64,
}

/// Where the writer thread's time goes, when switched on (benchmarks): the single writer
/// is what bounds throughput with many providers, so its time is the profile that says
/// which writes to cut. Off, it costs one relaxed load per write.
#[derive(Default)]
pub(crate) struct WriteProfile {
    on: AtomicBool,
    by_operation: Mutex<BTreeMap<&'static str, (u64, Duration)>>,
}

impl WriteProfile {
    pub(crate) fn switch(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// Runs `f`, adding its time under `operation` when the profile is on.
    fn time<T>(&self, operation: &'static str, f: impl FnOnce() -> T) -> T {
        if !self.on.load(Ordering::Relaxed) {
            return f();
        }
        let started = Instant::now();
        let out = f();
        let spent = started.elapsed();
        let mut by = self.by_operation.lock().unwrap_or_else(|p| p.into_inner());
        let entry = by.entry(operation).or_default();
        entry.0 += 1;
        entry.1 += spent;
        out
    }

    /// The timings so far, most time first.
    pub(crate) fn timings(&self) -> Vec<WriteTiming> {
        let by = self.by_operation.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<WriteTiming> = by
            .iter()
            .map(|(operation, (count, spent))| WriteTiming {
                operation,
                count: *count,
                seconds: spent.as_secs_f64(),
            })
            .collect();
        out.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        out
    }
}

/// The handle async callers use; the thread stops when the last handle is dropped.
pub(crate) struct Writer {
    jobs: Sender<Box<dyn Job>>,
    pub(crate) profile: Arc<WriteProfile>,
}

impl Writer {
    /// Starts the thread on `conn` (shared with the synchronous writers, which lock it
    /// between groups).
    pub(crate) fn start(conn: Arc<Mutex<Connection>>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let profile = Arc::new(WriteProfile::default());
        let on_thread = Arc::clone(&profile);
        std::thread::Builder::new()
            .name("pacer-writer".into())
            .spawn(move || run(&conn, &queue, &on_thread))?;
        Ok(Self { jobs, profile })
    }

    /// Runs `write` in a transaction on the writer thread and returns its result once
    /// committed. A failed commit answers [`PortError::Unavailable`] (retry).
    pub(crate) async fn write<T, F>(
        &self,
        operation: &'static str,
        write: F,
    ) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, PortError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(TypedJob {
            operation,
            write,
            reply,
        });
        if self.jobs.send(job).is_err() {
            return Err(unavailable(
                operation,
                "the database writer thread has stopped",
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(unavailable(
                operation,
                "the database writer thread stopped mid-write",
            ))
        })
    }
}

fn run(conn: &Mutex<Connection>, queue: &Receiver<Box<dyn Job>>, profile: &WriteProfile) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = match guard.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let why = format!("cannot begin a write transaction: {e}");
                group.into_iter().for_each(|job| job.abandon(&why));
                continue;
            }
        };
        let mut answers = Vec::with_capacity(group.len());
        for job in group {
            if let Err(e) = step(&tx, "SAVEPOINT job") {
                let why = format!("cannot open a savepoint: {e}");
                job.abandon(&why);
                continue;
            }
            let ran = profile.time(job.operation(), || job.run(&tx));
            let closed = if ran.ok {
                step(&tx, "RELEASE job")
            } else {
                step(&tx, "ROLLBACK TO job").and_then(|()| step(&tx, "RELEASE job"))
            };
            match closed {
                Ok(()) => answers.push(ran.answer),
                // The savepoint is in an unknown state: nothing of this group may commit.
                Err(e) => {
                    let why = format!("cannot close a savepoint: {e}");
                    (ran.answer)(Some(&why));
                    answers.into_iter().for_each(|a| a(Some(&why)));
                    answers = Vec::new();
                    let _ = tx.execute_batch("ROLLBACK");
                    break;
                }
            }
        }
        if answers.is_empty() {
            continue;
        }
        match profile.time("commit", || tx.commit()) {
            Ok(()) => answers.into_iter().for_each(|a| a(None)),
            Err(e) => {
                let why = format!("commit failed: {e}");
                answers.into_iter().for_each(|a| a(Some(&why)));
            }
        }
    }
}

/// Runs one of the group's bookkeeping statements from the statement cache: two run
/// around every write, and parsing them each time cost more than running them.
fn step(tx: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (Writer, Arc<Mutex<Connection>>) {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (v INTEGER)")
            .expect("schema");
        let conn = Arc::new(Mutex::new(conn));
        (Writer::start(Arc::clone(&conn)).expect("thread"), conn)
    }

    fn values(conn: &Mutex<Connection>) -> Vec<i64> {
        let conn = conn.lock().expect("lock");
        let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").expect("prepare");
        let rows = stmt.query_map([], |r| r.get(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    fn insert(v: i64, then_fail: bool) -> impl FnOnce(&Transaction<'_>) -> Result<i64, PortError> {
        move |tx| {
            tx.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(|e| crate::db::sql_error("test insert", e))?;
            if then_fail {
                return Err(PortError::Corrupt {
                    operation: "test insert",
                    detail: "refused after writing".into(),
                });
            }
            Ok(v)
        }
    }

    #[tokio::test]
    async fn a_failing_write_is_undone_without_undoing_the_writes_committed_with_it() {
        let (writer, conn) = writer();
        // Queued together, so the thread runs them in one group and one commit.
        let (a, b, c) = tokio::join!(
            writer.write("a", insert(1, false)),
            writer.write("b", insert(2, true)),
            writer.write("c", insert(3, false)),
        );
        assert_eq!(a.expect("a"), 1);
        assert!(matches!(b, Err(PortError::Corrupt { .. })), "{b:?}");
        assert_eq!(c.expect("c"), 3);
        assert_eq!(values(&conn), [1, 3]);
    }

    #[tokio::test]
    async fn a_write_answers_only_once_committed() {
        let (writer, conn) = writer();
        for v in 0..50 {
            writer.write("w", insert(v, false)).await.expect("write");
            // Visible to another lock holder as soon as the answer arrives.
            assert_eq!(values(&conn).len() as i64, v + 1);
        }
    }

    #[tokio::test]
    async fn the_write_profile_counts_only_while_switched_on() {
        let (writer, _conn) = writer();
        writer
            .write("before", insert(1, false))
            .await
            .expect("write");
        writer.profile.switch(true);
        for v in 0..3 {
            writer
                .write("insert", insert(v, false))
                .await
                .expect("write");
        }
        writer
            .write("refused", insert(9, true))
            .await
            .expect_err("refused");
        writer.profile.switch(false);
        writer
            .write("after", insert(2, false))
            .await
            .expect("write");
        let counts: BTreeMap<&str, u64> = writer
            .profile
            .timings()
            .iter()
            .map(|t| (t.operation, t.count))
            .collect();
        // Awaited one by one, each write is its own group and commit; a refused write is
        // timed too (it held the thread), and nothing from before or after is.
        assert_eq!(
            counts,
            BTreeMap::from([("commit", 4), ("insert", 3), ("refused", 1)])
        );
    }
}
