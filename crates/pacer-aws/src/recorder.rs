//! An SDK interceptor that records every AWS operation the clients make, with the IAM
//! permissions each one needs: `dynamodb:PutItem` on a table, `sqs:SendMessage` on a
//! queue, `sns:Publish` on a topic.
//!
//! Register it with [`crate::Aws::new_with_interceptor`]; tests use it to check that the
//! SAM template grants each function exactly what its code calls. It reads the serialized
//! request once per operation (not per retry) and never changes it.
//!
//! IAM authorises some operations under another name, which [`RecordedCall::permissions`]
//! accounts for: the SQS `…Batch` calls as their single-message action, SNS `PublishBatch`
//! as `sns:Publish`, and a DynamoDB transaction as the `PutItem`/`UpdateItem`/
//! `DeleteItem`/`ConditionCheckItem`/`GetItem` of each of its items.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

/// What an action applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// A DynamoDB table, by name.
    Table(String),
    /// A DynamoDB table's index.
    Index {
        /// The table's name.
        table: String,
        /// The index's name.
        index: String,
    },
    /// An SQS queue, by URL (or by name, for `GetQueueUrl`).
    Queue(String),
    /// An SNS topic, by ARN.
    Topic(String),
    /// Not named in the request (e.g. `ListQueues`).
    Account,
}

/// One IAM permission: an action on a resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// `service:Action`, e.g. `dynamodb:UpdateItem`.
    pub action: String,
    /// What it applies to.
    pub resource: Resource,
}

/// One operation a client made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The IAM service prefix: `dynamodb`, `sqs`, `sns`.
    pub service: String,
    /// The API operation, e.g. `TransactWriteItems`.
    pub operation: String,
    /// The permissions it needs.
    pub permissions: Vec<Permission>,
}

impl RecordedCall {
    /// `service:Operation`, e.g. `sqs:SendMessageBatch`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }
}

/// The recording interceptor. Clones share one record.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<RecordedCall>>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call recorded so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The distinct permissions of every call so far.
    pub fn permissions(&self) -> BTreeSet<Permission> {
        self.calls()
            .into_iter()
            .flat_map(|c| c.permissions)
            .collect()
    }

    /// The distinct `service:Operation` names called so far.
    pub fn operations(&self) -> BTreeSet<String> {
        self.calls().iter().map(RecordedCall::name).collect()
    }
}

/// One serialized request as an interceptor sees it: the lowercase service prefix
/// (`dynamodb`), the operation (`PutItem`) and the body. Shared with the bench's meter.
pub struct SerializedCall<'a> {
    /// The IAM service prefix.
    pub service: String,
    /// The API operation.
    pub operation: String,
    /// The serialized request body (empty when streamed).
    pub body: &'a [u8],
}

impl<'a> SerializedCall<'a> {
    /// The call `context` is about to send, or `None` when the SDK left no metadata.
    pub fn of(
        context: &'a BeforeTransmitInterceptorContextRef<'_>,
        cfg: &ConfigBag,
    ) -> Option<Self> {
        let metadata = cfg.load::<Metadata>()?;
        Some(Self {
            service: metadata.service().to_ascii_lowercase(),
            operation: metadata.name().to_owned(),
            body: context.request().body().bytes().unwrap_or_default(),
        })
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "pacer-recorder"
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
        let permissions = permissions(&service, &operation, body);
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(RecordedCall {
                service,
                operation,
                permissions,
            });
        Ok(())
    }
}

/// The permissions an operation needs, from its serialized request.
fn permissions(service: &str, operation: &str, body: &[u8]) -> Vec<Permission> {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |name: &str| -> Option<String> {
        json.get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .or_else(|| form_field(body, name))
    };
    let permission = |action: &str, resource: Resource| Permission {
        action: format!("{service}:{action}"),
        resource,
    };
    match service {
        "dynamodb" => dynamodb(operation, &json)
            .into_iter()
            .map(|(action, resource)| permission(&action, resource))
            .collect(),
        "sqs" => {
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            let queue = field("QueueUrl").or_else(|| field("QueueName"));
            vec![permission(
                action,
                queue.map_or(Resource::Account, Resource::Queue),
            )]
        }
        "sns" => {
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            let topic = field("TopicArn");
            vec![permission(
                action,
                topic.map_or(Resource::Account, Resource::Topic),
            )]
        }
        _ => vec![permission(operation, Resource::Account)],
    }
}

/// DynamoDB's actions and resources: per transaction item, per batch table, or the
/// request's table (and index).
fn dynamodb(operation: &str, json: &serde_json::Value) -> Vec<(String, Resource)> {
    let table = |v: &serde_json::Value| {
        v.get("TableName")
            .and_then(|t| t.as_str())
            .map(str::to_owned)
    };
    match operation {
        "TransactWriteItems" | "TransactGetItems" => json
            .get("TransactItems")
            .and_then(|items| items.as_array())
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_object())
            .flat_map(|item| item.iter())
            .filter_map(|(kind, body)| {
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    _ => return None,
                };
                Some((action.to_owned(), Resource::Table(table(body)?)))
            })
            .collect(),
        "BatchWriteItem" | "BatchGetItem" => json
            .get("RequestItems")
            .and_then(|r| r.as_object())
            .into_iter()
            .flat_map(|r| r.keys())
            .map(|t| (operation.to_owned(), Resource::Table(t.clone())))
            .collect(),
        _ => {
            let resource = match (table(json), json.get("IndexName").and_then(|i| i.as_str())) {
                (Some(table), Some(index)) => Resource::Index {
                    table,
                    index: index.to_owned(),
                },
                (Some(table), None) => Resource::Table(table),
                (None, _) => Resource::Account,
            };
            vec![(operation.to_owned(), resource)]
        }
    }
}

/// A field of an `application/x-www-form-urlencoded` body (the AWS query protocol SNS
/// speaks), percent-decoded.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(action: &str, resource: Resource) -> Permission {
        Permission {
            action: action.into(),
            resource,
        }
    }

    #[test]
    fn a_transaction_needs_each_item_action_on_its_table() {
        let body = br#"{"TransactItems":[
            {"Put":{"TableName":"attempts","Item":{}}},
            {"Update":{"TableName":"records","Key":{}}},
            {"ConditionCheck":{"TableName":"control","Key":{}}}]}"#;
        assert_eq!(
            permissions("dynamodb", "TransactWriteItems", body),
            vec![
                p("dynamodb:PutItem", Resource::Table("attempts".into())),
                p("dynamodb:UpdateItem", Resource::Table("records".into())),
                p(
                    "dynamodb:ConditionCheckItem",
                    Resource::Table("control".into())
                ),
            ]
        );
    }

    #[test]
    fn a_query_on_an_index_needs_the_index() {
        let body = br#"{"TableName":"records","IndexName":"due","KeyConditionExpression":"x"}"#;
        assert_eq!(
            permissions("dynamodb", "Query", body),
            vec![p(
                "dynamodb:Query",
                Resource::Index {
                    table: "records".into(),
                    index: "due".into()
                }
            )]
        );
        let batch = br#"{"RequestItems":{"records":{"Keys":[]}}}"#;
        assert_eq!(
            permissions("dynamodb", "BatchGetItem", batch),
            vec![p(
                "dynamodb:BatchGetItem",
                Resource::Table("records".into())
            )]
        );
    }

    #[test]
    fn batch_calls_need_the_single_message_action() {
        let body = br#"{"QueueUrl":"http://q/work.fifo","Entries":[]}"#;
        assert_eq!(
            permissions("sqs", "SendMessageBatch", body),
            vec![p(
                "sqs:SendMessage",
                Resource::Queue("http://q/work.fifo".into())
            )]
        );
        let sns = b"Action=PublishBatch&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Aoutcomes";
        assert_eq!(
            permissions("sns", "PublishBatch", sns),
            vec![p(
                "sns:Publish",
                Resource::Topic("arn:aws:sns:us-east-1:1:outcomes".into())
            )]
        );
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%3Ab+c%zz%4"), "a:b c%zz%4");
    }
}
