//! Submit records on demand (the HTTP API's `POST /records`).
//!
//! The body is one record or a batch (a JSON array) of the import-line shape plus an
//! optional `callback_url`. Every record is checked field by field and every problem is
//! reported with the field's name, then providers must be configured and callback URLs
//! must pass the [`CallbackPolicy`] including DNS. All records are accepted or none. The
//! accepted ones are stored due now ([`crate::ports::RecordIntake`]): on-demand
//! collection does not wait for the next daily plan.

use crate::callback_url::{CallbackPolicy, CallbackUrl, CallbackUrlError};
use crate::error::PortError;
use crate::ids::{ProviderId, RecordId};
use crate::ports::{Admission, ApiPorts, HostResolver};
use crate::record::{ApiRequest, NewRecord};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Most records in one submission.
pub const MAX_BATCH: usize = 500;

/// Fields a submitted record may have.
const FIELDS: &str = "id, provider, request, callback_url";

/// One bad field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted name, prefixed by the record's index in a batch: `[2].request.path`.
    pub field: String,
    /// The same place as a JSON Pointer (RFC 6901): `/2/request/path`.
    pub pointer: String,
    /// What is wrong, for the person who wrote it.
    pub problem: String,
}

/// Why a submission was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Not a record or a batch at all (empty, too large, not an object or array).
    #[error("the body is not a record or a batch of records: {problem}")]
    Malformed {
        /// What is wrong.
        problem: String,
    },
    /// Well-formed, but some fields are invalid; nothing was stored.
    #[error("{} invalid field(s); nothing was stored", .0.len())]
    Invalid(Vec<FieldError>),
    /// A callback host could not be resolved right now: retry the same request later.
    #[error("a callback URL's host could not be checked right now; retry later")]
    ResolverUnavailable(#[source] CallbackUrlError),
    /// The store failed.
    #[error("the store failed")]
    Port(#[from] PortError),
}

/// Where a record sits in the body, for naming its fields.
struct Place {
    field: String,
    pointer: String,
}

impl Place {
    fn of(index: Option<usize>) -> Self {
        match index {
            Some(i) => Self {
                field: format!("[{i}]"),
                pointer: format!("/{i}"),
            },
            None => Self {
                field: String::new(),
                pointer: String::new(),
            },
        }
    }

    fn error(&self, field: &str, problem: impl Into<String>) -> FieldError {
        let (name, pointer) = match (self.field.is_empty(), field.is_empty()) {
            (_, true) if self.field.is_empty() => ("(body)".to_owned(), String::new()),
            (_, true) => (self.field.clone(), self.pointer.clone()),
            (true, false) => (field.to_owned(), format!("/{}", field.replace('.', "/"))),
            (false, false) => (
                format!("{}.{field}", self.field),
                format!("{}/{}", self.pointer, field.replace('.', "/")),
            ),
        };
        FieldError {
            field: name,
            pointer,
            problem: problem.into(),
        }
    }
}

fn string_field<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    place: &Place,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match obj.get(field) {
        None | Some(Value::Null) => errors.push(place.error(field, "missing")),
        Some(Value::String(s)) => return Some(s),
        Some(_) => errors.push(place.error(field, "must be a string")),
    }
    None
}

/// Checks one record's fields, pushing every problem; the record if it has none.
fn parse_one(
    value: &Value,
    place: &Place,
    policy: CallbackPolicy,
    errors: &mut Vec<FieldError>,
) -> Option<NewRecord> {
    let Some(obj) = value.as_object() else {
        errors.push(place.error("", "expected a JSON object (a record)"));
        return None;
    };
    let before = errors.len();
    for key in obj.keys() {
        if !matches!(key.as_str(), "id" | "provider" | "request" | "callback_url") {
            errors.push(place.error(key, format!("unknown field; expected {FIELDS}")));
        }
    }
    let id = string_field(obj, "id", place, errors).and_then(|s| {
        RecordId::new(s)
            .map_err(|e| errors.push(place.error("id", e.to_string())))
            .ok()
    });
    let provider = string_field(obj, "provider", place, errors).and_then(|s| {
        ProviderId::new(s)
            .map_err(|e| errors.push(place.error("provider", e.to_string())))
            .ok()
    });
    let request = match obj.get("request") {
        None | Some(Value::Null) => {
            errors.push(place.error("request", "missing"));
            None
        }
        Some(r) => serde_json::from_value::<ApiRequest>(r.clone())
            .map_err(|e| errors.push(place.error("request", e.to_string())))
            .ok(),
    };
    let callback_url = match obj.get("callback_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => CallbackUrl::parse(s)
            .and_then(|url| policy.check_url(&url).map(|()| url))
            .map_err(|e| errors.push(place.error("callback_url", e.to_string())))
            .ok(),
        Some(_) => {
            errors.push(place.error("callback_url", "must be a string (an https:// URL)"));
            None
        }
    };
    let record = NewRecord {
        id: id?,
        provider: provider?,
        request: request?,
        callback_url,
    };
    if let Err(e) = record.validate() {
        errors.push(place.error(&e.field, e.problem));
    }
    (errors.len() == before).then_some(record)
}

/// Checks a submission body and returns its records, or every problem found.
pub fn parse_submission(
    body: &Value,
    policy: CallbackPolicy,
) -> Result<Vec<NewRecord>, SubmitError> {
    let items: Vec<(Place, &Value)> = match body {
        Value::Array(items) if items.is_empty() => {
            return Err(SubmitError::Malformed {
                problem: "the batch is empty".into(),
            })
        }
        Value::Array(items) if items.len() > MAX_BATCH => {
            return Err(SubmitError::Malformed {
                problem: format!(
                    "a batch holds at most {MAX_BATCH} records; this one has {}",
                    items.len()
                ),
            })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Place::of(Some(i)), v))
            .collect(),
        Value::Object(_) => vec![(Place::of(None), body)],
        _ => {
            return Err(SubmitError::Malformed {
                problem: "expected a JSON object (one record) or an array of them (a batch)".into(),
            })
        }
    };
    let mut errors = Vec::new();
    let mut records = Vec::with_capacity(items.len());
    let mut seen: HashMap<RecordId, usize> = HashMap::new();
    for (i, (place, value)) in items.iter().enumerate() {
        if let Some(record) = parse_one(value, place, policy, &mut errors) {
            if let Some(first) = seen.insert(record.id.clone(), i) {
                errors.push(place.error("id", format!("repeats the id of record [{first}]")));
            }
            records.push((i, record));
        }
    }
    if !errors.is_empty() {
        return Err(SubmitError::Invalid(errors));
    }
    Ok(records.into_iter().map(|(_, r)| r).collect())
}

/// Checks that providers are configured and callback hosts resolve to public addresses.
async fn check_references(
    ports: &ApiPorts,
    resolver: &dyn HostResolver,
    policy: CallbackPolicy,
    records: &[NewRecord],
    batch: bool,
) -> Result<(), SubmitError> {
    let mut errors = Vec::new();
    let mut known: BTreeMap<&ProviderId, bool> = BTreeMap::new();
    let mut hosts: HashMap<&str, Option<String>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let place = Place::of(batch.then_some(i));
        let exists = match known.get(&r.provider) {
            Some(k) => *k,
            None => {
                let k = ports.providers.get_provider(&r.provider).await?.is_some();
                *known.entry(&r.provider).or_insert(k)
            }
        };
        if !exists {
            errors.push(place.error(
                "provider",
                format!(
                    "unknown provider {:?}; operators configure providers (`pacer providers set`)",
                    r.provider.as_str()
                ),
            ));
        }
        let Some(url) = &r.callback_url else { continue };
        let problem = match hosts.get(url.as_str()) {
            Some(p) => p.clone(),
            None => {
                let p = match policy.check(url, resolver).await {
                    Ok(_) => None,
                    Err(e) if e.is_retryable() => return Err(SubmitError::ResolverUnavailable(e)),
                    Err(e) => Some(e.to_string()),
                };
                hosts.insert(url.as_str(), p.clone());
                p
            }
        };
        if let Some(problem) = problem {
            errors.push(place.error("callback_url", problem));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SubmitError::Invalid(errors))
    }
}

/// Validates and stores a submission; `origin` says who sent it (noted in each
/// record's history). Returns each record's id and admission, in body order.
pub async fn submit(
    ports: &ApiPorts,
    resolver: &dyn HostResolver,
    policy: CallbackPolicy,
    body: &Value,
    origin: &str,
) -> Result<Vec<(RecordId, Admission)>, SubmitError> {
    let records = parse_submission(body, policy)?;
    check_references(ports, resolver, policy, &records, body.is_array()).await?;
    let admissions = ports
        .intake
        .submit(&records, origin, ports.clock.now())
        .await?;
    tracing::info!(records = records.len(), origin, "records submitted");
    Ok(records.into_iter().map(|r| r.id).zip(admissions).collect())
}

#[cfg(test)]
#[path = "submit_tests.rs"]
mod tests;
