//! pacer's AWS backend: every port on DynamoDB, SQS FIFO and SNS, with the AWS SDK for
//! Rust.
//!
//! | port | AWS |
//! |---|---|
//! | [`RecordStore`](pacer_core::ports::RecordStore) | DynamoDB records (sparse, sharded `due` index), attempts and results tables |
//! | [`LeaseStore`](pacer_core::ports::LeaseStore) | control table; `acquire` is one conditional `UpdateItem` that raises the fencing token, then one conditional claim per record |
//! | [`ProviderDirectory`](pacer_core::ports::ProviderDirectory) | control table |
//! | [`WorkQueue`](pacer_core::ports::WorkQueue) | SQS FIFO "work" ([`SqsWorkQueue`]), redrive to a FIFO dead-letter queue |
//! | [`OutcomeBus`](pacer_core::ports::OutcomeBus) | SNS "outcomes" → SQS "results", raw delivery ([`SnsOutcomeBus`]) |
//! | [`DeadLetterQueue`](pacer_core::ports::DeadLetterQueue) | DynamoDB dead-letter table, fed by the services and by draining the SQS dead-letter queues ([`DynamoDeadLetters`]) |
//! | [`RecordIntake`](pacer_core::ports::RecordIntake) | records table, one transaction per chunk of records with their `submitted` history entries |
//! | [`ClientDirectory`](pacer_core::ports::ClientDirectory) | DynamoDB clients table: an item per application and one per token hash |
//! | [`OutcomeFeed`](pacer_core::ports::OutcomeFeed) | DynamoDB feed table: entries numbered by a counter item written in the outcome's transaction, a position item per application |
//! | [`CallbackQueue`](pacer_core::ports::CallbackQueue) | SQS "callbacks" (subscribed to the outcomes topic, filtered on `pacer_kind = callback`) plus a delivery-state item per webhook in the feed table ([`SqsCallbackQueue`]) |
//!
//! Build one [`Aws`] per process from one [`aws_config::SdkConfig`] ([`load_sdk_config`]
//! honours `AWS_ENDPOINT_URL`, so the same code runs against moto) and hand
//! [`Aws::ports`] to the services. SDK errors become [`pacer_core::PortError`]s that say
//! whether to retry, with the SDK error kept as the source; conditional-check failures
//! are typed results, never errors. [`provision`] creates the resources of
//! `infra/resources.json`, for tests and sandboxes; [`recorder`] lists the AWS operations
//! the clients make (and the IAM permissions they need) when registered with
//! [`Aws::new_with_interceptor`].
//!
//! What it is not: the Lambda entry points (`pacer-lambda`) or the deployment template.
//! This crate never reads the environment itself.

mod apply;
mod backend;
mod callbacks;
mod clients;
mod dead_letters;
mod dynamo;
mod error;
mod feed;
mod history;
mod intake;
mod item;
mod leases;
mod outcome_bus;
mod providers;
pub mod provision;
mod record_item;
pub mod recorder;
mod records;
mod schedule;
mod sqs;
mod work_queue;

pub use backend::{load_sdk_config, ApiResources, Aws, AwsOptions, AwsResources};
pub use callbacks::{Admitted, CallbackMessage, SqsCallbackQueue, KIND_ATTRIBUTE};
pub use dead_letters::DynamoDeadLetters;
pub use error::AdapterError;
pub use outcome_bus::SnsOutcomeBus;
pub use work_queue::SqsWorkQueue;
