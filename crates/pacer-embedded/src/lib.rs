//! pacer's embedded backend: every port on one SQLite file (WAL mode).
//!
//! It is what a newcomer runs first and what the benchmarks measure: records, attempts,
//! results, provider settings, leases, the FIFO work queue (SQS FIFO semantics: message
//! groups, visibility timeout, receive count, redrive to the dead-letter queue,
//! five-minute deduplication), the outcome bus and the dead-letter queue all live in the
//! same file, so a restarted process resumes exactly where the last one stopped.
//!
//! It is not a server: one process runs the workers for a file at a time. Other
//! processes (the CLI's `status`, `trace`) may read it concurrently.

mod api_schema;
mod callbacks;
mod clients;
mod db;
mod dead_letters;
mod feed;
mod intake;
mod leases;
mod providers;
mod queue;
mod records;
mod writer;

pub use db::{Embedded, EmbeddedOptions, OpenError};
pub use queue::{SqliteOutcomeBus, SqliteWorkQueue};
pub use writer::WriteTiming;
