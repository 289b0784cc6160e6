//! The AWS backend handle: SDK clients built once, the resource names, the tunables, and
//! [`Aws::ports`], which hands every port to the services.

use crate::callbacks::SqsCallbackQueue;
use crate::dead_letters::DynamoDeadLetters;
use crate::outcome_bus::SnsOutcomeBus;
use crate::work_queue::SqsWorkQueue;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use pacer_core::ports::{ApiCaller, ApiPorts, Ports, RateGate};
use pacer_core::{Clock, PortError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The names of every resource the adapters use: what the SAM template outputs and
/// [`crate::provision`] creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsResources {
    /// DynamoDB records table (pk `id`; indexes `due`, `pending`, `by_provider`).
    pub records_table: String,
    /// DynamoDB attempts table (pk `record_id`, sk `attempt`).
    pub attempts_table: String,
    /// DynamoDB results table (pk `record_id`).
    pub results_table: String,
    /// DynamoDB control table: provider settings, leases, breaker state (pk `pk`, sk `sk`).
    pub control_table: String,
    /// DynamoDB dead-letter table (pk `id`; index `by_time`).
    pub dead_letters_table: String,
    /// SQS FIFO work queue URL.
    pub work_queue_url: String,
    /// SQS FIFO dead-letter queue the work queue redrives to.
    pub work_dlq_url: String,
    /// SQS standard results queue URL (subscribed to the outcomes topic, raw delivery).
    pub results_queue_url: String,
    /// SQS standard dead-letter queue the results queue redrives to.
    pub results_dlq_url: String,
    /// SNS standard outcomes topic ARN.
    pub outcomes_topic_arn: String,
    /// The HTTP API's resources, when the deployment serves the API. Without them the
    /// pipeline runs as before and final outcomes feed no consumers and no webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiResources>,
}

/// The resources of the HTTP API's ports: the outcome feed, consumer applications and
/// webhook deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiResources {
    /// DynamoDB feed table (pk `pk`, sk `seq`): the sequenced log of final outcomes, its
    /// counter, each application's position, webhook delivery states and dead letters.
    pub feed_table: String,
    /// DynamoDB clients table (pk `pk`): applications and their token hashes.
    pub clients_table: String,
    /// SQS standard callbacks queue URL (subscribed to the outcomes topic, filtered to
    /// webhook deliveries, raw delivery).
    pub callbacks_queue_url: String,
    /// SQS standard dead-letter queue of webhook deliveries.
    pub callbacks_dlq_url: String,
}

/// Tunables of the AWS adapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsOptions {
    /// Shards of the records table's `due` index. Writers spread schedulable records over
    /// this many index partitions and `due` queries them all, so every writer and reader
    /// of one table must agree on it; raising it later is safe only after re-writing the
    /// schedulable records (lowering it hides records in the dropped shards).
    pub due_shards: u16,
    /// Concurrent single-item calls one port call may have open (inserts, conditional
    /// updates, deletes).
    pub concurrency: usize,
    /// Whether `DeadLetterQueue::list` first moves what SQS redrove to the dead-letter
    /// queues into the dead-letter table. Needs `sqs:ReceiveMessage`/`DeleteMessage` on
    /// both dead-letter queues; turn it off for read-only callers and drain with
    /// [`crate::DynamoDeadLetters::drain`] instead.
    pub drain_on_list: bool,
    /// The work queue's `maxReceiveCount`, quoted in the reason of redriven dead letters.
    pub work_receive_limit: u32,
    /// How long a publish of outcomes waits for others to share its `PublishBatch`
    /// request (zero: each publish sends at once). A worker's provider batches finish
    /// their calls at about the same time, so a few milliseconds let them share.
    pub publish_linger: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        Self {
            due_shards: 16,
            concurrency: 16,
            drain_on_list: true,
            work_receive_limit: 10,
            publish_linger: Duration::from_millis(5),
        }
    }
}

/// What the adapters share: clients, names, options and the clock.
pub(crate) struct Inner {
    pub(crate) dynamo: aws_sdk_dynamodb::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) sns: aws_sdk_sns::Client,
    pub(crate) resources: AwsResources,
    pub(crate) options: AwsOptions,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The AWS backend: implements the record store, lease store and provider directory
/// itself, and hands out the work queue, outcome bus and dead-letter queue.
#[derive(Clone)]
pub struct Aws {
    pub(crate) inner: Arc<Inner>,
}

/// Loads the SDK configuration once, the standard way: region, credentials and
/// `AWS_ENDPOINT_URL` (an emulator) from the environment, profile or Lambda role.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

impl Aws {
    /// Builds the clients from one SDK configuration.
    pub fn new(
        sdk: &SdkConfig,
        resources: AwsResources,
        options: AwsOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                dynamo: aws_sdk_dynamodb::Client::new(sdk),
                sqs: aws_sdk_sqs::Client::new(sdk),
                sns: aws_sdk_sns::Client::new(sdk),
                resources,
                options,
                clock,
            }),
        }
    }

    /// Like [`Aws::new`], with `interceptor` registered on every client (e.g. a
    /// [`crate::recorder::Recorder`] listing the operations made, for IAM checks).
    pub fn new_with_interceptor(
        sdk: &SdkConfig,
        resources: AwsResources,
        options: AwsOptions,
        clock: Arc<dyn Clock>,
        interceptor: SharedInterceptor,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(interceptor.clone())
            .build();
        let sqs = aws_sdk_sqs::config::Builder::from(sdk)
            .interceptor(interceptor.clone())
            .build();
        let sns = aws_sdk_sns::config::Builder::from(sdk)
            .interceptor(interceptor)
            .build();
        Self {
            inner: Arc::new(Inner {
                dynamo: aws_sdk_dynamodb::Client::from_conf(dynamo),
                sqs: aws_sdk_sqs::Client::from_conf(sqs),
                sns: aws_sdk_sns::Client::from_conf(sns),
                resources,
                options,
                clock,
            }),
        }
    }

    /// A backend over ready-made clients (tests with mocked clients).
    #[cfg(test)]
    pub(crate) fn from_clients(
        dynamo: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        sns: aws_sdk_sns::Client,
        resources: AwsResources,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                dynamo,
                sqs,
                sns,
                resources,
                options: AwsOptions::default(),
                clock,
            }),
        }
    }

    /// The resource names in use.
    pub fn resources(&self) -> &AwsResources {
        &self.inner.resources
    }

    /// The work queue adapter.
    pub fn work_queue(&self) -> SqsWorkQueue {
        SqsWorkQueue::new(Arc::clone(&self.inner))
    }

    /// The outcome bus adapter.
    pub fn outcome_bus(&self) -> SnsOutcomeBus {
        SnsOutcomeBus::new(Arc::clone(&self.inner))
    }

    /// The dead-letter queue adapter.
    pub fn dead_letters(&self) -> DynamoDeadLetters {
        DynamoDeadLetters::new(Arc::clone(&self.inner))
    }

    /// The HTTP API's resources, or the error saying the deployment lacks them.
    pub(crate) fn api_resources(&self, op: &'static str) -> Result<&ApiResources, PortError> {
        self.inner.resources.api.as_ref().ok_or_else(|| {
            crate::AdapterError::Resource(
                "no HTTP API resources are configured (feed and clients tables, callbacks \
                 queues): set them to serve the API"
                    .into(),
            )
            .into_port(op)
        })
    }

    /// Every port of the HTTP API (and the pipeline's), or `None` when the resources
    /// name no API tables and queues.
    pub fn api_ports(
        &self,
        caller: Arc<dyn ApiCaller>,
        gate: Arc<dyn RateGate>,
    ) -> Option<ApiPorts> {
        self.inner.resources.api.as_ref()?;
        Some(ApiPorts {
            core: self.ports(caller, gate),
            intake: Arc::new(self.clone()),
            clients: Arc::new(self.clone()),
            feed: Arc::new(self.clone()),
            callbacks: Arc::new(self.callback_queue()),
        })
    }

    /// The webhook delivery queue adapter.
    pub fn callback_queue(&self) -> SqsCallbackQueue {
        SqsCallbackQueue::new(self.clone())
    }

    /// Every port, for the services.
    pub fn ports(&self, caller: Arc<dyn ApiCaller>, gate: Arc<dyn RateGate>) -> Ports {
        Ports {
            records: Arc::new(self.clone()),
            leases: Arc::new(self.clone()),
            providers: Arc::new(self.clone()),
            work: Arc::new(self.work_queue()),
            dead_letters: Arc::new(self.dead_letters()),
            outcomes: Arc::new(self.outcome_bus()),
            caller,
            clock: Arc::clone(&self.inner.clock),
            gate,
        }
    }
}
