//! An SDK interceptor that counts billable AWS requests as the services bill them, from
//! the serialized requests (and, for DynamoDB queries, the responses):
//!
//! - DynamoDB: one unit per item read or written; items of a `BatchGetItem` or
//!   `BatchWriteItem` one by one, items of a transaction twice (DynamoDB bills
//!   transactional requests double). A `GetItem`, `Query` or `Scan` is billed by the
//!   size it read, one read unit per 4 KB (half for an eventually consistent read, as
//!   every index query is), so it is counted from the response's size. A write whose
//!   condition fails is still billed, and counted.
//! - SQS and SNS: one request per 64 KB chunk of the request (a batch of ten small
//!   messages is one request).
//! - Anything else: one per request.
//!
//! What it does not see: writes DynamoDB makes to global secondary indexes (billed as
//! extra write units on the table), and requests made for us by AWS (Lambda's event
//! source mappings, EventBridge Scheduler), which the scenario adds from the batches.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use pacer_aws::recorder::SerializedCall;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// SQS and SNS bill each 64 KB chunk of a request's payload as one request.
const CHUNK: usize = 64 * 1024;
/// DynamoDB bills reads by 4 KB.
const READ_UNIT: usize = 4 * 1024;

/// Billable units by label (`dynamodb:TransactWriteItems`, `sqs:SendMessageBatch (fifo)`).
pub(super) type Counts = BTreeMap<String, f64>;

/// The counting interceptor. Clones share one tally.
#[derive(Debug, Clone, Default)]
pub(super) struct Meter {
    counts: Arc<Mutex<Counts>>,
}

impl Meter {
    /// An empty meter.
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Adds `units` under `label` (for requests AWS makes on our behalf).
    pub(super) fn add(&self, label: &str, units: f64) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(label.to_owned())
            .or_default() += units;
    }

    /// The tally so far.
    pub(super) fn counts(&self) -> Counts {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A query or scan waiting for its response to be sized.
#[derive(Debug, Clone)]
struct PendingRead {
    label: String,
    consistent: bool,
}

impl Storable for PendingRead {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "pacer-bench-meter"
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(SerializedCall {
            service,
            operation,
            body,
        }) = SerializedCall::of(context, cfg)
        else {
            return Ok(());
        };
        match billing(&service, &operation, body) {
            Billing::Now { label, units } => self.add(&label, units),
            Billing::BySize { label, consistent } => {
                cfg.interceptor_state()
                    .store_put(PendingRead { label, consistent });
            }
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(read) = cfg.load::<PendingRead>() {
            let size = context.response().body().bytes().map_or(0, <[u8]>::len);
            self.add(&read.label, read_units(size, read.consistent));
        }
        Ok(())
    }
}

/// How one request is billed.
#[derive(Debug, Clone, PartialEq)]
enum Billing {
    /// Known from the request.
    Now { label: String, units: f64 },
    /// Known from the response's size.
    BySize { label: String, consistent: bool },
}

/// Read units of a query page of `size` bytes: 4 KB each, at least one, half when
/// eventually consistent.
fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(READ_UNIT).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// The billing of one request from its serialized body.
fn billing(service: &str, operation: &str, body: &[u8]) -> Billing {
    let json: Value = serde_json::from_slice(body).unwrap_or_default();
    let label = format!("{service}:{operation}");
    let chunks = (body.len().div_ceil(CHUNK)).max(1) as f64;
    match service {
        "dynamodb" => dynamodb(label, operation, &json),
        "sqs" => {
            let fifo = json
                .get("QueueUrl")
                .and_then(Value::as_str)
                .is_some_and(|q| q.ends_with(".fifo"));
            let label = format!("{label} ({})", if fifo { "fifo" } else { "standard" });
            Billing::Now {
                label,
                units: chunks,
            }
        }
        "sns" => Billing::Now {
            label,
            units: chunks,
        },
        _ => Billing::Now { label, units: 1.0 },
    }
}

fn dynamodb(label: String, operation: &str, json: &Value) -> Billing {
    let count = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, Vec::len) as f64;
    let units = match operation {
        "TransactWriteItems" | "TransactGetItems" => 2.0 * count(json.get("TransactItems")),
        "BatchWriteItem" => json
            .get("RequestItems")
            .and_then(Value::as_object)
            .map_or(0.0, |tables| tables.values().map(|v| count(Some(v))).sum()),
        "BatchGetItem" => json
            .get("RequestItems")
            .and_then(Value::as_object)
            .map_or(0.0, |tables| {
                tables.values().map(|t| count(t.get("Keys"))).sum()
            }),
        "GetItem" | "Query" | "Scan" => {
            let consistent = json
                .get("ConsistentRead")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            return Billing::BySize { label, consistent };
        }
        _ => 1.0,
    };
    Billing::Now { label, units }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(service: &str, operation: &str, body: &str) -> f64 {
        match billing(service, operation, body.as_bytes()) {
            Billing::Now { units, .. } => units,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transactions_count_each_item_twice_and_batches_each_item() {
        let tx = r#"{"TransactItems":[{"Put":{}},{"Update":{}},{"ConditionCheck":{}}]}"#;
        assert_eq!(units("dynamodb", "TransactWriteItems", tx), 6.0);
        let get = r#"{"RequestItems":{"records":{"Keys":[{},{},{}],"ConsistentRead":true}}}"#;
        assert_eq!(units("dynamodb", "BatchGetItem", get), 3.0);
        let write = r#"{"RequestItems":{"a":[{},{}],"b":[{}]}}"#;
        assert_eq!(units("dynamodb", "BatchWriteItem", write), 3.0);
        assert_eq!(units("dynamodb", "UpdateItem", "{}"), 1.0);
    }

    #[test]
    fn queries_are_billed_by_the_size_read() {
        assert_eq!(
            billing("dynamodb", "Query", br#"{"IndexName":"due"}"#),
            Billing::BySize {
                label: "dynamodb:Query".into(),
                consistent: false
            }
        );
        assert_eq!(
            billing("dynamodb", "GetItem", br#"{"ConsistentRead":true}"#),
            Billing::BySize {
                label: "dynamodb:GetItem".into(),
                consistent: true
            }
        );
        assert_eq!(read_units(0, false), 0.5);
        assert_eq!(read_units(4097, true), 2.0);
    }

    #[test]
    fn queue_requests_are_billed_per_64_kb_chunk_and_labelled_by_queue_type() {
        let small = r#"{"QueueUrl":"http://q/1/work.fifo","Entries":[]}"#;
        assert_eq!(
            billing("sqs", "SendMessageBatch", small.as_bytes()),
            Billing::Now {
                label: "sqs:SendMessageBatch (fifo)".into(),
                units: 1.0
            }
        );
        let big = format!(
            r#"{{"QueueUrl":"http://q/1/results","x":"{}"}}"#,
            "a".repeat(CHUNK)
        );
        assert_eq!(units("sqs", "SendMessage", &big), 2.0);
        assert_eq!(units("sns", "PublishBatch", "Action=PublishBatch"), 1.0);
    }
}
