//! The `--backend aws` flags: which deployed resources to use, from a CloudFormation
//! stack's outputs (`--stack`) or named one by one (flags or the same environment
//! variables the Lambda functions read).
//!
//! What it is not: the adapters themselves (`pacer-aws`) or the schedule commands
//! (`commands::schedule_aws`).

use anyhow::Context as _;
use aws_config::SdkConfig;
use clap::Args;
use pacer_aws::{ApiResources, AwsResources};
use pacer_core::ports::ProviderDefaults;
use pacer_lambda::config::{DEFAULT_ATTEMPTS, DEFAULT_DUE_SHARDS};
use std::collections::HashMap;

/// Bad usage found after parsing (exit code 2), e.g. a missing resource name.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The AWS resource flags (used with `--backend aws`).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "AWS backend (with --backend aws)")]
pub struct AwsArgs {
    /// CloudFormation stack whose outputs name every resource (instead of naming them one by one).
    #[arg(long, global = true, env = "PACER_STACK", conflicts_with_all = NAME_FLAGS)]
    pub stack: Option<String>,
    /// DynamoDB records table.
    #[arg(long, global = true, env = "PACER_RECORDS_TABLE")]
    pub records_table: Option<String>,
    /// DynamoDB attempts table.
    #[arg(long, global = true, env = "PACER_ATTEMPTS_TABLE")]
    pub attempts_table: Option<String>,
    /// DynamoDB results table.
    #[arg(long, global = true, env = "PACER_RESULTS_TABLE")]
    pub results_table: Option<String>,
    /// DynamoDB control table.
    #[arg(long, global = true, env = "PACER_CONTROL_TABLE")]
    pub control_table: Option<String>,
    /// DynamoDB dead-letter table.
    #[arg(long, global = true, env = "PACER_DEAD_LETTERS_TABLE")]
    pub dead_letters_table: Option<String>,
    /// SQS work queue URL.
    #[arg(long, global = true, env = "PACER_WORK_QUEUE_URL")]
    pub work_queue_url: Option<String>,
    /// SQS work dead-letter queue URL.
    #[arg(long, global = true, env = "PACER_WORK_DLQ_URL")]
    pub work_dlq_url: Option<String>,
    /// SQS results queue URL.
    #[arg(long, global = true, env = "PACER_RESULTS_QUEUE_URL")]
    pub results_queue_url: Option<String>,
    /// SQS results dead-letter queue URL.
    #[arg(long, global = true, env = "PACER_RESULTS_DLQ_URL")]
    pub results_dlq_url: Option<String>,
    /// SNS outcomes topic ARN.
    #[arg(long, global = true, env = "PACER_OUTCOMES_TOPIC_ARN")]
    pub outcomes_topic_arn: Option<String>,
    /// EventBridge Scheduler schedule that plans the window (group `default`).
    #[arg(long, global = true, env = "PACER_PLAN_SCHEDULE")]
    pub plan_schedule: Option<String>,
    /// EventBridge Scheduler schedule that releases due records (group `default`).
    #[arg(long, global = true, env = "PACER_RELEASE_SCHEDULE")]
    pub release_schedule: Option<String>,
    /// DynamoDB feed table (HTTP API; `clients` needs the four API names).
    #[arg(long, global = true, env = "PACER_FEED_TABLE")]
    pub feed_table: Option<String>,
    /// DynamoDB clients table (HTTP API).
    #[arg(long, global = true, env = "PACER_CLIENTS_TABLE")]
    pub clients_table: Option<String>,
    /// SQS callbacks queue URL (HTTP API webhooks).
    #[arg(long, global = true, env = "PACER_CALLBACKS_QUEUE_URL")]
    pub callbacks_queue_url: Option<String>,
    /// SQS callbacks dead-letter queue URL.
    #[arg(long, global = true, env = "PACER_CALLBACKS_DLQ_URL")]
    pub callbacks_dlq_url: Option<String>,
    /// Shards of the records table's due index: the stack's `DueShards` parameter. Read
    /// from the stack's outputs with `--stack`; records written with another count would
    /// land where the dispatcher never looks.
    #[arg(long, global = true, env = "PACER_DUE_SHARDS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub due_shards: Option<u16>,
    /// The internal API's base URL for providers without settings of their own: the
    /// stack's `ApiBaseUrl` parameter (read from its outputs with `--stack`).
    #[arg(long, global = true, env = "PACER_DEFAULT_BASE_URL")]
    pub default_base_url: Option<String>,
    /// Calls per record for those providers: the stack's `MaxAttempts` parameter.
    #[arg(long, global = true, env = "PACER_DEFAULT_MAX_ATTEMPTS", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub default_max_attempts: Option<u32>,
}

/// The stack output holding the due index's shard count.
pub const DUE_SHARDS_OUTPUT: &str = "DueShards";
/// The stack output holding `ApiBaseUrl` (absent when the parameter is empty).
pub const DEFAULT_BASE_URL_OUTPUT: &str = "DefaultBaseUrl";
/// The stack output holding `MaxAttempts`.
pub const DEFAULT_MAX_ATTEMPTS_OUTPUT: &str = "DefaultMaxAttempts";

/// Every explicit-name flag (they conflict with `--stack`).
const NAME_FLAGS: [&str; 16] = [
    "records_table",
    "attempts_table",
    "results_table",
    "control_table",
    "dead_letters_table",
    "work_queue_url",
    "work_dlq_url",
    "results_queue_url",
    "results_dlq_url",
    "outcomes_topic_arn",
    "plan_schedule",
    "release_schedule",
    "feed_table",
    "clients_table",
    "callbacks_queue_url",
    "callbacks_dlq_url",
];

/// Where the HTTP API's names start in [`AwsArgs::names`] (four of them, all optional
/// together).
const API_NAMES: usize = 12;

/// The resolved deployment: resource names and the two schedules' names.
#[derive(Debug, Clone)]
pub struct AwsTarget {
    /// Tables, queues and topic.
    pub resources: AwsResources,
    /// The plan schedule, if known.
    pub plan_schedule: Option<String>,
    /// The release schedule, if known.
    pub release_schedule: Option<String>,
    /// Shards of the records table's due index, as the deployed functions use them.
    pub due_shards: u16,
    /// Settings for providers without their own, as the deployed functions apply them.
    pub provider_defaults: Option<ProviderDefaults>,
}

/// One name: its value, its flag, its environment variable and its stack output.
struct Name<'a> {
    value: &'a Option<String>,
    flag: &'static str,
    env: &'static str,
    output: &'static str,
}

impl AwsArgs {
    fn names(&self) -> [Name<'_>; 16] {
        let n = |value, flag, env, output| Name {
            value,
            flag,
            env,
            output,
        };
        [
            n(
                &self.records_table,
                "--records-table",
                "PACER_RECORDS_TABLE",
                "RecordsTableName",
            ),
            n(
                &self.attempts_table,
                "--attempts-table",
                "PACER_ATTEMPTS_TABLE",
                "AttemptsTableName",
            ),
            n(
                &self.results_table,
                "--results-table",
                "PACER_RESULTS_TABLE",
                "ResultsTableName",
            ),
            n(
                &self.control_table,
                "--control-table",
                "PACER_CONTROL_TABLE",
                "ControlTableName",
            ),
            n(
                &self.dead_letters_table,
                "--dead-letters-table",
                "PACER_DEAD_LETTERS_TABLE",
                "DeadLettersTableName",
            ),
            n(
                &self.work_queue_url,
                "--work-queue-url",
                "PACER_WORK_QUEUE_URL",
                "WorkQueueUrl",
            ),
            n(
                &self.work_dlq_url,
                "--work-dlq-url",
                "PACER_WORK_DLQ_URL",
                "WorkDeadLetterQueueUrl",
            ),
            n(
                &self.results_queue_url,
                "--results-queue-url",
                "PACER_RESULTS_QUEUE_URL",
                "ResultsQueueUrl",
            ),
            n(
                &self.results_dlq_url,
                "--results-dlq-url",
                "PACER_RESULTS_DLQ_URL",
                "ResultsDeadLetterQueueUrl",
            ),
            n(
                &self.outcomes_topic_arn,
                "--outcomes-topic-arn",
                "PACER_OUTCOMES_TOPIC_ARN",
                "OutcomesTopicArn",
            ),
            n(
                &self.plan_schedule,
                "--plan-schedule",
                "PACER_PLAN_SCHEDULE",
                "PlanScheduleName",
            ),
            n(
                &self.release_schedule,
                "--release-schedule",
                "PACER_RELEASE_SCHEDULE",
                "ReleaseScheduleName",
            ),
            n(
                &self.feed_table,
                "--feed-table",
                "PACER_FEED_TABLE",
                "FeedTableName",
            ),
            n(
                &self.clients_table,
                "--clients-table",
                "PACER_CLIENTS_TABLE",
                "ClientsTableName",
            ),
            n(
                &self.callbacks_queue_url,
                "--callbacks-queue-url",
                "PACER_CALLBACKS_QUEUE_URL",
                "CallbacksQueueUrl",
            ),
            n(
                &self.callbacks_dlq_url,
                "--callbacks-dlq-url",
                "PACER_CALLBACKS_DLQ_URL",
                "CallbacksDeadLetterQueueUrl",
            ),
        ]
    }

    /// Whether any AWS flag was given (they only make sense with `--backend aws`).
    pub fn any_given(&self) -> bool {
        self.stack.is_some()
            || self.due_shards.is_some()
            || self.default_base_url.is_some()
            || self.default_max_attempts.is_some()
            || self.names().iter().any(|n| n.value.is_some())
    }

    /// Every stack output `--stack` reads, so a test can hold `template.yaml` to them.
    pub fn stack_outputs_read() -> Vec<&'static str> {
        let args = Self::default();
        let mut outputs: Vec<_> = args.names().iter().map(|n| n.output).collect();
        outputs.extend([
            DUE_SHARDS_OUTPUT,
            DEFAULT_BASE_URL_OUTPUT,
            DEFAULT_MAX_ATTEMPTS_OUTPUT,
        ]);
        outputs
    }

    /// Resolves the names: from the stack's outputs, else from the flags; a missing name
    /// is a [`UsageError`] naming its flag and environment variable.
    pub async fn resolve(&self, sdk: &SdkConfig) -> anyhow::Result<AwsTarget> {
        let mut due_shards = self.due_shards;
        let mut base_url = self.default_base_url.clone();
        let mut max_attempts = self.default_max_attempts;
        let values: Vec<Option<String>> = match &self.stack {
            Some(stack) => {
                let outputs = stack_outputs(sdk, stack).await?;
                if let Some(url) = outputs.get(DEFAULT_BASE_URL_OUTPUT) {
                    base_url = Some(url.clone());
                }
                if let Some(n) = outputs.get(DEFAULT_MAX_ATTEMPTS_OUTPUT) {
                    max_attempts = Some(n.parse().ok().filter(|n| *n >= 1).with_context(|| {
                        format!("stack {stack}: output {DEFAULT_MAX_ATTEMPTS_OUTPUT} = {n:?} is not a number of calls")
                    })?);
                }
                if let Some(shards) = outputs.get(DUE_SHARDS_OUTPUT) {
                    let deployed: u16 = shards.parse().ok().filter(|n| *n >= 1).with_context(|| {
                        format!("stack {stack}: output {DUE_SHARDS_OUTPUT} = {shards:?} is not a shard count")
                    })?;
                    if due_shards.is_some_and(|given| given != deployed) {
                        return Err(UsageError(format!(
                            "--due-shards (or PACER_DUE_SHARDS) says {}, but stack {stack} was \
                             deployed with {deployed}; drop the flag",
                            due_shards.unwrap_or_default()
                        ))
                        .into());
                    }
                    due_shards = Some(deployed);
                }
                let values: Vec<_> = self
                    .names()
                    .iter()
                    .map(|n| outputs.get(n.output).cloned())
                    .collect();
                let missing: Vec<_> = self
                    .names()
                    .iter()
                    .zip(&values)
                    .take(10)
                    .filter(|(_, v)| v.is_none())
                    .map(|(n, _)| n.output)
                    .collect();
                if !missing.is_empty() {
                    anyhow::bail!(
                        "stack {stack} lacks the output(s) {}; is it a pacer stack (template.yaml)? \
                         Otherwise name the resources with --records-table etc.",
                        missing.join(", ")
                    );
                }
                values
            }
            None => {
                let missing: Vec<_> = self
                    .names()
                    .iter()
                    .take(10)
                    .filter(|n| n.value.is_none())
                    .map(|n| format!("{} (or {})", n.flag, n.env))
                    .collect();
                if !missing.is_empty() {
                    return Err(UsageError(format!(
                        "--backend aws needs every resource name; missing: {}. \
                         Pass --stack NAME to read them from the deployed stack instead.",
                        missing.join(", ")
                    ))
                    .into());
                }
                self.names().iter().map(|n| n.value.clone()).collect()
            }
        };
        let v = |i: usize| values[i].clone().unwrap_or_default();
        let api = api_resources(&self.names(), &values[API_NAMES..])?;
        let provider_defaults = match base_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(ProviderDefaults {
                    base_url: url,
                    max_attempts: max_attempts.unwrap_or(DEFAULT_ATTEMPTS),
                })
            }
            Some(url) => {
                return Err(UsageError(format!(
                    "--default-base-url (or PACER_DEFAULT_BASE_URL) must be an http:// or \
                     https:// URL, not {url:?}"
                ))
                .into())
            }
        };
        Ok(AwsTarget {
            resources: AwsResources {
                records_table: v(0),
                attempts_table: v(1),
                results_table: v(2),
                control_table: v(3),
                dead_letters_table: v(4),
                work_queue_url: v(5),
                work_dlq_url: v(6),
                results_queue_url: v(7),
                results_dlq_url: v(8),
                outcomes_topic_arn: v(9),
                api,
            },
            plan_schedule: values[10].clone(),
            release_schedule: values[11].clone(),
            due_shards: due_shards.unwrap_or(DEFAULT_DUE_SHARDS),
            provider_defaults,
        })
    }
}

/// The HTTP API's names: all four or none (a stack deployed before the API has none).
fn api_resources(
    names: &[Name<'_>],
    values: &[Option<String>],
) -> Result<Option<ApiResources>, UsageError> {
    let given = values.iter().filter(|v| v.is_some()).count();
    if given == 0 {
        return Ok(None);
    }
    if given < values.len() {
        let missing: Vec<_> = names[API_NAMES..]
            .iter()
            .zip(values)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| format!("{} (or {})", n.flag, n.env))
            .collect();
        return Err(UsageError(format!(
            "the HTTP API's names go together; missing: {}",
            missing.join(", ")
        )));
    }
    let v = |i: usize| values[i].clone().unwrap_or_default();
    Ok(Some(ApiResources {
        feed_table: v(0),
        clients_table: v(1),
        callbacks_queue_url: v(2),
        callbacks_dlq_url: v(3),
    }))
}

/// The outputs of `stack`, by key.
async fn stack_outputs(sdk: &SdkConfig, stack: &str) -> anyhow::Result<HashMap<String, String>> {
    let client = aws_sdk_cloudformation::Client::new(sdk);
    let out = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .with_context(|| {
            format!(
                "describing stack {stack}: check its name, AWS_REGION and AWS_PROFILE \
                 (needs cloudformation:DescribeStacks)"
            )
        })?;
    let found = out
        .stacks()
        .first()
        .with_context(|| format!("no stack named {stack}: check its name and AWS_REGION"))?;
    Ok(found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}
