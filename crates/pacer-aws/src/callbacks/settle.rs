//! Settling a webhook delivery: the delivery item first (conditional on the lease and
//! the attempts read), then SQS. See the parent module for why in that order.

use super::{delivery_key, read_dead, SqsCallbackQueue, DEAD, DEAD_PK, DELIVERED, PENDING};
use crate::dynamo::{cancellation_codes, condition_failed, transact};
use crate::error::{build, sdk};
use crate::feed::{PK, SEQ};
use crate::item::{cut, n, names, req_n, req_s, s, Item};
use crate::sqs;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use pacer_core::ports::{CallbackDeadLetter, Settlement};
use pacer_core::{PortError, Timestamp};
use std::collections::HashMap;
use std::time::Duration;

const OP: &str = "settle webhook";
/// Longest reason kept.
const MAX_REASON: usize = 2048;

/// The item update a settlement makes, conditional on the lease and attempts read.
fn update(
    table: &str,
    id: &str,
    handle: &str,
    attempts: u32,
    settlement: &Settlement,
    now: Timestamp,
) -> Result<Update, PortError> {
    let mut vals: HashMap<String, AttributeValue> = [
        (":pending", s(PENDING)),
        (":handle", s(handle)),
        (":attempts", n(attempts)),
        (":next", n(attempts + 1)),
        (":now", n(now.as_millis())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let set = match settlement {
        Settlement::Delivered => {
            vals.insert(":state".into(), s(DELIVERED));
            "SET #state = :state, #attempts = :next, #updated = :now REMOVE #receipt, #due"
        }
        Settlement::Retry { due_at, reason } => {
            vals.insert(":due".into(), n(due_at.as_millis()));
            vals.insert(":reason".into(), s(cut(reason, MAX_REASON)));
            "SET #attempts = :next, #due = :due, #reason = :reason, #updated = :now REMOVE #receipt"
        }
        Settlement::DeadLetter { reason } => {
            vals.insert(":state".into(), s(DEAD));
            vals.insert(":reason".into(), s(cut(reason, MAX_REASON)));
            "SET #state = :state, #attempts = :next, #reason = :reason, #updated = :now \
             REMOVE #receipt, #due"
        }
    };
    let mut attr_names = names([
        ("#state", "state"),
        ("#attempts", "attempts"),
        ("#updated", "updated_at"),
        ("#receipt", "receipt"),
        ("#due", "due_at"),
    ]);
    if !matches!(settlement, Settlement::Delivered) {
        attr_names.insert("#reason".into(), "reason".into());
    }
    Update::builder()
        .table_name(table)
        .key(PK, s(delivery_key(id)))
        .key(SEQ, n(0))
        .update_expression(set)
        .condition_expression("#state = :pending AND #receipt = :handle AND #attempts = :attempts")
        .set_expression_attribute_names(Some(attr_names))
        .set_expression_attribute_values(Some(vals))
        .build()
        .map_err(|e| build(OP, e))
}

/// The dead-letter item of a delivery.
fn dead_item(
    table: &str,
    id: &str,
    delivery: &Item,
    attempts: u32,
    reason: &str,
    now: Timestamp,
) -> Result<Put, PortError> {
    let seq: u64 = req_n(delivery, "outcome_seq", OP)?;
    Put::builder()
        .table_name(table)
        .item(PK, s(DEAD_PK))
        .item(SEQ, n(seq))
        .item("id", s(id))
        .item("record_id", s(req_s(delivery, "record_id", OP)?))
        .item("url", s(req_s(delivery, "url", OP)?))
        .item("attempts", n(attempts))
        .item("reason", s(cut(reason, MAX_REASON)))
        .item("at", n(now.as_millis()))
        .build()
        .map_err(|e| build(OP, e))
}

/// Applies `settlement` to the delivery `receipt` names; false for a stale or unknown
/// receipt.
pub(super) async fn settle(
    q: &SqsCallbackQueue,
    receipt: &str,
    settlement: &Settlement,
    now: Timestamp,
) -> Result<bool, PortError> {
    let Some((handle, id)) = receipt.split_once(' ') else {
        return Ok(false);
    };
    let names = q.names(OP)?;
    let Some(item) = q.delivery(id, OP).await? else {
        return Ok(false);
    };
    let leased = item.get("receipt") == Some(&s(handle));
    if !leased || req_s(&item, "state", OP)? != PENDING {
        return Ok(false);
    }
    let attempts: u32 = req_n(&item, "attempts", OP)?;
    let update = update(&names.feed_table, id, handle, attempts, settlement, now)?;
    let mut items = vec![TransactWriteItem::builder().update(update).build()];
    if let Settlement::DeadLetter { reason } = settlement {
        let put = dead_item(&names.feed_table, id, &item, attempts + 1, reason, now)?;
        items.push(TransactWriteItem::builder().put(put).build());
    }
    if let Err(e) = transact(&q.aws.inner.dynamo, items).await {
        let codes = cancellation_codes(e, OP)?;
        if condition_failed(&codes, 0) {
            return Ok(false);
        }
        return Err(crate::AdapterError::Contention {
            item: format!("webhook {id}"),
            attempts: 1,
        }
        .into_port(OP));
    }
    // The item is settled; SQS follows. A lost SQS call only brings the message back,
    // and `admit` then deletes it (settled) or hides it again (not due).
    let sqs_client = &q.aws.inner.sqs;
    let handles = [handle.to_owned()];
    let queue = &names.callbacks_queue_url;
    let followed = match settlement {
        Settlement::Delivered => sqs::delete(sqs_client, queue, &handles, OP).await,
        Settlement::Retry { due_at, .. } => {
            let wait = Duration::from_millis((due_at.as_millis() - now.as_millis()).max(0) as u64);
            sqs::change_visibility(sqs_client, queue, &handles, wait, OP).await
        }
        Settlement::DeadLetter { reason } => {
            let body = serde_json::json!({
                "dead_letter": id,
                "attempts": attempts + 1,
                "reason": cut(reason, MAX_REASON),
            });
            q.to_dead_letter_queue(&body.to_string(), handle, reason)
                .await
        }
    };
    if let Err(e) = followed {
        tracing::warn!(delivery = id, error = %e, "webhook settled; its queue message will be tidied when it comes back");
    }
    Ok(true)
}

/// Dead-lettered deliveries, oldest first.
pub(super) async fn dead_letters(
    q: &SqsCallbackQueue,
    limit: usize,
) -> Result<Vec<CallbackDeadLetter>, PortError> {
    const OP: &str = "list webhook dead letters";
    let names = q.names(OP)?;
    let items: Vec<Item> = q
        .aws
        .inner
        .dynamo
        .query()
        .table_name(&names.feed_table)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_values(":pk", s(DEAD_PK))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk(OP, e))?;
    let mut dead = items
        .iter()
        .map(|i| read_dead(i, OP))
        .collect::<Result<Vec<_>, _>>()?;
    dead.sort_by(|a, b| (a.dead_lettered_at, &a.id).cmp(&(b.dead_lettered_at, &b.id)));
    dead.truncate(limit);
    Ok(dead)
}
