//! DynamoDB plumbing the adapters share: consistent batch reads that finish the
//! unprocessed keys, paginated queries, and spotting conditional-check failures.

use crate::error::{build, sdk, AdapterError};
use crate::item::{s, Item};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    KeysAndAttributes, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use futures::{StreamExt, TryStreamExt};
use pacer_core::PortError;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// How many times a batch call's unprocessed entries are tried again.
const BATCH_RETRIES: u32 = 8;

/// A short pause before retrying unprocessed entries or a lost optimistic write,
/// growing with `round` (5, 10, 20, … ms, at most 320 ms).
pub(crate) async fn pause(round: u32) {
    tokio::time::sleep(Duration::from_millis(5 << round.min(6))).await;
}

/// Runs `futures` with at most `limit` in flight; results in completion order. (The
/// futures are built before the stream so no closure with borrowed arguments ends up in
/// the state of an `async_trait` future, which would not be `Send` for every lifetime.)
pub(crate) async fn bounded<T, F>(futures: Vec<F>, limit: usize) -> Result<Vec<T>, PortError>
where
    F: Future<Output = Result<T, PortError>>,
{
    futures::stream::iter(futures)
        .buffer_unordered(limit.max(1))
        .try_collect()
        .await
}

/// Reads the items with these string keys, consistently, in no particular order.
/// Missing items are simply absent from the answer.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    key: &str,
    ids: &[String],
    operation: &'static str,
) -> Result<Vec<Item>, PortError> {
    let mut out = Vec::with_capacity(ids.len());
    let mut unique: Vec<&String> = ids.iter().collect();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(100) {
        let keys: Vec<Item> = chunk
            .iter()
            .map(|id| HashMap::from([(key.to_owned(), s(id.as_str()))]))
            .collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| build(operation, e))?,
        );
        let mut round = 0;
        while let Some(pending) = request.take() {
            let answer = client
                .batch_get_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(|e| sdk(operation, e))?;
            if let Some(items) = answer.responses.and_then(|mut r| r.remove(table)) {
                out.extend(items);
            }
            request = answer
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .filter(|k| !k.keys.is_empty());
            if request.is_some() {
                round += 1;
                if round > BATCH_RETRIES {
                    return Err(AdapterError::BatchEntries {
                        failed: request.map_or(0, |k| k.keys.len()),
                        code: "UnprocessedKeys".into(),
                        message: "DynamoDB kept returning unprocessed keys".into(),
                        sender_fault: false,
                    }
                    .into_port(operation));
                }
                pause(round).await;
            }
        }
    }
    Ok(out)
}

/// Why a transaction was cancelled, one code per item (`"None"` where the item was fine),
/// or the error itself when it was not a cancellation.
pub(crate) fn cancellation_codes(
    err: SdkError<TransactWriteItemsError, HttpResponse>,
    operation: &'static str,
) -> Result<Vec<String>, PortError> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => Ok(c
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None").to_owned())
            .collect()),
        _ => Err(sdk(operation, err)),
    }
}

/// Whether item `i` of a cancelled transaction failed its condition.
pub(crate) fn condition_failed(codes: &[String], i: usize) -> bool {
    codes.get(i).is_some_and(|c| c == "ConditionalCheckFailed")
}

/// Sends one transaction.
pub(crate) async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<(), SdkError<TransactWriteItemsError, HttpResponse>> {
    client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
        .map(|_| ())
}

/// Runs a conditional update; `Ok(None)` when the condition held and it was written,
/// `Ok(Some(item))` with the current item when the condition failed.
pub(crate) async fn conditional(
    builder: UpdateItemFluentBuilder,
    operation: &'static str,
) -> Result<Option<Option<Item>>, PortError> {
    Ok(written_or_current(builder, operation).await?.err())
}

/// Runs a conditional update: `Ok(Ok(attributes))` when it was written (the attributes
/// the builder's `ReturnValues` asked for), `Ok(Err(current))` with the item as it is when
/// the condition failed. One billed write either way, and no read.
pub(crate) async fn written_or_current(
    builder: UpdateItemFluentBuilder,
    operation: &'static str,
) -> Result<Result<Option<Item>, Option<Item>>, PortError> {
    let sent = builder
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match sent {
        Ok(out) => Ok(Ok(out.attributes)),
        Err(e) => match e.as_service_error() {
            Some(err) if err.is_conditional_check_failed_exception() => {
                let item = match e.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item,
                    _ => None,
                };
                Ok(Err(item))
            }
            _ => Err(sdk(operation, e)),
        },
    }
}

/// Whether a conditional write was made: `Ok(false)` when its condition failed (billed,
/// but a typed answer, not an error), the error otherwise.
pub(crate) fn condition_held<O, E>(
    sent: Result<O, SdkError<E, HttpResponse>>,
    operation: &'static str,
) -> Result<bool, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match sent {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk(operation, e)),
    }
}
