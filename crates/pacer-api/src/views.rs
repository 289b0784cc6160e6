//! What the API reads and answers, as OpenAPI schemas. Request bodies are parsed by
//! the core (so every bad field can be named); these types document their shape.
//! Answers are built from the core's types through these, so the document and the
//! wire agree.

use pacer_core::ports::{Admission, FinalOutcome, HistoryEntry, StoredResult};
use pacer_core::Record;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// HTTP methods a record may use.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum MethodInput {
    /// GET (the default).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

/// The call to make, below the provider's base URL.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// HTTP method; GET when absent.
    pub method: Option<MethodInput>,
    /// Path below the provider's base URL: starts with `/`, no `..` segments, no `?`/`#`.
    #[schema(pattern = "^/[^?#\\s]*$", example = "/v1/invoices/42")]
    pub path: String,
    /// Query parameters.
    pub query: Option<BTreeMap<String, String>>,
    /// Extra headers (not Idempotency-Key, Pacer-Fencing-Token, Host, Content-Length,
    /// Transfer-Encoding, Connection).
    pub headers: Option<BTreeMap<String, String>>,
    /// JSON body (at most 64 KiB serialised).
    #[schema(value_type = Object)]
    pub body: Option<serde_json::Value>,
}

/// One record to submit: the import-line shape plus an optional callback URL.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// Caller-chosen id; submitting an id already stored is reported as a duplicate.
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,100}$", example = "inv-42")]
    pub id: String,
    /// A configured provider.
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,100}$", example = "acme")]
    pub provider: String,
    /// The call to make.
    pub request: RequestInput,
    /// Where to POST the final outcome (https, public host).
    #[schema(example = "https://hooks.example.com/pacer")]
    pub callback_url: Option<String>,
}

/// One record, or a batch of 1 to 500.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SubmitBody {
    /// One record.
    One(Box<RecordInput>),
    /// A batch.
    Batch(Vec<RecordInput>),
}

/// What happened to one submitted record.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionView {
    /// Stored, due now.
    Accepted,
    /// Already stored; left untouched.
    Duplicate,
}

/// One submitted record's id and fate.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmittedRecord {
    /// The record id.
    pub id: String,
    /// Accepted or duplicate.
    pub status: AdmissionView,
}

/// The answer to a submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submitted {
    /// This request's id.
    pub request_id: String,
    /// Records stored.
    pub accepted: u64,
    /// Records already stored.
    pub duplicates: u64,
    /// Every record, in body order.
    pub records: Vec<SubmittedRecord>,
}

impl Submitted {
    /// From the core's answer.
    pub fn new(request_id: String, records: Vec<(pacer_core::RecordId, Admission)>) -> Self {
        let records: Vec<SubmittedRecord> = records
            .into_iter()
            .map(|(id, a)| SubmittedRecord {
                id: id.to_string(),
                status: match a {
                    Admission::Accepted => AdmissionView::Accepted,
                    Admission::Duplicate => AdmissionView::Duplicate,
                },
            })
            .collect();
        let accepted = records
            .iter()
            .filter(|r| matches!(r.status, AdmissionView::Accepted))
            .count() as u64;
        Self {
            request_id,
            accepted,
            duplicates: records.len() as u64 - accepted,
            records,
        }
    }
}

/// A stored record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    /// Its id.
    pub id: String,
    /// Its provider.
    pub provider: String,
    /// pending, scheduled, queued, in_flight, retry_wait, succeeded, failed or dead_lettered.
    #[schema(example = "succeeded")]
    pub state: String,
    /// When it is next due (RFC 3339).
    pub due_at: Option<String>,
    /// Number of the latest attempt begun.
    pub attempt: u32,
    /// HTTP calls made so far.
    pub calls: u32,
    /// Why it is where it is.
    pub note: Option<String>,
    /// When it was stored.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// Where its final outcome is POSTed.
    pub callback_url: Option<String>,
    /// The call it makes.
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
}

impl From<Record> for RecordView {
    fn from(r: Record) -> Self {
        Self {
            id: r.id.to_string(),
            provider: r.provider.to_string(),
            state: r.state.to_string(),
            due_at: r.due_at.map(|t| t.to_rfc3339()),
            attempt: r.attempt,
            calls: r.calls,
            note: r.note,
            created_at: r.created_at.to_rfc3339(),
            updated_at: r.updated_at.to_rfc3339(),
            callback_url: r.callback_url.map(String::from),
            request: serde_json::to_value(&r.request).unwrap_or_default(),
        }
    }
}

/// A history entry: operator actions, submissions, webhook attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    /// When (RFC 3339).
    pub at: String,
    /// What, e.g. `submitted`, `replayed`, `callback_delivered`, `callback_retry`.
    pub kind: String,
    /// Details.
    pub detail: String,
}

impl From<HistoryEntry> for HistoryView {
    fn from(e: HistoryEntry) -> Self {
        Self {
            at: e.at.to_rfc3339(),
            kind: e.kind,
            detail: e.detail,
        }
    }
}

/// A stored result of a successful call.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    /// The attempt that succeeded.
    pub attempt: u32,
    /// Its HTTP status.
    pub status_code: u16,
    /// The response excerpt.
    pub body: String,
    /// When it was stored (RFC 3339).
    pub stored_at: String,
}

impl From<StoredResult> for ResultView {
    fn from(r: StoredResult) -> Self {
        Self {
            attempt: r.attempt,
            status_code: r.status_code,
            body: r.body,
            stored_at: r.stored_at.to_rfc3339(),
        }
    }
}

/// A record with its attempts, history and result.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordDetail {
    /// The record.
    pub record: RecordView,
    /// Every attempt, oldest first (time, latency, status, error class, fencing token,
    /// response excerpt).
    #[schema(value_type = Vec<Object>)]
    pub attempts: Vec<serde_json::Value>,
    /// History entries, oldest first.
    pub history: Vec<HistoryView>,
    /// The stored result, once it succeeded.
    pub result: Option<ResultView>,
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPage {
    /// Records, ordered by id.
    pub items: Vec<RecordView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A final outcome, as in the feed and in webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeView {
    /// Position in the feed.
    pub seq: u64,
    /// The record.
    pub record_id: String,
    /// Its provider.
    pub provider: String,
    /// succeeded, failed or dead_lettered.
    #[schema(example = "succeeded")]
    pub state: String,
    /// The attempt that ended it.
    pub attempt: u32,
    /// Its HTTP status.
    pub status_code: Option<u16>,
    /// Why it failed.
    pub error_class: Option<String>,
    /// Human detail.
    pub detail: Option<String>,
    /// Response excerpt.
    pub response: Option<String>,
    /// When the attempt ended (RFC 3339).
    pub finished_at: String,
}

impl From<FinalOutcome> for OutcomeView {
    fn from(o: FinalOutcome) -> Self {
        Self {
            seq: o.seq,
            record_id: o.record_id.to_string(),
            provider: o.provider.to_string(),
            state: o.state.to_string(),
            attempt: o.attempt,
            status_code: o.status_code,
            error_class: o.error_class.map(|c| c.as_str().to_owned()),
            detail: o.detail,
            response: o.response,
            finished_at: o.finished_at.to_rfc3339(),
        }
    }
}

/// A page of the caller's feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// Outcomes not seen before by this application, oldest first.
    pub items: Vec<OutcomeView>,
    /// True when this page emptied the feed for now.
    pub up_to_date: bool,
}
