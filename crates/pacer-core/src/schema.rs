//! Versioned message and event schemas: what travels through queues and the outcome bus.
//!
//! Every body carries `"v"`; a reader rejects versions it does not know with
//! [`SchemaError::UnknownVersion`] so a poison message is dead-lettered with a reason
//! instead of being misread.

use crate::classify::ErrorClass;
use crate::ids::{ProviderId, RecordId};
use crate::record::ApiRequest;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The work message version this build writes and reads.
pub const WORK_MESSAGE_VERSION: u32 = 1;
/// The outcome event version this build writes and reads.
pub const OUTCOME_EVENT_VERSION: u32 = 1;
/// Largest response excerpt kept per attempt; longer bodies are cut and marked.
pub const MAX_RESPONSE_EXCERPT: usize = 16 * 1024;
/// Appended to a cut response excerpt.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Not JSON, or not the expected shape.
    #[error("malformed {kind}: {source}")]
    Malformed {
        /// Which schema.
        kind: &'static str,
        /// The decoder's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A version this build does not know.
    #[error("{kind} version {found} is not supported (this build reads version {supported})")]
    UnknownVersion {
        /// Which schema.
        kind: &'static str,
        /// The version found.
        found: u64,
        /// The version supported.
        supported: u32,
    },
}

fn check_version(body: &str, kind: &'static str, supported: u32) -> Result<(), SchemaError> {
    #[derive(Deserialize)]
    struct Probe {
        v: Option<u64>,
    }
    let probe: Probe =
        serde_json::from_str(body).map_err(|source| SchemaError::Malformed { kind, source })?;
    match probe.v {
        Some(v) if v == u64::from(supported) => Ok(()),
        Some(found) => Err(SchemaError::UnknownVersion {
            kind,
            found,
            supported,
        }),
        None => Err(SchemaError::UnknownVersion {
            kind,
            found: 0,
            supported,
        }),
    }
}

/// One unit of work: call the API for `record_id` as attempt number `attempt`.
/// Grouped by `provider`; deduplicated by `record_id#attempt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkMessage {
    /// Schema version.
    pub v: u32,
    /// The record.
    pub record_id: RecordId,
    /// Its provider (the message group).
    pub provider: ProviderId,
    /// The attempt number this message is for (1-based).
    pub attempt: u32,
    /// HTTP calls the record has had before this message.
    pub calls: u32,
    /// The call to make; carried so the worker does not read the record first.
    pub request: ApiRequest,
    /// When the dispatcher released it.
    pub released_at: Timestamp,
}

impl WorkMessage {
    /// The FIFO deduplication id.
    pub fn dedup_id(&self) -> String {
        format!("{}#{}", self.record_id, self.attempt)
    }

    /// Serialises the message.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a message body, checking its version.
    pub fn decode(body: &str) -> Result<Self, SchemaError> {
        check_version(body, "work message", WORK_MESSAGE_VERSION)?;
        serde_json::from_str(body).map_err(|source| SchemaError::Malformed {
            kind: "work message",
            source,
        })
    }
}

/// What the record should become after this attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NextState {
    /// Another attempt follows in the same invocation; no state move.
    Continue,
    /// Final: success.
    Succeeded,
    /// Final: permanent error.
    Failed,
    /// Due again at `due_at`.
    RetryWait {
        /// When.
        due_at: Timestamp,
    },
    /// Final: attempts exhausted (an entry is in the dead-letter queue).
    DeadLettered,
}

/// One attempt's outcome, published by the worker and applied by the results service.
/// Applying it twice is harmless: attempts are keyed by `record_id#attempt` and state
/// moves are monotonic in `attempt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEvent {
    /// Schema version.
    pub v: u32,
    /// The record.
    pub record_id: RecordId,
    /// Its provider.
    pub provider: ProviderId,
    /// Attempt number.
    pub attempt: u32,
    /// Whether an HTTP call was made (false when the breaker was open).
    pub called: bool,
    /// `METHOD url` of the call.
    pub request_summary: String,
    /// When the call started.
    pub started_at: Timestamp,
    /// When it ended.
    pub finished_at: Timestamp,
    /// Measured latency in milliseconds.
    pub latency_ms: u64,
    /// HTTP status, if an answer came.
    pub status_code: Option<u16>,
    /// Why it failed, if it did.
    pub error_class: Option<ErrorClass>,
    /// Human detail about the failure.
    pub detail: Option<String>,
    /// Response body excerpt, cut to [`MAX_RESPONSE_EXCERPT`] with [`TRUNCATION_MARKER`].
    pub response: Option<String>,
    /// The lease's fencing token sent with the call.
    pub fencing_token: u64,
    /// The worker invocation that made the call.
    pub invocation_id: String,
    /// The record's next state.
    pub next: NextState,
}

impl OutcomeEvent {
    /// Serialises the event.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an event body, checking its version.
    pub fn decode(body: &str) -> Result<Self, SchemaError> {
        check_version(body, "outcome event", OUTCOME_EVENT_VERSION)?;
        serde_json::from_str(body).map_err(|source| SchemaError::Malformed {
            kind: "outcome event",
            source,
        })
    }
}

/// Cuts `body` to at most [`MAX_RESPONSE_EXCERPT`] bytes on a character boundary and marks the cut.
pub fn excerpt(body: &str) -> (String, bool) {
    if body.len() <= MAX_RESPONSE_EXCERPT {
        return (body.to_owned(), false);
    }
    let mut end = MAX_RESPONSE_EXCERPT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}{}", &body[..end], TRUNCATION_MARKER), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> WorkMessage {
        WorkMessage {
            v: WORK_MESSAGE_VERSION,
            record_id: RecordId::new("r1").unwrap(),
            provider: ProviderId::new("acme").unwrap(),
            attempt: 3,
            calls: 2,
            request: ApiRequest {
                path: "/x".into(),
                ..Default::default()
            },
            released_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn work_messages_round_trip_and_dedup_by_record_and_attempt() {
        let m = message();
        assert_eq!(WorkMessage::decode(&m.encode()).unwrap(), m);
        assert_eq!(m.dedup_id(), "r1#3");
    }

    #[test]
    fn unknown_versions_and_garbage_are_rejected_with_reasons() {
        let v2 = message().encode().replace("\"v\":1", "\"v\":2");
        let e = WorkMessage::decode(&v2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "work message version 2 is not supported (this build reads version 1)"
        );
        assert!(matches!(
            WorkMessage::decode("{]"),
            Err(SchemaError::Malformed { .. })
        ));
        assert!(matches!(
            WorkMessage::decode("{}"),
            Err(SchemaError::UnknownVersion { found: 0, .. })
        ));
        let bad_id = message().encode().replace("\"r1\"", "\"r 1\"");
        assert!(matches!(
            WorkMessage::decode(&bad_id),
            Err(SchemaError::Malformed { .. })
        ));
    }

    #[test]
    fn excerpts_cut_on_a_character_boundary_and_say_so() {
        let long = "é".repeat(MAX_RESPONSE_EXCERPT);
        let (cut, truncated) = excerpt(&long);
        assert!(truncated);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        assert!(cut.len() <= MAX_RESPONSE_EXCERPT + TRUNCATION_MARKER.len());
        assert_eq!(excerpt("short"), ("short".to_owned(), false));
    }
}
