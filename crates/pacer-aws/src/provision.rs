//! Creates pacer's AWS resources from `infra/resources.json`, the one description that
//! the emulator tests provision and `template.yaml` must match.
//!
//! It is test support (every contract case provisions its own, uniquely prefixed set on
//! moto) and a way for the CLI to set up a sandbox account; production stacks come from
//! the SAM template. It is not idempotent: a prefix is used once.

use crate::backend::{ApiResources, AwsResources};
use aws_config::SdkConfig;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The resource description, compiled in.
pub const RESOURCES_JSON: &str = include_str!("../../../infra/resources.json");

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// `infra/resources.json` does not parse.
    #[error("infra/resources.json is not a valid resource description")]
    Description(#[source] serde_json::Error),
    /// A resource the adapters need is not described.
    #[error("infra/resources.json lacks {0}, which the adapters need")]
    Missing(String),
    /// The prefix cannot start AWS resource names.
    #[error("prefix {0:?} must be 1-40 characters of letters, digits, '-' and '_'")]
    BadPrefix(String),
    /// An AWS call failed.
    #[error("provisioning {resource}: {step} failed")]
    Aws {
        /// The logical id of the resource.
        resource: String,
        /// What was being done.
        step: &'static str,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// `infra/resources.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDescription {
    /// What the file is.
    pub description: String,
    /// DynamoDB tables by logical id.
    pub tables: BTreeMap<String, TableSpec>,
    /// SQS queues by logical id.
    pub queues: BTreeMap<String, QueueSpec>,
    /// SNS topics by logical id.
    pub topics: BTreeMap<String, TopicSpec>,
    /// SNS subscriptions by logical id.
    pub subscriptions: BTreeMap<String, SubscriptionSpec>,
}

/// A DynamoDB table, in `AWS::DynamoDB::Table` property form.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TableSpec {
    /// Physical name after the prefix.
    #[serde(rename = "name")]
    pub name: String,
    /// `PAY_PER_REQUEST`.
    pub billing_mode: String,
    /// Key attributes and their types.
    pub attribute_definitions: Vec<AttributeSpec>,
    /// The table's key.
    pub key_schema: Vec<KeySpec>,
    /// Global secondary indexes.
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexSpec>,
}

/// One key attribute's type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AttributeSpec {
    /// Name.
    pub attribute_name: String,
    /// `S` or `N`.
    pub attribute_type: String,
}

/// One key element.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct KeySpec {
    /// Attribute.
    pub attribute_name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct IndexSpec {
    /// Name.
    pub index_name: String,
    /// Its key.
    pub key_schema: Vec<KeySpec>,
    /// What it projects.
    pub projection: ProjectionSpec,
}

/// An index projection.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ProjectionSpec {
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
}

/// An SQS queue, in `AWS::SQS::Queue` property form.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct QueueSpec {
    /// Physical name after the prefix (`.fifo` is added for FIFO queues).
    #[serde(rename = "name")]
    pub name: String,
    /// FIFO or standard (absent: standard).
    #[serde(default)]
    pub fifo_queue: bool,
    /// Content-based deduplication (FIFO only; pacer sends explicit dedup ids).
    pub content_based_deduplication: Option<bool>,
    /// Default visibility timeout, seconds.
    pub visibility_timeout: Option<u32>,
    /// Retention, seconds.
    pub message_retention_period: Option<u32>,
    /// Redrive to a dead-letter queue.
    pub redrive_policy: Option<RedriveSpec>,
}

/// A redrive policy naming its dead-letter queue by logical id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveSpec {
    /// Logical id of the dead-letter queue.
    #[serde(rename = "deadLetterTarget")]
    pub dead_letter_target: String,
    /// Receives before a message is moved there.
    #[serde(rename = "maxReceiveCount")]
    pub max_receive_count: u32,
}

/// An SNS topic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TopicSpec {
    /// Physical name after the prefix.
    #[serde(rename = "name")]
    pub name: String,
    /// FIFO topic (absent: standard).
    #[serde(default)]
    pub fifo_topic: bool,
}

/// An SNS subscription of a queue to a topic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct SubscriptionSpec {
    /// Logical id of the topic.
    pub topic: String,
    /// `sqs`.
    pub protocol: String,
    /// Logical id of the subscribed queue.
    pub endpoint: String,
    /// Deliver the message body as published, without the SNS envelope.
    pub raw_message_delivery: bool,
    /// Which messages the subscription takes (on message attributes).
    #[serde(default)]
    pub filter_policy: Option<serde_json::Value>,
}

impl ResourceDescription {
    /// The compiled-in `infra/resources.json`.
    pub fn load() -> Result<Self, ProvisionError> {
        serde_json::from_str(RESOURCES_JSON).map_err(ProvisionError::Description)
    }
}

/// How to provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionOptions {
    /// Starts every physical name, so sets never collide.
    pub prefix: String,
    /// Overrides the work queue's `maxReceiveCount` (the contract suite needs its own).
    pub work_max_receive_count: Option<u32>,
}

/// A per-process unique prefix for test resources: `t<time><counter>` in base 36.
pub fn unique_prefix(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "{tag}-{}-{}",
        base36(nanos % 36u64.pow(8)),
        base36(u64::from(n))
    )
}

fn base36(mut v: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn valid_prefix(p: &str) -> bool {
    (1..=40).contains(&p.len())
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Creates every described resource under `options.prefix` and returns their names.
pub async fn provision(
    sdk: &SdkConfig,
    options: &ProvisionOptions,
) -> Result<AwsResources, ProvisionError> {
    if !valid_prefix(&options.prefix) {
        return Err(ProvisionError::BadPrefix(options.prefix.clone()));
    }
    let description = ResourceDescription::load()?;
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sns = aws_sdk_sns::Client::new(sdk);
    let mut tables = HashMap::new();
    for (logical, spec) in &description.tables {
        let name = format!("{}-{}", options.prefix, spec.name);
        tables::create(&dynamo, logical, &name, spec).await?;
        tables.insert(logical.as_str(), name);
    }
    let queues = queues::create_all(&sqs, &description, options).await?;
    let mut topics = HashMap::new();
    for (logical, spec) in &description.topics {
        let arn = queues::create_topic(&sns, logical, &options.prefix, spec).await?;
        topics.insert(logical.as_str(), arn);
    }
    for (logical, spec) in &description.subscriptions {
        queues::subscribe(&sqs, &sns, logical, spec, &queues, &topics).await?;
    }
    let table = |id: &str| {
        tables
            .get(id)
            .cloned()
            .ok_or_else(|| ProvisionError::Missing(id.into()))
    };
    let queue = |id: &str| {
        queues
            .get(id)
            .map(|q| q.url.clone())
            .ok_or_else(|| ProvisionError::Missing(id.into()))
    };
    Ok(AwsResources {
        records_table: table("RecordsTable")?,
        attempts_table: table("AttemptsTable")?,
        results_table: table("ResultsTable")?,
        control_table: table("ControlTable")?,
        dead_letters_table: table("DeadLettersTable")?,
        work_queue_url: queue("WorkQueue")?,
        work_dlq_url: queue("WorkDeadLetterQueue")?,
        results_queue_url: queue("ResultsQueue")?,
        results_dlq_url: queue("ResultsDeadLetterQueue")?,
        outcomes_topic_arn: topics
            .get("OutcomesTopic")
            .cloned()
            .ok_or_else(|| ProvisionError::Missing("OutcomesTopic".into()))?,
        api: Some(ApiResources {
            feed_table: table("FeedTable")?,
            clients_table: table("ClientsTable")?,
            callbacks_queue_url: queue("CallbacksQueue")?,
            callbacks_dlq_url: queue("CallbacksDeadLetterQueue")?,
        }),
    })
}

fn aws_error(
    resource: &str,
    step: &'static str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> ProvisionError {
    let resource = resource.to_owned();
    move |source| ProvisionError::Aws {
        resource,
        step,
        source,
    }
}

/// Waits a little between polls of a resource being created.
async fn poll_pause() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

mod queues;
mod tables;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_parses_and_names_every_resource_the_adapters_use() {
        let d = ResourceDescription::load().expect("test data is valid");
        for t in [
            "RecordsTable",
            "AttemptsTable",
            "ResultsTable",
            "ControlTable",
            "DeadLettersTable",
            "FeedTable",
            "ClientsTable",
        ] {
            assert!(d.tables.contains_key(t), "{t}");
        }
        for q in [
            "WorkQueue",
            "WorkDeadLetterQueue",
            "ResultsQueue",
            "ResultsDeadLetterQueue",
            "CallbacksQueue",
            "CallbacksDeadLetterQueue",
        ] {
            assert!(d.queues.contains_key(q), "{q}");
        }
        let work = &d.queues["WorkQueue"];
        assert!(work.fifo_queue && work.content_based_deduplication == Some(false));
        assert!(
            d.queues["WorkDeadLetterQueue"].fifo_queue,
            "a FIFO queue needs a FIFO DLQ"
        );
        assert!(d.subscriptions["ResultsSubscription"].raw_message_delivery);
        let kind = |sub: &str| d.subscriptions[sub].filter_policy.clone();
        assert_eq!(
            kind("ResultsSubscription"),
            Some(serde_json::json!({ "pacer_kind": ["outcome"] }))
        );
        assert_eq!(
            kind("CallbacksSubscription"),
            Some(serde_json::json!({ "pacer_kind": ["callback"] }))
        );
        assert!(
            !d.queues["CallbacksQueue"].fifo_queue,
            "SQS delays need a standard queue"
        );
    }

    #[test]
    fn prefixes_are_unique_and_valid() {
        let a = unique_prefix("t");
        let b = unique_prefix("t");
        assert_ne!(a, b);
        assert!(valid_prefix(&a), "{a}");
        assert!(!valid_prefix("has space"));
    }
}
